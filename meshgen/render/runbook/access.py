"""The runbook's first steps: a kube context per cluster, named after it, and on OpenShift
before Istio 1.20 the `anyuid` SCC for the injected namespaces."""

from __future__ import annotations

from meshgen.placement import namespaces_in
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Blank, Line, Var, assign, cmd, comment
from meshgen.spec import Mesh
from meshgen.versions import OPENSHIFT_SIDECAR_NEEDS_ANYUID, release


def kube_context_step(mesh: Mesh, rb: Runbook) -> None:
    rb.step("One kube context per cluster")
    rb.add(
        "Every command below names its cluster by a kube context of the same name. Log in to "
        "each cluster and rename the context the login created:\n"
    )
    current = Var("CURRENT")
    lines: list[Line] = []
    for c in mesh.spec.clusters:
        if c.platform == "openshift":
            lines.append(cmd("oc", "login", c.api_server or Blank("API server URL")))
        else:
            lines.append(comment(f"{c.name}: switch to the context of its kubeconfig"))
        lines.append(assign(current, cmd("kubectl", "config", "current-context")))
        lines.append(cmd("kubectl", "config", "rename-context", current, c.name))
    lines.append(cmd("kubectl", "config", "get-contexts"))
    rb.commands(lines)


def openshift_scc_step(mesh: Mesh, rb: Runbook) -> None:
    """Before Istio 1.20 the sidecar runs as UID 1337 (versions.OPENSHIFT_SIDECAR_NEEDS_ANYUID)."""
    openshift = [c for c in mesh.spec.clusters if c.platform == "openshift"]
    if not openshift or not release(mesh.spec.istio.version).has(OPENSHIFT_SIDECAR_NEEDS_ANYUID):
        return
    rb.step("OpenShift security constraints")
    rb.add(
        "Before Istio 1.20 the sidecar runs as UID 1337, so injected namespaces need the "
        "`anyuid` SCC (reference: istio.io OpenShift platform setup):\n"
    )
    rb.commands(
        cmd(
            "oc",
            "--context",
            c.name,
            "adm",
            "policy",
            "add-scc-to-group",
            "anyuid",
            f"system:serviceaccounts:{ns}",
        )
        for c in openshift
        for ns in ["istio-system", *(n.name for n in namespaces_in(mesh, c) if n.injection)]
    )
