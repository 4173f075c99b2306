"""The `meshgen.dev/v1alpha1` Mesh spec as strict, frozen pydantic models.

Field names (the YAML aliases) are the contract of DESIGN.md §2. Models are strict: unknown
fields are errors and scalars are never coerced (a version written `1.10` is a float, and
rejected). Every name is checked against the Kubernetes rule it will have to satisfy.

The published JSON Schema (schema.py) accepts exactly what these models accept
(tests/test_schema_agreement.py), so three rules follow JSON Schema's data model
(spec_scalars.py, spec_cidr.py): an integer is a number without a fractional part (`8080.0`
is 8080), no string or key holds a control character, and a CIDR is written in canonical form.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from meshgen.spec_cidr import IPNetwork as IPNetwork  # re-exported for the checks
from meshgen.spec_cidr import parse_cidrs
from meshgen.spec_names import (
    DNSLabel,
    LabelKey,
    LabelValue,
    ServiceName,
    Subdomain,
)
from meshgen.spec_scalars import IntPercent, IstioValues, PortNumber, definition
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

# Canonical CIDR text only (spec_cidr.py): what users write is what the output shows.
CIDRs = Annotated[
    tuple[IPNetwork, ...], BeforeValidator(parse_cidrs), WithJsonSchema(definition("CIDRs"))
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
    values: IstioValues = Field(
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
    # MG105 (checks/schema.py), spelled out for the JSON Schema.
    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"provider": {"const": "external-secrets"}},
               "required": ["provider"]},
        "then": {"properties": {"store": {"type": "object"}}, "required": ["store"]},
    })

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
    number: PortNumber


class Subset(Model):
    name: DNSLabel
    labels: dict[LabelKey, LabelValue]
    traffic_policy: TrafficPolicy | None = Field(None, alias="trafficPolicy")


class Destination(Model):
    subset: DNSLabel | None = None
    weight: IntPercent | None = None
    port: PortNumber | None = Field(
        None,
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
