"""Schema-valid but broken meshes, each a mistake a person could make (a step done wrong, a
hand edit): made in a box whose mesh was just checked healthy, they must turn a check red,
naming the cluster; undone, every check must turn green again. Running them on the healthy
box, one after the other, costs seconds instead of a box each.

Each mistake is shell lines a person would type, run like the runbook's, and the lines
that undo it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from meshgen.render.shell import Cmd, Line, Pipeline, cmd

if TYPE_CHECKING:
    from tests.meshbox.box import Run


@dataclass(frozen=True)
class Mistake:
    name: str
    what: str
    check: str  # the check that must fail
    cluster: str  # in this cluster
    make: list[Line]
    undo: list[Line]


def _remote_secret_lines(run: Run) -> list[Pipeline]:
    """The runbook's `istioctl create-remote-secret ... | kubectl apply -f -` lines."""
    return [
        line
        for step in run.runbook.steps
        for block in step.commands()
        for line in block.lines
        if isinstance(line, Pipeline) and "create-remote-secret" in str(line)
    ]


def _flag(command: Cmd, name: str) -> str:
    return next(str(w).split("=", 1)[1] for w in command.argv if str(w).startswith(f"--{name}="))


def _second_into_first(run: Run) -> Pipeline:
    """The line that puts the second cluster's remote secret into the first cluster."""
    first, second = (c.name for c in run.mesh.spec.clusters[:2])
    return next(
        line
        for line in _remote_secret_lines(run)
        if _flag(line.parts[0], "name") == second and _flag(line.parts[-1], "context") == first
    )


def _delete_remote_secret(context: str, name: str) -> Cmd:
    return cmd(
        "kubectl", f"--context={context}", "-n", "istio-system", "delete", "secret",
        f"istio-remote-secret-{name}",
    )  # fmt: skip


def placeholders_applied(run: Run) -> Mistake:
    first, second = (c.name for c in run.mesh.spec.clusters[:2])
    delete = _delete_remote_secret(first, second)
    return Mistake(
        "placeholders-applied",
        f"the remote-secret placeholder of {second} applied to {first} as it is (its kubeconfig "
        "empty) instead of the secret istioctl makes",
        "endpoints",
        first,
        [
            delete,
            cmd(
                "kubectl",
                f"--context={first}",
                "apply",
                "-f",
                f"remote-secrets/istio-remote-secret-{second}.yaml",
            ),
        ],
        [delete, _second_into_first(run)],
    )


def remote_secret_misnamed(run: Run) -> Mistake:
    first, second = (c.name for c in run.mesh.spec.clusters[:2])
    wrong = re.sub(r"(\d+)$", r"-\1", second) if second[-1].isdigit() else f"{second}-x"
    right = _second_into_first(run)
    create = right.parts[0]
    argv = tuple(f"--name={wrong}" if str(w) == f"--name={second}" else w for w in create.argv)
    delete = _delete_remote_secret(first, second)
    return Mistake(
        "remote-secret-misnamed",
        f"{second}'s remote secret made with --name={wrong}, not its clusterName",
        "endpoints",
        first,
        [delete, Pipeline((Cmd(argv, create.stdin, create.stdout), *right.parts[1:]))],
        [_delete_remote_secret(first, wrong), right],
    )


def duplicate_cluster_name(run: Run) -> Mistake:
    first, second = (c.name for c in run.mesh.spec.clusters[:2])

    def env(value: str) -> Cmd:
        return cmd(
            "kubectl",
            "--context",
            second,
            "-n",
            "istio-system",
            "set",
            "env",
            "deployment",
            "-l",
            "app=istiod",
            f"CLUSTER_ID={value}",
        )

    return Mistake(
        "duplicate-cluster-name",
        f"{second}'s istiod given {first}'s clusterName (a copied values file)",
        "endpoints",
        second,
        [env(first)],
        [env(second)],
    )


def route_to_missing_subset(run: Run) -> Mistake:
    first = run.mesh.spec.clusters[0].name
    service = run.mesh.spec.services[0]
    unit = f"{first}/traffic/{service.namespace}"
    docs = list(yaml.safe_load_all((run.out / unit / "rules.yaml").read_text()))
    for doc in docs:
        if doc and doc["kind"] == "VirtualService" and doc["metadata"]["name"] == service.name:
            for dest in doc["spec"]["http"][0]["route"]:
                dest["destination"]["subset"] = "v3"
    edited = run.workdir / "edited-rules.yaml"
    edited.write_text(yaml.safe_dump_all([d for d in docs if d], sort_keys=False))
    return Mistake(
        "route-to-missing-subset",
        f"{first}'s VirtualService of {service.name} edited by hand to route to subset v3, which "
        "its DestinationRule lacks (mesh.yaml refuses it: MG401)",
        "answer",
        first,
        [cmd("kubectl", "--context", first, "apply", "-f", str(edited))],
        [cmd("kubectl", "--context", first, "apply", "-k", f"{unit}/")],
    )


def rules_missing_in_client_cluster(run: Run) -> Mistake:
    """What meshgen wrote before the fix (issue 18): a service's rules and Service only where
    it runs (examples/kubernetes-three-clusters: payments in east and west, not in central)."""
    service = next(s for s in run.mesh.spec.services if s.clusters)
    absent = next(c.name for c in run.mesh.spec.clusters if c.name not in service.clusters)
    unit = f"{absent}/traffic/{service.namespace}/"
    return Mistake(
        "rules-missing-in-client-cluster",
        f"{service.name}'s rules and Service left out of {absent}, which does not run it",
        "destination-rule",
        absent,
        [cmd("kubectl", "--context", absent, "delete", "-k", unit)],
        [cmd("kubectl", "--context", absent, "apply", "-k", unit)],
    )


CASES: dict[str, Callable[[Run], Mistake]] = {
    "placeholders-applied": placeholders_applied,
    "remote-secret-misnamed": remote_secret_misnamed,
    "duplicate-cluster-name": duplicate_cluster_name,
    "route-to-missing-subset": route_to_missing_subset,
    "rules-missing-in-client-cluster": rules_missing_in_client_cluster,
}
