"""The runbook's install step: per cluster, Istio with the spec's installer (istioctl, the
in-cluster operator, Helm; Sail and GitOps install it themselves), then the cluster directory
and its traffic units with `kubectl apply -k`. One builder per command: `istioctl install`,
`istioctl operator init`, `helm upgrade --install` (over helm.charts(), the one chart table)."""

from __future__ import annotations

from meshgen.layout import TRAFFIC_DIR
from meshgen.render import markdown as md
from meshgen.render.control_planes import named_control_planes
from meshgen.render.gitops import ENGINE_TITLES
from meshgen.render.runbook.canary import canary_steps
from meshgen.render.runbook.commands import (
    LOOP_ABOVE,
    helm_releases,
    install_revision,
    istioctl_install,
    operator_init,
)
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Cmd, Line, Var, cmd, concat, loop
from meshgen.render.units import unit_dir
from meshgen.revisions import control_planes
from meshgen.spec import Mesh


def install_steps(mesh: Mesh, units: dict[str, list[str]], rb: Runbook) -> None:
    spec = mesh.spec
    istio = spec.istio
    gitops = spec.gitops
    add = rb.add
    rb.step("Install Istio, then apply each cluster directory")
    add(
        "Istio's CRDs (DestinationRule, VirtualService) exist once Istio is installed, so "
        "the install comes first.\n"
    )
    if istio.installer == "sail":
        add(
            "Install the Sail Operator in every cluster first (OpenShift: *Red Hat OpenShift "
            "Service Mesh 3* from OperatorHub; elsewhere its Helm chart); it then installs "
            f"`IstioCNI` and `Istio` {md.text(istio.version)} from `istio/sail.yaml`.\n"
        )
    if istio.installer == "helm" and gitops is not None:
        add(
            f"{ENGINE_TITLES[gitops.engine]} installs the charts `base`, `cni` and `istiod` "
            f"{md.text(istio.version)} in that order, then applies the cluster directory (last "
            "step).\n"
        )
    commands = [
        line for c in spec.clusters for line in _cluster_commands(mesh, c.name, units[c.name])
    ]
    if commands:
        rb.commands(commands)
    canary_steps(mesh, rb)
    if istio.installer == "operator":
        add(
            "With `installer: operator`, the operator reconciles the IstioOperator that the "
            "kustomization applies; re-apply (or let GitOps retry) once its CRDs exist.\n"
        )
    if gitops is None:
        add(
            "With Argo CD or Flux, point one application at each cluster directory, and one "
            "at each traffic unit after it, instead of `kubectl apply -k` (or set `spec.gitops` "
            "and let meshgen write them).\n"
        )


def _cluster_commands(mesh: Mesh, cluster: str, units: list[str]) -> list[Line]:
    istio = mesh.spec.istio
    gitops = mesh.spec.gitops is not None
    lines: list[Line] = []
    if named_control_planes(mesh) and istio.installer == "helm":
        if not gitops:
            lines.extend(helm_releases(mesh, cluster))
    elif named_control_planes(mesh):
        # Newest first: it brings the CRDs (base) and istio-cni the others leave out.
        lines.extend(
            line
            for plane in reversed(control_planes(mesh))
            for line in install_revision(mesh, cluster, plane)
        )
    elif istio.installer == "istioctl":
        lines.append(istioctl_install(cluster, "istio/istio-operator.yaml"))
    elif istio.installer == "operator":
        lines.append(operator_init(cluster, istio.revision))
    elif istio.installer == "helm" and not gitops:
        lines.extend(helm_releases(mesh, cluster))
    if not gitops:
        lines.append(cmd("kubectl", "--context", cluster, "apply", "-k", f"{cluster}/"))
        lines.extend(_apply_units(cluster, units))
    return lines


def _apply_units(cluster: str, units: list[str]) -> list[Line]:
    """The traffic units after the cluster directory (its namespaces): one line each, or a
    loop over them when there are many."""
    if len(units) <= LOOP_ABOVE:
        return [
            cmd("kubectl", "--context", cluster, "apply", "-k", f"{unit_dir(cluster, unit)}/")
            for unit in units
        ]
    unit = Var("UNIT")
    apply: Cmd = cmd(
        "kubectl",
        "--context",
        cluster,
        "apply",
        "-k",
        concat(f"{cluster}/{TRAFFIC_DIR}/", unit, "/"),
    )
    return [loop(unit, units, [apply])]
