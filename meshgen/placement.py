"""Where things go: which cluster runs a service's workloads, which gets its rules.

Multi-primary does not replicate config, and each istiod reads rules from its own cluster
but serves every cluster's endpoints to its proxies. So a service's client-side objects (its
DestinationRule, VirtualService and, where it does not run, a Service without selector) go
to every cluster, whose proxies may all call it; its workloads and server-side policy stay
where it is placed (`clusters`). A namespace is created wherever it holds either.
"""

from __future__ import annotations

from meshgen.spec import Cluster, Mesh, Namespace, Service


def namespaces_in(mesh: Mesh, cluster: Cluster) -> list[Namespace]:
    """The namespaces created in `cluster`: those placed there, and those of every service
    (its rules go to every cluster)."""
    with_services = {s.namespace for s in mesh.spec.services}
    return [
        ns for ns in mesh.spec.namespaces if ns.placed_in(cluster.name) or ns.name in with_services
    ]


def workload_namespaces_in(mesh: Mesh, cluster: Cluster) -> list[Namespace]:
    """The namespaces whose workloads run in `cluster`: server-side policy goes there."""
    return [ns for ns in mesh.spec.namespaces if ns.placed_in(cluster.name)]


def services_in(mesh: Mesh, cluster: Cluster) -> list[Service]:
    """The services whose workloads run in `cluster`."""
    return [s for s in mesh.spec.services if s.placed_in(cluster.name)]


def absent_from(mesh: Mesh, service: Service) -> list[Cluster]:
    """The clusters that do not run `service`: they get its client Service."""
    return [c for c in mesh.spec.clusters if not service.placed_in(c.name)]
