"""Traffic management and security parts of the Mesh spec (routes, policies, mTLS, authz).

Field names follow Istio's own API (networking.istio.io VirtualService and DestinationRule,
security.istio.io PeerAuthentication and AuthorizationPolicy: the protos under
networking/v1alpha3 and security/v1beta1 of https://github.com/istio/api) so that what users
know from Istio reads the same here; models are strict like spec.py's.
"""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from meshgen.spec_names import DNSLabel, LabelKey, LabelValue
from meshgen.spec_scalars import (
    HTTPStatus,
    Int32Count,
    Int32Positive,
    IntPercent,
    PortNumber,
    Text,
    empty_dict,
    empty_list,
)

# Go durations as Istio accepts them (google.protobuf.Duration in YAML): 5s, 1.5s, 100ms, 1m.
Duration = Annotated[str, StringConstraints(pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")]
Percent = Annotated[float, Field(ge=0, le=100)] | IntPercent
HeaderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$", max_length=256)]
ServiceAccountRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]
Locality = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,2}$")]


class Model(BaseModel):
    # Built on first use, like spec.py's models (see there).
    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, populate_by_name=False, defer_build=True
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # null is not a value the schema allows


class StringMatch(Model):
    """Exactly one of exact, prefix, regex (Istio's StringMatch oneof): one key, a string."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    exact: Text | SkipJsonSchema[None] = Field(
        None,
        json_schema_extra=_no_default,
        description="The whole value equals this.",
        examples=["always"],
    )
    prefix: Text | SkipJsonSchema[None] = Field(
        None,
        json_schema_extra=_no_default,
        description="The value starts with this.",
        examples=["/api/"],
    )
    regex: Text | SkipJsonSchema[None] = Field(
        None,
        json_schema_extra=_no_default,
        description="The whole value matches this RE2 regular expression (Envoy's syntax).",
        examples=["^/v[0-9]+/"],
    )

    @field_validator("exact", "prefix", "regex", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # An explicit null would count as "not given" below; the schema says string.
        if value is None:
            raise PydanticCustomError("string_type", "Input should be a valid string")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if len(self.model_fields_set) != 1:
            raise ValueError("give exactly one of exact, prefix, regex")
        return self


class Match(Model):
    """A VirtualService `match` condition; all of its fields must hold."""

    headers: dict[HeaderName, StringMatch] = Field(
        default_factory=empty_dict,
        description="Request headers (lower-case names) and what each must match.",
        examples=[{"x-canary": {"exact": "always"}}],
    )
    uri: StringMatch | None = Field(
        None, description="What the request path must match.", examples=[{"prefix": "/api/"}]
    )
    source_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=empty_dict,
        alias="sourceLabels",
        description="Labels of the calling workload; `topology.istio.io/cluster: <name>` "
        "matches callers in one cluster.",
        examples=[{"app": "frontend"}],
    )
    port: PortNumber | None = Field(
        None,
        description="The service port the request is sent to; a declared port (MG410).",
        examples=[8080],
    )


class Retries(Model):
    """A VirtualService retry policy (`retries`)."""

    attempts: Int32Count = Field(
        description="Number of retries (`retries.attempts`).", examples=[2]
    )
    per_try_timeout: Duration | None = Field(
        None,
        alias="perTryTimeout",
        description="Timeout of each attempt, a Go duration (`retries.perTryTimeout`).",
        examples=["2s"],
    )
    retry_on: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+(,[a-z0-9-]+)*$")] | None = (
        Field(
            None,
            alias="retryOn",
            description="Comma-separated Envoy retry conditions "
            "(`retries.retryOn`); none: Istio's default.",
            examples=["5xx,reset,connect-failure"],
        )
    )


class Delay(Model):
    """Delay requests before forwarding them (`fault.delay`)."""

    fixed_delay: Duration = Field(
        alias="fixedDelay",
        description="How long to delay, a Go duration (`fault.delay.fixedDelay`).",
        examples=["5s"],
    )
    percentage: Percent = Field(
        100,
        description="Percentage of requests delayed, 0-100 (`fault.delay.percentage.value`).",
        examples=[10],
    )


class Abort(Model):
    """Answer requests with an error instead of forwarding them (`fault.abort`)."""

    http_status: HTTPStatus = Field(
        alias="httpStatus",
        description="The HTTP status returned (`fault.abort.httpStatus`).",
        examples=[503],
    )
    percentage: Percent = Field(
        100,
        description="Percentage of requests aborted, 0-100 (`fault.abort.percentage.value`).",
        examples=[5],
    )


class Fault(Model):
    """Fault injection (`fault`)."""

    delay: Delay | None = Field(None, description="Delay some requests.")
    abort: Abort | None = Field(None, description="Fail some requests.")


class Mirror(Model):
    """Send a copy of the requests to another subset of the service; answers are dropped."""

    subset: DNSLabel | None = Field(
        None,
        description="A declared subset (MG401) receiving the copies (`mirror.subset`).",
        examples=["v3"],
    )
    port: PortNumber | None = Field(
        None, description="A declared port (MG410) (`mirror.port.number`).", examples=[8080]
    )
    percentage: Percent = Field(
        100,
        description="Percentage of requests mirrored, 0-100 (`mirrorPercentage.value`).",
        examples=[5],
    )


class TCPSettings(Model):
    """TCP connection pool limits (`connectionPool.tcp`)."""

    max_connections: Int32Positive | None = Field(
        None,
        alias="maxConnections",
        description="Maximum connections to the service per Envoy (`tcp.maxConnections`).",
        examples=[100],
    )
    connect_timeout: Duration | None = Field(
        None,
        alias="connectTimeout",
        description="TCP connect timeout, a Go duration (`tcp.connectTimeout`).",
        examples=["1s"],
    )


class HTTPSettings(Model):
    """HTTP connection pool limits (`connectionPool.http`)."""

    http1_max_pending_requests: Int32Positive | None = Field(
        None,
        alias="http1MaxPendingRequests",
        description="Maximum requests queued while "
        "waiting for a connection (`http.http1MaxPendingRequests`).",
        examples=[50],
    )
    http2_max_requests: Int32Positive | None = Field(
        None,
        alias="http2MaxRequests",
        description="Maximum active requests to the service (`http.http2MaxRequests`).",
        examples=[1000],
    )
    max_requests_per_connection: Int32Count | None = Field(
        None,
        alias="maxRequestsPerConnection",
        description="Requests per connection before "
        "it is closed; 1 disables keep-alive (`http.maxRequestsPerConnection`).",
        examples=[10],
    )
    max_retries: Int32Count | None = Field(
        None,
        alias="maxRetries",
        description="Maximum outstanding retries to the service (`http.maxRetries`).",
        examples=[3],
    )
    idle_timeout: Duration | None = Field(
        None,
        alias="idleTimeout",
        description="Close connections idle this long, a Go duration (`http.idleTimeout`).",
        examples=["30s"],
    )


class ConnectionPool(Model):
    """Connection pool limits (`trafficPolicy.connectionPool`), circuit breaking."""

    tcp: TCPSettings | None = Field(None, description="TCP limits.")
    http: HTTPSettings | None = Field(None, description="HTTP limits.")


class OutlierDetection(Model):
    """Eject failing endpoints from the load-balancing pool
    (`trafficPolicy.outlierDetection`); locality failover needs it."""

    consecutive_5xx_errors: Int32Count | None = Field(
        None,
        alias="consecutive5xxErrors",
        description="Consecutive 5xx answers that eject "
        "an endpoint (`outlierDetection.consecutive5xxErrors`).",
        examples=[5],
    )
    interval: Duration | None = Field(
        None,
        description="Time between ejection sweeps, a Go duration (`outlierDetection.interval`).",
        examples=["10s"],
    )
    base_ejection_time: Duration | None = Field(
        None,
        alias="baseEjectionTime",
        description="Minimum ejection time, a Go duration (`outlierDetection.baseEjectionTime`).",
        examples=["30s"],
    )
    max_ejection_percent: IntPercent | None = Field(
        None,
        alias="maxEjectionPercent",
        description="Maximum percentage of endpoints ejected "
        "at once (`outlierDetection.maxEjectionPercent`).",
        examples=[100],
    )


class Failover(Model):
    """Where traffic goes when a region has no healthy endpoints."""

    from_: Locality = Field(
        alias="from",
        description="The region failing over (`failover[].from`); a `clusters[].region` (MG415).",
        examples=["us-east1"],
    )
    to: Locality = Field(
        description="The region taking over (`failover[].to`); a `clusters[].region` (MG415).",
        examples=["us-west1"],
    )


class LocalityLB(Model):
    """Locality-aware load balancing (`loadBalancer.localityLbSetting`); failover needs
    outlier detection (meshgen adds a default, MG418)."""

    enabled: bool = Field(
        True, description="Prefer endpoints in the caller's locality (`localityLbSetting.enabled`)."
    )
    failover: list[Failover] = Field(
        default_factory=empty_list,
        description="Region pairs for failover (`localityLbSetting.failover`).",
    )
    failover_priority: list[LabelKey] = Field(
        default_factory=empty_list,
        alias="failoverPriority",
        description="Label keys, in order, "
        "that endpoints must share with the caller to be preferred "
        "(`localityLbSetting.failoverPriority`, Istio >= 1.12: MG420).",
        examples=[["topology.istio.io/cluster"]],
    )


class LoadBalancer(Model):
    """Load balancing (`trafficPolicy.loadBalancer`)."""

    # LEAST_CONN is the name before Istio 1.14 and a deprecated alias after (MG420, MG421).
    simple: (
        Literal["ROUND_ROBIN", "LEAST_REQUEST", "LEAST_CONN", "RANDOM", "PASSTHROUGH"] | None
    ) = Field(
        None,
        description="Load-balancing algorithm (`loadBalancer.simple`). `ROUND_ROBIN`: "
        "in turn; `LEAST_REQUEST`: fewest active requests (Istio >= 1.14, MG420); "
        "`LEAST_CONN`: its name before 1.14, deprecated after (MG421); `RANDOM`: at random; "
        "`PASSTHROUGH`: to the address the caller asked for.",
    )
    locality: LocalityLB | None = Field(
        None,
        alias="localityLbSetting",
        description="Locality "
        "load balancing and failover; failover needs "
        "outlier detection (meshgen adds a default, MG418).",
    )


class TLS(Model):
    """TLS towards the service (`trafficPolicy.tls`)."""

    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] = Field(
        description="`tls.mode`. `DISABLE`: plain text; `SIMPLE`: TLS; `MUTUAL`: TLS with "
        "client certificates; `ISTIO_MUTUAL`: mTLS with Istio's certificates."
    )


class TrafficPolicy(Model):
    """A DestinationRule `trafficPolicy` (networking.istio.io): connection pool, outlier
    detection, load balancing and TLS, for a service or one of its subsets. Locality failover
    does nothing without outlier detection (Envoy only fails over when endpoints are
    ejected), so when a policy sets `failover` or `failoverPriority` without
    `outlierDetection`, meshgen adds `consecutive5xxErrors: 5, interval: 10s,
    baseEjectionTime: 30s` and says so with warning MG418."""

    connection_pool: ConnectionPool | None = Field(
        None, alias="connectionPool", description="Connection pool limits."
    )
    outlier_detection: OutlierDetection | None = Field(
        None, alias="outlierDetection", description="Ejection of failing endpoints."
    )
    load_balancer: LoadBalancer | None = Field(
        None, alias="loadBalancer", description="Load balancing and failover."
    )
    tls: TLS | None = Field(None, description="TLS settings.")


class PeerAuthentication(Model):
    """A PeerAuthentication named `default` (security.istio.io)."""

    mode: Literal["STRICT", "PERMISSIVE", "DISABLE"] = Field(
        "STRICT",
        description="`mtls.mode`. `STRICT`: mTLS only; `PERMISSIVE`: mTLS and "
        "plain text; `DISABLE`: plain text.",
    )
    namespaces: list[DNSLabel] = Field(
        default_factory=empty_list,
        description="Namespaces that get one; empty: mesh-wide (in istio-system).",
        examples=[["shop"]],
    )


class AllowFrom(Model):
    """Who may call (`rules[].from[].source`)."""

    namespaces: list[DNSLabel] = Field(
        default_factory=empty_list,
        description="Callers from these namespaces are allowed (`source.namespaces`).",
        examples=[["shop"]],
    )
    service_accounts: list[ServiceAccountRef] = Field(
        default_factory=empty_list,
        alias="serviceAccounts",
        description="Callers with these "
        "identities, `<namespace>/<name>`, are allowed (`source.principals` "
        "`<trustDomain>/ns/<namespace>/sa/<name>`).",
        examples=[["shop/frontend"]],
    )


class AuthorizationPolicy(Model):
    """An ALLOW AuthorizationPolicy (security.istio.io)."""

    name: DNSLabel = Field(
        description="Name of the AuthorizationPolicy.", examples=["checkout-callers"]
    )
    namespace: DNSLabel = Field(
        description="Its namespace, a declared one (MG419).", examples=["checkout"]
    )
    selector: dict[LabelKey, LabelValue] = Field(
        default_factory=empty_dict,
        description="Labels of the workloads it applies to "
        "(`selector.matchLabels`); empty: the whole namespace.",
        examples=[{"app": "checkout"}],
    )
    allow: AllowFrom = Field(description="The callers allowed.")


class Security(Model):
    """mTLS and authorization (security.istio.io), written into every cluster."""

    peer_authentication: PeerAuthentication | None = Field(
        None, alias="peerAuthentication", description="The mTLS mode."
    )
    authorization_policies: list[AuthorizationPolicy] = Field(
        default_factory=empty_list,
        alias="authorizationPolicies",
        description="Who may call which workloads.",
    )
