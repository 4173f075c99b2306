"""A service's traffic rules as mesh.yaml states them, against the xDS one client's Envoy gets:
CDS per subset (the DestinationRule applied, TLS mode, outlier detection, connection pool,
load balancer) and RDS per route (matches, destinations and weights, timeout, retries,
mirror, fault), in the order Envoy tries them.

Istio's translation, as its source does it (pilot/pkg/networking/core): one Envoy route per
match of an http route (the route's own when it has none); a match whose `sourceLabels` the
client lacks, or whose `port` is another, is left out for that client; weights are kept,
and a destination of weight 0 dropped when others have weight; no timeout is `0s`; mirror
percentages are millionths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from meshgen.render.traffic import CLUSTER_LABEL, pinned_subset_name, service_host
from meshgen.render.verify import SLEEP, port_of
from meshgen.spec import Destination, Route, Service
from meshgen.spec_traffic import Match, StringMatch, TrafficPolicy

Finding = tuple[str, bool, str]  # (subject, ok, detail)


def outbound(port: int, subset: str, host: str) -> str:
    return f"outbound|{port}|{subset}|{host}"


def _duration(value: str | None) -> float | None:
    """A Go or proto duration ("5s", "1m30s", "0.5s", "2.000s") in seconds."""
    if value is None:
        return None
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|s|m|h)", value):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


# --- CDS ---------------------------------------------------------------------------------


def subset_names(service: Service) -> list[str]:
    """The subsets of its DestinationRule: declared, then one per pin (render/traffic.py)."""
    names = [s.name for s in service.subsets]
    for route in service.routes:
        for dest in route.destinations:
            if dest.cluster is not None:
                name = pinned_subset_name(dest.subset, dest.cluster)
                if name not in names:
                    names.append(name)
    return names


def cds(service: Service, clusters: dict[str, Any]) -> Iterator[Finding]:
    host = service_host(service)
    port = port_of(service)
    for subset in ["", *subset_names(service)]:
        name = outbound(port, subset, host)
        cluster = clusters.get(name)
        if cluster is None:
            yield name, False, "no such cluster in CDS"
            continue
        applied = cluster.get("metadata", {}).get("filterMetadata", {}).get("istio", {})
        config = str(applied.get("config", ""))
        has_rule = bool(service.subsets or service.traffic_policy)
        want = f"/namespaces/{service.namespace}/destination-rule/{service.name}"
        if has_rule and not config.endswith(want):
            yield name, False, f"built without the DestinationRule (applied: {config or 'none'})"
            continue
        policy = _policy_of(service, subset)
        problems = list(_policy_problems(policy, cluster)) if policy else []
        yield (
            name,
            not problems,
            "; ".join(problems) if problems else "the DestinationRule and its policy",
        )


def _policy_of(service: Service, subset: str) -> TrafficPolicy | None:
    """The policy of `subset`: its own over the service's (field by field, as Istio merges)."""
    base = service.traffic_policy
    own = next((s.traffic_policy for s in service.subsets if s.name == subset), None)
    if own is None:
        declared = next(
            (s for s in service.subsets if subset.startswith(f"{s.name}-")), None
        )  # a pinned subset behaves like the one it narrows
        own = declared.traffic_policy if declared is not None else None
    if base is None or own is None:
        return own or base
    return base.model_copy(update={k: v for k, v in own if v is not None})


def _policy_problems(policy: TrafficPolicy, cluster: dict[str, Any]) -> Iterator[str]:
    if policy.tls is not None:
        socket = cluster.get("transportSocket")
        if policy.tls.mode == "DISABLE":
            if socket is not None or cluster.get("transportSocketMatches"):
                yield "tls DISABLE, but Envoy speaks TLS"
        elif socket is None or "tls" not in str(socket.get("name", "")):
            yield f"tls {policy.tls.mode}, but no TLS transport socket"
    detection = policy.outlier_detection
    if detection is not None:
        got = cluster.get("outlierDetection")
        if got is None:
            yield "outlierDetection missing"
        else:
            pairs = [
                ("consecutive5xx", detection.consecutive_5xx_errors, None),
                ("interval", detection.interval, "duration"),
                ("baseEjectionTime", detection.base_ejection_time, "duration"),
                ("maxEjectionPercent", detection.max_ejection_percent, None),
            ]
            for field, want, kind in pairs:
                if want is None:
                    continue
                value = got.get(field)
                same = (
                    _duration(value) == _duration(str(want))
                    if kind
                    else value is not None and int(value) == int(want)
                )
                if not same:
                    yield f"outlierDetection.{field} {value!r}, mesh.yaml {want!r}"
    pool = policy.connection_pool
    if pool is not None:
        thresholds = (cluster.get("circuitBreakers", {}).get("thresholds") or [{}])[0]
        limits = []
        if pool.tcp is not None:
            limits.append(("maxConnections", pool.tcp.max_connections))
        if pool.http is not None:
            limits += [
                ("maxPendingRequests", pool.http.http1_max_pending_requests),
                ("maxRequests", pool.http.http2_max_requests),
                ("maxRetries", pool.http.max_retries),
            ]
        for field, want in limits:
            if want is not None and int(thresholds.get(field, -1)) != want:
                yield f"circuitBreakers.{field} {thresholds.get(field)!r}, mesh.yaml {want}"
    lb = policy.load_balancer
    if lb is not None and lb.simple is not None:
        want_lb = {"ROUND_ROBIN": "ROUND_ROBIN", "LEAST_CONN": "LEAST_REQUEST"}.get(
            lb.simple, lb.simple
        )
        got_lb = cluster.get("lbPolicy", "ROUND_ROBIN")
        if got_lb != want_lb:
            yield f"lbPolicy {got_lb}, mesh.yaml {lb.simple}"


