"""The CLI through a real subprocess: exit codes, streams and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meshgen.schema import MODELINE
from tests.helpers import ROOT, SEED_EXAMPLE, run_meshgen

BAD_SPEC = """\
apiVersion: meshgen.dev/v1alpha1
kind: Mesh
metadata: {name: m}
spec:
  istio: {version: 1.10}
  clusters:
    - {name: a, podCIDR: 10.0.0.0/16, serviceCIDR: 10.1.0.0/16}
    - {name: b, podCIDR: 10.0.0.0/17, serviceCIDR: 10.2.0.0/16}
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


@pytest.fixture
def bad_spec(tmp_path: Path) -> Path:
    path = tmp_path / "mesh.yaml"
    path.write_text(BAD_SPEC)
    return path


def test_build_writes_then_rebuild_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out))
    assert first.returncode == 0, first.stderr
    assert (out / "cluster1" / "kustomization.yaml").is_file()
    second = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out))
    assert second.returncode == 0
    assert " 0 written" in second.stderr


def test_spec_errors_exit_1_with_located_diagnostics(bad_spec: Path) -> None:
    proc = run_meshgen("validate", str(bad_spec))
    assert proc.returncode == 1
    assert "mesh.yaml:5:20: error[MG102]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_build_with_errors_writes_nothing(bad_spec: Path, tmp_path: Path) -> None:
    proc = run_meshgen("build", str(bad_spec), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert not (tmp_path / "out").exists()


def test_json_and_github_formats(bad_spec: Path) -> None:
    proc = run_meshgen("validate", str(bad_spec), "--format", "json")
    assert proc.returncode == 1
    diags = json.loads(proc.stdout)
    assert {d["code"] for d in diags} >= {"MG102"}
    assert all({"file", "line", "column", "hint"} <= d.keys() for d in diags)
    proc = run_meshgen("validate", str(bad_spec), "--format", "github")
    assert proc.stdout.startswith("::error file=")


def test_validate_many_files_for_pre_commit(bad_spec: Path) -> None:
    proc = run_meshgen("validate", str(SEED_EXAMPLE), str(bad_spec))
    assert proc.returncode == 1
    assert run_meshgen("validate", str(SEED_EXAMPLE)).returncode == 0


def test_check_and_diff_report_drift(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out)).returncode == 0
    assert run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--check").returncode == 0
    target = out / "cluster2" / "traffic" / "sample" / "rules.yaml"
    target.write_text(target.read_text().replace("subset: v2", "subset: v1"))
    check = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--check")
    assert check.returncode == 1
    assert "cluster2/traffic/sample/rules.yaml: changed" in check.stderr
    diff = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--diff")
    assert diff.returncode == 1
    assert "-        subset: v1" in diff.stdout
    assert "+        subset: v2" in diff.stdout
    assert "subset: v1" in target.read_text(), "--check/--diff must not write"


def test_user_file_in_the_way_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "cluster1").mkdir(parents=True)
    mine = out / "cluster1" / "kustomization.yaml"
    mine.write_text("mine\n")
    proc = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out))
    assert proc.returncode == 1
    assert "error[MG901]" in proc.stderr
    assert mine.read_text() == "mine\n"


def test_usage_errors_exit_2() -> None:
    assert run_meshgen("build").returncode == 2
    assert run_meshgen("build", "x.yaml", "--format", "xml").returncode == 2
    assert run_meshgen("frobnicate").returncode == 2


