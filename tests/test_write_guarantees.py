"""The writer's guarantees (docs/cli.md, "The output folder"), tried as a hostile user
would: hand edits, tampered manifests, concurrent builds in real processes, kill -9 at random
moments, files created during a build, mount points, read-only folders. Every case ends with
the user's files intact and either a complete output or a clear MG9xx and the previous output.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshgen import write
from meshgen.write import (
    MANIFEST_NAME,
    TEMP_PREFIX,
    OutputConflict,
    check_output,
    plan_write,
    write_output,
)
from meshgen.write import apply as write_apply
from meshgen.write import fs as write_fs
from tests.helpers import SEED_EXAMPLE, WRITER_FILES, run_meshgen

FILES = WRITER_FILES
V2 = {rel: data + b"# v2\n" for rel, data in FILES.items()}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


# --- hand edits ----------------------------------------------------------------------------------


def test_hand_edited_file_is_not_overwritten(out: Path) -> None:
    write_output(out, FILES)
    (out / "cluster1/istio.yaml").write_bytes(b"kind: IstioOperator\n# hot fix\n")
    with pytest.raises(OutputConflict) as exc:
        write_output(out, V2)
    assert exc.value.code == "MG906"
    assert exc.value.problems == [("cluster1/istio.yaml", write.HAND_EDITED)]
    assert "--diff" in exc.value.hint
    assert "--force" in exc.value.hint
    # Nothing was written: the other files still hold the first build.
    assert (out / "README.md").read_bytes() == FILES["README.md"]
    assert (out / "cluster1/istio.yaml").read_bytes().endswith(b"# hot fix\n")


def test_hand_edited_file_is_not_pruned(out: Path) -> None:
    write_output(out, FILES)
    (out / "cluster2/kustomization.yaml").write_bytes(b"resources: [mine.yaml]\n")
    only_one = {k: v for k, v in FILES.items() if not k.startswith("cluster2/")}
    with pytest.raises(OutputConflict) as exc:
        write_output(out, only_one)
    assert exc.value.code == "MG906"
    assert (out / "cluster2/kustomization.yaml").exists()


def test_force_overwrites_and_prunes_hand_edits(out: Path) -> None:
    write_output(out, FILES)
    (out / "cluster1/istio.yaml").write_bytes(b"edited\n")
    (out / "cluster2/kustomization.yaml").write_bytes(b"edited\n")
    only_one = {k: v for k, v in V2.items() if not k.startswith("cluster2/")}
    plan = write_output(out, only_one, force=True)
    assert "cluster1/istio.yaml" in plan.written
    assert plan.pruned == ("cluster2/kustomization.yaml",)
    assert check_output(out, only_one).clean


def test_an_unchanged_hand_edit_back_to_the_generated_content_is_fine(out: Path) -> None:
    write_output(out, FILES)
    (out / "README.md").write_bytes(V2["README.md"])  # the user wrote what v2 generates
    write_output(out, V2)
    assert check_output(out, V2).clean


# --- the manifest is not trusted blindly -------------------------------------------------------


def forge(out: Path, files: dict[str, str]) -> None:
    """Add entries to the manifest, as a hostile or confused user might."""
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest["files"].update(files)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_manifest_cannot_make_meshgen_prune_a_user_file(out: Path) -> None:
    write_output(out, FILES)
    git = out / ".git"
    git.mkdir()
    (git / "config").write_bytes(b"[core]\n")
    import hashlib

    digest = hashlib.sha256(b"[core]\n").hexdigest()
    forge(out, {".git/config": digest, "notes.txt": digest})
    (out / "notes.txt").write_bytes(b"[core]\n")
    write_output(out, FILES)
    assert (git / "config").read_bytes() == b"[core]\n"
    assert (out / "notes.txt").read_bytes() == b"[core]\n"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"files": ' * 50_000 + "{}" + "}" * 50_000,
        '{"files": {"a.yaml": 12}}',
        "\xff\xfe",
    ],
)
def test_bad_manifests_are_a_diagnostic_not_a_crash(out: Path, text: str) -> None:
    out.mkdir()
    (out / MANIFEST_NAME).write_text(text, errors="surrogateescape")
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert exc.value.problems[0][0] == MANIFEST_NAME


def test_manifest_entries_outside_the_output_are_ignored(tmp_path: Path, out: Path) -> None:
    import hashlib

    outside = tmp_path / "precious.yaml"
    outside.write_bytes(b"x\n")
    write_output(out, FILES)
    forge(out, {"../precious.yaml": hashlib.sha256(b"x\n").hexdigest()})
    write_output(out, {"README.md": FILES["README.md"]})
    assert outside.read_bytes() == b"x\n"


def test_a_huge_file_in_place_of_an_owned_one_is_hashed_streaming(out: Path) -> None:
    write_output(out, FILES)
    huge = out / "cluster1/istio.yaml"
    with huge.open("r+b") as f:
        f.truncate(256 * 1024 * 1024)  # sparse: instant, but 256 MiB if read whole
    tracemalloc.start()
    try:
        with pytest.raises(OutputConflict) as exc:
            write_output(out, V2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exc.value.code == "MG906"
    assert peak < 32 * 1024 * 1024


# --- files the user makes, and what meshgen never re-creates ------------------------------------


def test_directories_are_never_recreated(out: Path) -> None:
    write_output(out, FILES)
    os.chmod(out / "cluster1", 0o750)
    before = {p: os.lstat(out / p).st_ino for p in ("", "cluster1", "cluster2")}
    write_output(out, V2)
    assert {p: os.lstat(out / p).st_ino for p in before} == before
    assert os.lstat(out / "cluster1").st_mode & 0o777 == 0o750


def test_file_created_during_a_build_survives(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_output(out, FILES)
    real = write_fs._flush_contents

    def user_saves_files(dirs: object, temps: list[str]) -> None:
        (out / "cluster1" / "notes.md").write_bytes(b"mine\n")
        # An editor's atomic save of an owned file, mid-build.
        (out / "cluster2" / "tmp~").write_bytes(b"resources: [edited]\n")
        os.replace(out / "cluster2" / "tmp~", out / "cluster2" / "kustomization.yaml")
        real(dirs, temps)  # type: ignore[arg-type]

    monkeypatch.setattr(write_apply, "_flush_contents", user_saves_files)
    with pytest.raises(OutputConflict) as exc:
        write_output(out, V2)
    monkeypatch.undo()
    assert exc.value.code == "MG906"
    assert [p for p, _ in exc.value.problems] == ["cluster2/kustomization.yaml"]
    assert (out / "cluster1" / "notes.md").read_bytes() == b"mine\n"
    assert (out / "cluster2" / "kustomization.yaml").read_bytes() == b"resources: [edited]\n"
    # Everything else is the new output, and the manifest says so.
    assert (out / "README.md").read_bytes() == V2["README.md"]
    drift = check_output(out, V2)
    assert drift.changed == ("cluster2/kustomization.yaml",)


def test_stale_temporary_files_are_removed_and_names_are_random(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_output(out, FILES)
    stale = out / "cluster1" / f"{TEMP_PREFIX}0123456789abcdef"
    stale.write_bytes(b"half")
    syncs: list[list[str]] = []
    real = write_fs._flush_contents

    def look(dirs: object, temps: list[str]) -> None:
        syncs.append([p.name for p in out.rglob(f"{TEMP_PREFIX}*")])
        real(dirs, temps)  # type: ignore[arg-type]

    monkeypatch.setattr(write_apply, "_flush_contents", look)
    write_output(out, V2)
    assert not stale.exists()
    # At the first sync every new content is in a temporary file, all in the root directory.
    seen = syncs[0]
    assert len(seen) == len(V2)
    assert {p.parent for p in out.rglob(f"{TEMP_PREFIX}*")} <= {out}
    # Random names (not the PID): builds in other PID namespaces or hosts never collide.
    assert len(set(seen)) == len(seen)
    assert not any(str(os.getpid()) in name for name in seen)


# --- one writer at a time -----------------------------------------------------------------------


@pytest.fixture
def locked_by_another_process(out: Path) -> Iterator[subprocess.Popen[bytes]]:
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time\n"
                f"fd = os.open({str(out)!r}, os.O_RDONLY | os.O_DIRECTORY)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "print('locked', flush=True)\n"
                "time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"locked\n"
    yield holder
    holder.kill()
    holder.wait()
    holder.stdout.close()


def test_a_second_writer_waits_then_fails_naming_the_lock(
    out: Path, locked_by_another_process: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHGEN_LOCK_WAIT", "0.3")
    started = time.monotonic()
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert time.monotonic() - started >= 0.3
    assert exc.value.code == "MG905"
    assert "another meshgen build" in exc.value.problems[0][1]
    assert list(out.iterdir()) == []


def test_the_lock_is_released_when_the_holder_is_killed(
    out: Path, locked_by_another_process: subprocess.Popen[bytes]
) -> None:
    locked_by_another_process.send_signal(signal.SIGKILL)
    locked_by_another_process.wait()
    write_output(out, FILES)
    assert check_output(out, FILES).clean


def spec_variant(tmp_path: Path, name: str, version: str) -> Path:
    text = SEED_EXAMPLE.read_text(encoding="utf-8").replace(
        'version: "1.10.0"', f'version: "{version}"'
    )
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    return spec


def test_concurrent_builds_never_mix_outputs(tmp_path: Path) -> None:
    """Real processes, two different specs, one output folder: each build exits 0 or MG905,
    and the tree is exactly one spec's output."""
    specs = [spec_variant(tmp_path, "a.yaml", "1.10.0"), spec_variant(tmp_path, "b.yaml", "1.22.0")]
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "mine.txt").write_bytes(b"user\n")
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "meshgen", "build", str(s), "-o", str(out)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for s in specs * 2
        ]
        results = [(p.returncode, p.communicate()[1]) for p in procs]
        results = [(p.returncode, stderr) for p, (_, stderr) in zip(procs, results, strict=True)]
        for code, stderr in results:
            assert code == 0 or "MG905" in stderr, stderr
        fresh = [run_meshgen("build", s, "-o", out, "--check").returncode == 0 for s in specs]
        assert fresh.count(True) == 1, results
    assert (out / "mine.txt").read_bytes() == b"user\n"


