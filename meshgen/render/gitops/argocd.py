"""Argo CD (one Argo CD manages every cluster, each added with
`argocd cluster add <context> --name <cluster>`), `gitops/argocd/`:
  kustomization.yaml   lists the <cluster>.yaml files: the source of the root Application
  <cluster>.yaml       the cluster's Applications, in sync waves: 0 `<cluster>-istio-base`,
                       1 `<cluster>-istio-cni`, 2 `<cluster>-mesh` (the cluster directory),
                       3 `<cluster>-istiod` (installer helm only; with istio.revisions one
                       `<cluster>-istiod-<revision>` each, in waves 3, 4, ... oldest first,
                       and the wave after them one later), 4 the ApplicationSet
                       `<cluster>-traffic`: one Application per traffic unit
                       (`<cluster>/traffic/<unit>/`, meshgen/render/units.py). The cluster
                       directory comes before istiod because it holds the root of trust
                       with external-secrets (the `cacerts` ExternalSecret): istiod reads
                       ./etc/cacerts once, when it starts, and without it signs with a root
                       of its own (pilot/pkg/bootstrap/istio_ca.go, createIstioCA: the file
                       watcher runs only for a plugged-in CA).
  bootstrap/root-application.yaml   the root Application `<mesh>-apps` (app of apps), applied
                       once by hand (`kubectl apply -f`); it syncs `gitops/argocd`
  bootstrap/argocd-cm.patch.yaml    the Application health check, a merge patch for
                       `kubectl patch configmap argocd-cm --type merge --patch-file`
  Waves order Applications only when a parent Application syncs them (`kubectl apply -k`
  of the children ignores them), and the parent waits for a child's health between waves
  only with the Application health check restored in argocd-cm; every Application also
  retries its sync until what it needs exists (an Argo CD without the health check).
  Nothing under bootstrap/ is synced by Argo CD: argocd-cm belongs to the Argo CD install
  (the patch merges one key and keeps the others), and the root must not manage itself.
"""

from __future__ import annotations

from typing import Any

from meshgen.layout import GITOPS_DIR
from meshgen.render.gitops.common import Files, Units, bounded_name, helm_installer
from meshgen.render.helm import HELM_REPOSITORY, Chart, charts, helm_values
from meshgen.render.kustomization import render_kustomization
from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.render.units import unit_dir
from meshgen.spec import Cluster, GitOps, Mesh

ARGOCD_DIR = f"{GITOPS_DIR}/argocd"

ARGOCD_BOOTSTRAP_DIR = f"{ARGOCD_DIR}/bootstrap"

ARGOCD_ROOT_FILE = f"{ARGOCD_BOOTSTRAP_DIR}/root-application.yaml"

ARGOCD_HEALTH_FILE = f"{ARGOCD_BOOTSTRAP_DIR}/argocd-cm.patch.yaml"


ARGOCD_API = "argoproj.io/v1alpha1"


SYNC_WAVE = "argocd.argoproj.io/sync-wave"


ARGOCD_NAMESPACE = "argocd"

OPENSHIFT_GITOPS_NAMESPACE = "openshift-gitops"


# The root Application syncs Applications into Argo CD's own cluster.
IN_CLUSTER = "https://kubernetes.default.svc"


# The Application health check removed from Argo CD's defaults in 1.8 (argo-cd#3781), which
# the parent needs to wait for a child between waves; key and Lua verbatim from
# https://argo-cd.readthedocs.io/en/stable/operator-manual/health/#argocd-app
APPLICATION_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"

APPLICATION_HEALTH_LUA = """\
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"""

# Install order: CRDs (base), the CNI DaemonSet, the cluster directory (namespaces, and with
# external-secrets the root of trust istiod must find when it starts: module docstring), the
# control plane, then the traffic rules.
WAVES = {"base": "0", "cni": "1", "mesh": "2", "istiod": "3", "traffic": "4"}


