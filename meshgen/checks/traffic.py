"""MG4xx: namespaces, services, subsets and routes (the DestinationRules and VirtualServices).

Istio validates these objects only when they are applied (its rules:
https://github.com/istio/istio/blob/1.30.3/pkg/config/validation/validation.go); meshgen
catches the same mistakes, plus the ones that merely route nowhere, before anything is built.

Of the codes touched by the traffic-management work, against `istioctl analyze` (its
messages: https://istio.io/latest/docs/reference/config/analysis/):

| code  | istioctl analyze | notes                                                     |
|-------|------------------|-----------------------------------------------------------|
| MG401 | IST0101          | `host+subset` / `mirror+subset in destinationrule`        |
| MG402 | none             | no analyzer for weight sums; only validation checks them  |
| MG416 | none             | IST0173 (1.27+, live cluster) reports subsets selecting   |
|       |                  | *no* pods; empty labels select *every* pod and pass       |
"""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import did_you_mean, error, quoted_list
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Related
from meshgen.load import Positions, YamlPath
from meshgen.spec import Mesh, Route, Service

CODES = summaries(
    "MG401", "MG402", "MG403", "MG404", "MG405", "MG406", "MG407", "MG408", "MG416", "MG424"
)


def _svc(index: int) -> YamlPath:
    return ("spec", "services", index)


def _ns(index: int) -> YamlPath:
    return ("spec", "namespaces", index)


def _name(svc: Service) -> str:
    return f'service "{svc.namespace}/{svc.name}"'


