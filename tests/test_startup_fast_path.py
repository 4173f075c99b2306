"""The typer-free `meshgen validate` (entry.py) against the typer app (cli/): what it leaves
unimported, and one exit contract (report.exit_with) for both. Speed itself is measured by
`python -m benchmarks.run`, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT, SEED_EXAMPLE

# Modules a plain `meshgen validate` of a valid spec has no use for: the typer app and its
# stack, and the parts of meshgen that only other commands need.
NOT_IMPORTED = (
    "typer",
    "click",
    "rich",
    "jsonschema",
    "meshgen.cli",
    "meshgen.render",
    "meshgen.emit",
    "meshgen.write",
    "meshgen.schema",
    "meshgen.docs",
    "meshgen.overview",
    "meshgen.conform",
    "meshgen.starter",
    "meshgen.yamlemit",
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_plain_validate_imports_no_more_than_it_needs() -> None:
    proc = _python(f"""\
        import atexit, json, sys
        sys.argv = ["meshgen", "validate", {str(SEED_EXAMPLE)!r}]
        atexit.register(lambda: print(json.dumps(sorted(sys.modules))))
        from meshgen.entry import main
        main()
        """)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert "meshgen.pipeline" in loaded  # it did validate
    heavy = [m for m in loaded if any(m == n or m.startswith(n + ".") for n in NOT_IMPORTED)]
    assert heavy == []


def test_defining_the_spec_models_builds_no_validator() -> None:
    """Validators are built on first use (`defer_build`), Mesh's with every other model in
    it: importing the models builds none, and `Field(SomeModel())` defaults would."""
    proc = _python("""\
        import inspect, json, sys
        import pydantic
        from meshgen import spec, spec_traffic
        models = [c for m in (spec, spec_traffic) for c in vars(m).values()
                  if inspect.isclass(c) and issubclass(c, pydantic.BaseModel)
                  and c.__module__ == m.__name__]
        print(json.dumps({"models": len(models),
                          "built": [c.__name__ for c in models if c.__pydantic_complete__]}))
        """)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["models"] > 30
    assert result["built"] == []


# How each path is entered with the same arguments: the fast path through the console entry,
# the typer app directly.
ENTRIES = {"fast": "from meshgen.entry import main", "typer": "from meshgen.cli import main"}
FAILURES = {
    "bug": (
        "RuntimeError('kaboom')",
        3,
        "meshgen: internal error: RuntimeError: kaboom. This is a bug in meshgen; please "
        "report it with the spec that triggered it (--debug shows the traceback)\n",
    ),
    "interrupt": ("KeyboardInterrupt", 130, "meshgen: interrupted\n"),
    "file-system": (
        "PermissionError(13, 'Permission denied', 'mesh.yaml')",
        1,
        "meshgen: mesh.yaml: Permission denied\n",
    ),
}


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_one_exit_contract_for_both_paths(entry: str, failure: str) -> None:
    raised, code, stderr = FAILURES[failure]
    proc = _python(f"""\
        import sys
        import meshgen.pipeline
        def fail(*args, **kwargs):
            raise {raised}
        meshgen.pipeline.check_spec = fail
        sys.argv = ["meshgen", "validate", {str(SEED_EXAMPLE)!r}]
        {ENTRIES[entry]}
        main()
        """)
    assert (proc.returncode, proc.stderr, proc.stdout) == (code, stderr, "")


@pytest.mark.parametrize("fmt", ["--format=json", "-fjson"])  # the fast path, the typer app
@pytest.mark.parametrize("buffered", [True, False])
def test_a_closed_pipe_on_stdout_exits_1_quietly(fmt: str, buffered: bool) -> None:
    """`meshgen validate -f json ... | head -1` once head is gone: 1, without a word."""
    read, write = os.pipe()
    os.close(read)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    bad = "apiVersion: [\n"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "meshgen", "validate", fmt, "-"],
            input=bad.encode(),
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            check=False,
        )
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (1, b"")
