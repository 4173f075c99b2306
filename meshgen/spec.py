"""The `meshgen.dev/v1alpha1` Mesh spec as strict, frozen pydantic models.

Field names (the YAML aliases) are a contract: examples, docs and users' files depend on
them, so fields are added, never renamed. Models are strict: unknown
fields are errors and scalars are never coerced (a version written `1.10` is a float, and
rejected). Every name is checked against the Kubernetes rule it will have to satisfy.

The published JSON Schema (schema.py) accepts exactly what these models accept
(tests/test_schema_agreement.py), so three rules follow JSON Schema's data model
(spec_scalars.py, spec_cidr.py): an integer is a number without a fractional part (`8080.0`
is 8080), no string or key holds a control character, and a CIDR is written in canonical form.
"""

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
from meshgen.spec_scalars import (
    IntPercent,
    IstioValues,
    PortNumber,
    definition,
    empty_dict,
    empty_list,
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

# Canonical CIDR text only (spec_cidr.py): what users write is what the output shows.
CIDRs = Annotated[
    tuple[IPNetwork, ...], BeforeValidator(parse_cidrs), WithJsonSchema(definition("CIDRs"))
]


class Model(BaseModel):
    # `meshgen validate` runs on every commit (pre-commit), so the models cost little to
    # define: a model's validator is built when first used, and Mesh's holds all the others,
    # so the nested ones never build their own
    # (https://docs.pydantic.dev/latest/api/config/#pydantic.config.ConfigDict.defer_build).
    # For the same reason this module and spec_traffic.py do without `from __future__ import
    # annotations` (pydantic would evaluate every field's annotation from its text), defaults
    # that are models are made by `model_construct()` (no validator needed), and default
    # factories are plain functions (spec_scalars.empty_list).
    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, populate_by_name=False, defer_build=True
    )


class Metadata(Model):
    """Identifies the mesh."""

    name: DNSLabel = Field(
        description="Name of the mesh (DNS-1123 label): the default `spec.meshID`, and part of "
        "generated names and remote secret keys.",
        examples=["mesh1"],
    )


class CNI(Model):
    """The istio-cni node agent, which sets up pod traffic redirection instead of the
    privileged istio-init container."""

    enabled: bool = Field(
        True,
        description="Install istio-cni: `components.cni` of the "
        "IstioOperator, the `cni` Helm chart, or an `IstioCNI` resource "
        "(sail). Needed on OpenShift (MG305 warns when it is off).",
    )
    namespace: DNSLabel = Field(
        "kube-system",
        description="Namespace of the istio-cni DaemonSet "
        "(`components.cni.namespace`, the cni chart's release namespace, `IstioCNI` "
        "`spec.namespace`).",
        examples=["kube-system", "istio-cni"],
    )
    log_level: Literal["debug", "info", "warn", "error", "none"] = Field(
        "info",
        alias="logLevel",
        description="Log level of istio-cni: `values.cni.logLevel`, "
        "or `values.cni.logging.level` from Istio 1.23. `debug`: everything; `info`: "
        "informational messages and above; `warn`: warnings and errors; `error`: errors only; "
        "`none`: nothing.",
    )
    exclude_namespaces: list[DNSLabel] = Field(
        default_factory=lambda: ["istio-system", "kube-system"],
        alias="excludeNamespaces",
        description="Namespaces whose pods istio-cni leaves alone "
        "(`values.cni.excludeNamespaces`).",
        examples=[["istio-system", "kube-system"]],
    )


RevisionName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)
]


class Revision(Model):
    """A control plane of its own, installed next to the others in every cluster: the way to
    upgrade Istio without an outage (a canary upgrade,
    https://istio.io/latest/docs/setup/upgrade/canary/)."""

    name: RevisionName = Field(
        description="The revision (`revision` of the install, `istio.io/rev`), a DNS label, "
        "conventionally the version with dashes; not `default` (MG308).",
        examples=["1-22-8"],
    )
    version: IstioVersion = Field(
        description='The Istio release of this control plane, a quoted "MAJOR.MINOR.PATCH".',
        examples=["1.22.8"],
    )


