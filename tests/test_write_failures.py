"""A failed build leaves nothing behind, ownership is content, and plan is exactly as strict as
build: each case a hostile user reported against meshgen 0.2 (issue 19), through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshgen.write import MANIFEST_NAME, TEMP_PREFIX, OutputConflict, check_output, write_output
from meshgen.write import apply as write_apply
from tests.helpers import EXAMPLES, K8S_EXAMPLE, run_meshgen
from tests.test_write_faults import tree

NOBODY = 65534


def entries(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def can_mount() -> bool:
    return os.geteuid() == 0 and sys.platform == "linux"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root")
    path = tmp_path / "volume"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def big_spec(tmp_path: Path) -> Path:
    """A spec whose output (about 6 MB) does not fit a 2 MiB volume."""
    from benchmarks.generate import make_spec

    spec = tmp_path / "big.yaml"
    spec.write_text(make_spec(6, 1500))
    return spec


# --- a failure mid-write leaves nothing behind --------------------------------------------------


def test_a_full_file_system_leaves_nothing_and_the_build_succeeds_once_grown(
    tmp_path: Path, tmpfs: Path
) -> None:
    spec = big_spec(tmp_path)
    out = tmpfs / "out"
    failed = run_meshgen("build", spec, "-o", out)
    assert failed.returncode == 1
    assert "MG907" in failed.stderr
    assert "No space left on device" in failed.stderr
    assert not out.exists() or entries(out) == set()
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)
    built = run_meshgen("build", spec, "-o", out)
    assert built.returncode == 0, built.stderr
    assert run_meshgen("build", spec, "-o", out, "--check").returncode == 0


def test_a_full_file_system_keeps_the_previous_output_byte_for_byte(
    tmp_path: Path, tmpfs: Path
) -> None:
    out = tmpfs / "out"
    assert run_meshgen("build", K8S_EXAMPLE, "-o", out).returncode == 0
    (out / "mine.txt").write_bytes(b"user\n")
    before = tree(out)
    failed = run_meshgen("build", big_spec(tmp_path), "-o", out)
    assert failed.returncode == 1
    assert "MG907" in failed.stderr
    assert tree(out) == before
    assert run_meshgen("build", K8S_EXAMPLE, "-o", out, "--check").returncode == 0


def as_nobody(*args: object) -> subprocess.CompletedProcess[str]:
    """meshgen run as an unprivileged user (root ignores file modes)."""
    return subprocess.run(
        [
            *("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"),
            *(sys.executable, "-m", "meshgen", *map(str, args)),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "HOME": "/tmp"},
    )


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A folder the unprivileged user owns (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run meshgen as another user")
    base = Path(tempfile.mkdtemp(prefix="meshgen-nobody-"))
    base.chmod(0o755)
    shutil.copy(K8S_EXAMPLE, base / "mesh.yaml")
    os.chown(base, NOBODY, NOBODY)
    os.chown(base / "mesh.yaml", NOBODY, NOBODY)
    yield base
    for path in [base, *base.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(base)


def chown_tree(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def test_a_read_only_directory_mid_build_puts_everything_back(nobody_dir: Path) -> None:
    """`chmod -R a-w out/remote-secrets`, then a build that adds a cluster: MG907, and not
    one new entry left; once writable again the build succeeds."""
    spec, out = nobody_dir / "mesh.yaml", nobody_dir / "out"
    assert as_nobody("build", spec, "-o", out).returncode == 0
    bigger = nobody_dir / "bigger.yaml"
    bigger.write_text(
        spec.read_text().replace(
            "  namespaces:\n",
            "    - name: north\n"
            "      podCIDR: 10.19.0.0/16\n"
            "      serviceCIDR: 10.119.0.0/20\n"
            "      apiServer: https://api.north.example.com:6443\n"
            "  namespaces:\n",
            1,
        )
    )
    os.chown(bigger, NOBODY, NOBODY)
    assert as_nobody("validate", bigger).returncode == 0
    for path in [out / "remote-secrets", *(out / "remote-secrets").iterdir()]:
        path.chmod(path.stat().st_mode & ~0o222)
    before = tree(out)
    failed = as_nobody("build", bigger, "-o", out)
    assert failed.returncode == 1, failed.stderr
    assert "MG907" in failed.stderr
    assert "Permission denied" in failed.stderr
    assert tree(out) == before
    (out / "remote-secrets").chmod(0o755)
    rebuilt = as_nobody("build", bigger, "-o", out)
    assert rebuilt.returncode == 0, rebuilt.stderr


def kill_at(monkeypatch: pytest.MonkeyPatch, name: str, after: str | None = None) -> None:
    """Stop the build (as a kill would: nothing more happens) at the first call of a step of
    the writer's transaction, or right after the call for path `after`."""
    real = getattr(write_apply._Transaction, name)

    def stop(self: object, rel: str) -> object:
        if after is None:
            raise KeyboardInterrupt
        real(self, rel)
        if rel == after:
            raise KeyboardInterrupt
        return None

    monkeypatch.setattr(write_apply._Transaction, name, stop)


