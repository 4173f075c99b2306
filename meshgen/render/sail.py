"""Sail Operator (OpenShift Service Mesh 3) resources: `Istio` and `IstioCNI`.

Both are cluster-scoped `sailoperator.io/v1` kinds; the IstioCNI must be named `default`;
`spec.version` is pinned (the CRD default moves with the operator); on OpenShift the operator
applies the platform profile itself, so no CNI paths are emitted. Sources, in
https://github.com/istio-ecosystem/sail-operator/tree/1.30.3: api/v1/istio_types.go,
api/v1/istiocni_types.go, api/v1/values_types.gen.go, pkg/istiovalues/profiles.go and
docs/update-strategy/update-strategy.adoc.
"""

from __future__ import annotations

from typing import Any

from meshgen.render.istio import DEFAULT_TRUST_DOMAIN, identity_values
from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, deep_merge, metadata
from meshgen.spec import Cluster, Mesh

API_VERSION = "sailoperator.io/v1"


def istio_name(mesh: Mesh) -> str:
    # With the InPlace strategy the revision is the Istio resource's name (the Sail Operator's
    # docs/update-strategy/update-strategy.adoc), so a revision from the spec becomes the name
    # and `istio.io/rev=<revision>` selects it.
    return mesh.spec.istio.revision or "default"


def render_sail(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    istio = mesh.spec.istio
    version = f"v{istio.version}"
    values: dict[str, Any] = {"global": identity_values(mesh, cluster)}
    if mesh.spec.trust_domain != DEFAULT_TRUST_DOMAIN:
        values["meshConfig"] = {"trustDomain": mesh.spec.trust_domain}
    if istio.cni.enabled and cluster.platform != "openshift":
        # On OpenShift the platform profile turns this on (pilot.cni.enabled in istio/istio
        # manifests/helm-profiles/platform-openshift.yaml, which the Sail Operator ships).
        values["pilot"] = {"cni": {"enabled": True}}
    if istio.values:
        values = deep_merge(values, dict(istio.values))
    docs: list[Manifest] = []
    if istio.cni.enabled:
        docs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "IstioCNI",
                "metadata": metadata("default", labels=dict(MANAGED_BY)),
                "spec": {
                    "version": version,
                    "namespace": istio.cni.namespace,
                    # CNIConfig has logging.level, not logLevel (api/v1/values_types.gen.go).
                    "values": {
                        "cni": {
                            "excludeNamespaces": list(istio.cni.exclude_namespaces),
                            "logging": {"level": istio.cni.log_level},
                        }
                    },
                },
            }
        )
    docs.append(
        {
            "apiVersion": API_VERSION,
            "kind": "Istio",
            "metadata": metadata(istio_name(mesh), labels=dict(MANAGED_BY)),
            "spec": {"version": version, "namespace": ISTIO_NAMESPACE, "values": values},
        }
    )
    return docs