class Istio(Model):
    """The Istio control plane installed in every cluster."""

    version: IstioVersion = Field(
        description='The Istio release, a quoted "MAJOR.MINOR.PATCH" string (unquoted 1.10 '
        "would be the number 1.1), from 1.10.0 to 1.30.x (MG301). It decides every "
        "version-dependent value meshgen writes, the chart version of GitOps Helm releases "
        "and Sail `spec.version`; install that istioctl for `installer: istioctl`.",
        examples=["1.10.0", "1.30.3"],
    )
    installer: Literal["istioctl", "operator", "helm", "sail"] = Field(
        "istioctl",
        description="How Istio gets installed. `istioctl`: an IstioOperator for "
        "`istioctl install -f`; `operator`: the same IstioOperator applied for the in-cluster "
        "operator (Istio <= 1.23, MG302); `helm`: values for the base, cni and istiod charts "
        "(and Argo CD / Flux releases with `spec.gitops`); `sail`: `Istio` and `IstioCNI` "
        "resources for the Sail Operator (OpenShift Service Mesh 3).",
    )
    revision: Annotated[
        str, StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", max_length=63)
    ] = Field(
        "",
        description="Control-plane revision (`revision` of the install); when set, "
        "namespaces get the injection label `istio.io/rev=<revision>` instead of "
        "`istio-injection`. Empty: no revision.",
        examples=["", "1-30"],
    )
    revisions: list[Revision] = Field(
        default_factory=empty_list,
        description="Control planes side by side, for a canary upgrade: each one installed "
        "with its `revision` in every cluster; `version` must then be the newest of them "
        "(the CRDs and the one istio-cni come from it), at most one minor above the oldest "
        "(MG308). Empty: one control plane of `version` (and `revision`).",
        examples=[
            [{"name": "1-22-8", "version": "1.22.8"}, {"name": "1-23-6", "version": "1.23.6"}]
        ],
    )
    tags: dict[RevisionName, RevisionName] = Field(
        default_factory=empty_dict,
        description="Revision tags: tag -> revision, in every cluster unless the cluster "
        "overrides it (`clusters[].tags`). Namespaces follow a tag (`revisionTag`), so moving "
        "the tag moves them, cluster by cluster (MG310).",
        examples=[{"prod": "1-22-8"}],
    )
    cni: CNI = Field(CNI.model_construct(), description="istio-cni settings.")
    values: IstioValues = Field(
        default_factory=empty_dict,
        description="Escape hatch: Istio install values (`spec.values` of the IstioOperator, "
        "the istiod chart's values, Sail `spec.values`), deep-merged last over what meshgen "
        "writes. It may not override meshID, clusterName or network (MG304).",
        examples=[{"pilot": {"env": {"PILOT_TRACE_SAMPLING": 1}}}],
    )


