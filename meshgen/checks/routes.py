"""MG409-MG412: namespaces meshgen must not manage, and routes that Istio would reject or
never use (the parts of `istioctl analyze` that can be decided from the spec alone)."""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import error, quoted_list, warning
from meshgen.diagnostics import Diagnostic, Related
from meshgen.load import Positions
from meshgen.spec import Mesh

CODES = {
    "MG409": "error: a system namespace (istio-system, kube-*, default, openshift-*) is "
    "declared as an app namespace",
    "MG410": "error: a route destination names a port its service does not declare",
    "MG411": "error: a destination of a service with several ports names no port",
    "MG412": "warning: a route after a catch-all route is unreachable",
}

SYSTEM_NAMESPACES = frozenset({"istio-system", "kube-system", "kube-public", "kube-node-lease",
                               "default"})


def check_system_namespaces(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG409: meshgen writes istio-system itself, and labelling kube-system or OpenShift's
    namespaces for injection would put sidecars into the platform."""
    for ni, ns in enumerate(mesh.spec.namespaces):
        if ns.name in SYSTEM_NAMESPACES or ns.name.startswith(("openshift-", "kube-")):
            yield error(
                "MG409", f'namespace "{ns.name}" belongs to the platform, not to applications',
                positions.at(("spec", "namespaces", ni, "name")),
                "declare only application namespaces; meshgen creates istio-system itself")


def check_destination_ports(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG410: unknown port; MG411: no port where istioctl analyze reports IST0112
    (reference/istio.md §5.4)."""
    for si, svc in enumerate(mesh.spec.services):
        numbers = [p.number for p in svc.ports]
        for ri, route in enumerate(svc.routes):
            for di, dest in enumerate(route.destinations):
                path = ("spec", "services", si, "routes", ri, "destinations", di)
                if dest.port is not None and dest.port not in numbers:
                    declared = quoted_list(str(n) for n in numbers)
                    yield error(
                        "MG410",
                        f'port {dest.port} is not a port of service "{svc.namespace}/{svc.name}"',
                        positions.at((*path, "port")),
                        f"declared ports: {declared}" if numbers else
                        "declare it under the service's ports",
                        [Related(positions.at(("spec", "services", si, "ports")),
                                 "the service's ports")] if numbers else [])
                elif dest.port is None and len(numbers) > 1:
                    yield error(
                        "MG411",
                        f'service "{svc.namespace}/{svc.name}" has {len(numbers)} ports, so '
                        "each destination must name one (Istio: IST0112)",
                        positions.at(path),
                        f"add e.g. port: {numbers[0]}")


def check_unreachable_routes(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG412: routes have no match conditions yet, so the first one takes all traffic
    (istioctl analyze: IST0130)."""
    for si, svc in enumerate(mesh.spec.services):
        for ri in range(1, len(svc.routes)):
            yield warning(
                "MG412",
                f'route {ri} of service "{svc.namespace}/{svc.name}" is unreachable: route 0 '
                "already matches every request",
                positions.at(("spec", "services", si, "routes", ri)),
                "merge the destinations into the first route with weights",
                [Related(positions.at(("spec", "services", si, "routes", 0)),
                         "the catch-all route")])


CHECKS = (check_system_namespaces, check_destination_ports, check_unreachable_routes)
