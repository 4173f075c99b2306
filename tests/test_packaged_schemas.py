"""meshgen/packaged_schemas.py: the shipped kubeconform schemas, unpacked once, whole, by
whichever of several concurrent runs gets there first; elsewhere when the cache is read-only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from meshgen import packaged_schemas


def test_unpacked_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = packaged_schema_dir()
    assert first.parent == tmp_path / "meshgen"
    assert (first / ".complete").is_file()
    assert (first / "crds" / "common").is_dir()
    marker = first / "k8s" / "marker"
    marker.write_text("kept")  # a second call does not unpack again
    assert packaged_schema_dir() == first
    assert marker.read_text() == "kept"
    assert [p.name for p in (tmp_path / "meshgen").iterdir()] == [first.name]


def packaged_schema_dir() -> Path:
    found = packaged_schemas.packaged_schema_dir()
    assert found is not None
    return found


def test_concurrent_runs_leave_one_whole_folder(tmp_path: Path) -> None:
    code = "from meshgen.packaged_schemas import packaged_schema_dir; print(packaged_schema_dir())"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outputs = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    (folder,) = outputs
    assert (Path(folder) / ".complete").is_file()
    assert [p.name for p in (tmp_path / "meshgen").iterdir()] == [Path(folder).name]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_unpacks_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "meshgen").mkdir()
    (tmp_path / "meshgen").chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    found = packaged_schema_dir()
    assert not found.is_relative_to(tmp_path)
    assert (found / ".complete").is_file()


def test_a_cache_that_cannot_be_made_unpacks_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    found = packaged_schema_dir()
    assert not found.is_relative_to(tmp_path)
    assert (found / ".complete").is_file()


def test_no_archive_means_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaged_schemas, "ARCHIVE", tmp_path / "missing.json.xz")
    assert packaged_schemas.packaged_schema_dir() is None
