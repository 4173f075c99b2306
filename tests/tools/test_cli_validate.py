"""`meshgen build --validate` and `meshgen check-output` through a real subprocess."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import SEED_EXAMPLE, run_meshgen
from tests.tooling import schemas, tool, tools_path

pytestmark = pytest.mark.tools


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_meshgen(*args, path=path if path is not None else tools_path())


def test_check_output_of_the_committed_example() -> None:
    tool("kubeconform")
    proc = run("check-output", "out", "--schema-dir", str(schemas()), "--istio-version", "1.10")
    assert proc.returncode == 0, proc.stderr
    # 16 mesh objects and 8 test workloads of <cluster>/verify/ (4 per cluster).
    assert "kubeconform: 24 valid, 0 invalid, 0 errors, 0 skipped" in proc.stderr


def test_check_output_names_the_file_line_and_object(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("build", str(SEED_EXAMPLE), "-o", str(out)).returncode == 0
    target = out / "cluster2" / "traffic" / "sample" / "rules.yaml"
    target.write_text(target.read_text().replace("  hosts:", "  hostz:"))
    proc = run("check-output", str(out), "--schema-dir", str(schemas()))
    assert proc.returncode == 1
    assert (
        "cluster2/traffic/sample/rules.yaml:19:1: error[MG902]: kubeconform rejects "
        "VirtualService 'helloworld'" in proc.stderr
    )
    assert "'hostz' not allowed" in proc.stderr


def test_build_validate(tmp_path: Path) -> None:
    proc = run(
        "build",
        str(SEED_EXAMPLE),
        "-o",
        str(tmp_path / "out"),
        "--validate",
        "--schema-dir",
        str(schemas()),
    )
    assert proc.returncode == 0, proc.stderr
    assert "kubeconform: 24 valid" in proc.stderr


def test_without_kubeconform(tmp_path: Path) -> None:
    bare = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "kubeconform").exists()
    )
    proc = run("check-output", "out", path=bare)
    assert proc.returncode == 1
    assert "kubeconform is not on PATH" in proc.stderr
    build = run("build", str(SEED_EXAMPLE), "-o", str(tmp_path / "o"), "--validate", path=bare)
    assert build.returncode == 0
    assert "--validate skipped" in build.stderr
