"""The runbook's GitOps step: register the clusters (Argo CD) or bootstrap Flux in each, the
Argo CD health check, and the order the engine applies everything in, named from the
GitOps objects meshgen/render/gitops.py renders."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.gitops import (
    APPLICATION_HEALTH_KEY,
    ARGOCD_DIR,
    ARGOCD_HEALTH_FILE,
    ARGOCD_ROOT_FILE,
    ENGINE_TITLES,
    OPENSHIFT_GITOPS_NAMESPACE,
    argocd_namespace,
    argocd_root_name,
    argocd_waves,
    flux_bootstrap_path,
    flux_git_url,
)
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Line, cmd, with_comment
from meshgen.revisions import control_planes, several_control_planes
from meshgen.spec import GitOps, Mesh


def gitops_steps(mesh: Mesh, rb: Runbook) -> None:
    gitops = mesh.spec.gitops
    if gitops is None:
        return
    rb.step(f"Point {ENGINE_TITLES[gitops.engine]} at the output")
    rb.add(
        f"Commit this directory to {md.code(gitops.repo_url)} at "
        f"{md.code(f'{gitops.path}/')} (branch {md.code(gitops.revision)}).\n"
    )
    if gitops.engine == "argocd":
        rb.commands(_argocd_commands(mesh, gitops))
        rb.add(_argocd_order(mesh, gitops))
        return
    rb.commands(
        cmd(
            "flux",
            "bootstrap",
            "git",
            f"--context={cluster.name}",
            f"--url={flux_git_url(gitops.repo_url)}",
            f"--branch={gitops.revision}",
            f"--path={flux_bootstrap_path(mesh, cluster)}",
        )
        for cluster in mesh.spec.clusters
    )
    if mesh.spec.istio.installer == "helm":
        rb.add(
            "Flux in each cluster applies `istio` (the HelmReleases of base then cni), then "
            "`mesh`, the cluster directory, then `istiod` (the HelmRelease "
            f"{_istiods(mesh)}): istiod reads the root of trust (`cacerts`) only when it "
            "starts. The traffic units follow `mesh`.\n"
        )
    else:
        rb.add(
            "Flux in each cluster applies `mesh`, the cluster directory, then the traffic units.\n"
        )


def _argocd_commands(mesh: Mesh, gitops: GitOps) -> list[Line]:
    """Register each cluster under its name, restore the Application health check (not on
    OpenShift GitOps, which owns `argocd-cm`), apply the root Application."""
    lines: list[Line] = [
        cmd("argocd", "cluster", "add", cluster.name, "--name", cluster.name)
        for cluster in mesh.spec.clusters
    ]
    namespace = argocd_namespace(mesh)
    if namespace != OPENSHIFT_GITOPS_NAMESPACE:
        lines.append(
            with_comment(
                cmd(
                    "kubectl",
                    "patch",
                    "configmap",
                    "argocd-cm",
                    "-n",
                    namespace,
                    "--type",
                    "merge",
                    "--patch-file",
                    f"{gitops.path}/{ARGOCD_HEALTH_FILE}",
                ),
                "in the Argo CD cluster: the Application health check",
            )
        )
    lines.append(
        with_comment(
            cmd("kubectl", "apply", "-f", f"{gitops.path}/{ARGOCD_ROOT_FILE}"),
            f"the root Application, namespace {namespace}",
        )
    )
    return lines


def _argocd_order(mesh: Mesh, gitops: GitOps) -> str:
    """The Applications' waves, and why they hold only with the health check restored."""
    health = md.code(f"{gitops.path}/{ARGOCD_HEALTH_FILE}")
    if argocd_namespace(mesh) == OPENSHIFT_GITOPS_NAMESPACE:
        how = (
            f"OpenShift GitOps manages `argocd-cm` from its `ArgoCD` resource and "
            f"would undo a patch of it, so add the Lua of {health} (the value of "
            f"{md.code(APPLICATION_HEALTH_KEY)}) to that resource's "
            "`spec.resourceHealthChecks`, as group `argoproj.io`, kind `Application` "
            f"(`oc edit argocd {OPENSHIFT_GITOPS_NAMESPACE} -n "
            f"{OPENSHIFT_GITOPS_NAMESPACE}`), before applying the root Application."
        )
    else:
        how = (
            f"the patch {health} adds that one key to `argocd-cm` and keeps the "
            "others (on OpenShift GitOps, put its Lua in the `ArgoCD` resource's "
            "`spec.resourceHealthChecks` instead)."
        )
    return (
        "Each cluster gets Applications named `<cluster>-…`, ordered by sync waves: "
        f"{_argocd_wave_list(mesh)}. Register the clusters under these names, as above. "
        + (
            "The cluster directory comes before istiod: istiod reads the root of trust "
            "(`cacerts`) only when it starts. "
            if mesh.spec.istio.installer == "helm"
            else ""
        )
        + "The waves hold "
        f"only because the root Application {md.code(argocd_root_name(mesh))} syncs "
        f"{md.code(f'{gitops.path}/{ARGOCD_DIR}')} (app of apps; `kubectl apply -k` of "
        "that directory would ignore them), and Argo CD waits for each wave to be "
        f"healthy only with the Application health check restored: {how}\n"
    )


def _istiods(mesh: Mesh) -> str:
    """`istiod`, or with several revisions their releases, oldest first."""
    if not several_control_planes(mesh):
        return "istiod"
    return (
        " then ".join(md.code(f"istiod-{plane.name}") for plane in control_planes(mesh))
        + " (oldest first: the release that loses a moving tag drops its webhook before the "
        "one that gains it creates it)"
    )


def _argocd_wave_list(mesh: Mesh) -> str:
    """The Applications of a cluster with their waves, as gitops.argocd_waves has them."""
    names = {
        "mesh": "(the cluster directory)",
        "traffic-<unit>": "(one per traffic unit, from the ApplicationSet `<cluster>-traffic`)",
    }
    parts = [
        f"{md.code(name)} ({wave})" + (f" {names[name]}" if name in names else "")
        for name, wave in argocd_waves(mesh)
    ]
    text = ", ".join(parts)
    if several_control_planes(mesh):
        text += (
            "; the istiod releases oldest revision first: the release that loses a moving "
            "tag drops its webhook before the one that gains it creates it"
        )
    return text
