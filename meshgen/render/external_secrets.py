"""`secrets.provider: external-secrets`: ExternalSecrets that render the Secrets Istio reads.

Each ExternalSecret's target and template reproduce exactly the name, namespace, labels,
annotations, type and keys of the placeholder that meshgen/render/secrets.py emits for the
`placeholder` provider (tests/test_render_external_secrets.py compares them), so either
provider yields the same Secrets in the cluster. ExternalSecrets hold no secret material:
they are listed in kustomization.yaml like any other resource.

API: `external-secrets.io/v1`, the version the CRDs of external-secrets v0.16.2 serve and
store (v1beta1 is still served); fields from config/crds/bases/
external-secrets.io_externalsecrets.yaml of that release. With a template that has only
metadata (no `data`, no `templateFrom`), the controller copies every fetched key into the
Secret and applies the template's type, labels and annotations (v0.16.2
pkg/controllers/externalsecret/externalsecret_controller_template.go, applyTemplate).
Secret facts: the remote secret as `istioctl create-remote-secret` writes it
(https://github.com/istio/istio/blob/1.30.3/istioctl/pkg/multicluster/remote_secret.go),
cacerts as https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/ makes
it. With Submariner deployed by its operator, `render_submariner_external_secrets` does the
same for the broker and IPsec PSK Secrets of meshgen/render/submariner.py (the Secrets that
`subctl join` creates and the Submariner resource names in brokerK8sSecret and
ceIPSecPSKSecret).
"""

from __future__ import annotations

from typing import Any

from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.render.secrets import (
    CACERTS_KEYS,
    render_cacerts,
    render_remote_secret,
)
from meshgen.render.submariner import (
    BROKER_SECRET_KEYS,
    PSK_SECRET_KEYS,
    render_broker_secret,
    render_psk_secret,
)
from meshgen.spec import Cluster, Mesh

EXTERNAL_SECRETS_API = "external-secrets.io/v1"
REFRESH_INTERVAL = "1h"  # the CRD's default, written out so a release changing it is no surprise


def remote_key(mesh: Mesh, cluster: str, item: str) -> str:
    """`<keyPrefix>/<mesh>/<cluster>/<item>`: where the store holds one cluster's secret."""
    return f"{mesh.spec.secrets.key_prefix}/{mesh.metadata.name}/{cluster}/{item}"


def cacerts_key(mesh: Mesh, cluster: Cluster) -> str:
    return remote_key(mesh, cluster.name, "cacerts")


def remote_kubeconfig_key(mesh: Mesh, peer: Cluster) -> str:
    return remote_key(mesh, peer.name, "remote-kubeconfig")


def _store_ref(mesh: Mesh) -> dict[str, str]:
    store = mesh.spec.secrets.store
    if store is None:  # MG105 rejects this spec before render
        raise ValueError("secrets.provider external-secrets needs secrets.store")
    return {"kind": store.kind, "name": store.name}


def _external_secret(mesh: Mesh, secret: Manifest, data: list[dict[str, Any]]) -> Manifest:
    """An ExternalSecret named like `secret` (a placeholder Secret) that renders it."""
    meta = secret["metadata"]
    template_meta = {k: dict(meta[k]) for k in ("labels", "annotations") if k in meta}
    template: dict[str, Any] = {"type": secret.get("type", "Opaque")}
    if template_meta:
        template["metadata"] = template_meta
    return {
        "apiVersion": EXTERNAL_SECRETS_API,
        "kind": "ExternalSecret",
        "metadata": metadata(meta["name"], meta["namespace"], labels=dict(MANAGED_BY)),
        "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": _store_ref(mesh),
            "target": {
                "name": meta["name"],
                # Owner: the controller creates the Secret (or adopts one of that name that
                # no other ExternalSecret owns) and it is deleted with the ExternalSecret
                # (v0.16.2 pkg/controllers/externalsecret/externalsecret_controller.go).
                "creationPolicy": "Owner",
                "template": template,
            },
            "data": data,
        },
    }


def render_cacerts_external_secret(mesh: Mesh, cluster: Cluster) -> Manifest:
    key = cacerts_key(mesh, cluster)
    return _external_secret(
        mesh,
        render_cacerts(),
        [{"secretKey": name, "remoteRef": {"key": key, "property": name}} for name in CACERTS_KEYS],
    )


def render_remote_external_secret(mesh: Mesh, peer: Cluster) -> Manifest:
    # One data key named after the peer, holding its whole kubeconfig (as istioctl
    # create-remote-secret writes it).
    return _external_secret(
        mesh,
        render_remote_secret(peer),
        [{"secretKey": peer.name, "remoteRef": {"key": remote_kubeconfig_key(mesh, peer)}}],
    )


def render_external_secrets(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    """`cacerts` and one `istio-remote-secret-<peer>` per peer, in istio-system; empty
    unless `secrets.provider` is `external-secrets`."""
    if mesh.spec.secrets.provider != "external-secrets":
        return []
    docs = [render_cacerts_external_secret(mesh, cluster)]
    docs.extend(
        render_remote_external_secret(mesh, peer)
        for peer in mesh.spec.clusters
        if peer.name != cluster.name
    )
    return docs


def submariner_psk_key(mesh: Mesh) -> str:
    """One IPsec PSK for the whole mesh (every gateway must share it): no cluster segment."""
    return f"{mesh.spec.secrets.key_prefix}/{mesh.metadata.name}/submariner-ipsec-psk"


def render_submariner_external_secrets(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    """With `submariner.deploy: operator`, ExternalSecrets for the two Secrets the Submariner
    resource references (the placeholders of meshgen/render/submariner.py), in
    submariner-operator: `<keyPrefix>/<mesh>/<cluster>/submariner-broker` (properties
    ca.crt, namespace, token) and `<keyPrefix>/<mesh>/submariner-ipsec-psk` (property psk)."""
    sub = mesh.spec.submariner
    if mesh.spec.secrets.provider != "external-secrets" or sub is None or sub.deploy != "operator":
        return []
    broker_key = remote_key(mesh, cluster.name, "submariner-broker")
    psk_key = submariner_psk_key(mesh)
    return [
        _external_secret(
            mesh,
            render_broker_secret(),
            [
                {"secretKey": k, "remoteRef": {"key": broker_key, "property": k}}
                for k in BROKER_SECRET_KEYS
            ],
        ),
        _external_secret(
            mesh,
            render_psk_secret(),
            [
                {"secretKey": k, "remoteRef": {"key": psk_key, "property": k}}
                for k in PSK_SECRET_KEYS
            ],
        ),
    ]