# --- RDS ---------------------------------------------------------------------------------


def _client_labels(cluster: str) -> dict[str, str]:
    return {"app": SLEEP, CLUSTER_LABEL: cluster}


def expected_routes(service: Service, client: str) -> list[tuple[Route, Match | None]]:
    """(spec route, the match it stands for) of each Envoy route, in order, for a client in
    cluster `client` calling the service's first port."""
    labels = _client_labels(client)
    port = port_of(service)
    out: list[tuple[Route, Match | None]] = []
    for route in service.routes:
        if not route.match:
            out.append((route, None))
            continue
        for match in route.match:
            if match.port is not None and match.port != port:
                continue
            if any(labels.get(k) != v for k, v in match.source_labels.items()):
                continue
            out.append((route, match))
    return out


def rds(service: Service, client: str, virtual_host: dict[str, Any] | None) -> Iterator[Finding]:
    subject = f"{service_host(service)}:{port_of(service)}"
    if not service.routes:
        return
    if virtual_host is None:
        yield subject, False, "no virtual host in RDS"
        return
    got = virtual_host.get("routes", [])
    wanted = expected_routes(service, client)
    for i, (route, match) in enumerate(wanted):
        where = f"{subject} route {i}"
        if i >= len(got):
            yield where, False, f"missing: RDS has {len(got)} route(s), mesh.yaml {len(wanted)}"
            continue
        envoy = got[i]
        config = str(
            envoy.get("metadata", {}).get("filterMetadata", {}).get("istio", {}).get("config", "")
        )
        if not config.endswith(f"/namespaces/{service.namespace}/virtual-service/{service.name}"):
            yield where, False, f"not from the VirtualService (config: {config or 'none'})"
            continue
        problems = [
            *_match_problems(match, envoy.get("match", {})),
            *_action_problems(service, route, envoy),
        ]
        yield where, not problems, "; ".join(problems) if problems else "as mesh.yaml says"


def _string(match: StringMatch, envoy: dict[str, Any]) -> bool:
    """A header matcher as Istio writes it: `stringMatch` (newer) or the fields of old."""
    inner = envoy.get("stringMatch", envoy)
    if match.exact is not None:
        return bool(inner.get("exact", inner.get("exactMatch")) == match.exact)
    if match.prefix is not None:
        return bool(inner.get("prefix", inner.get("prefixMatch")) == match.prefix)
    regex = inner.get("safeRegex", inner.get("safeRegexMatch", {})).get("regex")
    return bool(regex == match.regex)


def _match_problems(match: Match | None, envoy: dict[str, Any]) -> Iterator[str]:
    if match is None or match.uri is None:
        if envoy.get("prefix") != "/" and match is None:
            yield f"match {envoy}, mesh.yaml every request"
    else:
        uri = match.uri
        ok = (
            envoy.get("path") == uri.exact
            if uri.exact is not None
            else envoy.get("prefix") == uri.prefix
            if uri.prefix is not None
            else envoy.get("safeRegex", {}).get("regex") == uri.regex
        )
        if not ok:
            yield f"uri match {envoy}, mesh.yaml {uri.model_dump(exclude_none=True)}"
    if match is None:
        return
    headers = {h["name"]: h for h in envoy.get("headers", []) if not h["name"].startswith(":")}
    for name, want in match.headers.items():
        if name not in headers or not _string(want, headers[name]):
            stated = want.model_dump(exclude_none=True)
            yield f"header {name}: {headers.get(name)}, mesh.yaml {stated}"


