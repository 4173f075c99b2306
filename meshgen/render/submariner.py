"""Submariner as resources of the submariner-operator (`submariner.deploy: operator`).

Per cluster a `Submariner` (the operator joins the cluster from it), on the broker cluster the
`Broker`, `ServiceExport`s for exported services, and Secret placeholders for the broker
credentials and the IPsec PSK, which never reach git (the rule of meshgen/render/secrets.py).
What the operator cannot do from git (gateway node labels, broker RBAC and token, installing
the operator) is listed in out/README.md by meshgen/render/runbook/submariner.py.

Facts: https://submariner.io/getting-started/ (architecture, gateway label, cable drivers,
ports) and the sources at v0.18.1 of https://github.com/submariner-io/subctl (what `subctl
join` and `deploy-broker` create and name: pkg/join, pkg/deploy, pkg/broker,
internal/constants) and https://github.com/submariner-io/submariner-operator (api/v1alpha1,
pkg/names, controllers/submariner); field names and types checked against the CRDs of
github.com/submariner-io/submariner-operator v0.21.0 (scripts/make_schemas.py).
"""

from __future__ import annotations

from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.spec import Cluster, Mesh, Service, Submariner

SUBMARINER_API = "submariner.io/v1alpha1"
# Lighthouse reads ServiceExports at v1alpha1 (the only version of the CRD that the
# operator v0.21.0 installs, deploy/mcsapi/crds).
SERVICE_EXPORT_API = "multicluster.x-k8s.io/v1alpha1"
# subctl's names (operator pkg/names, subctl internal/constants and pkg/brokercr/ensure.go).
OPERATOR_NAMESPACE = "submariner-operator"
BROKER_NAMESPACE = "submariner-k8s-broker"
SUBMARINER_NAME = "submariner"
BROKER_NAME = "submariner-broker"
# The Secrets `subctl join` creates and the Submariner resource references (subctl
# pkg/broker/rbac.go, pkg/broker/ipsec_psk.go; operator api/v1alpha1/submariner_types.go).
BROKER_SECRET = "submariner-broker-secret"
BROKER_SECRET_KEYS = ("ca.crt", "namespace", "token")
PSK_SECRET = "submariner-ipsec-psk"
PSK_SECRET_KEYS = ("psk",)
# The gateway DaemonSet runs only on nodes with this label
# (https://submariner.io/getting-started/architecture/gateway-engine/).
GATEWAY_LABEL = "submariner.io/gateway=true"
# subctl deploy-broker's defaults (operator pkg/discovery/globalnet/config_map.go; only read
# when globalnet is on, which MG204 forbids).
GLOBALNET_CIDR_RANGE = "242.0.0.0/8"
GLOBALNET_CLUSTER_SIZE = 65536
# The operator release whose CRDs validate these objects (scripts/make_schemas.py).
OPERATOR_VERSION = "0.21.0"
# subctl pkg/operator/ensure.go labels the operator namespace so that Pod Security admission
# admits the privileged, host-network gateway and route agent pods.
PRIVILEGED_NAMESPACE_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "privileged" for mode in ("enforce", "audit", "warn")
}


def operator_submariner(mesh: Mesh) -> Submariner | None:
    sub = mesh.spec.submariner
    return sub if sub is not None and sub.deploy == "operator" else None


def broker_api_server(mesh: Mesh) -> str:
    """The broker cluster's API server as `host:port`, with no scheme: subctl strips it
    (subctl pkg/deploy/submariner.go removeSchemaPrefix) and the operator adds it."""
    sub = mesh.spec.submariner
    assert sub is not None
    broker = next(c for c in mesh.spec.clusters if c.name == sub.broker)
    if broker.api_server is None:  # MG504 rejects this spec before render
        raise ValueError(f'broker cluster "{broker.name}" has no apiServer')
    return broker.api_server.removeprefix("https://").rstrip("/")


def submariner_cidrs(nets: tuple[object, ...]) -> str:
    # The CRD fields are strings; the operator splits a dual-stack value on "," (v0.21.0
    # internal/controllers/submariner/submariner_networkdiscovery.go, getCIDR). The values
    # are the very fields the MG2xx overlap checks checked.
    return ",".join(str(n) for n in nets)


def _namespace(name: str, labels: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(name, labels={**MANAGED_BY, **labels}),
    }


