"""Traffic management and security parts of the Mesh spec (routes, policies, mTLS, authz).

Field names follow Istio's own API (networking.istio.io VirtualService and DestinationRule,
security.istio.io PeerAuthentication and AuthorizationPolicy; reference/istio.md §5) so
that what users know from Istio reads the same here; models are strict like spec.py's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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
)

# Go durations as Istio accepts them (google.protobuf.Duration in YAML): 5s, 1.5s, 100ms, 1m.
Duration = Annotated[str, StringConstraints(pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")]
Percent = Annotated[float, Field(ge=0, le=100)] | IntPercent
HeaderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$", max_length=256)]
ServiceAccountRef = Annotated[str, StringConstraints(
    pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
Locality = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,2}$")]


class Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=False)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # null is not a value the schema allows


class StringMatch(Model):
    """Exactly one of exact, prefix, regex (Istio's StringMatch oneof): one key, a string."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    exact: Text | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    prefix: Text | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    regex: Text | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)

    @field_validator("exact", "prefix", "regex", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # An explicit null would count as "not given" below; the schema says string.
        if value is None:
            raise PydanticCustomError("string_type", "Input should be a valid string")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> StringMatch:
        if len(self.model_fields_set) != 1:
            raise ValueError("give exactly one of exact, prefix, regex")
        return self


class Match(Model):
    headers: dict[HeaderName, StringMatch] = Field(default_factory=dict)
    uri: StringMatch | None = None
    source_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, alias="sourceLabels",
        description="Labels of the calling workload; topology.istio.io/cluster selects the "
        "calling cluster.")
    port: PortNumber | None = None


class Retries(Model):
    attempts: Int32Count
    per_try_timeout: Duration | None = Field(None, alias="perTryTimeout")
    retry_on: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+(,[a-z0-9-]+)*$")] | None = (
        Field(None, alias="retryOn"))


class Delay(Model):
    fixed_delay: Duration = Field(alias="fixedDelay")
    percentage: Percent = 100


class Abort(Model):
    http_status: HTTPStatus = Field(alias="httpStatus")
    percentage: Percent = 100


class Fault(Model):
    delay: Delay | None = None
    abort: Abort | None = None


class Mirror(Model):
    subset: DNSLabel | None = None
    port: PortNumber | None = None
    percentage: Percent = 100


class TCPSettings(Model):
    max_connections: Int32Positive | None = Field(None, alias="maxConnections")
    connect_timeout: Duration | None = Field(None, alias="connectTimeout")


class HTTPSettings(Model):
    http1_max_pending_requests: Int32Positive | None = Field(
        None, alias="http1MaxPendingRequests")
    http2_max_requests: Int32Positive | None = Field(None, alias="http2MaxRequests")
    max_requests_per_connection: Int32Count | None = Field(
        None, alias="maxRequestsPerConnection")
    max_retries: Int32Count | None = Field(None, alias="maxRetries")
    idle_timeout: Duration | None = Field(None, alias="idleTimeout")


class ConnectionPool(Model):
    tcp: TCPSettings | None = None
    http: HTTPSettings | None = None


class OutlierDetection(Model):
    consecutive_5xx_errors: Int32Count | None = Field(None, alias="consecutive5xxErrors")
    interval: Duration | None = None
    base_ejection_time: Duration | None = Field(None, alias="baseEjectionTime")
    max_ejection_percent: IntPercent | None = Field(None, alias="maxEjectionPercent")


class Failover(Model):
    from_: Locality = Field(alias="from")
    to: Locality


class LocalityLB(Model):
    enabled: bool = True
    failover: list[Failover] = Field(default_factory=list)
    failover_priority: list[LabelKey] = Field(default_factory=list, alias="failoverPriority")


class LoadBalancer(Model):
    # LEAST_CONN is the name before Istio 1.14 and a deprecated alias after (MG420, MG421).
    simple: Literal[
        "ROUND_ROBIN", "LEAST_REQUEST", "LEAST_CONN", "RANDOM", "PASSTHROUGH"] | None = None
    locality: LocalityLB | None = Field(None, alias="localityLbSetting")


class TLS(Model):
    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]


class TrafficPolicy(Model):
    connection_pool: ConnectionPool | None = Field(None, alias="connectionPool")
    outlier_detection: OutlierDetection | None = Field(None, alias="outlierDetection")
    load_balancer: LoadBalancer | None = Field(None, alias="loadBalancer")
    tls: TLS | None = None


class PeerAuthentication(Model):
    mode: Literal["STRICT", "PERMISSIVE", "DISABLE"] = "STRICT"
    namespaces: list[DNSLabel] = Field(
        default_factory=list, description="Default: mesh-wide (in istio-system).")


class AllowFrom(Model):
    namespaces: list[DNSLabel] = Field(default_factory=list)
    service_accounts: list[ServiceAccountRef] = Field(
        default_factory=list, alias="serviceAccounts", description="<namespace>/<name>")


class AuthorizationPolicy(Model):
    name: DNSLabel
    namespace: DNSLabel
    selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Workload labels; default: the whole namespace.")
    allow: AllowFrom


class Security(Model):
    peer_authentication: PeerAuthentication | None = Field(None, alias="peerAuthentication")
    authorization_policies: list[AuthorizationPolicy] = Field(
        default_factory=list, alias="authorizationPolicies")
