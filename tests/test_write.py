"""Tests for meshgen.write: atomic, ownership-aware output writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meshgen.write import (
    MANIFEST_NAME,
    NOT_OWNED,
    OutputConflict,
    check_output,
    diff_output,
    plan_write,
    write_output,
)
from tests.helpers import WRITER_FILES

FILES = WRITER_FILES

Snapshot = dict[str, tuple[object, ...]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under root (symlinks not followed) with content, target, inode and mtime."""
    snap: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if path.is_symlink():
                snap[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                snap[rel] = ("dir",)
            else:
                snap[rel] = ("file", path.read_bytes(), st.st_ino, st.st_mtime_ns)
    return snap


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if ".meshgen-" in p.name)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def age(root: Path) -> None:
    """Backdate every file so any rewrite would show up as a changed mtime."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            os.utime(Path(dirpath, name), ns=(1_000_000_000, 1_000_000_000), follow_symlinks=False)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def test_fresh_write(out: Path) -> None:
    plan = write_output(out, FILES)
    assert plan.written == tuple(sorted(FILES))
    assert plan.unchanged == plan.pruned == ()
    for rel, data in FILES.items():
        assert (out / rel).read_bytes() == data
    manifest = json.loads((out / MANIFEST_NAME).read_bytes())
    assert sorted(manifest["files"]) == sorted(FILES)
    assert leftovers(out) == []


def test_fresh_write_creates_missing_parents(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"
    write_output(out, FILES)
    assert (out / "README.md").read_bytes() == FILES["README.md"]


def test_identical_rebuild_writes_nothing(out: Path) -> None:
    write_output(out, FILES)
    age(out)
    before = snapshot(out)
    dir_mtimes = {p: p.stat().st_mtime_ns for p in [out, *out.rglob("*")] if p.is_dir()}
    plan = write_output(out, dict(reversed(FILES.items())))
    assert plan.written == plan.pruned == ()
    assert plan.unchanged == tuple(sorted(FILES))
    assert snapshot(out) == before  # same bytes, inodes and st_mtime_ns
    assert {p: p.stat().st_mtime_ns for p in dir_mtimes} == dir_mtimes
    assert plan_write(out, FILES) == plan


def test_change_rewrites_only_changed_files(out: Path) -> None:
    write_output(out, FILES)
    age(out)
    before = snapshot(out)
    plan = write_output(out, {**FILES, "README.md": b"# changed\n"})
    assert plan.written == ("README.md",)
    after = snapshot(out)
    assert after["README.md"][1] == b"# changed\n"
    for rel in FILES.keys() - {"README.md"}:
        assert after[rel] == before[rel]  # hard-linked over: same inode and mtime


def test_removed_file_is_pruned_with_its_empty_dir(out: Path) -> None:
    write_output(out, FILES)
    files = {k: v for k, v in FILES.items() if not k.startswith("cluster2/")}
    plan = write_output(out, files)
    assert plan.pruned == ("cluster2/kustomization.yaml",)
    assert not (out / "cluster2").exists()
    assert sorted(json.loads((out / MANIFEST_NAME).read_bytes())["files"]) == sorted(files)
    assert leftovers(out) == []


def test_user_files_survive_rebuild_and_prune(out: Path) -> None:
    write_output(out, FILES)
    (out / "NOTES.md").write_bytes(b"mine\n")
    (out / "cluster1" / "extra.yaml").write_bytes(b"extra: true\n")
    (out / "scratch").mkdir()  # an empty user directory
    age(out)
    before = snapshot(out)
    files = {"README.md": b"# new\n", "cluster2/kustomization.yaml": b"x: 1\n"}
    plan = write_output(out, files)
    assert plan.pruned == ("cluster1/istio.yaml", "cluster1/kustomization.yaml")
    after = snapshot(out)
    for rel in ("NOTES.md", "cluster1/extra.yaml"):
        assert after[rel] == before[rel]
    assert after["scratch"] == ("dir",)
    assert sorted(after) == sorted(
        [
            *files,
            "cluster1",
            "cluster2",
            "cluster1/extra.yaml",
            "NOTES.md",
            "scratch",
            MANIFEST_NAME,
        ]
    )
    # ...and across a further no-op and a full prune.
    write_output(out, files)
    write_output(out, {})
    final = snapshot(out)
    assert final["NOTES.md"] == before["NOTES.md"]
    assert final["cluster1/extra.yaml"] == before["cluster1/extra.yaml"]
    assert "cluster2" not in final


def test_user_file_at_write_path_conflicts(out: Path) -> None:
    write_output(out, FILES)
    (out / "cluster1" / "new.yaml").write_bytes(b"user\n")
    before = snapshot(out)
    files = {**FILES, "cluster1/new.yaml": b"generated\n"}
    with pytest.raises(OutputConflict) as exc:
        write_output(out, files)
    assert exc.value.problems == [("cluster1/new.yaml", NOT_OWNED)]
    assert snapshot(out) == before
    assert leftovers(out) == []
    with pytest.raises(OutputConflict):
        plan_write(out, files)


def test_unmanaged_dir_existing_files_conflict_others_are_left(out: Path) -> None:
    out.mkdir()
    (out / "README.md").write_bytes(FILES["README.md"])  # even identical bytes are not ours
    (out / "other.txt").write_bytes(b"other\n")
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert exc.value.problems == [("README.md", NOT_OWNED)]
    (out / "README.md").unlink()
    write_output(out, FILES)
    assert (out / "other.txt").read_bytes() == b"other\n"
    assert (out / "README.md").read_bytes() == FILES["README.md"]


def test_symlinked_output_dir_conflicts(tmp_path: Path, out: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    out.symlink_to(target)
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert exc.value.problems == [(".", "output directory is a symlink")]
    assert list(target.iterdir()) == []
    assert out.is_symlink()


def test_symlinked_subdir_on_write_path_conflicts(tmp_path: Path, out: Path) -> None:
    write_output(out, {"README.md": b"x\n"})
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "istio.yaml").write_bytes(b"outside\n")
    (out / "cluster1").symlink_to(target)
    before, target_before = snapshot(out), snapshot(target)
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert exc.value.problems == [("cluster1", "is a symlink")]
    assert snapshot(out) == before
    assert snapshot(target) == target_before


def test_symlink_at_write_path_conflicts(tmp_path: Path, out: Path) -> None:
    write_output(out, {})
    (out / "README.md").symlink_to(tmp_path / "victim")
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert exc.value.problems == [("README.md", "is a symlink")]
    assert not (tmp_path / "victim").exists()


def test_user_symlinks_elsewhere_are_preserved(tmp_path: Path, out: Path) -> None:
    write_output(out, FILES)
    target = tmp_path / "target.txt"
    target.write_bytes(b"t\n")
    (out / "link").symlink_to(target)
    (out / "cluster1" / "rel-link").symlink_to("../README.md")
    (out / "dangling").symlink_to("does/not/exist")
    write_output(out, {**FILES, "README.md": b"changed\n"})
    assert os.readlink(out / "link") == str(target)
    assert os.readlink(out / "cluster1" / "rel-link") == "../README.md"
    assert os.readlink(out / "dangling") == "does/not/exist"
    assert target.read_bytes() == b"t\n"


def test_owned_file_and_directory_can_swap_kinds(out: Path) -> None:
    write_output(out, {"a.yaml": b"file\n", "b.yaml/c.yaml": b"nested\n"})
    plan = write_output(out, {"a.yaml/x.yaml": b"now nested\n", "b.yaml": b"now a file\n"})
    assert plan.pruned == ("a.yaml",)
    assert (out / "a.yaml" / "x.yaml").read_bytes() == b"now nested\n"
    assert (out / "b.yaml").read_bytes() == b"now a file\n"
    assert check_output(out, {"a.yaml/x.yaml": b"now nested\n", "b.yaml": b"now a file\n"}).clean


def test_directory_with_user_content_at_write_path_conflicts(out: Path) -> None:
    write_output(out, {"b.yaml/c.yaml": b"nested\n"})
    (out / "b.yaml" / "mine").write_bytes(b"user\n")
    with pytest.raises(OutputConflict) as exc:
        write_output(out, {"b.yaml": b"file\n"})
    assert exc.value.problems == [("b.yaml", "is a directory")]


def test_check_output_reports_drift_and_writes_nothing(out: Path) -> None:
    assert check_output(out, FILES).missing == tuple(sorted(FILES))
    assert not out.exists()
    write_output(out, FILES)
    (out / "NOTES.md").write_bytes(b"mine\n")
    assert check_output(out, FILES).clean
    age(out)
    before = snapshot(out)
    files = {k: v for k, v in FILES.items() if not k.startswith("cluster2/")}
    files["README.md"] = b"# changed\n"
    files["cluster3/new.yaml"] = b"new\n"
    drift = check_output(out, files)
    assert drift.changed == ("README.md",)
    assert drift.missing == ("cluster3/new.yaml",)
    assert drift.stale == ("cluster2/kustomization.yaml",)
    assert not drift.clean
    assert snapshot(out) == before


def test_diff_output(out: Path) -> None:
    write_output(out, FILES)
    files = {k: v for k, v in FILES.items() if not k.startswith("cluster2/")}
    files["README.md"] = b"# changed\n"
    files["bin.yaml"] = b"\xff\xfe no newline"
    before = snapshot(out)
    text = diff_output(out, files)
    assert "--- a/README.md\n+++ b/README.md\n" in text
    assert "-# mesh\n+# changed\n" in text
    assert "--- a/cluster2/kustomization.yaml\n" in text
    assert "+\ufffd\ufffd no newline\n" in text
    assert snapshot(out) == before
    assert diff_output(out, FILES) == ""


def test_manifest_is_deterministic(tmp_path: Path) -> None:
    write_output(tmp_path / "one", FILES)
    write_output(tmp_path / "two", dict(reversed(FILES.items())))
    one = (tmp_path / "one" / MANIFEST_NAME).read_bytes()
    assert one == (tmp_path / "two" / MANIFEST_NAME).read_bytes()
    listing = json.loads(one)["files"]
    assert list(listing) == sorted(FILES)
    assert all(len(digest) == 64 for digest in listing.values())


def test_invalid_manifest_conflicts(out: Path) -> None:
    write_output(out, FILES)
    (out / MANIFEST_NAME).write_bytes(b'{"files": {"../escape": "x"}}')
    with pytest.raises(OutputConflict) as exc:
        write_output(out, FILES)
    assert exc.value.problems[0][0] == MANIFEST_NAME


@pytest.mark.parametrize(
    "rel", ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/", "./a", "a\\b", MANIFEST_NAME]
)
def test_unsafe_paths_rejected(out: Path, rel: str) -> None:
    with pytest.raises(ValueError, match=r"output path|reserved"):
        write_output(out, {rel: b""})
    assert not out.exists()


def test_file_and_directory_clash_rejected(out: Path) -> None:
    with pytest.raises(ValueError, match="both a file and a directory"):
        plan_write(out, {"a.yaml": b"", "a.yaml/b.yaml": b""})


def test_a_diff_repeated_across_clusters_is_made_once_and_names_each_file(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same old and new contents in many clusters (a mesh-wide change) are diffed once;
    each file still gets its own header, and the whole is what difflib says file by file."""
    import difflib

    from meshgen import textdiff

    rules = "".join(f"---\nkind: VirtualService\nname: s{i}\nweight: 90\n" for i in range(5))
    files = {f"c{n}/rules.yaml": rules.encode() for n in range(6)}
    write_output(out, files)
    wide = {rel: data.replace(b"weight: 90", b"weight: 80") for rel, data in files.items()}
    calls: list[int] = []
    real = textdiff.unified_diff

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("meshgen.write.compare.unified_diff", counted)
    text = diff_output(out, wide)
    assert len(calls) == 1
    expected = "".join(
        "".join(
            difflib.unified_diff(
                files[rel].decode().splitlines(keepends=True),
                wide[rel].decode().splitlines(keepends=True),
                f"a/{rel}",
                f"b/{rel}",
            )
        )
        for rel in sorted(files)
    )
    assert text == expected
    assert text.count("--- a/c5/rules.yaml\n+++ b/c5/rules.yaml\n") == 1


def test_plan_reads_equal_contents_into_one_object(out: Path) -> None:
    """A mesh-wide change leaves the same old rules in every cluster: read once into memory,
    not once per cluster (issue 20: 368 MB read for 4 MB of distinct content)."""
    from meshgen.write import read_output

    files = {f"c{n}/rules.yaml": b"weight: 90\n" for n in range(4)}
    write_output(out, files)
    wide = dict.fromkeys(files, b"weight: 80\n")
    old, _ = read_output(out, wide)
    assert [old[rel] for rel in files] == [b"weight: 90\n"] * 4
    assert len({id(old[rel]) for rel in files}) == 1
