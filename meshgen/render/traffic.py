"""DestinationRules and VirtualServices, rendered once and shared by every cluster.

Multi-primary does not replicate Istio config between clusters (reference/istio.md §5.3),
so the same rules go to each cluster; hosts are full `<name>.<ns>.svc.cluster.local`
names because short names resolve against the rule's namespace (§5.3).

Field names and order follow Istio's protos (networking/v1alpha3/virtual_service.proto and
destination_rule.proto, §5.2). A destination pinned to a cluster routes to a generated subset
that selects that cluster's endpoints through the built-in `topology.istio.io/cluster` label
(§5.2, "Per-cluster subsets").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshgen.failover import DEFAULT_OUTLIER_DETECTION, needs_default_outlier_detection
from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.spec import Destination, Mesh, Route, Service, Subset
from meshgen.spec_traffic import (
    ConnectionPool,
    Fault,
    LoadBalancer,
    Match,
    Mirror,
    OutlierDetection,
    Retries,
    StringMatch,
    TrafficPolicy,
)
from meshgen.versions import release

CLUSTER_LABEL = "topology.istio.io/cluster"
ALL_ENDPOINTS = "all"

def service_host(service: Service) -> str:
    return f"{service.name}.{service.namespace}.svc.cluster.local"


def pinned_subset_name(subset: str | None, cluster: str) -> str:
    """The generated subset a destination pinned to `cluster` routes to."""
    return f"{subset or ALL_ENDPOINTS}-{cluster}"


def render_service_rules(mesh: Mesh, service: Service) -> tuple[Manifest, ...]:
    api_version = release(mesh.spec.istio.version).networking_api_version
    host = service_host(service)
    meta = metadata(service.name, service.namespace, labels=dict(MANAGED_BY))
    docs: list[Manifest] = []
    subsets = _subsets(service)
    if subsets or service.traffic_policy is not None:
        spec: dict[str, Any] = {"host": host}
        if service.traffic_policy is not None:
            spec["trafficPolicy"] = traffic_policy(service.traffic_policy)
        if subsets:
            spec["subsets"] = subsets
        docs.append({
            "apiVersion": api_version,
            "kind": "DestinationRule",
            "metadata": meta,
            "spec": spec,
        })
    if service.routes:
        docs.append({
            "apiVersion": api_version,
            "kind": "VirtualService",
            "metadata": meta,
            "spec": {"hosts": [host], "http": [_http_route(host, r) for r in service.routes]},
        })
    return tuple(docs)


# --- DestinationRule ---------------------------------------------------------------------


def _subsets(service: Service) -> list[dict[str, Any]]:
    """Declared subsets, then one generated subset per distinct (subset, cluster) pin in
    route order."""
    declared = {s.name: s for s in service.subsets}
    rendered = [_subset(s.name, s.labels, s, service) for s in service.subsets]
    seen: set[str] = set()
    for route in service.routes:
        for dest in route.destinations:
            if dest.cluster is None:
                continue
            name = pinned_subset_name(dest.subset, dest.cluster)
            if name in seen:
                continue
            seen.add(name)
            base = declared.get(dest.subset) if dest.subset is not None else None
            labels = dict(base.labels) if base is not None else {}
            labels[CLUSTER_LABEL] = dest.cluster
            # The pinned subset behaves like the subset it narrows: same policy.
            rendered.append(_subset(name, labels, base, service))
    return rendered


def _subset(
    name: str, labels: Mapping[str, str], source: Subset | None, service: Service
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "labels": _sorted(labels)}
    if source is not None and source.traffic_policy is not None:
        entry["trafficPolicy"] = traffic_policy(source.traffic_policy, service.traffic_policy)
    return entry


def traffic_policy(
    policy: TrafficPolicy, inherited: TrafficPolicy | None = None
) -> dict[str, Any]:
    """A TrafficPolicy in Istio's field order; adds DEFAULT_OUTLIER_DETECTION where locality
    failover would otherwise do nothing (see needs_default_outlier_detection)."""
    out: dict[str, Any] = {}
    if policy.load_balancer is not None:
        out["loadBalancer"] = _load_balancer(policy.load_balancer)
    if policy.connection_pool is not None:
        out["connectionPool"] = _connection_pool(policy.connection_pool)
    if policy.outlier_detection is not None:
        out["outlierDetection"] = _outlier_detection(policy.outlier_detection)
    elif needs_default_outlier_detection(policy, inherited):
        out["outlierDetection"] = dict(DEFAULT_OUTLIER_DETECTION)
    if policy.tls is not None:
        out["tls"] = {"mode": policy.tls.mode}
    return out


def _load_balancer(lb: LoadBalancer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if lb.simple is not None:
        out["simple"] = lb.simple
    if lb.locality is not None:
        locality: dict[str, Any] = {"enabled": lb.locality.enabled}
        if lb.locality.failover:
            locality["failover"] = [{"from": f.from_, "to": f.to} for f in lb.locality.failover]
        if lb.locality.failover_priority:
            locality["failoverPriority"] = list(lb.locality.failover_priority)
        out["localityLbSetting"] = locality
    return out


def _connection_pool(pool: ConnectionPool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pool.tcp is not None:
        out["tcp"] = _present({
            "maxConnections": pool.tcp.max_connections,
            "connectTimeout": pool.tcp.connect_timeout,
        })
    if pool.http is not None:
        out["http"] = _present({
            "http1MaxPendingRequests": pool.http.http1_max_pending_requests,
            "http2MaxRequests": pool.http.http2_max_requests,
            "maxRequestsPerConnection": pool.http.max_requests_per_connection,
            "maxRetries": pool.http.max_retries,
            "idleTimeout": pool.http.idle_timeout,
        })
    return out


def _outlier_detection(od: OutlierDetection) -> dict[str, Any]:
    return _present({
        "consecutive5xxErrors": od.consecutive_5xx_errors,
        "interval": od.interval,
        "baseEjectionTime": od.base_ejection_time,
        "maxEjectionPercent": od.max_ejection_percent,
    })


# --- VirtualService ----------------------------------------------------------------------


def _http_route(host: str, route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.match:
        out["match"] = [_match(m) for m in route.match]
    out["route"] = [_route_destination(host, d) for d in route.destinations]
    if route.timeout is not None:
        out["timeout"] = route.timeout
    if route.retries is not None:
        out["retries"] = _retries(route.retries)
    if route.fault is not None:
        out["fault"] = _fault(route.fault)
    if route.mirror is not None:
        out.update(_mirror(host, route.mirror))
    return out


def _string_match(match: StringMatch) -> dict[str, str]:
    return _present({"exact": match.exact, "prefix": match.prefix, "regex": match.regex})


def _match(match: Match) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if match.uri is not None:
        out["uri"] = _string_match(match.uri)
    if match.headers:
        out["headers"] = {name: _string_match(m) for name, m in sorted(match.headers.items())}
    if match.port is not None:
        out["port"] = match.port
    if match.source_labels:
        out["sourceLabels"] = _sorted(match.source_labels)
    return out


def _route_destination(host: str, dest: Destination) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if dest.cluster is not None:
        destination["subset"] = pinned_subset_name(dest.subset, dest.cluster)
    elif dest.subset is not None:
        destination["subset"] = dest.subset
    if dest.port is not None:
        destination["port"] = {"number": dest.port}
    entry: dict[str, Any] = {"destination": destination}
    if dest.weight is not None:
        entry["weight"] = dest.weight
    return entry


def _retries(retries: Retries) -> dict[str, Any]:
    return _present({
        "attempts": retries.attempts,
        "perTryTimeout": retries.per_try_timeout,
        "retryOn": retries.retry_on,
    })


def _fault(fault: Fault) -> dict[str, Any]:
    # `percentage` is Istio's Percent message {value: double}; the older int `percent` field
    # is deprecated.
    out: dict[str, Any] = {}
    if fault.delay is not None:
        out["delay"] = {"fixedDelay": fault.delay.fixed_delay,
                        "percentage": {"value": fault.delay.percentage}}
    if fault.abort is not None:
        out["abort"] = {"httpStatus": fault.abort.http_status,
                        "percentage": {"value": fault.abort.percentage}}
    return out


def _mirror(host: str, mirror: Mirror) -> dict[str, Any]:
    # mirrorPercentage, not the deprecated int `mirror_percent`.
    target: dict[str, Any] = {"host": host}
    if mirror.subset is not None:
        target["subset"] = mirror.subset
    if mirror.port is not None:
        target["port"] = {"number": mirror.port}
    return {"mirror": target, "mirrorPercentage": {"value": mirror.percentage}}


def _sorted(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A map the user wrote (labels, headers), in key order: the output must not depend on
    the order the keys happen to have in mesh.yaml."""
    return dict(sorted(mapping.items()))


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