class Submariner(Model):
    """Submariner, which connects the clusters' pod and Service networks into the one flat
    network the mesh runs on (no east-west gateways)."""

    broker: DNSLabel = Field(
        description="The cluster that hosts the Submariner broker "
        "(`subctl deploy-broker`, or the `Broker` resource); one of "
        "`spec.clusters` (MG502).",
        examples=["cluster1"],
    )
    globalnet: bool = Field(
        False,
        description="Submariner Globalnet (overlapping CIDRs "
        "behind global IPs). Must stay `false`: a flat-network mesh needs "
        "real pod IPs (MG204).",
    )
    cable_driver: Literal["libreswan", "wireguard", "vxlan"] = Field(
        "libreswan",
        alias="cableDriver",
        description="The tunnel between gateway nodes "
        "(`--cable-driver`, `Submariner.spec.cableDriver`). `libreswan`: IPsec; `wireguard`: "
        "WireGuard (kernel module needed on the gateways); `vxlan`: unencrypted VXLAN "
        "(MG206 warns with NAT traversal on).",
    )
    deploy: Literal["subctl", "operator"] = Field(
        "subctl",
        description="How Submariner gets deployed. `subctl`: out/README.md lists the "
        "`subctl deploy-broker` and `subctl join` commands (the seed setup); `operator`: "
        "meshgen writes `Submariner` resources and the `Broker` for the submariner-operator.",
    )
    nat_traversal: bool = Field(
        True,
        alias="natTraversal",
        description="NAT traversal "
        "between gateways (`Submariner.spec.natEnabled`; `false` adds "
        "`--natt=false` to `subctl join`).",
    )
    service_discovery: bool = Field(
        True,
        alias="serviceDiscovery",
        description="Lighthouse service discovery "
        "(`Submariner.spec.serviceDiscoveryEnabled`): `<service>.<namespace>.svc.clusterset."
        "local` names. Needed by `export: true` (MG505).",
    )
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")] | None = Field(
        None,
        description="Submariner version to pin: `Submariner.spec.version` (the "
        "image tag) and the subctl release out/README.md installs; none: the "
        "operator's default.",
        examples=["0.21.0"],
    )


class SecretStore(Model):
    """The External Secrets store the ExternalSecrets read from (`secretStoreRef`)."""

    kind: Literal["ClusterSecretStore", "SecretStore"] = Field(
        "ClusterSecretStore",
        description="`secretStoreRef.kind`. `ClusterSecretStore`: a "
        "cluster-wide store; `SecretStore`: a namespaced store, which each namespace that "
        "gets an ExternalSecret must hold.",
    )
    name: Subdomain = Field(
        description="`secretStoreRef.name`: the store's name.", examples=["vault"]
    )


class Secrets(Model):
    """Where the Secrets meshgen cannot write (the CA `cacerts`, `istio-remote-secret-<peer>`)
    come from."""

    # MG105 (checks/schema.py), spelled out for the JSON Schema.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "properties": {"provider": {"const": "external-secrets"}},
                "required": ["provider"],
            },
            "then": {"properties": {"store": {"type": "object"}}, "required": ["store"]},
        }
    )

    provider: Literal["placeholder", "external-secrets"] = Field(
        "placeholder",
        description="`placeholder`: empty Secrets with the exact names, labels "
        "and keys, never applied, and out/README.md says how to fill them; "
        "`external-secrets`: ExternalSecrets (listed in kustomization.yaml) that render them "
        "from `store` (MG105 without it).",
    )
    store: SecretStore | None = Field(
        None, description="The External Secrets store; required with `provider: external-secrets`."
    )
    key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")] = Field(
        "meshgen",
        alias="keyPrefix",
        description="Prefix of the remote keys the ExternalSecrets read: "
        "`<keyPrefix>/<mesh>/<cluster>/cacerts` and `.../remote-kubeconfig` (no `..` or `.` "
        "segments, MG106).",
        examples=["meshgen", "platform/istio"],
    )


class ArgoCD(Model):
    """Argo CD settings of `engine: argocd`."""

    namespace: DNSLabel | None = Field(
        None,
        description="Namespace of Argo CD and its Applications. Default: openshift-gitops "
        "(OpenShift GitOps) when every cluster is OpenShift, else argocd.",
    )
    project: Subdomain = Field(
        "default", description="Argo CD project of the Applications (`spec.project`)."
    )


class Flux(Model):
    """Flux settings of `engine: flux`."""

    namespace: DNSLabel = Field(
        "flux-system", description="Namespace of the Flux objects (where Flux runs)."
    )
    interval: Annotated[str, StringConstraints(pattern=r"^([0-9]+(ms|s|m|h))+$")] = Field(
        "10m",
        description="Reconciliation interval of the GitRepository, HelmRepository, "
        "Kustomizations and HelmReleases (`spec.interval`), a Go duration.",
        examples=["10m", "1h"],
    )


