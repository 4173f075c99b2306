"""The real consumer: kustomize builds every cluster directory of every example.

Uses the pinned standalone kustomize that scripts/test installs (`go install`), else
`kubectl kustomize`. Asserts what GitOps would apply: everything kustomization.yaml lists,
and never a secret placeholder or (with the istioctl installer) an IstioOperator.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen import write
from meshgen.pipeline import compile_spec
from tests.helpers import EXAMPLES, ROOT

pytestmark = pytest.mark.tools


def kustomize_commands() -> list[list[str]]:
    """The pinned standalone kustomize, plus `kubectl kustomize` where kubectl exists."""
    commands = []
    pinned = ROOT / ".tools" / "bin" / "kustomize"
    if pinned.exists():
        commands.append([str(pinned), "build"])
    elif found := shutil.which("kustomize"):
        commands.append([found, "build"])
    if found := shutil.which("kubectl"):
        commands.append([found, "kustomize"])
    if not commands:
        pytest.fail("kustomize is not installed: run scripts/test, which installs the pinned one")
    return commands


def kustomize_command() -> list[str]:
    return kustomize_commands()[0]


def kustomize_build(directory: Path, command: list[str]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [*command, str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HOME": str(directory)},
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    name: str = request.param
    out = tmp_path_factory.mktemp(name)
    result = compile_spec(EXAMPLES[name])
    assert result.files is not None, result.diagnostics
    write.write_output(out, result.files)
    return out


def test_kustomize_builds_every_cluster_directory(built: Path) -> None:
    clusters = sorted(p.parent for p in built.glob("*/kustomization.yaml"))
    assert clusters
    for cluster, command in itertools.product(clusters, kustomize_commands()):
        objects = kustomize_build(cluster, command)
        kinds = [o["kind"] for o in objects]
        assert "Namespace" in kinds
        # Placeholders are never applied; the IstioOperator is an istioctl input file.
        for obj in objects:
            name = obj["metadata"]["name"]
            assert not (
                obj["kind"] == "Secret"
                and obj.get("type") != ("kubernetes.io/service-account-token")
            ), name
            assert obj["kind"] != "IstioOperator"
        # Everything listed is applied, and kustomize kept every object.
        listed = yaml.safe_load((cluster / "kustomization.yaml").read_text())["resources"]
        expected = sum(
            len([d for d in yaml.safe_load_all((cluster / f).read_text()) if d]) for f in listed
        )
        assert len(objects) == expected


def test_kustomize_rejects_a_broken_directory(tmp_path: Path) -> None:
    # Guard against a vacuous pass: kustomize must fail on a missing resource.
    (tmp_path / "kustomization.yaml").write_text("resources:\n- missing.yaml\n")
    proc = subprocess.run([*kustomize_command(), str(tmp_path)], capture_output=True, check=False)
    assert proc.returncode != 0


def test_kustomize_builds_the_gitops_directories(built: Path) -> None:
    # gitops/argocd and gitops/flux/istio/<cluster> are kustomize directories too.
    directories = sorted(p.parent for p in (built / "gitops").rglob("kustomization.yaml"))
    for directory, command in itertools.product(directories, kustomize_commands()):
        objects = kustomize_build(directory, command)
        assert objects, directory
        assert {o["kind"] for o in objects} <= {"Application", "ApplicationSet", "HelmRelease"}


def test_kustomize_builds_every_traffic_unit(built: Path) -> None:
    """Each unit is a kustomize directory of DestinationRules and VirtualServices (and, in a
    cluster that does not run some of its services, their Services: services.yaml), and
    together the units hold every object of the cluster's rules and Services, each once."""
    units = sorted(p.parent for p in built.glob("*/traffic/*/kustomization.yaml"))
    assert units
    seen: dict[Path, set[tuple[str, str, str]]] = {}
    for unit, command in itertools.product(units, kustomize_commands()):
        objects = kustomize_build(unit, command)
        assert objects, unit
        assert {o["kind"] for o in objects} <= {"DestinationRule", "VirtualService", "Service"}
        ids = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects}
        assert len(ids) == len(objects)
        # A unit named after a namespace (or a part of it) holds that namespace's rules only.
        assert {ns for _, ns, _ in ids} == {unit.name.split(".")[0]}
        if command == kustomize_commands()[0]:
            cluster_ids = seen.setdefault(unit.parent.parent, set())
            assert not cluster_ids & ids  # no rule in two units
            cluster_ids |= ids
    for cluster, ids in seen.items():
        rules = {
            (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"])
            for name in ("rules.yaml", "services.yaml")
            for path in (cluster / "traffic").glob(f"*/{name}")
            for d in yaml.safe_load_all(path.read_text())
            if d
        }
        assert ids == rules, cluster
