"""Sail Operator (OpenShift Service Mesh 3) resources: `Istio`, `IstioCNI` and, with
`istio.revisions`, `IstioRevisionTag`s.

Both are cluster-scoped `sailoperator.io/v1` kinds; the IstioCNI must be named `default`;
`spec.version` is pinned (the CRD default moves with the operator); on OpenShift the operator
applies the platform profile itself, so no CNI paths are emitted. Sources, in
https://github.com/istio-ecosystem/sail-operator/tree/1.30.3: api/v1/istio_types.go,
api/v1/istiocni_types.go, api/v1/istiorevisiontags_types.go, api/v1/values_types.gen.go,
pkg/istiovalues/profiles.go, controllers/istio/istio_controller.go, docs/README.adoc and
docs/update-strategy/update-strategy.adoc.
"""

from __future__ import annotations

from typing import Any

from meshgen.render.control_planes import named_control_planes
from meshgen.render.istio import DEFAULT_TRUST_DOMAIN, identity_values
from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, deep_merge, metadata
from meshgen.revisions import control_planes, tags_of
from meshgen.spec import Cluster, Mesh

API_VERSION = "sailoperator.io/v1"
# Istio.spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds: the operator's default
# (api/v1/istio_types.go DefaultRevisionDeletionGracePeriodSeconds), which the CRD leaves unset.
REVISION_DELETION_GRACE_SECONDS = 30


def istio_name(mesh: Mesh) -> str:
    # With the InPlace strategy the revision is the Istio resource's name (the Sail Operator's
    # docs/update-strategy/update-strategy.adoc), so a revision from the spec becomes the name
    # and `istio.io/rev=<revision>` selects it.
    return mesh.spec.istio.revision or "default"


def render_sail(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    istio = mesh.spec.istio
    version = f"v{istio.version}"
    docs: list[Manifest] = [_istio_cni(mesh, version)] if istio.cni.enabled else []
    spec: dict[str, Any] = {
        "version": version,
        "namespace": ISTIO_NAMESPACE,
        "values": _istio_values(mesh, cluster),
    }
    if named_control_planes(mesh):
        # A new IstioRevision per spec.version, the old one kept until no workload uses it,
        # then deleted after the grace period (30 s is the operator's own default, written
        # out; docs/update-strategy/update-strategy.adoc). spec.version is the newest.
        spec["updateStrategy"] = {
            "type": "RevisionBased",
            "inactiveRevisionDeletionGracePeriodSeconds": REVISION_DELETION_GRACE_SECONDS,
        }
    docs.append(
        {
            "apiVersion": API_VERSION,
            "kind": "Istio",
            "metadata": metadata(istio_name(mesh), labels=dict(MANAGED_BY)),
            "spec": spec,
        }
    )
    if named_control_planes(mesh):
        docs.extend(_revision_tags(mesh, cluster))
    return docs


def _istio_values(mesh: Mesh, cluster: Cluster) -> dict[str, Any]:
    """The `Istio` resource's Helm values: the cluster's identity, the trust domain, CNI, and
    istio.values over them."""
    istio = mesh.spec.istio
    values: dict[str, Any] = {"global": identity_values(mesh, cluster)}
    if mesh.spec.trust_domain != DEFAULT_TRUST_DOMAIN:
        values["meshConfig"] = {"trustDomain": mesh.spec.trust_domain}
    if istio.cni.enabled and cluster.platform != "openshift":
        # On OpenShift the platform profile turns this on (pilot.cni.enabled in istio/istio
        # manifests/helm-profiles/platform-openshift.yaml, which the Sail Operator ships).
        values["pilot"] = {"cni": {"enabled": True}}
    if istio.values:
        values = deep_merge(values, dict(istio.values))
    return values


def _istio_cni(mesh: Mesh, version: str) -> Manifest:
    cni = mesh.spec.istio.cni
    return {
        "apiVersion": API_VERSION,
        "kind": "IstioCNI",
        "metadata": metadata("default", labels=dict(MANAGED_BY)),
        "spec": {
            "version": version,
            "namespace": cni.namespace,
            # CNIConfig has logging.level, not logLevel (api/v1/values_types.gen.go).
            "values": {
                "cni": {
                    "excludeNamespaces": list(cni.exclude_namespaces),
                    "logging": {"level": cni.log_level},
                }
            },
        },
    }


def sail_revision_name(mesh: Mesh, version: str) -> str:
    """The IstioRevision the operator creates for `version` under RevisionBased:
    `<Istio name>-` + spec.version with "." replaced by "-", e.g. `default-v1-24-3`
    (controllers/istio/istio_controller.go getActiveRevisionName). The spec's revision names
    are not used: Sail names its revisions itself."""
    return f"{istio_name(mesh)}-" + f"v{version}".replace(".", "-")


def _revision_tags(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    """One IstioRevisionTag per tag in the cluster (cluster-scoped, `sailoperator.io/v1`),
    aimed at an explicit IstioRevision, so that a tag moves only when the spec moves it
    (`kind: Istio` would follow the active revision as soon as spec.version changes;
    docs/README.adoc, IstioRevisionTag). The older revision's IstioRevision exists only if
    the Istio ran that version before (RevisionBased creates one per spec.version)."""
    versions = {plane.name: plane.version for plane in control_planes(mesh)}
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "IstioRevisionTag",
            "metadata": metadata(tag, labels=dict(MANAGED_BY)),
            "spec": {
                "targetRef": {
                    "kind": "IstioRevision",
                    "name": sail_revision_name(mesh, versions[target]),
                }
            },
        }
        for tag, target in sorted(tags_of(mesh, cluster).items())
    ]