def check_subsets(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG403: a subset name twice in one service; MG401: a route or mirror names an undefined
    subset."""
    for si, svc in enumerate(mesh.spec.services):
        first: dict[str, int] = {}
        for k, subset in enumerate(svc.subsets):
            if subset.name not in first:
                first[subset.name] = k
                continue
            yield error(
                "MG403",
                f'subset "{subset.name}" is defined twice in {_name(svc)}',
                positions.at((*_svc(si), "subsets", k, "name")),
                "Istio rejects duplicate subset names; rename or remove one",
                [
                    Related(
                        positions.at((*_svc(si), "subsets", first[subset.name], "name")),
                        "first defined here",
                    )
                ],
            )
        for ri, route in enumerate(svc.routes):
            for di, dest in enumerate(route.destinations):
                if dest.subset is None or dest.subset in first:
                    continue
                path = (*_svc(si), "routes", ri, "destinations", di, "subset")
                yield _unknown_subset(svc, si, dest.subset, list(first), path, positions)
            mirror = route.mirror
            if mirror is not None and mirror.subset is not None and mirror.subset not in first:
                path = (*_svc(si), "routes", ri, "mirror", "subset")
                yield _unknown_subset(
                    svc, si, mirror.subset, list(first), path, positions, "route mirror"
                )


def _unknown_subset(
    svc: Service,
    si: int,
    subset: str,
    defined: list[str],
    path: YamlPath,
    positions: Positions,
    what: str = "route destination",
) -> Diagnostic:
    message = f'{what} names subset "{subset}", which {_name(svc)} does not define'
    if not defined:
        return error(
            "MG401",
            message,
            positions.at(path),
            f"{_name(svc)} defines no subsets; add one under its subsets (a name and "
            f"the pod labels it selects) or remove subset from this {what.split()[-1]}",
            [Related(positions.at((*_svc(si), "name")), "the service is defined here")],
        )
    hint = f"defined subsets: {quoted_list(defined)}"
    close = did_you_mean(subset, defined)
    return error(
        "MG401",
        message,
        positions.at(path),
        f"{close} ({hint})" if close else hint,
        [Related(positions.at((*_svc(si), "subsets")), f"{svc.name}'s subsets are defined here")],
    )


def check_subset_labels(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG416: `labels: {}` selects every pod of the service, so the subset is no version at
    all and a split between it and another subset sends the "other" traffic everywhere."""
    for si, svc in enumerate(mesh.spec.services):
        for k, subset in enumerate(svc.subsets):
            if subset.labels:
                continue
            yield error(
                "MG416",
                f'subset "{subset.name}" of {_name(svc)} has no labels, so it selects every pod '
                "of the service",
                positions.at((*_svc(si), "subsets", k, "labels")),
                "give it the pod labels of one version, e.g. labels: {version: "
                f"{subset.name}}}; to route to every pod, leave subset out of the destination",
            )


def check_weights(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG402: weights must sum to 100 (Istio <= 1.14 rejects other sums; istio/istio#39544
    lifted that in 1.15)."""
    for si, svc in enumerate(mesh.spec.services):
        for ri, route in enumerate(svc.routes):
            problem = _weight_problem(route)
            if problem is None:
                continue
            message, hint = problem
            yield error(
                "MG402",
                f"routes[{ri}] of {_name(svc)}: {message}",
                positions.at((*_svc(si), "routes", ri)),
                hint,
            )


def _weight_problem(route: Route) -> tuple[str, str] | None:
    dests = route.destinations
    if len(dests) == 1:
        weight = dests[0].weight
        if weight is None or weight == 100:
            return None
        return (
            f"its only destination has weight {weight}, but it gets all traffic",
            "set weight: 100 or leave the weight out",
        )
    missing = [i for i, d in enumerate(dests) if d.weight is None]
    if missing:
        which = ", ".join(f"destinations[{i}]" for i in missing)
        return (
            f"{which} gives no weight, but with {len(dests)} destinations each needs one",
            "give every destination a weight; together they must add up to 100",
        )
    weights = [d.weight or 0 for d in dests]
    total = sum(weights)
    if total == 100:
        return None
    hint = f"make the weights add up to 100 (now {' + '.join(map(str, weights))} = {total})"
    last = 100 - (total - weights[-1])
    if 0 <= last <= 100:
        hint += f", e.g. set the last one to {last}"
    return f"the destination weights sum to {total}, not 100", hint


def check_namespaces(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG406: a namespace declared twice; MG404: a service in an undeclared namespace."""
    first: dict[str, int] = {}
    for ni, ns in enumerate(mesh.spec.namespaces):
        if ns.name not in first:
            first[ns.name] = ni
            continue
        yield error(
            "MG406",
            f'namespace "{ns.name}" is declared twice',
            positions.at((*_ns(ni), "name")),
            "merge the two entries (one clusters: list can name several clusters)",
            [Related(positions.at((*_ns(first[ns.name]), "name")), "first declared here")],
        )
    for si, svc in enumerate(mesh.spec.services):
        if svc.namespace in first:
            continue
        add = f"add `- name: {svc.namespace}` under spec.namespaces"
        close = did_you_mean(svc.namespace, first)
        yield error(
            "MG404",
            f'service "{svc.name}" is in namespace "{svc.namespace}", which is not declared '
            "under spec.namespaces",
            positions.at((*_svc(si), "namespace")),
            f"{close} Otherwise {add}" if close else add,
        )


def check_services(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG405: the same service (name and namespace) twice; MG407: duplicate ports."""
    first: dict[tuple[str, str], int] = {}
    for si, svc in enumerate(mesh.spec.services):
        key = (svc.namespace, svc.name)
        if key in first:
            yield error(
                "MG405",
                f"{_name(svc)} is declared twice",
                positions.at((*_svc(si), "name")),
                "merge the two entries: one service becomes one DestinationRule and "
                "one VirtualService",
                [Related(positions.at((*_svc(first[key]), "name")), "first declared here")],
            )
        else:
            first[key] = si
        yield from _duplicate_ports(svc, si, positions)


def _duplicate_ports(svc: Service, si: int, positions: Positions) -> Iterator[Diagnostic]:
    for field in ("name", "number"):
        first: dict[str | int, int] = {}
        for pi, port in enumerate(svc.ports):
            value: str | int = port.name if field == "name" else port.number
            if value not in first:
                first[value] = pi
                continue
            shown = f'"{value}"' if field == "name" else str(value)
            yield error(
                "MG407",
                f"port {field} {shown} is used twice in {_name(svc)}",
                positions.at((*_svc(si), "ports", pi, field)),
                "each port of a service needs its own name and number",
                [
                    Related(
                        positions.at((*_svc(si), "ports", first[value], field)), "first used here"
                    )
                ],
            )


def check_placement(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG408: a service placed in a cluster where its namespace is not placed."""
    all_clusters = [c.name for c in mesh.spec.clusters]
    known = set(all_clusters)
    namespaces: dict[str, int] = {}
    for index, namespace in enumerate(mesh.spec.namespaces):
        namespaces.setdefault(namespace.name, index)
    for si, svc in enumerate(mesh.spec.services):
        ni = namespaces.get(svc.namespace)
        if ni is None:
            continue  # MG404
        ns = mesh.spec.namespaces[ni]
        placed = set(ns.clusters)
        if not placed or not placed <= known:
            continue  # everywhere, or a misspelt cluster (MG503) we should not second-guess
        note = Related(
            positions.at((*_ns(ni), "clusters")),
            f'namespace "{ns.name}" is placed only in these clusters',
        )
        where = f'its namespace "{ns.name}" is not'
        if svc.clusters:
            for ci, name in enumerate(svc.clusters):
                if name in known and name not in placed:  # unknown names are MG503
                    yield error(
                        "MG408",
                        f'{_name(svc)} is placed in cluster "{name}", where {where}',
                        positions.at((*_svc(si), "clusters", ci)),
                        f'add "{name}" to the clusters of namespace "{ns.name}", or remove it here',
                        [note],
                    )
            continue
        missing = [name for name in all_clusters if name not in placed]
        if missing:
            inside = [name for name in all_clusters if name in placed]
            example = f" (e.g. clusters: [{', '.join(inside)}])" if inside else ""
            yield error(
                "MG408",
                f"{_name(svc)} goes to every cluster, but in {quoted_list(missing)} {where}",
                positions.at((*_svc(si), "name")),
                f"list the service's clusters{example}, or add {quoted_list(missing)} to the "
                f'clusters of namespace "{ns.name}"',
                [note],
            )


def check_client_ports(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG424: a service that does not run in every cluster needs its ports, for the Service
    its clients in the other clusters resolve (meshgen/render/traffic.py, client_service)."""
    known = [c.name for c in mesh.spec.clusters]
    for si, svc in enumerate(mesh.spec.services):
        if svc.ports or not svc.clusters:
            continue
        absent = [name for name in known if name not in svc.clusters]
        if not absent or not set(svc.clusters) & set(known):
            continue  # runs everywhere, or only misspelt clusters (MG503)
        yield error(
            "MG424",
            f"{_name(svc)} runs only in {quoted_list(c for c in known if c in svc.clusters)}, "
            f"and its clients in {quoted_list(absent)} need its Service there, which needs "
            "ports",
            positions.at((*_svc(si), "clusters")),
            "list every port of the service under ports (clients in the other clusters see "
            "only the ports listed)",
        )


CHECKS = (
    check_namespaces,
    check_services,
    check_subsets,
    check_subset_labels,
    check_weights,
    check_placement,
    check_client_ports,
)