class GitOps(Model):
    """Wiring for a GitOps engine that applies meshgen's output from Git
    (`out/gitops/<engine>/`)."""

    engine: Literal["argocd", "flux"] = Field(
        description="`argocd`: Applications per cluster in `out/gitops/argocd/<cluster>.yaml`, "
        "ordered by sync waves; `flux`: a GitRepository, a HelmRepository and Kustomizations "
        "per cluster in `out/gitops/flux/clusters/<cluster>/`."
    )
    repo_url: Annotated[
        str, StringConstraints(pattern=r"^(https://|ssh://|git@)[A-Za-z0-9._~:/@+-]+$")
    ] = Field(
        alias="repoURL",
        description="The Git repository that holds meshgen's output "
        "(Argo CD `repoURL`, Flux GitRepository `url`); no credentials in it (MG107).",
        examples=["https://github.com/example/mesh-config.git"],
    )
    revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")] = Field(
        "main",
        description="Branch (or, for Argo CD, any revision) to follow "
        "(`targetRevision`, GitRepository `ref.branch`).",
        examples=["main"],
    )
    path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")] = (
        Field(
            "out",
            description="Where meshgen's output directory is in that repository, "
            "relative, without `..` (MG106).",
            examples=["out", "clusters/mesh1"],
        )
    )
    argocd: ArgoCD = Field(
        ArgoCD.model_construct(), description="Argo CD settings (with `engine: argocd`)."
    )
    flux: Flux = Field(Flux.model_construct(), description="Flux settings (with `engine: flux`).")


class Cluster(Model):
    """One Kubernetes or OpenShift cluster of the mesh: it gets its own output directory."""

    name: DNSLabel = Field(
        description="Istio `clusterName` (`values.global.multiCluster.clusterName`) and "
        "Submariner `clusterID`; the name of its output directory.",
        examples=["cluster1"],
    )
    platform: Literal["kubernetes", "openshift"] = Field(
        "kubernetes",
        description="`kubernetes`: any Kubernetes; `openshift`: OpenShift "
        "(the openshift profile or platform values, istio-cni as OpenShift needs it, Multus "
        "NetworkAttachmentDefinitions on old Istio).",
    )
    pod_cidr: CIDRs = Field(
        alias="podCIDR",
        description="The cluster's pod network, in "
        "canonical form; one CIDR or an IPv4 and an IPv6 one (dual-stack). "
        "Must not overlap any other cluster's CIDRs (Submariner "
        "`--clustercidr`).",
        examples=["10.128.0.0/14", ["10.0.0.0/16", "fd00::/56"]],
    )
    service_cidr: CIDRs = Field(
        alias="serviceCIDR",
        description="The cluster's Service network, like `podCIDR` (Submariner `--servicecidr`).",
        examples=["172.30.0.0/16"],
    )
    api_server: HttpsURL | None = Field(
        None,
        alias="apiServer",
        description="API server URL, `https://host[:port]`: the "
        "`--server` of the remote-secret commands; needed on the broker with "
        "`submariner.deploy: operator` (MG504).",
        examples=["https://api.cluster1.example:6443"],
    )
    region: Locality | None = Field(
        None,
        description="Locality region (`topology.kubernetes.io/region` of its nodes), "
        "for locality load balancing and failover.",
        examples=["us-east1"],
    )
    zone: Locality | None = Field(
        None,
        description="Locality zone (`topology.kubernetes.io/zone` of its nodes), for "
        "locality load balancing.",
        examples=["us-east1-b"],
    )
    tags: dict[RevisionName, RevisionName] = Field(
        default_factory=empty_dict,
        description="Revision tags of this cluster that differ from `istio.tags`: tag -> "
        "revision (moving a tag one cluster at a time).",
        examples=[{"prod": "1-23-6"}],
    )
    kubernetes_version: KubernetesVersion | None = Field(
        None,
        alias="kubernetesVersion",
        description='"MAJOR.MINOR" of the cluster; decides whether the istio-reader token '
        "Secret is emitted (Kubernetes >= 1.24 no longer creates it). Unset: assumed >= 1.24 "
        "from Istio 1.18.",
        examples=["1.29"],
    )