def render_submariner(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    """The operator namespace and the `Submariner` of `cluster`; on the broker cluster also
    the broker namespace and the `Broker`. Namespaces come first (apply order)."""
    sub = operator_submariner(mesh)
    if sub is None:
        return []
    is_broker = cluster.name == sub.broker
    docs: list[Manifest] = [_namespace(OPERATOR_NAMESPACE, PRIVILEGED_NAMESPACE_LABELS)]
    if is_broker:
        docs.append(_namespace(BROKER_NAMESPACE, {}))
        docs.append(render_broker(sub))
    docs.append(_submariner(mesh, sub, cluster))
    return docs


def render_broker(sub: Submariner) -> Manifest:
    # The operator's Broker controller (controllers/submariner/broker_controller.go) installs
    # the broker CRDs and the globalnet and clusterset-IP ConfigMaps; it creates no RBAC (see
    # meshgen/render/runbook/submariner.py).
    components = (
        ["service-discovery", "connectivity"] if sub.service_discovery else ["connectivity"]
    )
    return {
        "apiVersion": SUBMARINER_API,
        "kind": "Broker",
        "metadata": metadata(BROKER_NAME, BROKER_NAMESPACE, labels=dict(MANAGED_BY)),
        "spec": {
            "components": components,
            "globalnetEnabled": False,
            "globalnetCIDRRange": GLOBALNET_CIDR_RANGE,
            "defaultGlobalnetClusterSize": GLOBALNET_CLUSTER_SIZE,
        },
    }


def _submariner(mesh: Mesh, sub: Submariner, cluster: Cluster) -> Manifest:
    # Every field the CRD requires (config/crd/bases/submariner.io_submariners.yaml), the
    # broker connection by Secret reference only (no inline token, CA or PSK: those stay out
    # of git).
    spec: dict[str, object] = {
        "broker": "k8s",
        "brokerK8sApiServer": broker_api_server(mesh),
        "brokerK8sRemoteNamespace": BROKER_NAMESPACE,
        "brokerK8sSecret": BROKER_SECRET,
        "ceIPSecPSKSecret": PSK_SECRET,
        "ceIPSecDebug": False,
        "cableDriver": sub.cable_driver,
        "clusterID": cluster.name,
        "clusterCIDR": submariner_cidrs(cluster.pod_cidr),
        "serviceCIDR": submariner_cidrs(cluster.service_cidr),
        # A non-empty globalCIDR turns Globalnet on (operator
        # controllers/submariner/servicediscovery_resources.go); a flat network has none (MG204).
        "globalCIDR": "",
        "namespace": OPERATOR_NAMESPACE,
        "natEnabled": sub.nat_traversal,
        "serviceDiscoveryEnabled": sub.service_discovery,
        "debug": False,
    }
    if sub.version is not None:
        spec["version"] = sub.version
    return {
        "apiVersion": SUBMARINER_API,
        "kind": "Submariner",
        "metadata": metadata(SUBMARINER_NAME, OPERATOR_NAMESPACE, labels=dict(MANAGED_BY)),
        "spec": spec,
    }


def render_service_exports(mesh: Mesh, cluster: Cluster, services: list[Service]) -> list[Manifest]:
    """A ServiceExport (named and placed like its Service:
    https://submariner.io/getting-started/architecture/) for each exported service of `services`
    (the caller passes those placed in `cluster`). Lighthouse reads them however Submariner was
    deployed, so this needs service discovery, not `deploy: operator`."""
    del cluster  # the placement is the caller's; kept for a uniform signature
    sub = mesh.spec.submariner
    if sub is None or not sub.service_discovery:  # MG505 rejects exports then
        return []
    return [
        {
            "apiVersion": SERVICE_EXPORT_API,
            "kind": "ServiceExport",
            "metadata": metadata(s.name, s.namespace, labels=dict(MANAGED_BY)),
        }
        for s in services
        if s.export
    ]


def _placeholder(name: str, keys: tuple[str, ...]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, OPERATOR_NAMESPACE),
        "type": "Opaque",
        "stringData": dict.fromkeys(keys, ""),
    }


def render_broker_secret() -> Manifest:
    return _placeholder(BROKER_SECRET, BROKER_SECRET_KEYS)


def render_psk_secret() -> Manifest:
    return _placeholder(PSK_SECRET, PSK_SECRET_KEYS)


def render_submariner_placeholders(mesh: Mesh, cluster: Cluster) -> list[tuple[str, Manifest]]:
    """(path relative to the cluster directory, Secret) for the two Secrets the Submariner
    resource references. Empty, never listed in kustomization.yaml, never applied."""
    del cluster  # the same two Secrets in every cluster
    if operator_submariner(mesh) is None:
        return []
    return [
        (f"secrets/{BROKER_SECRET}.yaml", render_broker_secret()),
        (f"secrets/{PSK_SECRET}.yaml", render_psk_secret()),
    ]
