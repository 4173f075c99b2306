"""The canary-upgrade example: the seed mesh from Istio 1.10 to 1.11 to 1.12
(examples/canary-upgrade/from-1.10/) and from 1.21 to 1.22 to 1.23, across the networking v1
API change (examples/canary-upgrade/steps/), one minor and one cluster at a time; and what
`meshgen plan` says of each step: the disruptive changes the step means, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshgen.facts import cluster_facts
from meshgen.pipeline import compile_spec
from meshgen.plan.assemble import make_plan
from meshgen.plan.classify import CNI, CONTROL_PLANE
from meshgen.plan.collect import DiskOutput
from meshgen.write import write_output
from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "canary-upgrade"
CHAINS = ("from-1.10", "steps")
STEPS = sorted((EXAMPLE / "steps").glob("*.yaml"))
ALL_STEPS = [step for chain in CHAINS for step in sorted((EXAMPLE / chain).glob("*.yaml"))]

# Per step: its disruptive changes, as (cluster, kind, name, reason).
CNI_MOVES = [
    ("cluster1", "Cluster", "cluster1", CNI),
    ("cluster2", "Cluster", "cluster2", CNI),
]


def tag_moves(cluster: str, old: str, new: str) -> list[tuple[str, str, str, str]]:
    return [
        (cluster, "HelmValues", f"istiod-{old}", CONTROL_PLANE),
        (cluster, "HelmValues", f"istiod-{new}", CONTROL_PLANE),
    ]


def removed(old: str) -> list[tuple[str, str, str, str]]:
    return [(c, "HelmValues", f"istiod-{old}", CONTROL_PLANE) for c in ("cluster1", "cluster2")]


def cni_values(clusters: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    return [(c, "HelmValues", "cni", CNI) for c in clusters]


EXPECTED_FROM_1_10 = {
    # 1.11 changes the CNI's values on OpenShift (privileged, versions.HELM_CNI_PRIVILEGED_VALUE).
    "01-canary-1.11": sorted(CNI_MOVES + cni_values(("cluster1", "cluster2"))),
    "02-cluster1-1.11": tag_moves("cluster1", "1-10-6", "1-11-8"),
    "03-cluster2-1.11": tag_moves("cluster2", "1-10-6", "1-11-8"),
    "04-done-1.11": removed("1-10-6"),
    "05-canary-1.12": CNI_MOVES,
    "06-cluster1-1.12": tag_moves("cluster1", "1-11-8", "1-12-9"),
    "07-cluster2-1.12": tag_moves("cluster2", "1-11-8", "1-12-9"),
    "08-done-1.12": removed("1-11-8"),
}
EXPECTED = {
    "01-canary-1.22": CNI_MOVES,
    "02-cluster1-1.22": tag_moves("cluster1", "1-21-6", "1-22-8"),
    "03-cluster2-1.22": tag_moves("cluster2", "1-21-6", "1-22-8"),
    "04-done-1.22": removed("1-21-6"),
    # 1.23 also renames the CNI's log level value (logLevel -> logging.level).
    "05-canary-1.23": sorted(CNI_MOVES + cni_values(("cluster1", "cluster2"))),
    "06-cluster1-1.23": tag_moves("cluster1", "1-22-8", "1-23-6"),
    "07-cluster2-1.23": tag_moves("cluster2", "1-22-8", "1-23-6"),
    "08-done-1.23": removed("1-22-8"),
}


PLANS = {"from-1.10": EXPECTED_FROM_1_10, "steps": EXPECTED}


def test_the_steps_are_the_hops_of_the_example() -> None:
    for chain, expected in PLANS.items():
        assert [s.stem for s in sorted((EXAMPLE / chain).glob("*.yaml"))] == [
            "00-start",
            *expected,
        ]
    # The example's mesh.yaml (and so its golden output) is the state after step 2.
    assert yaml.safe_load((EXAMPLE / "mesh.yaml").read_text()) == yaml.safe_load(
        (EXAMPLE / "steps" / "02-cluster1-1.22.yaml").read_text()
    )


@pytest.mark.parametrize("step", ALL_STEPS, ids=[f"{s.parent.name}/{s.stem}" for s in ALL_STEPS])
def test_every_step_compiles_clean(step: Path) -> None:
    result = compile_spec(step)
    assert result.ok
    assert result.diagnostics == []


@pytest.mark.parametrize("chain", CHAINS)
def test_plan_of_each_step_names_what_it_disrupts_and_nothing_else(
    chain: str, tmp_path: Path
) -> None:
    steps = sorted((EXAMPLE / chain).glob("*.yaml"))
    out = tmp_path / "out"
    first = compile_spec(steps[0], out)
    assert first.files is not None
    write_output(out, first.files, identity=first.record())
    for step in steps[1:]:
        result = compile_spec(step, out)
        assert result.files is not None
        assert result.mesh is not None
        plan = make_plan(result.files, DiskOutput(out, result.files), cluster_facts(result.mesh))
        found = sorted(
            (group.name, change.kind, change.name, reason)
            for group in plan.groups
            for change in group.changes
            for reason in change.reasons
        )
        assert found == sorted(PLANS[chain][step.stem]), step.stem
        write_output(out, result.files, identity=result.record())