def _waves(mesh: Mesh) -> dict[str, str]:
    """The sync wave of each chart key (Chart.key), `mesh` and `traffic`: WAVES, except that
    with istio.revisions each `istiod-<revision>` release gets a wave of its own from 3 on,
    oldest revision first, and `traffic` comes after the last. A revision tag's webhook
    (`istio-revision-tag-<tag>`) belongs to the release whose values list the tag, and Helm
    will not create it while another release owns it: the older release, which loses a
    moving tag, must sync before the newer one, which gains it. Waves are integers, so the
    releases cannot share wave 3 in order. Without revisions (or with one) the waves are
    WAVES."""
    istiods = [chart.key for chart in charts(mesh) if chart.chart == "istiod"]
    waves = {key: wave for key, wave in WAVES.items() if key != "istiod"}
    first = int(WAVES["istiod"])
    waves.update({key: str(first + i) for i, key in enumerate(istiods)})
    after = max(len(istiods) - 1, 0)
    waves["traffic"] = str(int(WAVES["traffic"]) + after)
    return waves


def argocd_waves(mesh: Mesh) -> list[tuple[str, str]]:
    """(the part of each Application's name after `<cluster>-`, its sync wave), in sync
    order, as _argocd_applications and _argocd_traffic make them: what the runbook names."""
    waves = _waves(mesh)
    apps = (
        [(chart.release, waves[chart.key]) for chart in charts(mesh)]
        if helm_installer(mesh)
        else []
    )
    apps.append(("mesh", waves["mesh"]))
    apps.append(("traffic-<unit>", waves["traffic"]))
    return sorted(apps, key=lambda app: int(app[1]))


def argocd_namespace(mesh: Mesh) -> str:
    """`gitops.argocd.namespace`, by default `openshift-gitops` (OpenShift GitOps) when every
    cluster is OpenShift, else `argocd`."""
    gitops = mesh.spec.gitops
    if gitops is not None and gitops.argocd.namespace is not None:
        return gitops.argocd.namespace
    if all(cluster.platform == "openshift" for cluster in mesh.spec.clusters):
        return OPENSHIFT_GITOPS_NAMESPACE
    return ARGOCD_NAMESPACE


def argocd_root_name(mesh: Mesh) -> str:
    """`<mesh>-apps`: no child ends in `-apps`, and it stays a label value (<= 63), as the
    children carry it in `app.kubernetes.io/instance` under Argo CD's label tracking."""
    return f"{mesh.metadata.name[:58].rstrip('-')}-apps"


# Why a root Application (app of apps) and not an ApplicationSet with the cluster generator,
# which Argo CD's cluster-bootstrapping guide recommends for installing apps in new clusters
# (https://argo-cd.readthedocs.io/en/latest/operator-manual/cluster-bootstrapping/):
#   - the ordering: Argo CD honours the sync waves of Applications only inside the sync of a
#     parent Application, and waits for a child's health between waves with the Application
#     health check restored, which its docs give for exactly this case, "app-of-apps pattern
#     and orchestrating synchronization using sync waves"
#     (https://argo-cd.readthedocs.io/en/stable/operator-manual/health/#argocd-app);
#     Applications generated by an ApplicationSet are ordered only by Progressive Syncs
#     (RollingSync), an opt-in controller feature (alpha, beta since 3.3) that is off by default
#     (https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Progressive-Syncs/);
#   - the values: each cluster's Helm values differ (clusterName, network, meshID, CIDRs), while
#     the cluster generator templates only from the cluster Secret's name, server and metadata.
def argocd_files(mesh: Mesh, gitops: GitOps, units: Units) -> Files:
    files: Files = []
    for cluster in mesh.spec.clusters:
        apps = _argocd_applications(mesh, gitops, cluster)
        if units[cluster.name]:
            apps.append(_argocd_traffic(mesh, gitops, cluster, units[cluster.name]))
        files.append((f"{ARGOCD_DIR}/{cluster.name}.yaml", tuple(apps)))
    listing = render_kustomization([path.rsplit("/", 1)[1] for path, _ in files])
    return [
        (f"{ARGOCD_DIR}/kustomization.yaml", (listing,)),
        *files,
        (ARGOCD_ROOT_FILE, (_argocd_root(mesh, gitops),)),
        (ARGOCD_HEALTH_FILE, (_argocd_health_patch(mesh),)),
    ]