class Namespace(Model):
    """An application namespace, created where it is placed and wherever its services'
    rules go."""

    name: DNSLabel = Field(
        description="The namespace (not a platform one: MG409).", examples=["sample"]
    )
    injection: bool = Field(
        True,
        description="Sidecar injection label: "
        "`istio-injection: enabled` (or `istio.io/rev` with a revision); "
        "`false`: `istio-injection: disabled`.",
    )
    revision_tag: RevisionName | None = Field(
        None,
        alias="revisionTag",
        description="The revision tag (`istio.tags`) whose control plane injects the "
        "namespace's pods: the label `istio.io/rev=<tag>` instead of `istio-injection` "
        "(MG310).",
        examples=["prod"],
    )
    clusters: list[DNSLabel] = Field(
        default_factory=empty_list,
        description="Clusters that run its workloads (and get its security policies); "
        "empty: every cluster. The namespace itself is also created in every other cluster "
        "that gets rules of its services.",
        examples=[["cluster1", "cluster2"]],
    )

    def placed_in(self, cluster: str) -> bool:
        return not self.clusters or cluster in self.clusters


class Port(Model):
    """A port of the Service."""

    name: DNSLabel = Field(
        description="Name of the Service port (Istio reads the protocol "
        "from a prefix such as `http-`).",
        examples=["http"],
    )
    number: PortNumber = Field(description="Port number of the Service.", examples=[8080])


class Subset(Model):
    """A DestinationRule subset: a named group of the service's pods."""

    name: DNSLabel = Field(description="Subset name, used by routes and mirrors.", examples=["v1"])
    labels: dict[LabelKey, LabelValue] = Field(
        description="Pod labels that select the subset; not empty (MG416).",
        examples=[{"version": "v1"}],
    )
    traffic_policy: TrafficPolicy | None = Field(
        None,
        alias="trafficPolicy",
        description="Overrides the service's traffic policy for this subset.",
    )


class Destination(Model):
    """Where a route sends requests (a VirtualService `route[].destination`)."""

    subset: DNSLabel | None = Field(
        None,
        description="A declared subset (MG401); none: every pod of the service.",
        examples=["v1"],
    )
    weight: IntPercent | None = Field(
        None,
        description="Percentage of the route's requests; "
        "required with several destinations, which sum to 100 "
        "(MG402).",
        examples=[90],
    )
    port: PortNumber | None = Field(
        None,
        description="Service port number; required when the service declares several ports.",
    )
    cluster: DNSLabel | None = Field(
        None,
        description="Pin to this cluster's endpoints: a generated subset "
        "`<subset>-<cluster>` with `topology.istio.io/cluster` (MG417, MG422).",
        examples=["cluster2"],
    )


class Route(Model):
    """An HTTP route of the VirtualService, tried in order."""

    match: list[Match] = Field(
        default_factory=empty_list,
        description="Conditions, any one of which selects the route; "
        "empty: every request (a catch-all, which must come last: MG412).",
    )
    destinations: list[Destination] = Field(
        min_length=1, description="Where matching requests go (at least one)."
    )
    timeout: Duration | None = Field(
        None,
        description="Request timeout (`timeout`), a Go duration; none: Istio's default.",
        examples=["5s"],
    )
    retries: Retries | None = Field(None, description="Retry policy (`retries`).")
    fault: Fault | None = Field(None, description="Fault injection (`fault`), for testing.")
    mirror: Mirror | None = Field(
        None, description="Mirror a copy of the requests (`mirror`, `mirrorPercentage`)."
    )