FILES = {
    "README.md": b"# mesh\n",
    "a/kustomization.yaml": b"resources: []\n",
    "b/deep/kustomization.yaml": b"resources: []\n",
    "b/deep/rules.yaml": b"kind: DestinationRule\n",
}
WITHOUT_B = {"README.md": b"# mesh v2\n", "a/kustomization.yaml": b"resources: []\n"}


def test_a_build_killed_while_pruning_leaves_no_empty_directory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_output(out, FILES)
    kill_at(monkeypatch, "_remove_if_empty")  # the files are gone, their directories not yet
    with pytest.raises(KeyboardInterrupt):
        write_output(out, WITHOUT_B)
    monkeypatch.undo()
    assert (out / "b" / "deep").is_dir()
    assert not check_output(out, WITHOUT_B).clean  # not fresh while the debris is there
    write_output(out, WITHOUT_B)
    assert not (out / "b").exists()
    assert check_output(out, WITHOUT_B).clean


def test_directories_of_a_killed_build_of_another_spec_go_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_output(out, WITHOUT_B)
    kill_at(monkeypatch, "_put")  # B's directories are made, none of its files is in place
    with pytest.raises(KeyboardInterrupt):
        write_output(out, FILES)
    monkeypatch.undo()
    assert (out / "b" / "deep").is_dir()
    write_output(out, WITHOUT_B)  # A again
    assert entries(out) == {MANIFEST_NAME, "README.md", "a", "a/kustomization.yaml"}


# --- ownership is content -------------------------------------------------------------------


def test_a_user_edit_of_a_file_a_killed_build_created_is_never_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build A, kill a build of B once a new file exists, append a line to it, build A
    again: the edit is the user's (MG906), and so it is for a rebuild of B."""
    out = tmp_path / "out"
    write_output(out, WITHOUT_B)
    kill_at(monkeypatch, "_put", after="b/deep/kustomization.yaml")  # it is in place
    with pytest.raises(KeyboardInterrupt):
        write_output(out, FILES)
    monkeypatch.undo()
    created = out / "b" / "deep" / "kustomization.yaml"
    assert created.read_bytes() == FILES["b/deep/kustomization.yaml"]
    created.write_bytes(created.read_bytes() + b"# mine\n")
    for files in (WITHOUT_B, FILES):
        with pytest.raises(OutputConflict) as exc:
            write_output(out, files)
        assert exc.value.code == "MG906"
        assert [p for p, _ in exc.value.problems] == ["b/deep/kustomization.yaml"]
        assert created.read_bytes().endswith(b"# mine\n")


@pytest.mark.parametrize("state", ["complete", "in-progress"])
def test_a_listed_path_is_not_ownership(tmp_path: Path, state: str) -> None:
    out = tmp_path / "out"
    write_output(out, WITHOUT_B)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest.update(state=state, created=["docs/notes.md"], pending={}, holder="x")
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    (out / "docs").mkdir()
    (out / "docs" / "notes.md").write_bytes(b"my notes\n")
    write_output(out, WITHOUT_B)
    assert (out / "docs" / "notes.md").read_bytes() == b"my notes\n"


# --- plan is exactly as strict as build ----------------------------------------------------------