def _argocd_root(mesh: Mesh, gitops: GitOps) -> Manifest:
    namespace = argocd_namespace(mesh)
    return {
        "apiVersion": ARGOCD_API,
        "kind": "Application",
        # No resources-finalizer: deleting the root must not cascade into its children.
        "metadata": metadata(argocd_root_name(mesh), namespace, labels=dict(MANAGED_BY)),
        "spec": {
            "project": gitops.argocd.project,
            "source": {
                "repoURL": gitops.repo_url,
                "targetRevision": gitops.revision,
                "path": f"{gitops.path}/{ARGOCD_DIR}",
            },
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": _sync_policy(),
        },
    }


def _argocd_health_patch(mesh: Mesh) -> Manifest:
    """A merge patch, not an argocd-cm of ours: it adds one key to the install's argocd-cm
    and leaves every other key (and the labels) as they are."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": argocd_namespace(mesh)},
        "data": {APPLICATION_HEALTH_KEY: APPLICATION_HEALTH_LUA},
    }


def _argocd_applications(mesh: Mesh, gitops: GitOps, cluster: Cluster) -> list[Manifest]:
    apps: list[Manifest] = []
    namespace = argocd_namespace(mesh)
    # With installer istioctl (`istioctl install -f istio/istio-operator.yaml`), operator
    # (the IstioOperator is in the cluster directory) or sail (the Sail resources are), the
    # cluster directory is all there is to sync: only the `-mesh` Application.
    if helm_installer(mesh):
        values = helm_values(mesh, cluster)
        waves = _waves(mesh)
        for chart in charts(mesh):
            apps.append(
                _argocd_chart_application(
                    gitops, namespace, cluster, chart, values[chart.key], waves[chart.key]
                )
            )
    apps.append(
        _argocd_application(
            gitops,
            namespace,
            f"{cluster.name}-mesh",
            _waves(mesh)["mesh"],
            source={
                "repoURL": gitops.repo_url,
                "targetRevision": gitops.revision,
                "path": f"{gitops.path}/{cluster.name}",
            },
            # Objects in the cluster directory name their namespaces; namespaces.yaml makes them.
            destination={"name": cluster.name},
            sync_options=[],
        )
    )
    # In the file as in the sync: by wave.
    return sorted(apps, key=lambda app: int(app["metadata"]["annotations"][SYNC_WAVE]))


def _argocd_traffic(mesh: Mesh, gitops: GitOps, cluster: Cluster, units: list[str]) -> Manifest:
    """One ApplicationSet per cluster, one list element per traffic unit: the root stays small
    however many units there are, and the set comes in the last wave, after the namespaces.
    Removing a unit deletes its Application, and with it (the ApplicationSet's default
    finalizer) the unit's rules in the cluster, as pruning would
    (https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Application-Deletion/).
    Every templated value comes from an element; the literal ones (repoURL, revision, path,
    names) cannot hold `{{` (the spec's patterns), so nothing else is substituted."""
    elements = [
        {
            "name": bounded_name(f"{cluster.name}-traffic-{unit}"),
            "path": f"{gitops.path}/{unit_dir(cluster.name, unit)}",
        }
        for unit in units
    ]
    return {
        "apiVersion": ARGOCD_API,
        "kind": "ApplicationSet",
        "metadata": metadata(
            f"{cluster.name}-traffic",
            argocd_namespace(mesh),
            labels=dict(MANAGED_BY),
            annotations={SYNC_WAVE: _waves(mesh)["traffic"]},
        ),
        "spec": {
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {"name": "{{name}}", "labels": dict(MANAGED_BY)},
                "spec": {
                    "project": gitops.argocd.project,
                    "source": {
                        "repoURL": gitops.repo_url,
                        "targetRevision": gitops.revision,
                        "path": "{{path}}",
                    },
                    # The rules name their namespaces; the cluster's `-mesh` made them.
                    "destination": {"name": cluster.name},
                    "syncPolicy": _sync_policy(),
                },
            },
        },
    }


