"""DestinationRules and VirtualServices, rendered once and shared by every cluster.

Multi-primary does not replicate Istio config between clusters (istio/istio#33253): each
istiod reads rules from its own cluster only, but serves the endpoints of every cluster to
its proxies. So every service's rules go to every cluster, also where the service does not
run: a client there would otherwise get the service without subsets or routes, and bypass
a weighted split or canary (https://istio.io/latest/docs/ops/configuration/traffic-management/multicluster/).
Where the service does not run, a Service without selector (`client_service`) lets its
clients resolve the name: Kubernetes DNS answers only for the Services of its own cluster
(https://istio.io/latest/docs/ops/deployment/deployment-models/#dns-with-multiple-clusters).
Hosts are full `<name>.<ns>.svc.cluster.local`
names because short names resolve against the rule's namespace
(https://istio.io/latest/docs/reference/config/networking/virtual-service/#Destination).

Field names and order follow Istio's protos (networking/v1alpha3/virtual_service.proto and
destination_rule.proto in https://github.com/istio/api). A destination pinned to a cluster
routes to a generated subset that selects that cluster's endpoints through the built-in
`topology.istio.io/cluster` label
(https://istio.io/latest/docs/ops/configuration/traffic-management/multicluster/,
"Partitioning Services").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from meshgen.failover import DEFAULT_OUTLIER_DETECTION, needs_default_outlier_detection
from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.revisions import oldest_version
from meshgen.spec import Destination, Mesh, Route, Service, Subset
from meshgen.spec_traffic import (
    Fault,
    LoadBalancer,
    Match,
    Mirror,
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


def client_service(service: Service) -> Manifest:
    """The Service of `service` in a cluster that does not run it: its name, namespace and
    ports, and no selector, so Kubernetes gives it no endpoints of its own. Istio merges it
    with the same Service of the clusters that run it (same host name), and the local one
    decides the ports its clients see: the spec must list them all (MG424)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(service.name, service.namespace, labels=dict(MANAGED_BY)),
        "spec": {"ports": [{"name": p.name, "port": p.number} for p in service.ports]},
    }


def render_service_rules(mesh: Mesh, service: Service) -> tuple[Manifest, ...]:
    # The oldest control plane's API: with revisions side by side, every one reads the rules.
    api_version = release(oldest_version(mesh)).networking_api_version
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
        docs.append(
            {
                "apiVersion": api_version,
                "kind": "DestinationRule",
                "metadata": meta,
                "spec": spec,
            }
        )
    if service.routes:
        docs.append(
            {
                "apiVersion": api_version,
                "kind": "VirtualService",
                "metadata": meta,
                "spec": {"hosts": [host], "http": [_http_route(host, r) for r in service.routes]},
            }
        )
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


def traffic_policy(policy: TrafficPolicy, inherited: TrafficPolicy | None = None) -> dict[str, Any]:
    """A TrafficPolicy in Istio's field order; adds DEFAULT_OUTLIER_DETECTION where locality
    failover would otherwise do nothing (see needs_default_outlier_detection)."""
    # By hand: Istio's order puts loadBalancer first, the spec model declares it third.
    out: dict[str, Any] = {}
    if policy.load_balancer is not None:
        out["loadBalancer"] = _load_balancer(policy.load_balancer)
    if policy.connection_pool is not None:
        out["connectionPool"] = _dump(policy.connection_pool)
    if policy.outlier_detection is not None:
        out["outlierDetection"] = _dump(policy.outlier_detection)
    elif needs_default_outlier_detection(policy, inherited):
        out["outlierDetection"] = dict(DEFAULT_OUTLIER_DETECTION)
    if policy.tls is not None:
        out["tls"] = _dump(policy.tls)
    return out


def _load_balancer(lb: LoadBalancer) -> dict[str, Any]:
    out = _dump(lb)
    locality = out.get("localityLbSetting")
    if locality is not None:
        # Empty failover lists are left out (an unset repeated field), not written as [].
        out["localityLbSetting"] = {k: v for k, v in locality.items() if v != []}
    return out


# --- VirtualService ----------------------------------------------------------------------


def _http_route(host: str, route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.match:
        out["match"] = [_match(m) for m in route.match]
    out["route"] = [_route_destination(host, d) for d in route.destinations]
    if route.timeout is not None:
        out["timeout"] = route.timeout
    if route.retries is not None:
        out["retries"] = _dump(route.retries)
    if route.fault is not None:
        out["fault"] = _fault(route.fault)
    if route.mirror is not None:
        out.update(_mirror(host, route.mirror))
    return out


def _match(match: Match) -> dict[str, Any]:
    # By hand: Istio's order (uri, headers, port, sourceLabels) is not the model's, user maps
    # are sorted and empty ones left out.
    out: dict[str, Any] = {}
    if match.uri is not None:
        out["uri"] = _dump(match.uri)
    if match.headers:
        out["headers"] = {name: _dump(m) for name, m in sorted(match.headers.items())}
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


def _fault(fault: Fault) -> dict[str, Any]:
    # By hand: `percentage` is Istio's Percent message {value: double}, a number in the spec;
    # the older int `percent` field is deprecated.
    out: dict[str, Any] = {}
    if fault.delay is not None:
        out["delay"] = {
            "fixedDelay": fault.delay.fixed_delay,
            "percentage": {"value": fault.delay.percentage},
        }
    if fault.abort is not None:
        out["abort"] = {
            "httpStatus": fault.abort.http_status,
            "percentage": {"value": fault.abort.percentage},
        }
    return out


def _mirror(host: str, mirror: Mirror) -> dict[str, Any]:
    # By hand: Istio splits the spec's mirror into a Destination and mirrorPercentage ({value},
    # not the deprecated int `mirror_percent`).
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


def _dump(model: BaseModel) -> dict[str, Any]:
    """A spec model whose fields, aliases and order are Istio's, as Istio's YAML."""
    return model.model_dump(by_alias=True, exclude_none=True)
