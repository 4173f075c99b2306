"""The house rules that keep the package readable (issue 22), held by tests so they stay held:
no function grows past a screen, and every object module of render/ is covered by the
import-linter contract that keeps it from the runbook."""

from __future__ import annotations

import ast
import tomllib

from tests.helpers import ROOT

PACKAGE = ROOT / "meshgen"
# About a screen: a function longer than this does more than one thing.
FUNCTION_MAX_LINES = 60
# render/ modules that are not objects: the stage's entry, the escaping, and the runbook.
NOT_OBJECTS = {"__init__", "markdown", "shell", "runbook"}


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, "split these functions:\n" + "\n".join(long)


def test_every_object_module_is_kept_from_the_runbook() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["forbidden_modules"] == ["meshgen.render.runbook"]]
    render = PACKAGE / "render"
    names = {path.stem for path in render.glob("*.py")}
    names |= {path.parent.name for path in render.glob("*/__init__.py")}  # packages
    objects = {f"meshgen.render.{name}" for name in names - NOT_OBJECTS}
    assert objects == set(contract["source_modules"])
