"""Secret placeholders and the istio-reader token Secret.

Placeholders carry the exact name, namespace, labels, annotations and keys that Istio
reads, with empty values: meshgen never sees secret material, and they are not listed in
kustomization.yaml, so an empty placeholder can never overwrite a real Secret.
"""

from __future__ import annotations

from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, metadata
from meshgen.spec import Cluster, Mesh
from meshgen.versions import OLDEST_KUBERNETES_124, kubernetes_makes_token_secrets, release

# Keys of the plug-in CA Secret
# (https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/).
CACERTS_KEYS = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
# istioctl's names, label and annotation
# (https://github.com/istio/istio/blob/1.30.3/istioctl/pkg/multicluster/remote_secret.go).
REMOTE_SECRET_PREFIX = "istio-remote-secret-"
READER_SERVICE_ACCOUNT = "istio-reader-service-account"
READER_TOKEN_SECRET = f"{READER_SERVICE_ACCOUNT}-istio-remote-secret-token"


def render_cacerts() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata("cacerts", ISTIO_NAMESPACE),
        "type": "Opaque",
        "stringData": dict.fromkeys(CACERTS_KEYS, ""),
    }


def remote_secret_name(peer: str) -> str:
    return REMOTE_SECRET_PREFIX + peer


def render_remote_secret(peer: Cluster) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            remote_secret_name(peer.name),
            ISTIO_NAMESPACE,
            labels={"istio/multiCluster": "true"},
            annotations={"networking.istio.io/cluster": peer.name},
        ),
        # istioctl emits stringData with one key: the peer's clusterName (remote_secret.go).
        "stringData": {peer.name: ""},
    }


def needs_reader_token(mesh: Mesh, cluster: Cluster) -> bool:
    """Kubernetes >= 1.24 no longer creates service-account token Secrets (istio/istio#38246);
    only peers read the token, so a single-cluster mesh needs none."""
    if len(mesh.spec.clusters) < 2:
        return False
    if cluster.kubernetes_version is not None:
        return not kubernetes_makes_token_secrets(cluster.kubernetes_version)
    # An unspecified cluster version is assumed >= 1.24 where that Istio needs it.
    return release(mesh.spec.istio.version).has(OLDEST_KUBERNETES_124)


READER_TOKEN_FILE = "istio/reader-token-secret.yaml"


def reader_token_in_kustomization(mesh: Mesh) -> bool:
    """Whether the reader token Secret can go with the cluster directory: only where Istio,
    and with it the istio-reader service account, is installed before the directory is
    applied (istioctl; Helm, whose base chart comes first). With the operator or Sail the
    install resources are in the directory itself, and Kubernetes deletes a token Secret
    whose service account does not exist yet (the tokens controller, pkg/controller/
    serviceaccount/tokens_controller.go in kubernetes/kubernetes: syncSecret): the runbook
    applies it once Istio runs (the mesh box saw it deleted)."""
    return mesh.spec.istio.installer in ("istioctl", "helm")


def render_reader_token() -> Manifest:
    # The cluster fills in the token; the object itself holds nothing secret, so it is
    # applied like any other resource and `create-remote-secret --secret-name` uses it.
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            READER_TOKEN_SECRET,
            ISTIO_NAMESPACE,
            labels=dict(MANAGED_BY),
            annotations={"kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT},
        ),
        "type": "kubernetes.io/service-account-token",
    }