def _cluster_of(service: Service, dest: Destination) -> str:
    subset = (
        pinned_subset_name(dest.subset, dest.cluster)
        if dest.cluster is not None
        else dest.subset or ""
    )
    return outbound(dest.port or port_of(service), subset, service_host(service))


def _action_problems(service: Service, route: Route, envoy: dict[str, Any]) -> Iterator[str]:
    action = envoy.get("route")
    if action is None:
        if route.fault is None or route.fault.abort is None:
            yield f"no route action: {sorted(envoy)}"
        return
    weights = (
        {c["name"]: int(c.get("weight", 0)) for c in action["weightedClusters"]["clusters"]}
        if "weightedClusters" in action
        else {action.get("cluster", ""): 100}
    )
    single = len(route.destinations) == 1
    want = {
        _cluster_of(service, d): (100 if single else int(d.weight or 0)) for d in route.destinations
    }
    if any(w for w in want.values()):
        want = {k: v for k, v in want.items() if v}
    if weights != want:
        yield f"destinations {weights}, mesh.yaml {want}"
    timeout = _duration(action.get("timeout"))
    want_timeout = _duration(route.timeout) if route.timeout is not None else 0.0
    if timeout != want_timeout:
        yield f"timeout {action.get('timeout')}, mesh.yaml {route.timeout or 'none (0s)'}"
    if route.retries is not None:
        policy = action.get("retryPolicy", {})
        if route.retries.attempts == 0:
            if policy:
                yield f"retries {policy.get('numRetries')}, mesh.yaml 0 (none)"
        else:
            if int(policy.get("numRetries", 1)) != route.retries.attempts:
                yield f"retries {policy.get('numRetries')}, mesh.yaml {route.retries.attempts}"
            per_try = route.retries.per_try_timeout
            if per_try is not None and _duration(policy.get("perTryTimeout")) != _duration(per_try):
                yield f"perTryTimeout {policy.get('perTryTimeout')}, mesh.yaml {per_try}"
            if (
                route.retries.retry_on is not None
                and policy.get("retryOn") != route.retries.retry_on
            ):
                yield f"retryOn {policy.get('retryOn')}, mesh.yaml {route.retries.retry_on}"
    if route.mirror is not None:
        mirrors = action.get("requestMirrorPolicies") or (
            [action["requestMirrorPolicy"]] if "requestMirrorPolicy" in action else []
        )
        mirror = route.mirror
        want_cluster = outbound(
            mirror.port or port_of(service), mirror.subset or "", service_host(service)
        )
        fraction = mirrors[0].get("runtimeFraction", {}).get("defaultValue", {}) if mirrors else {}
        millionths = _millionths(fraction)
        if not mirrors or mirrors[0].get("cluster") != want_cluster:
            yield f"mirror {mirrors}, mesh.yaml {want_cluster}"
        elif abs(millionths - mirror.percentage * 10000) > 1:
            yield f"mirror {millionths / 10000}%, mesh.yaml {mirror.percentage}%"
    if route.fault is not None:
        yield from _fault_problems(route, envoy)


def _millionths(fraction: dict[str, Any]) -> float:
    numerator = float(fraction.get("numerator", 0))
    scale = {"HUNDRED": 10000, "TEN_THOUSAND": 100, "MILLION": 1}[
        fraction.get("denominator", "HUNDRED")
    ]
    return numerator * scale


def _fault_problems(route: Route, envoy: dict[str, Any]) -> Iterator[str]:
    assert route.fault is not None
    config = next(
        (v for k, v in envoy.get("typedPerFilterConfig", {}).items() if "fault" in k), None
    )
    if config is None:
        yield "fault injection missing"
        return
    abort, delay = route.fault.abort, route.fault.delay
    if abort is not None:
        got = config.get("abort", {})
        if int(got.get("httpStatus", 0)) != abort.http_status:
            yield f"abort status {got.get('httpStatus')}, mesh.yaml {abort.http_status}"
        elif abs(_millionths(got.get("percentage", {})) - abort.percentage * 10000) > 1:
            yield f"abort percentage {got.get('percentage')}, mesh.yaml {abort.percentage}%"
    if delay is not None:
        got = config.get("delay", {})
        if _duration(got.get("fixedDelay")) != _duration(delay.fixed_delay):
            yield f"delay {got.get('fixedDelay')}, mesh.yaml {delay.fixed_delay}"
        elif abs(_millionths(got.get("percentage", {})) - delay.percentage * 10000) > 1:
            yield f"delay percentage {got.get('percentage')}, mesh.yaml {delay.percentage}%"