def test_missing_spec_is_a_diagnostic_not_a_traceback(tmp_path: Path) -> None:
    proc = run_meshgen("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 1
    assert "error[MG009]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_internal_error_exits_3_without_traceback() -> None:
    code = (
        "import sys, meshgen.pipeline as p\n"
        "def boom(*args): raise RuntimeError('kaboom')\n"
        "p.compile_spec = boom\n"
        "sys.argv = ['meshgen', 'build', 'examples/openshift-submariner/mesh.yaml']\n"
        "from meshgen.cli import main; main()\n"
    )
    proc = run_python(code)
    assert proc.returncode == 3
    assert "internal error: RuntimeError: kaboom" in proc.stderr
    assert "Traceback" not in proc.stderr
    debug = run_python(code.replace("'build'", "'--debug', 'build'"))
    assert "Traceback" in debug.stderr


def test_interrupt_exits_130() -> None:
    code = (
        "import sys, meshgen.pipeline as p\n"
        "def stop(*args): raise KeyboardInterrupt\n"
        "p.check_spec = stop\n"
        "sys.argv = ['meshgen', 'validate', 'examples/openshift-submariner/mesh.yaml']\n"
        "from meshgen.cli import main; main()\n"
    )
    assert run_python(code).returncode == 130


def test_init_writes_a_valid_starter_and_never_overwrites(tmp_path: Path) -> None:
    assert run_meshgen("init", "mesh.yaml", cwd=tmp_path).returncode == 0
    assert run_meshgen("validate", "mesh.yaml", cwd=tmp_path).returncode == 0
    again = run_meshgen("init", "mesh.yaml", cwd=tmp_path)
    assert again.returncode == 1
    assert "not overwriting" in again.stderr


def test_init_writes_the_schema_its_modeline_names(tmp_path: Path) -> None:
    """Offline first (issue 21): the modeline names mesh.schema.json next to the spec, which
    is `meshgen schema`; --online names the schema published at the release's tag."""
    assert run_meshgen("init", "mesh.yaml", cwd=tmp_path).returncode == 0
    first = (tmp_path / "mesh.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./mesh.schema.json"
    schema = (tmp_path / "mesh.schema.json").read_text(encoding="utf-8")
    assert schema == run_meshgen("schema").stdout
    (tmp_path / "mesh.yaml").unlink()
    (tmp_path / "mesh.schema.json").write_text("{}\n", encoding="utf-8")  # the user's
    refused = run_meshgen("init", "mesh.yaml", cwd=tmp_path)
    assert refused.returncode == 1
    assert "mesh.schema.json: error[MG901]: exists; not overwriting it" in refused.stderr
    assert not (tmp_path / "mesh.yaml").exists()
    assert (tmp_path / "mesh.schema.json").read_text(encoding="utf-8") == "{}\n"
    online = tmp_path / "online"
    online.mkdir()
    assert run_meshgen("init", "--online", cwd=online).returncode == 0
    assert (online / "mesh.yaml").read_text(encoding="utf-8").startswith(MODELINE + "\n")
    assert not (online / "mesh.schema.json").exists()


def test_schema_command_prints_json_schema() -> None:
    proc = run_meshgen("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["title"].startswith("meshgen Mesh")


def test_check_against_a_file_is_a_diagnostic(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x\n")
    proc = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(target), "--check")
    assert proc.returncode == 1
    assert "error[MG901]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_output_must_not_contain_the_working_directory(tmp_path: Path) -> None:
    assert run_meshgen("build", str(SEED_EXAMPLE), "-o", ".", cwd=tmp_path).returncode == 2
    assert run_meshgen("build", str(SEED_EXAMPLE), "-o", "..", cwd=tmp_path).returncode == 2
    assert not any(tmp_path.iterdir())


def test_json_diagnostics_stay_parseable_with_diff(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--diff", "--format", "json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == []
    assert "+++ b/cluster1/kustomization.yaml" in proc.stderr


def test_committed_out_is_current_from_any_working_directory(tmp_path: Path) -> None:
    # Headers name the spec relative to the output's parent, not to the working directory.
    proc = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(ROOT / "out"), "--check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_hand_edit_is_refused_then_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out)).returncode == 0
    target = out / "cluster2" / "traffic" / "sample" / "rules.yaml"
    target.write_text(target.read_text() + "# hot fix\n")
    proc = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out))
    assert proc.returncode == 1
    assert (
        "cluster2/traffic/sample/rules.yaml: error[MG906]: was changed since meshgen wrote it"
    ) in proc.stderr
    assert "--diff" in proc.stderr
    assert target.read_text().endswith("# hot fix\n")
    check = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--check")
    assert check.returncode == 1
    assert "cluster2/traffic/sample/rules.yaml: changed" in check.stderr
    forced = run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert not target.read_text().endswith("# hot fix\n")
    assert run_meshgen("build", str(SEED_EXAMPLE), "-o", str(out), "--check").returncode == 0


def test_init_and_schema_never_write_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.yaml"
    (tmp_path / "dangling.yaml").symlink_to(target)
    proc = run_meshgen("init", "dangling.yaml", "--force", cwd=tmp_path)
    assert proc.returncode == 1
    assert "is a symlink" in proc.stderr
    assert not target.exists()
    target.write_text("precious\n")
    (tmp_path / "schema.json").symlink_to(target)
    proc = run_meshgen("schema", "-o", "schema.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert target.read_text() == "precious\n"
    assert run_meshgen("schema", "-o", "real.json", cwd=tmp_path).returncode == 0
    assert (tmp_path / "real.json").read_text().startswith("{")
    assert not list(tmp_path.glob(".meshgen-tmp-*"))
