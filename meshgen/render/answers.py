"""What each call of the runbook's verify step must answer (`expected`): from the caller's
cluster, a plain `curl SERVICE.NS:PORT/hello` to the test workloads of verify.py gets the
versions its route sends to (with their weights), kept in the caller's locality when
locality load balancing is on, or the status a fault, a missing route or an
AuthorizationPolicy gives. The runbook states these answers, and the mesh box checks them
against each release's istiod."""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.render.traffic import CLUSTER_LABEL
from meshgen.render.verify import (
    PATH,
    SLEEP,
    Backend,
    backends,
    client_namespace,
    denied,
    port_of,
)
from meshgen.spec import Mesh, Route, Service
from meshgen.spec_traffic import StringMatch


@dataclass(frozen=True)
class Answer:
    """What a caller should see: response versions with their share, or an HTTP status."""

    versions: tuple[tuple[str, int | None], ...] = ()  # (version, percent or None: "any")
    status: int | None = None
    note: str = ""


def _matches(match: StringMatch, value: str) -> bool:
    import re

    if match.exact is not None:
        return value == match.exact
    if match.prefix is not None:
        return value.startswith(match.prefix)
    return match.regex is not None and re.fullmatch(match.regex, value) is not None


def _route_for(service: Service, caller: str) -> Route | None:
    """The first route a plain `curl SERVICE.NS:PORT/hello` from `sleep` in `caller` takes
    (no headers; the caller's labels: app=sleep and Istio's topology.istio.io/cluster)."""
    labels = {"app": SLEEP, CLUSTER_LABEL: caller}
    for route in service.routes:
        if not route.match:
            return route
        for m in route.match:
            if m.headers or (m.port is not None and m.port != port_of(service)):
                continue
            if m.uri is not None and not _matches(m.uri, PATH):
                continue
            if any(labels.get(k) != v for k, v in m.source_labels.items()):
                continue
            return route
    return None


def expected(
    mesh: Mesh, service: Service, caller: str, placed: list[Backend] | None = None
) -> Answer:
    """What sleep in `caller` gets from the service, given its routes and test placement
    (`placed`: backends(mesh, service), when the caller has it already)."""
    if placed is None:
        placed = backends(mesh, service)
    if denied(mesh, service):
        return Answer(
            status=403,
            note="no AuthorizationPolicy allows "
            f"{client_namespace(mesh, service)}/{SLEEP}: RBAC: access denied",
        )
    local = _local(mesh, service, caller, placed)
    failover = "locality load balancing: the caller's own locality while it is healthy"
    if not service.routes:
        return Answer(
            tuple((v, None) for v in _versions(local)),
            note=failover if local != placed else "no routes: any endpoint",
        )
    route = _route_for(service, caller)
    if route is None:
        return Answer(status=404, note="no route matches a plain GET " + PATH)
    if route.fault is not None and route.fault.abort is not None:
        abort = route.fault.abort
        if abort.percentage >= 100:
            return Answer(status=abort.http_status, note="the route's fault injection aborts")
    shares = _shares(mesh, service, caller, route, placed)
    note = failover if _local(mesh, service, caller, placed) != placed else ""
    if route.fault is not None and route.fault.abort is not None:
        note = f"{route.fault.abort.percentage}% aborted with {route.fault.abort.http_status}"
    return Answer(tuple(shares.items()), note=note)


def _shares(
    mesh: Mesh, service: Service, caller: str, route: Route, placed: list[Backend]
) -> dict[str, int | None]:
    """The answering versions of `route` from `caller`, each with its percentage (None when
    a weight is split over several versions, or there is none)."""
    shares: dict[str, int | None] = {}
    single = len(route.destinations) == 1
    for dest in route.destinations:
        targets = _local(
            mesh,
            service,
            caller,
            [
                b
                for b in placed
                if (dest.subset is None or b.subset == dest.subset)
                and (dest.cluster is None or b.cluster == dest.cluster)
            ],
        )
        weight = 100 if single else dest.weight
        versions = _versions(targets)
        for version in versions:
            share = None if weight is None or len(versions) > 1 else weight
            old = shares.get(version, 0)
            shares[version] = None if share is None or old is None else old + share
    return shares


def _local(mesh: Mesh, service: Service, caller: str, targets: list[Backend]) -> list[Backend]:
    """With locality load balancing on (and the outlier detection it needs, which render adds
    when missing), Envoy sends to the caller's own region (and zone) while it is healthy."""
    policy = service.traffic_policy
    lb = policy.load_balancer if policy is not None else None
    if lb is None or lb.locality is None or not lb.locality.enabled:
        return targets
    where = {c.name: (c.region, c.zone) for c in mesh.spec.clusters}
    mine = where.get(caller, (None, None))
    if mine[0] is None:
        return targets
    same = [b for b in targets if where.get(b.cluster) == mine]
    same = same or [b for b in targets if where.get(b.cluster, (None,))[0] == mine[0]]
    return same or targets


def _versions(targets: list[Backend]) -> list[str]:
    return list(dict.fromkeys(b.version for b in targets))
