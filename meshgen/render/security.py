"""PeerAuthentication and AuthorizationPolicy objects for one cluster.

Like the traffic rules, Istio security config is read by each primary from its own cluster
only (istio/istio#33253), so every cluster gets the policies of the namespaces placed
in it; a mesh-wide PeerAuthentication goes into every cluster's root namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, metadata
from meshgen.revisions import oldest_version
from meshgen.spec import Cluster, Mesh, Namespace
from meshgen.spec_traffic import AuthorizationPolicy
from meshgen.versions import release

# The name Istio gives the mesh-wide / namespace-wide policy in its docs; one per scope.
DEFAULT_NAME = "default"


def security_api_version(istio_version: str) -> str:
    """`security.istio.io/v1` from Istio 1.22, `v1beta1` before (versions.NETWORKING_V1).

    AuthorizationPolicy's CRD served v1 earlier, but one boundary keeps the two kinds
    consistent; v1beta1 is still served through 1.30.
    """
    return release(istio_version).security_api_version


def principal(trust_domain: str, service_account: str) -> str:
    """`<namespace>/<name>` -> Istio's `<trustDomain>/ns/<namespace>/sa/<name>`."""
    namespace, name = service_account.split("/", 1)
    return f"{trust_domain}/ns/{namespace}/sa/{name}"


def render_security(
    mesh: Mesh, cluster: Cluster, app_namespaces: Iterable[Namespace | str]
) -> list[Manifest]:
    """Security objects for `cluster`; `app_namespaces` are the namespaces placed in it.

    `cluster` is part of the signature for symmetry with the other per-cluster renderers;
    placement is decided by `app_namespaces`.
    """
    del cluster
    security = mesh.spec.security
    if security is None:
        return []
    placed = {ns if isinstance(ns, str) else ns.name for ns in app_namespaces}
    api_version = security_api_version(oldest_version(mesh))
    docs: list[Manifest] = []
    peer = security.peer_authentication
    if peer is not None:
        scopes = (
            [ns for ns in peer.namespaces if ns in placed] if peer.namespaces else [ISTIO_NAMESPACE]
        )
        docs.extend(
            {
                "apiVersion": api_version,
                "kind": "PeerAuthentication",
                "metadata": metadata(DEFAULT_NAME, ns, labels=dict(MANAGED_BY)),
                "spec": {"mtls": {"mode": peer.mode}},
            }
            for ns in scopes
        )
    docs.extend(
        _authorization_policy(api_version, mesh.spec.trust_domain, policy)
        for policy in security.authorization_policies
        if policy.namespace in placed
    )
    return docs


def _authorization_policy(
    api_version: str, trust_domain: str, policy: AuthorizationPolicy
) -> Manifest:
    spec: dict[str, Any] = {}
    if policy.selector:
        spec["selector"] = {"matchLabels": dict(policy.selector)}
    spec["action"] = "ALLOW"
    sources: list[dict[str, Any]] = []
    if policy.allow.namespaces:
        sources.append({"source": {"namespaces": list(policy.allow.namespaces)}})
    if policy.allow.service_accounts:
        sources.append(
            {
                "source": {
                    "principals": [
                        principal(trust_domain, sa) for sa in policy.allow.service_accounts
                    ]
                }
            }
        )
    # Sources in one rule's `from` are ORed. Allowing nobody renders an ALLOW policy without
    # rules, which Istio reads as "deny every request" to the selected workloads.
    if sources:
        spec["rules"] = [{"from": sources}]
    return {
        "apiVersion": api_version,
        "kind": "AuthorizationPolicy",
        "metadata": metadata(policy.name, policy.namespace, labels=dict(MANAGED_BY)),
        "spec": spec,
    }