@pytest.fixture
def built(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert run_meshgen("build", K8S_EXAMPLE, "-o", out).returncode == 0
    return out


BAD_MANIFESTS = [
    '{"files": {"x.yaml": 1}}',
    '{"generator": "other", "files": {}}',
    '{"files": {"x.yaml": "not-a-digest"}}',
    '{"files": {}, "created": "x.yaml", "state": "in-progress"}',
    '{"files": {}, "state": "finished"}',
]


@pytest.mark.parametrize("manifest", BAD_MANIFESTS)
def test_plan_refuses_a_manifest_build_refuses(built: Path, manifest: str) -> None:
    (built / MANIFEST_NAME).write_text(manifest)
    build = run_meshgen("build", K8S_EXAMPLE, "-o", built)
    plan = run_meshgen("plan", K8S_EXAMPLE, "-o", built)
    assert build.returncode == 1
    assert "MG901" in build.stderr
    assert plan.returncode == 1, plan.stdout
    assert f"{MANIFEST_NAME}: error[MG908]" in plan.stderr
    assert "not a valid meshgen manifest" in plan.stderr


def test_plan_never_reads_through_a_symlinked_directory(built: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(built / "east", outside)
    (outside / "namespaces.yaml").write_text("secret: do-not-post-me\n")
    shutil.rmtree(built / "east")
    (built / "east").symlink_to(outside)
    build = run_meshgen("build", K8S_EXAMPLE, "-o", built)
    plan = run_meshgen("plan", K8S_EXAMPLE, "-o", built, "--format", "markdown")
    assert build.returncode == 1
    assert "east: error[MG901]: is a symlink" in build.stderr
    assert plan.returncode == 1
    assert "east: error[MG908]: is a symlink" in plan.stderr
    assert "do-not-post-me" not in plan.stdout + plan.stderr


def peak_rss_mb(*args: object) -> tuple[int, float]:
    """Exit code and peak RSS (MB) of `python -m meshgen ARGS` in a process of its own."""
    probe = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run([sys.executable, '-m', 'meshgen', *sys.argv[1:]], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *map(str, args)], capture_output=True, text=True, check=True
    )
    code, kb = done.stdout.split()
    return int(code), int(kb) / 1024


def test_a_huge_file_in_place_of_an_owned_one_costs_plan_no_memory(built: Path) -> None:
    target = built / "east" / "namespaces.yaml"
    with target.open("r+b") as f:
        f.truncate(1024**3)  # sparse: 1 GiB of zeros
    for command in ("build", "plan"):
        code, mb = peak_rss_mb(command, K8S_EXAMPLE, "-o", built)
        assert code == 1, command
        assert mb < 100, (command, mb)


@pytest.mark.parametrize(
    "manifest",
    [
        "sparse",  # 250 MiB of zeros
        json.dumps({"generator": "meshgen", "files": {}, "dirs": ["ab"] * 1_600_000}),
        json.dumps({"generator": "meshgen", "files": {}, "dirs": ["ab"] * 190_000}),
    ],
    ids=["250MiB", "8MiB-of-tiny-strings", "many-values"],
)
def test_reading_any_manifest_stays_under_100_mb(built: Path, manifest: str) -> None:
    path = built / MANIFEST_NAME
    if manifest == "sparse":
        with path.open("r+b") as f:
            f.truncate(250 * 1024**2)
    else:
        path.write_text(manifest)
    for command in ("build", "plan"):
        code, mb = peak_rss_mb(command, K8S_EXAMPLE, "-o", built)
        assert code == 1, command
        assert mb < 100, (command, mb)


def test_plan_refuses_an_output_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a file\n")
    plan = run_meshgen("plan", K8S_EXAMPLE, "-o", path)
    assert plan.returncode == 1
    assert "error[MG908]: output directory is not a directory" in plan.stderr


def test_an_unreadable_output_is_mg908_for_plan_and_mg907_for_build(nobody_dir: Path) -> None:
    spec, out = nobody_dir / "mesh.yaml", nobody_dir / "out"
    assert as_nobody("build", spec, "-o", out).returncode == 0
    owned = out / "east" / "namespaces.yaml"
    owned.chmod(0)
    plan = as_nobody("plan", spec, "-o", out)
    build = as_nobody("build", spec, "-o", out)
    assert plan.returncode == 1
    assert build.returncode == 1
    assert "east/namespaces.yaml: error[MG908]: cannot read: Permission denied" in plan.stderr
    assert "east/namespaces.yaml: error[MG907]: cannot read: Permission denied" in build.stderr
    owned.chmod(0o644)
    out.chmod(0)
    plan = as_nobody("plan", spec, "-o", out)
    build = as_nobody("build", spec, "-o", out)
    assert plan.returncode == 1
    assert "error[MG908]: cannot read: Permission denied" in plan.stderr
    assert build.returncode == 1
    assert "error[MG907]: cannot read: Permission denied" in build.stderr
    out.chmod(0o755)


# --- bounded inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "", "nan", "inf", "-1", "1e400"])
def test_a_bad_lock_wait_is_a_usage_error(tmp_path: Path, value: str) -> None:
    for command in ("build", "plan"):
        done = subprocess.run(
            [
                *(sys.executable, "-m", "meshgen", command),
                *(str(EXAMPLES["canary-split"]), "-o", str(tmp_path / "out")),
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MESHGEN_LOCK_WAIT": value},
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, (command, done.stderr)
        assert "MESHGEN_LOCK_WAIT" in done.stderr
        assert "finite number >= 0" in done.stderr
        assert "internal error" not in done.stderr


def test_a_good_lock_wait_is_taken(tmp_path: Path) -> None:
    env = {**os.environ, "MESHGEN_LOCK_WAIT": " 0.5 "}
    done = subprocess.run(
        [sys.executable, "-m", "meshgen", "build", str(K8S_EXAMPLE), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "o").rglob(f"{TEMP_PREFIX}*"))