def _argocd_chart_application(
    gitops: GitOps,
    namespace: str,
    cluster: Cluster,
    chart: Chart,
    values: dict[str, Any],
    wave: str,
) -> Manifest:
    # chart.chart is "base", "cni" or "istiod": with istio.revisions every `istiod-<revision>`
    # release is an istiod chart, each at its revision's version in a wave of its own
    # (_waves).
    sync_options = ["CreateNamespace=true"]
    if chart.chart == "base":
        # The CRDs are too large for the last-applied annotation of client-side apply.
        sync_options.append("ServerSideApply=true")
    ignore = _webhook_differences(chart.chart)
    if ignore:
        sync_options.append("RespectIgnoreDifferences=true")
    return _argocd_application(
        gitops,
        namespace,
        # <cluster>-istiod-<revision> may pass 63 characters (MG506 bounds the others).
        bounded_name(f"{cluster.name}-{chart.release}"),
        wave,
        source={
            "repoURL": HELM_REPOSITORY,
            "chart": chart.chart,
            "targetRevision": chart.version,
            "helm": {"releaseName": chart.release, "valuesObject": values},
        },
        destination={"name": cluster.name, "namespace": chart.namespace},
        sync_options=sync_options,
        ignore_differences=ignore,
    )


def _webhook_differences(chart: str) -> list[dict[str, Any]]:
    """What istiod patches in the webhooks of the `base` and `istiod` charts at runtime, for
    `ignoreDifferences`: istio/istio#52785, argoproj/argo-cd#9323."""
    ignore: list[dict[str, Any]] = []
    if chart in ("base", "istiod"):
        # istiod patches its validating webhooks (failurePolicy Ignore -> Fail, and the
        # caBundle that charts before 1.24 render as ""). Every VWC of the release is patched
        # (base: istiod-default-validator, `istiod-istio-system` in old charts; istiod:
        # istio-validator[-<rev>]-istio-system), so no name is given. RespectIgnoreDifferences
        # keeps a sync from resetting them.
        ignore.append(
            {
                "group": "admissionregistration.k8s.io",
                "kind": "ValidatingWebhookConfiguration",
                "jqPathExpressions": [
                    ".webhooks[]?.failurePolicy",
                    ".webhooks[]?.clientConfig.caBundle",
                ],
            }
        )
    if chart == "istiod":
        # The injector's caBundle is patched in the same way.
        ignore.append(
            {
                "group": "admissionregistration.k8s.io",
                "kind": "MutatingWebhookConfiguration",
                "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"],
            }
        )
    return ignore


def _argocd_application(
    gitops: GitOps,
    namespace: str,
    name: str,
    wave: str,
    *,
    source: dict[str, Any],
    destination: dict[str, str],
    sync_options: list[str],
    ignore_differences: list[dict[str, Any]] | None = None,
) -> Manifest:
    # No resources-finalizer: deleting the base Application must not cascade into deleting
    # Istio's CRDs, and with them every Istio object of the cluster.
    sync_policy = _sync_policy()
    if sync_options:
        sync_policy["syncOptions"] = sync_options
    spec: dict[str, Any] = {
        "project": gitops.argocd.project,
        "source": source,
        "destination": destination,
        "syncPolicy": sync_policy,
    }
    if ignore_differences:
        spec["ignoreDifferences"] = ignore_differences
    return {
        "apiVersion": ARGOCD_API,
        "kind": "Application",
        "metadata": metadata(
            name, namespace, labels=dict(MANAGED_BY), annotations={SYNC_WAVE: wave}
        ),
        "spec": spec,
    }


def _sync_policy() -> dict[str, Any]:
    return {
        "automated": {"prune": True, "selfHeal": True},
        # Without the Application health check (module docstring) waves do not wait for a
        # sibling's health; retrying lets e.g. the mesh config wait for istio-base's CRDs.
        "retry": {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
    }
