"""out/README.md: the install step for each installer, and the GitOps wiring step."""

from __future__ import annotations

from collections.abc import Callable

from meshgen.layout import TRAFFIC_DIR
from meshgen.render import markdown as md
from meshgen.render.gitops import (
    APPLICATION_HEALTH_KEY,
    ARGOCD_DIR,
    ARGOCD_HEALTH_FILE,
    ARGOCD_ROOT_FILE,
    OPENSHIFT_GITOPS_NAMESPACE,
    argocd_namespace,
    argocd_root_name,
    flux_bootstrap_path,
    flux_git_url,
)
from meshgen.render.helm import HELM_REPOSITORY, helm_values
from meshgen.render.shell import Var, cmd, concat, sh_block, with_comment
from meshgen.render.units import unit_dir
from meshgen.render.verify import LOOP_ABOVE, loop
from meshgen.spec import Mesh

Add = Callable[[str], None]

# Release name, chart, namespace of Istio's Helm charts
# (https://istio.io/latest/docs/setup/install/helm/).
_CHARTS = (
    ("istio-base", "base", "istio-system"),
    ("istio-cni", "cni", None),
    ("istiod", "istiod", "istio-system"),
)


def install_steps(mesh: Mesh, units: dict[str, list[str]], step: int, add: Add) -> int:
    spec = mesh.spec
    istio = spec.istio
    gitops = spec.gitops
    add(f"### {step}. Install Istio, then apply each cluster directory\n")
    step += 1
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
            f"{_ENGINE[gitops.engine]} installs the charts `base`, `cni` and `istiod` "
            f"{md.text(istio.version)} in that order, then applies the cluster directory (last "
            "step).\n"
        )
    commands = [
        line for c in spec.clusters for line in _cluster_commands(mesh, c.name, units[c.name])
    ]
    if commands:
        for line in sh_block(commands):
            add(line)
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
    return step


def _cluster_commands(mesh: Mesh, cluster: str, units: list[str]) -> list[str]:
    istio = mesh.spec.istio
    gitops = mesh.spec.gitops is not None
    lines: list[str] = []
    if istio.installer == "istioctl":
        lines.append(
            str(
                cmd(
                    "istioctl",
                    "install",
                    "--context",
                    cluster,
                    "-f",
                    f"{cluster}/istio/istio-operator.yaml",
                    "--skip-confirmation",
                )
            )
        )
    elif istio.installer == "operator":
        revision = ("--revision", istio.revision) if istio.revision else ()
        lines.append(str(cmd("istioctl", "operator", "init", "--context", cluster, *revision)))
    elif istio.installer == "helm" and not gitops:
        charts = helm_values(mesh, next(c for c in mesh.spec.clusters if c.name == cluster))
        for release, chart, namespace in _CHARTS:
            if chart not in charts:
                continue
            ns = namespace or istio.cni.namespace
            lines.append(
                str(
                    cmd(
                        "helm",
                        "install",
                        release,
                        chart,
                        "--kube-context",
                        cluster,
                        "--repo",
                        HELM_REPOSITORY,
                        "--version",
                        istio.version,
                        "-n",
                        ns,
                        "--create-namespace",
                        "-f",
                        f"{cluster}/istio/helm/{chart}.values.yaml",
                        "--wait",
                    )
                )
            )
    if not gitops:
        lines.append(str(cmd("kubectl", "--context", cluster, "apply", "-k", f"{cluster}/")))
        lines.extend(_apply_units(cluster, units))
    return lines


def _apply_units(cluster: str, units: list[str]) -> list[str]:
    """The traffic units after the cluster directory (its namespaces): one line each, or a
    loop over them when there are many."""
    if len(units) <= LOOP_ABOVE:
        return [
            str(cmd("kubectl", "--context", cluster, "apply", "-k", f"{unit_dir(cluster, unit)}/"))
            for unit in units
        ]
    unit = Var("UNIT")
    apply = cmd("kubectl", "--context", cluster, "apply", "-k")
    return loop(unit, units, [f"{apply} {concat(f'{cluster}/{TRAFFIC_DIR}/', unit, '/')}"])


_ENGINE = {"argocd": "Argo CD", "flux": "Flux"}


def gitops_steps(mesh: Mesh, step: int, add: Add) -> int:
    gitops = mesh.spec.gitops
    if gitops is None:
        return step
    add(f"### {step}. Point {_ENGINE[gitops.engine]} at the output\n")
    step += 1
    add(
        f"Commit this directory to {md.code(gitops.repo_url)} at "
        f"{md.code(f'{gitops.path}/')} (branch {md.code(gitops.revision)}).\n"
    )
    lines: list[str] = []
    if gitops.engine == "argocd":
        for cluster in mesh.spec.clusters:
            lines.append(str(cmd("argocd", "cluster", "add", cluster.name, "--name", cluster.name)))
        namespace = argocd_namespace(mesh)
        if namespace != OPENSHIFT_GITOPS_NAMESPACE:
            lines.append(
                with_comment(
                    str(
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
                        )
                    ),
                    "in the Argo CD cluster: the Application health check",
                )
            )
        lines.append(
            with_comment(
                str(cmd("kubectl", "apply", "-f", f"{gitops.path}/{ARGOCD_ROOT_FILE}")),
                f"the root Application, namespace {namespace}",
            )
        )
    else:
        for cluster in mesh.spec.clusters:
            lines.append(
                str(
                    cmd(
                        "flux",
                        "bootstrap",
                        "git",
                        f"--context={cluster.name}",
                        f"--url={flux_git_url(gitops.repo_url)}",
                        f"--branch={gitops.revision}",
                        f"--path={flux_bootstrap_path(mesh, cluster)}",
                    )
                )
            )
    for line in sh_block(lines):
        add(line)
    if gitops.engine == "argocd":
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
        add(
            "Each cluster gets Applications named `<cluster>-…`, ordered by sync waves: "
            "`istio-base` (0), `istio-cni` (1), `istiod` (2), then `mesh` (3), the cluster "
            "directory. Register the clusters under these names, as above. The waves hold "
            f"only because the root Application {md.code(argocd_root_name(mesh))} syncs "
            f"{md.code(f'{gitops.path}/{ARGOCD_DIR}')} (app of apps; `kubectl apply -k` of "
            "that directory would ignore them), and Argo CD waits for each wave to be "
            f"healthy only with the Application health check restored: {how}\n"
        )
    else:
        add(
            "Flux in each cluster applies `istio` (the HelmReleases, base then cni then "
            "istiod through dependsOn) and then `mesh`, the cluster directory.\n"
        )
    return step
