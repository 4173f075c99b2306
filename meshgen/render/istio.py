"""The IstioOperator for one cluster (installers `istioctl` and `operator`).

For Istio 1.10/1.11 on OpenShift the values are spelled out exactly as in the seed setup
(tests/data/seed, from the Red Hat blog post
https://www.redhat.com/en/blog/set-up-istio-multicluster-with-submariner-in-red-hat-advanced-cluster-management-for-kubernetes):
CNI paths for Multus, not chained, and the injected `k8s.v1.cni.cncf.io/networks` annotation.
From 1.12 `profile: openshift` carries the version-specific details (istio/istio
manifests/profiles/openshift.yaml at each release tag), so meshgen defers to it.
"""

from __future__ import annotations

from typing import Any

from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, deep_merge, metadata
from meshgen.spec import Cluster, Mesh
from meshgen.versions import IstioRelease, release

# The OpenShift profile of 1.8-1.11, as in the seed setup
# (https://github.com/istio/istio/blob/1.10.6/manifests/profiles/openshift.yaml).
OPENSHIFT_CNI_VALUES: dict[str, Any] = {
    "cniBinDir": "/var/lib/cni/bin",
    "cniConfDir": "/etc/cni/multus/net.d",
    "chained": False,
    "cniConfFileName": "istio-cni.conf",
}

DEFAULT_TRUST_DOMAIN = "cluster.local"


def identity_values(mesh: Mesh, cluster: Cluster) -> dict[str, Any]:
    """`values.global` of multi-primary on one network
    (https://istio.io/latest/docs/setup/install/multicluster/multi-primary/): the same meshID
    and network everywhere, the cluster's own clusterName; every installer sets it."""
    return {
        "meshID": mesh.mesh_id,
        "multiCluster": {"clusterName": cluster.name},
        "network": mesh.spec.network,
    }


def cni_log_values(rel: IstioRelease, level: str) -> dict[str, Any]:
    """`logLevel: <level>`, or `logging: {level: <level>}` from 1.23 (istio/istio#51972)."""
    path = rel.cni_log_level_path
    return {path[0]: level} if len(path) == 1 else {path[0]: {path[1]: level}}


def operator_name(mesh: Mesh) -> str:
    revision = mesh.spec.istio.revision
    return f"istio-{revision}" if revision else "istio"


def render_istio_operator(mesh: Mesh, cluster: Cluster) -> Manifest:
    istio = mesh.spec.istio
    rel = release(istio.version)
    openshift = cluster.platform == "openshift"
    cni = istio.cni
    # Without CNI the openshift profile's Multus settings would break every pod (see
    # OPENSHIFT_CNI_VALUES), so it is used only together with CNI; MG305 warns about what pods
    # then need instead.
    use_profile = openshift and cni.enabled and rel.uses_openshift_profile
    spec: dict[str, Any] = {}
    if use_profile:
        spec["profile"] = "openshift"
    if istio.revision:
        spec["revision"] = istio.revision
    if mesh.spec.trust_domain != DEFAULT_TRUST_DOMAIN:
        spec["meshConfig"] = {"trustDomain": mesh.spec.trust_domain}

    if cni.enabled:
        spec["components"] = {"cni": {"enabled": True, "namespace": cni.namespace}}

    values: dict[str, Any] = {"global": identity_values(mesh, cluster)}
    if cni.enabled:
        cni_values: dict[str, Any] = {}
        if openshift and not rel.uses_openshift_profile:
            cni_values.update(OPENSHIFT_CNI_VALUES)
        cni_values["excludeNamespaces"] = list(cni.exclude_namespaces)
        cni_values.update(cni_log_values(rel, cni.log_level))
        values["cni"] = cni_values
        if openshift and not rel.uses_openshift_profile:
            values["sidecarInjectorWebhook"] = {
                "injectedAnnotations": {
                    "k8s.v1.cni.cncf.io/networks": rel.multus_network_annotation
                }
            }
    if istio.values:
        values = deep_merge(values, dict(istio.values))
    spec["values"] = values
    return {
        "apiVersion": "install.istio.io/v1alpha1",
        "kind": "IstioOperator",
        "metadata": metadata(operator_name(mesh), ISTIO_NAMESPACE, labels=dict(MANAGED_BY)),
        "spec": spec,
    }
