"""Version identity, help texts, diagnostic options and `meshgen explain`, through a real
subprocess (both the fast `validate` entry and the typer app)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshgen import __version__
from meshgen.codes import REGISTRY
from meshgen.diagnostics import Diagnostic, Location, Severity, format_text
from meshgen.report import Options, use_color
from tests.helpers import ROOT, SEED_EXAMPLE, run_meshgen

COMMANDS = ("build", "validate", "plan", "explain", "check-output", "schema", "init")
# typer/click/pydantic notation that must never reach a user.
LEAKS = (
    "{SPEC",
    "{DIR",
    "<list",
    "<path>",
    "<str>",
    "list[Path]",
    "Value error",
    "Traceback",
    "typer",
    "pydantic",
)


def run(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_meshgen(*args, cwd=cwd, env={"NO_COLOR": "", **(env or {})}, stdin=stdin)


@pytest.fixture
def warning_spec(tmp_path: Path) -> Path:
    """The seed with istio-cni off on OpenShift: exactly one warning (MG305)."""
    text = SEED_EXAMPLE.read_text(encoding="utf-8")
    assert text.count("enabled: true") == 1
    path = tmp_path / "mesh.yaml"
    path.write_text(text.replace("enabled: true", "enabled: false"), encoding="utf-8")
    return path


def test_version() -> None:
    for flag in ("--version", "-V"):
        proc = run(flag)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"meshgen {__version__}\n"


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_texts_are_plain(command: str) -> None:
    args = [command] if command else []
    short, long = run(*args, "-h"), run(*args, "--help")
    assert short.returncode == long.returncode == 0
    assert short.stdout == long.stdout
    assert short.stdout.startswith("Usage: meshgen")
    for leak in LEAKS:
        assert leak not in short.stdout, (command, leak)


def test_top_level_help_lists_completion_and_every_command() -> None:
    text = run("-h").stdout
    for word in ("--version", "--install-completion", "--show-completion", *COMMANDS):
        assert word in text, word


def test_shell_completion() -> None:
    # The shell named, not detected from the parent processes (shellingham): started in the
    # background (an orphan under init) there is no shell to detect.
    proc = run(
        "--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "_MESHGEN_COMPLETE" in proc.stdout
    env = {"_MESHGEN_COMPLETE": "complete_bash", "COMP_WORDS": "meshgen expl", "COMP_CWORD": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv[0] = 'meshgen'; from meshgen.entry import main; main()",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, **env},
    )
    assert proc.stdout.split() == ["explain"], proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate"], "Missing argument 'SPEC...'"),
        (["build"], "Missing argument 'SPEC'"),
        (["validate", "--format", "xml", "x.yaml"], "'xml' is not one of 'text', 'json', 'github'"),
        (
            ["validate", "--ignore", "MG201", "x.yaml"],
            "MG201 is an error; only warnings can be ignored",
        ),
        (["validate", "--ignore", "MG999", "x.yaml"], "MG999 is not a meshgen diagnostic code"),
        (["check-output", "out", "--istio-version", "2.x"], "expected 1.MINOR or 1.MINOR.PATCH"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_are_plain(args: list[str], message: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    for leak in LEAKS:
        assert leak not in proc.stderr, leak


@pytest.mark.parametrize("fast", [True, False], ids=["fast-entry", "typer"])
def test_warning_options(warning_spec: Path, fast: bool) -> None:
    env = {} if fast else {"MESHGEN_DEBUG": "1"}  # MESHGEN_DEBUG skips the fast entry

    def validate(*args: str) -> subprocess.CompletedProcess[str]:
        return run("validate", *args, str(warning_spec), env=env)

    plain = validate()
    assert plain.returncode == 0
    assert "warning[MG305]" in plain.stderr
    assert plain.stderr.endswith("meshgen: 0 errors, 1 warning\n")  # a summary for warnings
    strict = validate("--warnings-as-errors")
    assert strict.returncode == 1
    assert "error[MG305]" in strict.stderr
    assert strict.stderr.endswith("meshgen: 1 error, 0 warnings\n")
    for args in (("--ignore", "MG305"), ("--ignore=mg305",), ("--quiet",), ("-q",)):
        quiet = validate(*args)
        assert (quiet.returncode, quiet.stderr, quiet.stdout) == (0, "", ""), args
    assert validate("--ignore", "MG305", "--warnings-as-errors").returncode == 0
    assert "\x1b[" not in validate("--no-color").stderr


def test_clean_spec_prints_nothing() -> None:
    proc = run("validate", str(SEED_EXAMPLE))
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", "")


def test_json_carries_a_doc_reference(warning_spec: Path) -> None:
    proc = run("validate", "--format", "json", str(warning_spec))
    [diag] = json.loads(proc.stdout)
    assert diag["code"] == "MG305"
    assert diag["doc"] == (
        f"https://github.com/meshgen/meshgen/blob/v{__version__}/docs/diagnostics.md#mg305"
    )


def test_spec_on_stdin(warning_spec: Path) -> None:
    proc = run("validate", "-", stdin=warning_spec.read_text(encoding="utf-8"))
    assert proc.returncode == 0
    assert proc.stderr.startswith("<stdin>:")


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    diag = Diagnostic("MG305", Severity.WARNING, "m", Location("f", 1, 2), "h")
    assert "\x1b[" in format_text([diag], color=True)
    assert format_text([diag]) == "f:1:2: warning[MG305]: m\n  hint: h\n"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert use_color(Options())
    assert not use_color(Options(color=False))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Options())


def test_explain_a_code() -> None:
    proc = run("explain", "mg201")
    assert proc.returncode == 0
    assert proc.stdout == REGISTRY["MG201"].page()
    unknown = run("explain", "MG999")
    assert unknown.returncode == 1
    assert "MG999: not a meshgen diagnostic code" in unknown.stderr


def test_explain_lists_every_code() -> None:
    proc = run("explain")
    assert proc.returncode == 0
    for code in REGISTRY:
        assert f"  {code}  " in proc.stdout, code


def test_explain_a_spec() -> None:
    proc = run("explain", str(SEED_EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert "cluster1" in proc.stdout
    assert "\x1b[" not in proc.stdout  # not a terminal


def test_explain_a_bad_spec(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text("apiVersion: [\n")
    proc = run("explain", str(spec))
    assert proc.returncode == 1
    assert "error[MG001]" in proc.stderr


def test_manifest_records_version_and_spec_hash(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_bytes(SEED_EXAMPLE.read_bytes())
    out = tmp_path / "out"
    assert run("build", str(spec), "-o", str(out), cwd=tmp_path).returncode == 0
    manifest = out / ".meshgen-manifest.json"
    first = manifest.read_bytes()
    doc = json.loads(first)
    assert doc["meshgen"] == __version__
    assert doc["spec"] == hashlib.sha256(spec.read_bytes()).hexdigest()
    # Deterministic: a rebuild of the same spec leaves the manifest's bytes alone.
    assert run("build", str(spec), "-o", str(out), cwd=tmp_path).returncode == 0
    assert manifest.read_bytes() == first
    # Through standard input: the same hash.
    piped = run(
        "build",
        "-",
        "-o",
        str(tmp_path / "piped"),
        cwd=tmp_path,
        stdin=spec.read_text(encoding="utf-8"),
    )
    assert piped.returncode == 0, piped.stderr
    piped_doc = json.loads((tmp_path / "piped" / ".meshgen-manifest.json").read_bytes())
    assert piped_doc["spec"] == doc["spec"]


def test_check_notes_another_meshgen_version(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_bytes(SEED_EXAMPLE.read_bytes())
    out = tmp_path / "out"
    assert run("build", str(spec), "-o", str(out), cwd=tmp_path).returncode == 0
    manifest = out / ".meshgen-manifest.json"
    doc = json.loads(manifest.read_bytes())
    doc["meshgen"] = "0.0.1"
    manifest.write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")
    proc = run("build", str(spec), "-o", str(out), "--check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # a note, not a failure
    assert f"was written by meshgen 0.0.1; this is meshgen {__version__}" in proc.stderr
    assert "is up to date" in proc.stderr
    (out / "README.md").write_text("edited\n")
    stale = run("build", str(spec), "-o", str(out), "--check", cwd=tmp_path)
    assert stale.returncode == 1
    assert "was written by meshgen 0.0.1" in stale.stderr


def test_build_warnings_as_errors_writes_nothing(warning_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run("build", str(warning_spec), "-o", str(out), "--warnings-as-errors", cwd=tmp_path)
    assert proc.returncode == 1
    assert "nothing written" in proc.stderr
    assert not out.exists()
    ok = run("build", str(warning_spec), "-o", str(out), cwd=tmp_path)
    assert ok.returncode == 0
    assert "0 errors, 1 warning" in ok.stderr
