"""out/README.md: the install step for each installer, and the GitOps wiring step."""

from __future__ import annotations

from collections.abc import Callable

from meshgen.render.gitops import flux_bootstrap_path
from meshgen.render.helm import HELM_REPOSITORY, helm_values
from meshgen.spec import Mesh

Add = Callable[[str], None]

# Release name, chart, namespace of Istio's Helm charts (reference/istio.md §1.5).
_CHARTS = (("istio-base", "base", "istio-system"), ("istio-cni", "cni", None),
           ("istiod", "istiod", "istio-system"))


def install_steps(mesh: Mesh, step: int, add: Add) -> int:
    spec = mesh.spec
    istio = spec.istio
    gitops = spec.gitops
    add(f"### {step}. Install Istio, then apply each cluster directory\n")
    step += 1
    add("Istio's CRDs (DestinationRule, VirtualService) exist once Istio is installed, so "
        "the install comes first.\n")
    if istio.installer == "sail":
        add("Install the Sail Operator in every cluster first (OpenShift: *Red Hat OpenShift "
            "Service Mesh 3* from OperatorHub; elsewhere its Helm chart); it then installs "
            f"`IstioCNI` and `Istio` {istio.version} from `istio/sail.yaml`.\n")
    if istio.installer == "helm" and gitops is not None:
        add(f"{_ENGINE[gitops.engine]} installs the charts `base`, `cni` and `istiod` "
            f"{istio.version} in that order, then applies the cluster directory (last step).\n")
    commands = [line for c in spec.clusters for line in _cluster_commands(mesh, c.name)]
    if commands:
        add("```sh")
        for line in commands:
            add(line)
        add("```\n")
    if istio.installer == "operator":
        add("With `installer: operator`, the operator reconciles the IstioOperator that the "
            "kustomization applies; re-apply (or let GitOps retry) once its CRDs exist.\n")
    if gitops is None:
        add("With Argo CD or Flux, point one application at each cluster directory instead of "
            "`kubectl apply -k` (or set `spec.gitops` and let meshgen write them).\n")
    return step


def _cluster_commands(mesh: Mesh, cluster: str) -> list[str]:
    istio = mesh.spec.istio
    gitops = mesh.spec.gitops is not None
    lines: list[str] = []
    if istio.installer == "istioctl":
        lines.append(f"istioctl install --context {cluster} -f {cluster}/istio/istio-operator.yaml"
                     " --skip-confirmation")
    elif istio.installer == "operator":
        revision = f" --revision {istio.revision}" if istio.revision else ""
        lines.append(f"istioctl operator init --context {cluster}{revision}")
    elif istio.installer == "helm" and not gitops:
        charts = helm_values(mesh, next(c for c in mesh.spec.clusters if c.name == cluster))
        for release, chart, namespace in _CHARTS:
            if chart not in charts:
                continue
            ns = namespace or istio.cni.namespace
            lines.append(f"helm install {release} {chart} --kube-context {cluster} "
                         f"--repo {HELM_REPOSITORY} --version {istio.version} -n {ns} "
                         f"--create-namespace -f {cluster}/istio/helm/{chart}.values.yaml --wait")
    if not gitops:
        lines.append(f"kubectl --context {cluster} apply -k {cluster}/")
    return lines


_ENGINE = {"argocd": "Argo CD", "flux": "Flux"}


def gitops_steps(mesh: Mesh, step: int, add: Add) -> int:
    gitops = mesh.spec.gitops
    if gitops is None:
        return step
    add(f"### {step}. Point {_ENGINE[gitops.engine]} at the output\n")
    step += 1
    add(f"Commit this directory to `{gitops.repo_url}` at "
        f"`{gitops.path}/` (branch `{gitops.revision}`).\n")
    add("```sh")
    if gitops.engine == "argocd":
        for cluster in mesh.spec.clusters:
            add(f"argocd cluster add {cluster.name} --name {cluster.name}")
        add(f"kubectl apply -k {gitops.path}/gitops/argocd   # in the Argo CD cluster, "
            f"namespace {gitops.argocd.namespace}")
    else:
        for cluster in mesh.spec.clusters:
            add(f"flux bootstrap git --context={cluster.name} --url={gitops.repo_url} "
                f"--branch={gitops.revision} --path={flux_bootstrap_path(mesh, cluster)}")
    add("```\n")
    if gitops.engine == "argocd":
        add("Each cluster gets Applications named `<cluster>-…`, ordered by sync waves: "
            "`istio-base` (0), `istio-cni` (1), `istiod` (2), then `mesh` (3), the cluster "
            "directory. Register the clusters under these names, as above.\n")
    else:
        add("Flux in each cluster applies `istio` (the HelmReleases, base then cni then "
            "istiod through dependsOn) and then `mesh`, the cluster directory.\n")
    return step
