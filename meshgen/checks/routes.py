"""MG409-MG414, MG417, MG422, MG423: namespaces meshgen must not manage, and routes that
Istio would reject or never use (the parts of `istioctl analyze` that can be decided from the
spec alone, and some it cannot decide at all).

Which of these `istioctl analyze` (https://istio.io/latest/docs/reference/config/analysis/)
would also have reported on the rendered VirtualServices and DestinationRules:

| code  | istioctl analyze  | notes                                                     |
|-------|-------------------|-----------------------------------------------------------|
| MG409 | none              | a namespace meshgen must not label or manage              |
| MG410 | IST0101, partly   | destination and mirror ports (`host:port`, recent         |
|       |                   | releases); `match[].port` is not checked                  |
| MG411 | IST0112           | several service ports and no destination port             |
| MG412 | IST0130, partly   | Istio flags a second match-less route (newer releases     |
|       |                   | also a matched route after one); `match: [{}]` is a       |
|       |                   | catch-all only to meshgen                                 |
| MG414 | IST0131 / IST0130 | the same exact-equality test (a duplicate match / all     |
|       |                   | matches used by prior rules)                              |
| MG417 | none              | clusters are no Kubernetes objects: a subset pinned to an |
|       |                   | unknown cluster silently has no endpoints                 |
| MG422 | none              | Istio rejects duplicate subset names, but not the meaning |
|       |                   | meshgen gives a generated one (the DestinationRule fails) |
| MG423 | none              | Istio: "subset name is invalid" (not a DNS-1123 label)    |
"""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import did_you_mean, error, quoted_list, warning
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Location, Related
from meshgen.load import Positions, YamlPath
from meshgen.spec import Mesh, Route, Service
from meshgen.spec_traffic import Match

CODES = summaries("MG409", "MG410", "MG411", "MG412", "MG414", "MG417", "MG422", "MG423")

# What meshgen/render/traffic.py names the subset a destination pinned to a cluster routes
# to (tests/test_checks_routes.py holds the two to the same rule; checks import no render
# module).
ALL_ENDPOINTS = "all"
SUBSET_NAME_MAX = 63  # Istio validates subset names as DNS-1123 labels

SYSTEM_NAMESPACES = frozenset(
    {"istio-system", "kube-system", "kube-public", "kube-node-lease", "default"}
)


def _svc(index: int) -> YamlPath:
    return ("spec", "services", index)


def _route(si: int, ri: int) -> YamlPath:
    return (*_svc(si), "routes", ri)


def _name(svc: Service) -> str:
    return f'service "{svc.namespace}/{svc.name}"'