def test_kill_9_at_random_moments_converges(tmp_path: Path) -> None:
    """Two specs of 10 clusters x 300 services (about 1,000 files each, a second to write):
    kill -9 anywhere, then --check is never fresh before the tree is complete, and the next
    build converges."""
    from benchmarks.generate import make_spec

    specs = []
    for name, version in (("a.yaml", "1.22.0"), ("b.yaml", "1.23.0")):
        spec = tmp_path / name
        spec.write_text(make_spec(10, 300).replace('version: "1.30.0"', f'version: "{version}"'))
        specs.append(spec)
    out = tmp_path / "out"
    assert run_meshgen("build", specs[0], "-o", out).returncode == 0
    (out / "mine.txt").write_bytes(b"user\n")
    rng = random.Random(7)
    for i in range(12):
        spec = specs[(i + 1) % 2]
        proc = subprocess.Popen(
            [sys.executable, "-m", "meshgen", "build", str(spec), "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check = run_meshgen("build", spec, "-o", out, "--check")
        if check.returncode == 0:  # called fresh only when it really is complete
            assert run_meshgen("build", spec, "-o", out).stderr.count("0 written") == 1
        rebuilt = run_meshgen("build", spec, "-o", out)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert run_meshgen("build", spec, "-o", out, "--check").returncode == 0
        assert not list(out.rglob(f"{TEMP_PREFIX}*"))
    assert (out / "mine.txt").read_bytes() == b"user\n"


def test_check_never_calls_an_interrupted_build_fresh(out: Path) -> None:
    write_output(out, FILES)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest.update(state="in-progress", pending={}, holder="pid 1 on elsewhere")
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    drift = check_output(out, FILES)
    assert drift.interrupted
    assert not drift.clean
    write_output(out, FILES)  # the next build completes it
    assert check_output(out, FILES).clean


# --- mounts and permissions ---------------------------------------------------------------------


def can_mount() -> bool:
    return os.geteuid() == 0 and sys.platform == "linux"


def mount_tmpfs(path: Path, *options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join(("size=8m", *options))
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True)


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[list[Path]]:
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root")
    paths: list[Path] = []
    yield paths
    for path in reversed(paths):
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_volume_mounted_inside_the_output_is_never_touched(
    out: Path, mounted: list[Path]
) -> None:
    write_output(out, FILES)
    volume = out / "cluster2"
    (volume / "kustomization.yaml").unlink()
    volume.rmdir()
    mount_tmpfs(volume)
    mounted.append(volume)
    (volume / "data.txt").write_bytes(b"on the volume\n")
    with pytest.raises(OutputConflict) as exc:
        write_output(out, V2)
    assert exc.value.problems == [("cluster2", write.MOUNT_POINT)]
    only_one = {k: v for k, v in V2.items() if not k.startswith("cluster2/")}
    write_output(out, only_one)
    assert (volume / "data.txt").read_bytes() == b"on the volume\n"
    assert os.path.ismount(volume)


def test_output_directory_may_be_a_mount_point(tmp_path: Path, mounted: list[Path]) -> None:
    out = tmp_path / "out"
    mount_tmpfs(out)
    mounted.append(out)
    write_output(out, FILES)
    write_output(out, V2)
    assert check_output(out, V2).clean
    assert os.path.ismount(out)


def test_read_only_file_system_fails_clearly_and_keeps_the_previous_output(
    out: Path, mounted: list[Path]
) -> None:
    mount_tmpfs(out)
    mounted.append(out)
    write_output(out, FILES)
    subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
    with pytest.raises(OutputConflict) as exc:
        write_output(out, V2)
    assert exc.value.code == "MG907"
    assert "Read-only file system" in exc.value.problems[0][1]
    assert check_output(out, FILES).clean


def test_plan_of_a_missing_output_is_everything(out: Path) -> None:
    assert plan_write(out, FILES).written == tuple(sorted(FILES))
    assert not out.exists()


def test_flock_is_on_the_directory_itself(out: Path) -> None:
    write_output(out, FILES)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again after the build
    finally:
        os.close(fd)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST_NAME, "README.md", "cluster1", "cluster2"]
    )


def test_a_killed_build_never_leaves_a_partial_file_at_a_generated_path(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New files are written in full to a temporary file, then linked into place: a kill
    mid-write leaves nothing at the generated path that the next build would have to trust."""
    write_output(out, FILES)
    more = {**V2, "cluster3/kustomization.yaml": b"resources: []\n" * 1000}
    real = write_fs._write_temp

    def killed_mid_write(dirs: object, data: bytes, **kwargs: object) -> str:
        if data == more["cluster3/kustomization.yaml"]:
            real(dirs, data[:100], **kwargs)  # type: ignore[arg-type]
            raise KeyboardInterrupt  # as good as kill -9 for the files on disk
        return real(dirs, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(write_apply, "_write_temp", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        write_output(out, more)
    monkeypatch.undo()
    assert not (out / "cluster3/kustomization.yaml").exists()
    assert not check_output(out, more).clean
    write_output(out, more)
    assert check_output(out, more).clean
    assert not list(out.rglob(f"{TEMP_PREFIX}*"))
