"""MG5xx: cluster names and every reference to them."""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import (
    SUBMARINER,
    cluster_path,
    did_you_mean,
    error,
    quoted_list,
    warning,
)
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Related
from meshgen.layout import RESERVED_TOP_LEVEL
from meshgen.load import Positions
from meshgen.spec import Mesh

CODES = summaries("MG501", "MG502", "MG503", "MG504", "MG505", "MG506", "MG507")

# Above this many clusters a multi-primary mesh warns (MG507): each istiod then watches more
# than 20 API servers, and the mesh holds over 400 remote secrets; istio/istio#39207 reports
# the model does not hold at 50.
PRACTICAL_CLUSTERS = 20


def check_cluster_names(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG501: two clusters with one name (Istio clusterName and Submariner clusterID)."""
    first: dict[str, int] = {}
    for ci, cluster in enumerate(mesh.spec.clusters):
        if cluster.name not in first:
            first[cluster.name] = ci
            continue
        # The broker refuses a second cluster with the same ID (ensureUniqueCluster in
        # https://github.com/submariner-io/subctl/blob/v0.18.1/pkg/join/join.go).
        yield error(
            "MG501",
            f'cluster "{cluster.name}" is declared twice',
            positions.at((*cluster_path(ci), "name")),
            "cluster names are Istio cluster names and Submariner cluster IDs and must "
            "be unique; rename one",
            [
                Related(
                    positions.at((*cluster_path(first[cluster.name]), "name")),
                    "first declared here",
                )
            ],
        )


def _unknown_hint(name: str, known: list[str]) -> str:
    close = did_you_mean(name, known)
    listed = f"the clusters are {quoted_list(known)}"
    return f"{close} ({listed})" if close else listed


def check_broker(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG502: submariner.broker must name one of the clusters."""
    sub = mesh.spec.submariner
    known = list(dict.fromkeys(c.name for c in mesh.spec.clusters))
    if sub is None or sub.broker in known:
        return
    yield error(
        "MG502",
        f'Submariner broker "{sub.broker}" is not one of the clusters',
        positions.at((*SUBMARINER, "broker")),
        _unknown_hint(sub.broker, known),
    )


def check_cluster_refs(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG503: a `clusters:` list of a namespace or service names an unknown cluster."""
    known = list(dict.fromkeys(c.name for c in mesh.spec.clusters))
    known_set = set(known)
    owners = [
        ("namespaces", "namespace", i, o.name, o.clusters)
        for i, o in enumerate(mesh.spec.namespaces)
    ]
    owners += [
        ("services", "service", i, o.name, o.clusters) for i, o in enumerate(mesh.spec.services)
    ]
    for section, kind, index, owner, clusters in owners:
        for ci, name in enumerate(clusters):
            if name in known_set:
                continue
            yield error(
                "MG503",
                f'{kind} "{owner}" names unknown cluster "{name}"',
                positions.at(("spec", section, index, "clusters", ci)),
                _unknown_hint(name, known),
            )


def check_operator_broker(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG504: every joined cluster's Submariner resource must name the broker's API server
    (brokerK8sApiServer, required by the Submariner CRD,
    config/crd/bases/submariner.io_submariners.yaml at v0.18.1 of
    https://github.com/submariner-io/submariner-operator)."""
    sub = mesh.spec.submariner
    if sub is None or sub.deploy != "operator":
        return
    for ci, cluster in enumerate(mesh.spec.clusters):
        if cluster.name == sub.broker and cluster.api_server is None:
            yield error(
                "MG504",
                f'broker cluster "{cluster.name}" has no apiServer, which '
                "every Submariner resource must name",
                positions.at(("spec", "clusters", ci, "name")),
                "add apiServer: https://<host>:6443 to the broker cluster",
            )


def check_exports(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG505: ServiceExports are read by Submariner's Lighthouse
    (https://submariner.io/getting-started/architecture/service-discovery/)."""
    sub = mesh.spec.submariner
    if sub is not None and sub.service_discovery:
        return
    for si, svc in enumerate(mesh.spec.services):
        if svc.export:
            yield error(
                "MG505",
                f'service "{svc.namespace}/{svc.name}" is exported, but '
                "Submariner service discovery is not enabled",
                positions.at(("spec", "services", si, "export")),
                "add a submariner section (serviceDiscovery: true) or drop export",
            )


# Argo CD v2 label tracking limits Application names to 63 characters, and the longest one
# meshgen writes is `<cluster>-istio-base` (11 more).
_ARGOCD_SUFFIX = len("-istio-base")


def check_output_names(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG506: `out/gitops/` sits next to the cluster directories, `gitops/argocd/` holds
    `<cluster>.yaml` next to `kustomization.yaml`, and Application names grow by a suffix."""
    gitops = mesh.spec.gitops
    for ci, cluster in enumerate(mesh.spec.clusters):
        where = positions.at(("spec", "clusters", ci, "name"))
        if cluster.name in RESERVED_TOP_LEVEL:
            yield error(
                "MG506",
                f'cluster name "{cluster.name}" collides with the out/{cluster.name} directory',
                where,
                "rename the cluster",
            )
        if gitops is not None and gitops.engine == "argocd":
            if cluster.name == "kustomization":
                yield error(
                    "MG506",
                    'cluster name "kustomization" collides with gitops/argocd/kustomization.yaml',
                    where,
                    "rename the cluster",
                )
            if len(cluster.name) + _ARGOCD_SUFFIX > 63:
                yield error(
                    "MG506",
                    f'cluster name "{cluster.name}" makes the Argo CD '
                    f'Application "{cluster.name}-istio-base" longer than 63 characters',
                    where,
                    f"shorten it to {63 - _ARGOCD_SUFFIX} characters or fewer",
                )


def check_cluster_count(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG507: where multi-primary stops being practical (every istiod watches every peer)."""
    clusters = len(mesh.spec.clusters)
    if clusters > PRACTICAL_CLUSTERS:
        yield warning(
            "MG507",
            f"{clusters} clusters in one multi-primary mesh: every istiod watches "
            f"{clusters - 1} API servers ({clusters * (clusters - 1)} remote secrets in all)",
            positions.at(("spec", "clusters")),
            f"up to {PRACTICAL_CLUSTERS} clusters is practical; split the mesh, or make most "
            "clusters remotes of a few primaries (meshgen explain MG507)",
        )


CHECKS = (
    check_cluster_names,
    check_broker,
    check_cluster_refs,
    check_operator_broker,
    check_exports,
    check_output_names,
    check_cluster_count,
)
