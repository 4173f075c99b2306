"""MG420/MG421: traffic fields checked against the mesh's Istio version.

The boundaries are facts of meshgen.versions, each tested against that minor's released
DestinationRule CRD (tests/tools/test_versions_releases.py); here the checks that use them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.checks import run_checks
from meshgen.load import load_text
from meshgen.validate import validate
from tests.helpers import EXAMPLES, run_meshgen


def failover_example(version: str, **load_balancer: Any) -> str:
    data = yaml.safe_load(EXAMPLES["locality-failover"].read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["spec"]["istio"]["version"] = version
    for service in data["spec"]["services"]:
        policy = service.get("trafficPolicy", {})
        if "loadBalancer" in policy:
            policy["loadBalancer"].update(load_balancer)
    return yaml.safe_dump(data, sort_keys=False)


def codes(text: str) -> list[tuple[str, str]]:
    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return [
        (d.code, d.severity.value)
        for d in run_checks(mesh, loaded.positions)
        if d.code in ("MG420", "MG421")
    ]


def test_build_refuses_the_failover_example_on_1_10(tmp_path: Path) -> None:
    """The defect as a user met it: exit 0, then Istio 1.10 rejected the DestinationRule."""
    spec = tmp_path / "mesh.yaml"
    spec.write_text(failover_example("1.10.6"), encoding="utf-8")
    proc = run_meshgen("build", spec, "-o", tmp_path / "out")
    assert proc.returncode == 1, proc.stderr
    assert "error[MG420]: loadBalancer.simple LEAST_REQUEST" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.10.6", [("MG420", "error")]),
        ("1.13.9", [("MG420", "error")]),
        ("1.14.0", []),
        ("1.30.3", []),
    ],
)
def test_least_request_needs_1_14(version: str, expected: list[tuple[str, str]]) -> None:
    assert codes(failover_example(version, simple="LEAST_REQUEST")) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.10.6", []),
        ("1.13.9", []),
        ("1.14.0", [("MG421", "warning")]),
    ],
)
def test_least_conn_is_the_old_name(version: str, expected: list[tuple[str, str]]) -> None:
    assert codes(failover_example(version, simple="LEAST_CONN")) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.11.8", [("MG420", "error")]),
        ("1.12.0", []),
    ],
)
def test_failover_priority_needs_1_12(version: str, expected: list[tuple[str, str]]) -> None:
    text = failover_example(
        version,
        simple="ROUND_ROBIN",
        localityLbSetting={"enabled": True, "failoverPriority": ["topology.kubernetes.io/region"]},
    )
    assert codes(text) == expected


def test_the_hint_suggests_a_value_that_version_accepts() -> None:
    loaded, _ = load_text(failover_example("1.10.6", simple="LEAST_REQUEST"), "mesh.yaml")
    assert loaded is not None
    mesh, _ = validate(loaded)
    assert mesh is not None
    [diag] = [d for d in run_checks(mesh, loaded.positions) if d.code == "MG420"]
    assert diag.hint is not None
    assert "use LEAST_CONN" in diag.hint
    assert "Istio 1.14.0 or later" in diag.hint
    assert diag.location.line > 1  # points at the value, not the document
