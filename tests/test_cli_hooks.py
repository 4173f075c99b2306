"""The pre-commit hooks (.pre-commit-hooks.yaml) through the real `pre-commit try-repo`:
meshgen is installed from a git copy of this checkout into pre-commit's own environment,
and the hooks run in a second git repository, as a user's would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, SEED_EXAMPLE
from tests.tooling import PRE_COMMIT
from tests.tooling import pre_commit as run_pre_commit

# What pip needs to install meshgen; the rest of the checkout is not part of the package.
PACKAGE = ("meshgen", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml")
OFFLINE = (
    "Could not find a version",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "No matching distribution",
)

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists(), reason="pre-commit is not installed (pip install .[test])"
)


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding this checkout's package (committed: try-repo clones it)."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in PACKAGE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, repo / name)
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "meshgen", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def user_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "user"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    return repo


def pre_commit(home: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real pre-commit over every file of `repo`."""
    return run_pre_commit(home, repo, *args, "--all-files", "--color", "never")


def try_repo(
    hook_repo: Path, home: Path, repo: Path, hook: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    proc = pre_commit(home, repo, "try-repo", str(hook_repo), hook, *extra)
    if proc.returncode == 3 and any(s in proc.stdout + proc.stderr for s in OFFLINE):
        pytest.skip("pre-commit could not install meshgen's dependencies (offline)")
    return proc


def test_validate_hook_default_files(
    hook_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    seed = SEED_EXAMPLE.read_text(encoding="utf-8")
    bad = seed.replace("podCIDR: 10.132.0.0/14", "podCIDR: 10.128.0.0/15")
    repo = user_repo(
        tmp_path, {"good/mesh.yaml": seed, "bad/mesh.yml": bad, "other.yaml": "not: [a mesh\n"}
    )
    proc = try_repo(hook_repo, pre_commit_home, repo, "meshgen-validate")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad/mesh.yml:" in proc.stdout
    assert "error[MG201]" in proc.stdout
    assert "other.yaml" not in proc.stdout  # not a mesh.yaml: not matched by default


def test_build_check_hook_default_args(
    hook_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    repo = user_repo(tmp_path, {"mesh.yaml": SEED_EXAMPLE.read_text(encoding="utf-8")})
    stale = try_repo(hook_repo, pre_commit_home, repo, "meshgen-build-check")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "out is out of date" in stale.stdout
    # Built by the same code the hook runs (the copy, not the live checkout).
    subprocess.run(
        [sys.executable, "-m", "meshgen", "build", "mesh.yaml", "-o", "out"],
        cwd=repo,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(hook_repo)},
    )
    git("add", ".", cwd=repo)
    fresh = try_repo(hook_repo, pre_commit_home, repo, "meshgen-build-check")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "Passed" in fresh.stdout


def test_a_local_hook_runs_the_installed_meshgen_offline(
    pre_commit_home: Path, tmp_path: Path
) -> None:
    """The documented `repo: local` hook (docs/cli.md): the meshgen already installed, no
    tag to fetch, no network."""
    meshgen = Path(sys.executable).with_name("meshgen")
    config = (
        "repos:\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - id: meshgen-validate\n"
        "        name: meshgen validate\n"
        f"        entry: {meshgen} validate\n"
        "        language: system\n"
        "        files: (^|/)mesh\\.ya?ml$\n"
    )
    seed = SEED_EXAMPLE.read_text(encoding="utf-8")
    bad = seed.replace("podCIDR: 10.132.0.0/14", "podCIDR: 10.128.0.0/15")
    repo = user_repo(
        tmp_path,
        {".pre-commit-config.yaml": config, "good/mesh.yaml": seed, "bad/mesh.yaml": bad},
    )
    proc = pre_commit(pre_commit_home, repo, "run")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad/mesh.yaml:" in proc.stdout
    assert "error[MG201]" in proc.stdout
    assert "good/mesh.yaml:" not in proc.stdout
