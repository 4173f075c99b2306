"""DestinationRules and VirtualServices, rendered once and shared by every cluster.

Multi-primary does not replicate Istio config between clusters (reference/istio.md §5.3),
so the same rules go to each cluster; hosts are full `<name>.<ns>.svc.cluster.local`
names because short names resolve against the rule's namespace (§5.3).
"""

from __future__ import annotations

from typing import Any

from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.spec import Mesh, Service
from meshgen.versions import release


def service_host(service: Service) -> str:
    return f"{service.name}.{service.namespace}.svc.cluster.local"


def render_service_rules(mesh: Mesh, service: Service) -> tuple[Manifest, ...]:
    api_version = release(mesh.spec.istio.version).networking_api_version
    host = service_host(service)
    meta = metadata(service.name, service.namespace, labels=dict(MANAGED_BY))
    docs: list[Manifest] = []
    if service.subsets:
        docs.append({
            "apiVersion": api_version,
            "kind": "DestinationRule",
            "metadata": meta,
            "spec": {
                "host": host,
                "subsets": [{"name": s.name, "labels": dict(s.labels)} for s in service.subsets],
            },
        })
    if service.routes:
        http = []
        for route in service.routes:
            destinations = []
            for dest in route.destinations:
                destination: dict[str, Any] = {"host": host}
                if dest.subset is not None:
                    destination["subset"] = dest.subset
                if dest.port is not None:
                    destination["port"] = {"number": dest.port}
                entry: dict[str, Any] = {"destination": destination}
                if dest.weight is not None:
                    entry["weight"] = dest.weight
                destinations.append(entry)
            http.append({"route": destinations})
        docs.append({
            "apiVersion": api_version,
            "kind": "VirtualService",
            "metadata": meta,
            "spec": {"hosts": [host], "http": http},
        })
    return tuple(docs)
