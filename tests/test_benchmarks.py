"""The benchmark harness: its specs are valid meshes, and the smoke run works end to end.

No timing is asserted anywhere: the numbers are for people (benchmarks/README.md).
"""

from __future__ import annotations

import ipaddress
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.generate import make_deep_spec, make_spec
from benchmarks.run import COLUMNS
from meshgen.checks import run_checks
from meshgen.diagnostics import Diagnostic, has_errors
from meshgen.load import load_text
from meshgen.spec import Mesh
from meshgen.validate import validate
from tests.helpers import ROOT


def check(text: str) -> tuple[Mesh, list[Diagnostic]]:
    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return mesh, run_checks(mesh, loaded.positions)


@pytest.mark.parametrize(
    ("clusters", "services"), [(2, 10), (1000, 10), (3, 120)], ids=["2x10", "1000x10", "3x120"]
)
def test_wide_specs_are_valid(clusters: int, services: int) -> None:
    mesh, diags = check(make_spec(clusters, services))
    assert not has_errors(diags), diags
    assert [c.name for c in mesh.spec.clusters] == [f"c{i}" for i in range(clusters)]
    assert len(mesh.spec.services) == services
    assert len(mesh.spec.namespaces) == max(1, services // 50)
    service = mesh.spec.services[-1]
    assert [s.name for s in service.subsets] == ["v1", "v2"]
    assert [d.weight for d in service.routes[0].destinations] == [90, 10]


def test_every_cidr_of_1000_clusters_is_disjoint() -> None:
    data = yaml.safe_load(make_spec(1000, 10))
    nets = sorted(
        (ipaddress.IPv4Network(c[key]) for c in data["spec"]["clusters"]
         for key in ("podCIDR", "serviceCIDR")),
        key=lambda n: n.network_address,
    )
    assert len(nets) == 2000
    for lower, upper in itertools.pairwise(nets):
        assert lower.broadcast_address < upper.network_address, (lower, upper)


def test_deep_spec_is_valid() -> None:
    mesh, diags = check(make_deep_spec())
    assert not has_errors(diags), diags
    assert len(mesh.spec.clusters) == 2
    assert len(mesh.spec.services) == 2000
    assert {s.namespace for s in mesh.spec.services} == {"ns0"}
    service = mesh.spec.services[0]
    assert len(service.subsets) == 3
    assert len(service.routes) == 3
    assert all(route.retries is not None for route in service.routes)
    assert [bool(route.match) for route in service.routes] == [True, True, False]


def test_namespaces_can_be_chosen() -> None:
    mesh, _ = check(make_spec(2, 10, namespaces=3))
    assert [ns.name for ns in mesh.spec.namespaces] == ["ns0", "ns1", "ns2"]
    assert {s.namespace for s in mesh.spec.services} == {"ns0", "ns1", "ns2"}


def test_generate_cli_writes_the_spec(tmp_path: Path) -> None:
    target = tmp_path / "mesh.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.generate", "3", "7", "-o", str(target)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == make_spec(3, 7)


def test_smoke_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| size |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    assert columns == list(COLUMNS)
    expected = {"load", "validate+checks", "render", "emit", "write", "total", "peak RSS MB",
                "files", "output MB", "json floor", "PyYAML C", "ruamel rt load", "rebuild",
                "mtimes changed"}
    assert expected <= set(columns)
    rows = [line for line in proc.stdout.splitlines()
            if line.startswith(("| 2x10 |", "| deep 2x20 |"))]
    assert len(rows) == 2, proc.stdout
    assert "start-up" in proc.stdout
    assert report.exists()
