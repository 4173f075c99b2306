"""`meshgen plan --against REV`: the output committed at a git revision, in a real repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from meshgen.report import EXIT_DISRUPTIVE
from tests.helpers import run_meshgen
from tests.test_plan import base, build, write_spec

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the base spec and its output committed under deploy/out."""
    (tmp_path / "deploy").mkdir()
    spec = write_spec(tmp_path / "deploy" / "mesh.yaml", base())
    build(spec, tmp_path / "deploy" / "out")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "mesh")
    return tmp_path


def test_against_head_with_no_change_plans_nothing(repo: Path) -> None:
    proc = run_meshgen("plan", "mesh.yaml", "-o", "out", "--against", "HEAD", cwd=repo / "deploy")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("No changes: HEAD:deploy/out")


def test_against_compares_with_the_commit_not_the_disk(repo: Path) -> None:
    spec = repo / "deploy" / "mesh.yaml"
    data = yaml.safe_load(spec.read_text())
    data["spec"]["security"]["peerAuthentication"]["mode"] = "STRICT"
    write_spec(spec, data)
    build(spec, repo / "deploy" / "out")  # the disk already has the new output
    assert run_meshgen("plan", "mesh.yaml", "-o", "out", cwd=repo / "deploy").returncode == 0
    proc = run_meshgen(
        "plan", "deploy/mesh.yaml", "-o", "deploy/out", "--against", "HEAD", "-f", "json", cwd=repo
    )
    assert proc.returncode == EXIT_DISRUPTIVE, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["against"] == "HEAD:deploy/out"
    changes = [c for g in doc["clusters"] for c in g["changes"] if c["disruptive"]]
    assert {c["kind"] for c in changes} == {"PeerAuthentication"}


def test_a_removed_cluster_against_an_older_commit(repo: Path) -> None:
    spec = repo / "deploy" / "mesh.yaml"
    data = yaml.safe_load(spec.read_text())
    data["spec"]["clusters"].pop()
    write_spec(spec, data)
    git(repo, "commit", "-q", "-am", "edit the spec")
    proc = run_meshgen("plan", "mesh.yaml", "-o", "out", "--against", "HEAD~1", cwd=repo / "deploy")
    assert proc.returncode == EXIT_DISRUPTIVE, proc.stderr
    assert "cluster west (leaves the mesh)" in proc.stdout
    assert "delete the remote secret from every peer" in proc.stdout


@pytest.mark.parametrize(
    ("setup", "rev", "message"),
    [
        ("plain", "HEAD", "is not in a git repository"),
        ("repo", "no-such-branch", "is not a revision"),
        ("empty", "HEAD", "nothing at HEAD:deploy/out"),
    ],
)
def test_git_problems_are_diagnostics(tmp_path: Path, setup: str, rev: str, message: str) -> None:
    (tmp_path / "deploy").mkdir()
    write_spec(tmp_path / "deploy" / "mesh.yaml", base())
    if setup != "plain":
        git(tmp_path, "init", "-q")
        if setup == "repo":
            build(tmp_path / "deploy" / "mesh.yaml", tmp_path / "deploy" / "out")
        git(tmp_path, "add", ".")
        git(tmp_path, "commit", "-q", "-m", "spec")
    proc = run_meshgen("plan", "mesh.yaml", "-o", "out", "--against", rev, cwd=tmp_path / "deploy")
    assert proc.returncode == 1
    assert "error[MG908]" in proc.stderr
    assert message in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_a_cidr_change_against_a_commit_comes_from_its_manifest(repo: Path) -> None:
    """The committed manifest records each cluster's CIDRs and Istio version (meshgen/facts.py):
    a plan against a revision compares them without reading the runbook."""
    spec = repo / "deploy" / "mesh.yaml"
    data = yaml.safe_load(spec.read_text())
    data["spec"]["clusters"][1]["serviceCIDR"] = "10.127.0.0/16"
    write_spec(spec, data)
    proc = run_meshgen(
        "plan", "mesh.yaml", "-o", "out", "--against", "HEAD", "-f", "json", cwd=repo / "deploy"
    )
    assert proc.returncode == EXIT_DISRUPTIVE, proc.stderr
    doc = json.loads(proc.stdout)
    west = next(g for g in doc["clusters"] if g["name"] == "west")
    cluster = next(c for c in west["changes"] if c["kind"] == "Cluster")
    assert [(f["path"], f["new"]) for f in cluster["fields"]] == [("serviceCIDR", "10.127.0.0/16")]