def check_system_namespaces(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG409: meshgen writes istio-system itself, and labelling kube-system or OpenShift's
    namespaces for injection would put sidecars into the platform."""
    for ni, ns in enumerate(mesh.spec.namespaces):
        if ns.name in SYSTEM_NAMESPACES or ns.name.startswith(("openshift-", "kube-")):
            yield error(
                "MG409",
                f'namespace "{ns.name}" belongs to the platform, not to applications',
                positions.at(("spec", "namespaces", ni, "name")),
                "declare only application namespaces; meshgen creates istio-system itself",
            )


def check_destination_ports(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG410: unknown port (destination, mirror, match); MG411: no port where istioctl analyze
    reports IST0112 (https://istio.io/latest/docs/reference/config/analysis/)."""
    for si, svc in enumerate(mesh.spec.services):
        numbers = [p.number for p in svc.ports]
        for ri, route in enumerate(svc.routes):
            for path, port, what in _port_refs(si, ri, route):
                if port not in numbers:
                    yield _unknown_port(svc, si, numbers, port, what, positions.at(path), positions)
            for di, dest in enumerate(route.destinations):
                if dest.port is None and len(numbers) > 1:
                    yield error(
                        "MG411",
                        f'service "{svc.namespace}/{svc.name}" has {len(numbers)} ports, so '
                        "each destination must name one (Istio: IST0112)",
                        positions.at((*_route(si, ri), "destinations", di)),
                        f"add e.g. port: {numbers[0]}",
                    )


def _port_refs(si: int, ri: int, route: Route) -> Iterator[tuple[YamlPath, int, str]]:
    """(path, port, what) for every port a route names."""
    for mi, match in enumerate(route.match):
        if match.port is not None:
            yield (*_route(si, ri), "match", mi, "port"), match.port, f"match[{mi}]"
    for di, dest in enumerate(route.destinations):
        if dest.port is not None:
            yield (*_route(si, ri), "destinations", di, "port"), dest.port, "destination"
    if route.mirror is not None and route.mirror.port is not None:
        yield (*_route(si, ri), "mirror", "port"), route.mirror.port, "mirror"


def _unknown_port(
    svc: Service,
    si: int,
    numbers: list[int],
    port: int,
    what: str,
    location: Location,
    positions: Positions,
) -> Diagnostic:
    message = f"{what} port {port} is not a port of {_name(svc)}"
    if not numbers:
        return error("MG410", message, location, "declare it under the service's ports")
    return error(
        "MG410",
        message,
        location,
        f"declared ports: {quoted_list(str(n) for n in numbers)}",
        [Related(positions.at((*_svc(si), "ports")), "the service's ports")],
    )


def _catch_all(route: Route) -> int | None:
    """None if the route has a condition in every match; else -1 (no match list) or the index
    of its first match without conditions. Matches are ORed, so one empty match takes all."""
    if not route.match:
        return -1
    for mi, match in enumerate(route.match):
        if match == Match():
            return mi
    return None


def check_unreachable_routes(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG412: routes after a catch-all route (istioctl analyze: IST0130); MG414: a route whose
    matches each equal a match of an earlier route, or one such match (IST0130/IST0131).

    MG414 compares matches by exact equality only (the same test as Istio's, which compares
    JSON serializations): `prefix: /a` after `prefix: /` is not reported, though it is
    shadowed too. Header maps compare without regard to order."""
    for si, svc in enumerate(mesh.spec.services):
        catch_all: int | None = None
        seen: list[tuple[Match, int, int]] = []
        for ri, route in enumerate(svc.routes):
            if catch_all is not None:
                yield _after_catch_all(svc, si, ri, route, catch_all, positions)
                continue
            empty = _catch_all(route)
            if empty is not None:
                catch_all = ri
                continue
            yield from _shadowed(svc, si, ri, route, seen, positions)
            seen.extend((match, ri, mi) for mi, match in enumerate(route.match))


def _after_catch_all(
    svc: Service, si: int, ri: int, route: Route, catch_all: int, positions: Positions
) -> Diagnostic:
    earlier = svc.routes[catch_all]
    empty = _catch_all(earlier)
    why = "has no match" if empty == -1 else f"its match[{empty}] has no conditions"
    if _catch_all(route) is None:
        hint = (
            f"move this route before route {catch_all}: a route without conditions must come last"
        )
    else:
        hint = (
            f"only the last route may match every request; merge the destinations into "
            f"route {catch_all} with weights, or give one of them a match"
        )
    return warning(
        "MG412",
        f"route {ri} of {_name(svc)} is unreachable: route {catch_all} already matches every "
        f"request ({why})",
        positions.at(_route(si, ri)),
        hint,
        [Related(positions.at(_route(si, catch_all)), "the catch-all route")],
    )


def _shadowed(
    svc: Service,
    si: int,
    ri: int,
    route: Route,
    seen: list[tuple[Match, int, int]],
    positions: Positions,
) -> Iterator[Diagnostic]:
    dups: list[tuple[int, int, int]] = []  # (match index, earlier route, earlier match)
    for mi, match in enumerate(route.match):
        for other, rj, mj in seen:
            if other == match:
                dups.append((mi, rj, mj))
                break
    if not dups:
        return
    if len(dups) == len(route.match):
        earlier = sorted({rj for _, rj, _ in dups})
        which = ", ".join(f"match[{mi}] = route {rj} match[{mj}]" for mi, rj, mj in dups)
        yield warning(
            "MG414",
            f"route {ri} of {_name(svc)} is shadowed: each of its matches repeats a match of an "
            f"earlier route ({which}), so it never applies",
            positions.at(_route(si, ri)),
            "remove this route, or make its matches differ from the earlier ones",
            [Related(positions.at(_route(si, rj)), "the earlier route") for rj in earlier],
        )
        return
    for mi, rj, mj in dups:
        yield warning(
            "MG414",
            f"match[{mi}] of route {ri} of {_name(svc)} repeats match[{mj}] of route {rj}, so "
            "it never applies",
            positions.at((*_route(si, ri), "match", mi)),
            "remove this match; requests it describes already go to the earlier route",
            [Related(positions.at((*_route(si, rj), "match", mj)), "the same match, earlier")],
        )


def check_pinned_clusters(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG417: `cluster:` of a destination must name a cluster where the service is placed
    (its `clusters`, or every cluster when it lists none)."""
    known = list(dict.fromkeys(c.name for c in mesh.spec.clusters))
    known_set = set(known)
    for si, svc in enumerate(mesh.spec.services):
        placed = set(svc.clusters) & known_set if svc.clusters else known_set
        for ri, route in enumerate(svc.routes):
            for di, dest in enumerate(route.destinations):
                if dest.cluster is None or dest.cluster in placed:
                    continue
                path = (*_route(si, ri), "destinations", di, "cluster")
                if dest.cluster not in known:
                    listed = f"the clusters are {quoted_list(known)}"
                    close = did_you_mean(dest.cluster, known)
                    yield error(
                        "MG417",
                        f'destination is pinned to unknown cluster "{dest.cluster}"',
                        positions.at(path),
                        f"{close} ({listed})" if close else listed,
                    )
                    continue
                yield error(
                    "MG417",
                    f'destination is pinned to cluster "{dest.cluster}", where {_name(svc)} is '
                    "not placed, so it has no endpoints there",
                    positions.at(path),
                    f"pin to one of {quoted_list(c for c in known if c in placed)}, or add "
                    f'"{dest.cluster}" to the service\'s clusters',
                    [
                        Related(
                            positions.at((*_svc(si), "clusters")),
                            "the service is placed only in these clusters",
                        )
                    ],
                )


def pinned_subset_name(subset: str | None, cluster: str) -> str:
    return f"{subset or ALL_ENDPOINTS}-{cluster}"


def _pin(subset: str | None, cluster: str) -> str:
    return (
        f"{{subset: {subset}, cluster: {cluster}}}"
        if subset is not None
        else f"{{cluster: {cluster}}}"
    )


def check_generated_subsets(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG422, MG423: generated subset names must be unique (MG422) and DNS labels (MG423).

    A destination pinned to a cluster routes to a generated subset named
    `<subset>-<cluster>` (`all-<cluster>` without a subset); names join at a `-`, which
    cluster and subset names contain too, so `{subset: v1, cluster: b}` becomes the declared
    subset `v1-b`, or the generated subset of `{subset: v1, cluster: b-c}` that of
    `{subset: v1-b, cluster: c}`: two subsets of one name in the DestinationRule. Istio
    validates subset names as DNS-1123 labels, so a generated one has 63 characters at most."""
    for si, svc in enumerate(mesh.spec.services):
        yield from _service_generated_subsets(svc, si, positions)


def _service_generated_subsets(svc: Service, si: int, positions: Positions) -> Iterator[Diagnostic]:
    declared: dict[str, int] = {}
    for k, subset in enumerate(svc.subsets):
        declared.setdefault(subset.name, k)
    first: dict[str, tuple[tuple[str | None, str], YamlPath]] = {}
    reported: set[tuple[str | None, str]] = set()
    for ri, route in enumerate(svc.routes):
        for di, dest in enumerate(route.destinations):
            if dest.cluster is None:
                continue
            pin = (dest.subset, dest.cluster)
            name = pinned_subset_name(*pin)
            path: YamlPath = (*_route(si, ri), "destinations", di)
            earlier = first.setdefault(name, (pin, path))
            if pin in reported:
                continue
            if len(name) > SUBSET_NAME_MAX:
                reported.add(pin)
                yield _too_long(svc, pin, name, positions.at(path))
            if name in declared:
                reported.add(pin)
                declared_at = positions.at((*_svc(si), "subsets", declared[name], "name"))
                yield _clashes_with_declared(svc, pin, name, positions.at(path), declared_at)
            elif earlier[0] != pin:
                reported.add(pin)
                yield _clashes_with_pin(
                    svc, earlier[0], pin, name, positions.at(path), positions.at(earlier[1])
                )


def _clashes_with_declared(
    svc: Service, pin: tuple[str | None, str], name: str, at: Location, declared_at: Location
) -> Diagnostic:
    return error(
        "MG422",
        f'destination {_pin(*pin)} routes to the generated subset "{name}", '
        f"but {_name(svc)} declares a subset of that name too",
        at,
        f'rename subset "{name}": a pinned destination routes to a subset named '
        '"<subset>-<cluster>" ("all-<cluster>" without a subset), which '
        "meshgen adds to the DestinationRule",
        [Related(declared_at, "the declared subset")],
    )


def _clashes_with_pin(
    svc: Service,
    other: tuple[str | None, str],
    pin: tuple[str | None, str],
    name: str,
    at: Location,
    other_at: Location,
) -> Diagnostic:
    return error(
        "MG422",
        f"destinations {_pin(*other)} and {_pin(*pin)} of {_name(svc)} "
        f'both route to the generated subset "{name}", for different endpoints',
        at,
        'pinned destinations route to subsets named "<subset>-<cluster>" '
        '("all-<cluster>" without a subset); rename a subset or a cluster so '
        "that the names differ",
        [Related(other_at, "the other destination")],
    )


def _too_long(
    svc: Service, pin: tuple[str | None, str], name: str, location: Location
) -> Diagnostic:
    subset, cluster = pin
    what = (
        f'subset "{subset}" or cluster "{cluster}" (together at most '
        f"{SUBSET_NAME_MAX - 1} characters)"
        if subset is not None
        else f'cluster "{cluster}" to {SUBSET_NAME_MAX - len(ALL_ENDPOINTS) - 1} characters'
    )
    return error(
        "MG423",
        f'destination {_pin(*pin)} of {_name(svc)} routes to the generated subset "{name}", '
        f"{len(name)} characters: Istio rejects subset names longer than {SUBSET_NAME_MAX}",
        location,
        f"shorten {what}",
    )


CHECKS = (
    check_system_namespaces,
    check_destination_ports,
    check_unreachable_routes,
    check_pinned_clusters,
    check_generated_subsets,
)
