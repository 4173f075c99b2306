"""Traffic units: the kustomize directories `<cluster>/traffic/<unit>/` that GitOps applies
one by one.

`kustomize build` grows faster than linearly with the documents of one unit (about 3.7 s
for 2,000 and 19 s for 4,000 on two cores), and Argo CD's application controller gives up
on the repo server's manifest generation after 60 s by default (`--repo-server-timeout-seconds`,
https://argo-cd.readthedocs.io/en/stable/operator-manual/server-commands/argocd-application-controller/,
argoproj/argo-cd#1641).
So the rules of a cluster are never one unit: each namespace is its own, and a namespace of
more than UNIT_SERVICES services is cut into 2, 4, 8, ... parts `<namespace>.<k>` by a hash
of the service name. The hash keeps a service in its part when others come and go; only when
the number of parts doubles do rules move between units (and so between Argo CD
Applications or Flux Kustomizations).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable

from meshgen.layout import TRAFFIC_DIR
from meshgen.spec import Service

# 250 services are at most ~500 DestinationRules and VirtualServices: well under a second
# of `kustomize build`.
UNIT_SERVICES = 250


class TrafficUnits:
    """Which unit each service's rules go to, decided once per mesh from the number of
    services in each namespace (the same in every cluster, so unit names are stable)."""

    def __init__(self, services: Iterable[Service]) -> None:
        counts = Counter(service.namespace for service in services)
        self.parts = {namespace: _parts(count) for namespace, count in counts.items()}

    def unit_of(self, service: Service) -> str:
        parts = self.parts[service.namespace]
        if parts == 1:
            return service.namespace
        return f"{service.namespace}.{zlib.crc32(service.name.encode()) % parts}"


def _parts(services: int) -> int:
    parts = 1
    while services > parts * UNIT_SERVICES:
        parts *= 2
    return parts


def unit_dir(cluster: str, unit: str) -> str:
    """The unit's directory, relative to the output directory."""
    return f"{cluster}/{TRAFFIC_DIR}/{unit}"