class Service(Model):
    """A Kubernetes Service and its traffic rules: one DestinationRule and VirtualService,
    written into every cluster (each istiod reads rules only from its own cluster, but
    serves every cluster's endpoints)."""

    name: ServiceName = Field(
        description="Name of the Kubernetes Service (DNS-1035 label).", examples=["helloworld"]
    )
    namespace: DNSLabel = Field(
        description="Its namespace, one of `spec.namespaces` (MG404).", examples=["sample"]
    )
    ports: list[Port] = Field(
        default_factory=empty_list,
        description="The Service's ports that routes, mirrors and matches may name (MG410); "
        "all of them when `clusters` leaves a cluster out (MG424).",
    )
    subsets: list[Subset] = Field(
        default_factory=empty_list, description="DestinationRule subsets (versions) of the service."
    )
    routes: list[Route] = Field(
        default_factory=empty_list,
        description="VirtualService HTTP routes, in order; none: no VirtualService.",
    )
    clusters: list[DNSLabel] = Field(
        default_factory=empty_list,
        description="Clusters that run its workloads; empty: every cluster. Its namespace "
        "must be placed there too (MG408). Its rules go to every cluster, whose clients may "
        "all call it; where it does not run, a Service without selector (its `ports`: MG424) "
        "lets clients resolve its name.",
        examples=[["cluster1"]],
    )
    export: bool = Field(
        False,
        description="Add a Submariner `ServiceExport` where the service is placed "
        "(needs `submariner.serviceDiscovery`).",
    )
    traffic_policy: TrafficPolicy | None = Field(
        None, alias="trafficPolicy", description="The DestinationRule's `trafficPolicy`."
    )

    def placed_in(self, cluster: str) -> bool:
        return not self.clusters or cluster in self.clusters


class MeshSpec(Model):
    """The mesh: Istio, Submariner, clusters, namespaces, services and policies."""

    mesh_id: DNSLabel | None = Field(
        None,
        alias="meshID",
        description="Istio meshID "
        "(`values.global.meshID`), identical in every cluster; "
        "default: `metadata.name`.",
        examples=["mesh1"],
    )
    network: DNSLabel = Field(
        "network1",
        description="The one flat network (`values.global.network`), the same in every cluster.",
    )
    trust_domain: Subdomain = Field(
        "cluster.local",
        alias="trustDomain",
        description="SPIFFE "
        "trust domain (`meshConfig.trustDomain`, written when not "
        "the default); authorization principals use it.",
    )
    istio: Istio = Field(description="The Istio control plane of every cluster.")
    submariner: Submariner | None = Field(
        None, description="Submariner, which joins the clusters' networks; none: you connect them."
    )
    secrets: Secrets = Field(
        Secrets.model_construct(),
        description="Where Secrets come from: placeholders or External Secrets.",
    )
    gitops: GitOps | None = Field(
        None, description="Argo CD or Flux wiring; none: apply the output yourself."
    )
    security: Security | None = Field(
        None, description="mTLS mode and authorization policies, written into every cluster."
    )
    clusters: list[Cluster] = Field(
        min_length=1,
        description="The clusters of the mesh (at least one); their CIDRs must not overlap.",
    )
    namespaces: list[Namespace] = Field(
        default_factory=empty_list,
        description="Application namespaces, labelled for sidecar injection.",
    )
    services: list[Service] = Field(
        default_factory=empty_list,
        description="Services with subsets, routes and traffic policies.",
    )


class Mesh(Model):
    """A meshgen spec (`mesh.yaml`): one Istio multi-primary mesh on one flat network across
    Kubernetes and OpenShift clusters joined by Submariner."""

    api_version: Literal["meshgen.dev/v1alpha1"] = Field(
        alias="apiVersion", description="Version of the spec format: `meshgen.dev/v1alpha1`."
    )
    kind: Literal["Mesh"] = Field(description="Always `Mesh`.")
    metadata: Metadata = Field(description="The mesh's name.")
    spec: MeshSpec = Field(description="The mesh.")

    @property
    def mesh_id(self) -> str:
        return self.spec.mesh_id or self.metadata.name
