"""The `meshgen.dev/v1alpha1` Mesh spec as strict, frozen pydantic models.

Field names (the YAML aliases) are the contract of DESIGN.md §2. Models are strict: unknown
fields are errors and scalars are never coerced (a version written `1.10` is a float, and
rejected). Every name is checked against the Kubernetes rule it will have to satisfy.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from meshgen.spec_names import (
    DNSLabel,
    LabelKey,
    LabelValue,
    ServiceName,
    Subdomain,
)
from meshgen.spec_traffic import (
    Duration,
    Fault,
    Locality,
    Match,
    Mirror,
    Retries,
    Security,
    TrafficPolicy,
)

API_VERSION = "meshgen.dev/v1alpha1"

IstioVersion = Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]
KubernetesVersion = Annotated[str, StringConstraints(pattern=r"^1\.[0-9]+$")]
# A host name or IP literal and an optional port: it is pasted into shell commands in the
# generated README, so nothing else may get through.
HttpsURL = Annotated[
    str,
    StringConstraints(
        pattern=r"^https://([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
        r"(:[0-9]{1,5})?/?$",
        max_length=260,
    ),
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_cidrs(value: Any) -> tuple[IPNetwork, ...]:
    """A CIDR or a list of CIDRs (dual-stack) -> networks; host bits set is an error."""
    is_list = isinstance(value, list)
    items = value if is_list else [value]
    if not items:
        raise PydanticCustomError("cidr", "at least one CIDR is required")
    nets: list[IPNetwork] = []
    for position, item in enumerate(items):
        # The index lets validate.py point at the list item rather than the field.
        index = position if is_list else None
        if not isinstance(item, str):
            raise PydanticCustomError(
                "cidr", "expected a CIDR string such as 10.128.0.0/14", {"index": index}
            )
        if "/" not in item:
            raise PydanticCustomError(
                "cidr", "'{cidr}' has no prefix length; write it as a CIDR such as 10.0.0.0/16",
                {"index": index, "cidr": item},
            )
        try:
            net = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            if "host bits set" in str(exc):
                network = ipaddress.ip_network(item, strict=False)
                raise PydanticCustomError(
                    "cidr", "'{cidr}' has host bits set; the network is {network}",
                    {"index": index, "cidr": item, "network": str(network)},
                ) from None
            raise PydanticCustomError(
                "cidr", "'{cidr}' is not a valid CIDR: {reason}",
                {"index": index, "cidr": item, "reason": str(exc)},
            ) from None
        if net.is_loopback or net.is_multicast or net.is_link_local or (
            net.network_address.is_unspecified
        ):
            raise PydanticCustomError(
                "cidr", "'{cidr}' is {kind}, which cannot hold pod or service addresses",
                {"index": index, "cidr": item, "kind": _special_kind(net)},
            )
        nets.append(net)
    return tuple(nets)


def _special_kind(net: IPNetwork) -> str:
    if net.is_loopback:
        return "a loopback range"
    if net.is_multicast:
        return "a multicast range"
    if net.is_link_local:
        return "a link-local range"
    return "a range starting at the unspecified address"


_CIDR_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "A CIDR, e.g. 10.128.0.0/14 or fd00:10:244::/56"},
        {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 2,
            "description": "Dual-stack: one IPv4 and one IPv6 CIDR",
        },
    ]
}

CIDRs = Annotated[
    tuple[IPNetwork, ...], BeforeValidator(_parse_cidrs), WithJsonSchema(_CIDR_SCHEMA)
]


class Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=False)


class Metadata(Model):
    name: DNSLabel = Field(description="The mesh name; the default meshID.")


class CNI(Model):
    enabled: bool = Field(True, description="Install istio-cni (needed on OpenShift).")
    namespace: DNSLabel = Field("kube-system", description="Namespace of the istio-cni DaemonSet.")
    log_level: Literal["debug", "info", "warn", "error", "none"] = Field("info", alias="logLevel")
    exclude_namespaces: list[DNSLabel] = Field(
        default_factory=lambda: ["istio-system", "kube-system"], alias="excludeNamespaces"
    )


class Istio(Model):
    version: IstioVersion = Field(
        description='The Istio release, a quoted "MAJOR.MINOR.PATCH" string such as "1.10.0".'
    )
    installer: Literal["istioctl", "operator", "helm", "sail"] = "istioctl"
    revision: Annotated[str, StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$",
                                               max_length=63)] = Field(
        "", description="Optional control-plane revision; injection then uses istio.io/rev."
    )
    cni: CNI = CNI()
    values: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Escape hatch: deep-merged last into the install values.",
    )


class Submariner(Model):
    broker: DNSLabel = Field(description="The cluster that hosts the Submariner broker.")
    globalnet: bool = False
    cable_driver: Literal["libreswan", "wireguard", "vxlan"] = Field(
        "libreswan", alias="cableDriver"
    )
    deploy: Literal["subctl", "operator"] = Field(
        "subctl",
        description="subctl: out/README.md lists the subctl commands (the seed setup); "
        "operator: emit Submariner and Broker resources for the submariner-operator.",
    )
    nat_traversal: bool = Field(True, alias="natTraversal")
    service_discovery: bool = Field(
        True, alias="serviceDiscovery", description="Lighthouse; needed for service exports."
    )
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")] | None = (
        Field(None, description='Submariner image tag to pin, e.g. "0.21.0".')
    )


class SecretStore(Model):
    kind: Literal["ClusterSecretStore", "SecretStore"] = "ClusterSecretStore"
    name: Subdomain


class Secrets(Model):
    provider: Literal["placeholder", "external-secrets"] = "placeholder"
    store: SecretStore | None = Field(
        None, description="The External Secrets store (required with external-secrets)."
    )
    key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")] = Field(
        "meshgen", alias="keyPrefix",
        description="Remote keys are <keyPrefix>/<mesh>/<cluster>/cacerts and "
        "<keyPrefix>/<mesh>/<cluster>/remote-kubeconfig.",
    )


class ArgoCD(Model):
    namespace: DNSLabel = "argocd"
    project: Subdomain = "default"


class Flux(Model):
    namespace: DNSLabel = "flux-system"
    interval: Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$")] = "10m"


class GitOps(Model):
    engine: Literal["argocd", "flux"]
    repo_url: Annotated[
        str, StringConstraints(pattern=r"^(https://|ssh://|git@)[A-Za-z0-9._~:/@+-]+$")
    ] = Field(alias="repoURL", description="The Git repository that holds meshgen's output.")
    revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")] = Field(
        "main", description="Branch (or, for Argo CD, any revision) to follow."
    )
    path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")] = (
        Field("out", description="Where meshgen's output directory is in that repository.")
    )
    argocd: ArgoCD = ArgoCD()
    flux: Flux = Flux()


class Cluster(Model):
    name: DNSLabel = Field(
        description="Istio clusterName and Submariner clusterID; a DNS-1123 label."
    )
    platform: Literal["kubernetes", "openshift"] = "kubernetes"
    pod_cidr: CIDRs = Field(alias="podCIDR")
    service_cidr: CIDRs = Field(alias="serviceCIDR")
    api_server: HttpsURL | None = Field(
        None, alias="apiServer", description="API server URL, used in remote-secret docs."
    )
    region: Locality | None = Field(
        None, description="Locality region (topology.kubernetes.io/region), for failover."
    )
    zone: Locality | None = Field(
        None, description="Locality zone (topology.kubernetes.io/zone), for failover."
    )
    kubernetes_version: KubernetesVersion | None = Field(
        None,
        alias="kubernetesVersion",
        description='"MAJOR.MINOR" of the cluster; decides whether the istio-reader token '
        "Secret is emitted (Kubernetes >= 1.24 no longer creates it).",
    )


class Namespace(Model):
    name: DNSLabel
    injection: bool = True
    clusters: list[DNSLabel] = Field(default_factory=list, description="Default: every cluster.")


class Port(Model):
    name: DNSLabel
    number: int = Field(ge=1, le=65535)


class Subset(Model):
    name: DNSLabel
    labels: dict[LabelKey, LabelValue]
    traffic_policy: TrafficPolicy | None = Field(None, alias="trafficPolicy")


class Destination(Model):
    subset: DNSLabel | None = None
    weight: int | None = Field(None, ge=0, le=100)
    port: int | None = Field(
        None, ge=1, le=65535,
        description="Service port number; required when the service declares several ports.",
    )
    cluster: DNSLabel | None = Field(
        None, description="Pin to this cluster's endpoints (topology.istio.io/cluster)."
    )


class Route(Model):
    match: list[Match] = Field(
        default_factory=list, description="Any one matches; none: every request."
    )
    destinations: list[Destination] = Field(min_length=1)
    timeout: Duration | None = None
    retries: Retries | None = None
    fault: Fault | None = None
    mirror: Mirror | None = None


class Service(Model):
    name: ServiceName
    namespace: DNSLabel
    ports: list[Port] = Field(default_factory=list)
    subsets: list[Subset] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    clusters: list[DNSLabel] = Field(default_factory=list, description="Default: every cluster.")
    export: bool = Field(
        False, description="Export with a ServiceExport (Submariner service discovery)."
    )
    traffic_policy: TrafficPolicy | None = Field(None, alias="trafficPolicy")


class MeshSpec(Model):
    mesh_id: DNSLabel | None = Field(None, alias="meshID")
    network: DNSLabel = "network1"
    trust_domain: Subdomain = Field("cluster.local", alias="trustDomain")
    istio: Istio
    submariner: Submariner | None = None
    secrets: Secrets = Secrets()
    gitops: GitOps | None = None
    security: Security | None = None
    clusters: list[Cluster] = Field(min_length=1)
    namespaces: list[Namespace] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)


class Mesh(Model):
    api_version: Literal["meshgen.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Mesh"]
    metadata: Metadata
    spec: MeshSpec

    @property
    def mesh_id(self) -> str:
        return self.spec.mesh_id or self.metadata.name
