"""NetworkAttachmentDefinitions that Multus needs for istio-cni on OpenShift."""

from __future__ import annotations

from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.spec import Cluster, Mesh, Namespace
from meshgen.versions import release


def needs_per_namespace_nad(mesh: Mesh, cluster: Cluster) -> bool:
    # Up to 1.18 every injected namespace on OpenShift needs its own `istio-cni` NAD
    # (https://istio.io/v1.12/docs/setup/platform-setup/openshift/); from 1.19 the cni chart
    # creates one in `default` (versions.MULTUS_NETWORK_NAMESPACED gives the chart's file).
    return (
        cluster.platform == "openshift"
        and mesh.spec.istio.cni.enabled
        and release(mesh.spec.istio.version).per_namespace_nad
    )


def render_nads(mesh: Mesh, cluster: Cluster, app_namespaces: list[Namespace]) -> list[Manifest]:
    if not needs_per_namespace_nad(mesh, cluster):
        return []
    return [
        {
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": metadata("istio-cni", ns.name, labels=dict(MANAGED_BY)),
        }
        for ns in app_namespaces
        if ns.injection
    ]
