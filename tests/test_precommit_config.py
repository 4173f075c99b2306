"""The repository's own .pre-commit-config.yaml: it runs every hook meshgen publishes
(.pre-commit-hooks.yaml) with the same entry on the bundled examples, then ruff and mypy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, ROOT, SEED_EXAMPLE
from tests.tooling import PRE_COMMIT, pre_commit

CONFIG = ROOT / ".pre-commit-config.yaml"
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
# Keys that make a mirrored hook run as a user's would, whatever files it is given.
SAME = ("pass_filenames", "always_run", "types_or", "require_serial")


def published() -> list[dict[str, Any]]:
    hooks = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return hooks


def configured() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    hooks: dict[str, dict[str, Any]] = {}
    for repo in config["repos"]:
        # Only `repo: local` runs this checkout's code rather than a published revision.
        assert repo["repo"] == "local", repo["repo"]
        for hook in repo["hooks"]:
            assert hook["id"] not in hooks, f"hook {hook['id']} listed twice"
            hooks[hook["id"]] = hook
    return hooks


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_every_published_hook_runs_with_its_entry() -> None:
    hooks = configured()
    for hook in published():
        mine = hooks.get(hook["id"])
        assert mine is not None, f"{hook['id']} is published but not run here"
        assert mine["entry"] == hook["entry"], hook["id"]
        # The checkout's meshgen from the activated .venv, not an installed release.
        assert mine["language"] == "system", hook["id"]
        for key in SAME:
            assert mine.get(key) == hook.get(key), (hook["id"], key)
    ours = {hook_id for hook_id in hooks if hook_id.startswith("meshgen")}
    assert ours == {hook["id"] for hook in published()}


def test_validate_hook_takes_every_bundled_example() -> None:
    pattern = configured()["meshgen-validate"]["files"]
    default = next(h for h in published() if h["id"] == "meshgen-validate")["files"]
    assert EXAMPLES
    # pre-commit matches `files` with re.search on paths relative to the repository root.
    for spec in EXAMPLES.values():
        assert re.search(pattern, relative(spec)), relative(spec)
        assert re.search(default, relative(spec)), relative(spec)
    for other in (
        "mesh.yaml",
        "tests/data/mesh.yaml",
        "examples/a/b/mesh.yaml",
        "examples/a/mesh.yaml.orig",
        "examples/a/other.yaml",
    ):
        assert not re.search(pattern, other), other


def test_build_check_hook_checks_the_committed_out() -> None:
    hook = configured()["meshgen-build-check"]
    assert hook["args"] == [relative(SEED_EXAMPLE), "-o", "out"]
    assert (ROOT / "out" / ".meshgen-manifest.json").is_file()


def test_ruff_and_mypy_run_over_the_code() -> None:
    hooks = configured()
    for hook_id, command in (("ruff-check", "ruff check"), ("ruff-format", "ruff format --check")):
        assert hooks[hook_id]["entry"].startswith(command), hook_id
        assert hooks[hook_id]["types_or"] == ["python", "pyi"], hook_id
    mypy = hooks["mypy"]
    assert mypy["entry"] == "mypy"
    # mypy checks what [tool.mypy] lists, as scripts/test runs it: changing any of it runs it.
    assert mypy["pass_filenames"] is False
    files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    checked = [ROOT / name for name in files["tool"]["mypy"]["files"]]
    sources = [p for c in checked for p in ([c] if c.is_file() else sorted(c.rglob("*.py")))]
    assert sources
    for path in [*sources, ROOT / "pyproject.toml"]:
        assert re.search(mypy["files"], relative(path)), relative(path)


@pytest.mark.skipif(
    not PRE_COMMIT.exists(), reason="pre-commit is not installed (pip install .[test])"
)
def test_pre_commit_runs_the_config(tmp_path: Path) -> None:
    """The real `pre-commit run --all-files` over a copy of the examples and out/."""
    repo = tmp_path / "repo"
    for spec in EXAMPLES.values():
        (repo / relative(spec)).parent.mkdir(parents=True)
        shutil.copy2(spec, repo / relative(spec))
    shutil.copytree(ROOT / "out", repo / "out")
    shutil.copy2(CONFIG, repo / CONFIG.name)
    # Outside examples/: the published default would take it, this config must not.
    (repo / "tests" / "data").mkdir(parents=True)
    (repo / "tests" / "data" / "mesh.yaml").write_text("kind: NotAMesh\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)

    home = tmp_path / "home"
    valid = pre_commit(home, repo, "validate-config", CONFIG.name, timeout=300)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    proc = pre_commit(home, repo, "run", "--all-files", "--color", "never", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {line.split(".")[0]: line for line in proc.stdout.splitlines()}
    assert lines["meshgen validate (examples)"].endswith("Passed"), proc.stdout
    assert lines["meshgen build --check (out/)"].endswith("Passed"), proc.stdout
    # No Python file here: ruff and mypy have nothing to check.
    for name in ("ruff check", "ruff format --check", "mypy (strict)"):
        assert lines[name].endswith("Skipped"), proc.stdout
