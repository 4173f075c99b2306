"""Test workloads that prove the mesh works, and what they must answer (out/README.md).

The seed blog's check, made for any mesh: per service, stand-in Deployments of Istio's
`helloworld` sample (one per subset, with the subset's labels) spread over the clusters that
run the service, a `sleep` client in each of those clusters, and `curl SERVICE.NS:PORT/hello`
from every one of them. `helloworld` answers `Hello version: <SERVICE_VERSION>, instance:
<pod>`; SERVICE_VERSION is the subset's name (the blog's `v1`/`v2`), or for a service
without subsets the cluster's name, so every answer says which workload it came from.

The manifests go to `<cluster>/verify/`, which no kustomization.yaml lists: GitOps never
applies them (like `secrets/`). They take the service's own name, so they are for a mesh
without the real application (first install, staging); README says so.

Placement: subset j of a service with k subsets on m clusters runs in the service's cluster
i when i = j (mod min(k, m)), so each cluster gets some subsets and each subset some
cluster (the seed: v1 in cluster1, v2 in cluster2); a destination pinned to a cluster also
gets its subset there, so that the pin has an endpoint to reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.placement import namespaces_in
from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.spec import Cluster, Mesh, Service
from meshgen.spec_traffic import AuthorizationPolicy

VERIFY_DIR = "verify"
# Istio's samples (samples/helloworld/helloworld.yaml, samples/sleep/sleep.yaml).
HELLOWORLD_IMAGE = "docker.io/istio/examples-helloworld-v1:1.0"
HELLOWORLD_PORT = 5000
SLEEP_IMAGE = "curlimages/curl:8.11.1"
SLEEP = "sleep"
PATH = "/hello"
# Marks every test object, for `kubectl delete ... -l meshgen.dev/verify=true`.
VERIFY_LABEL = ("meshgen.dev/verify", "true")
# Test workloads for at most this many services (spec order): the proof is the plumbing,
# and the output stays bounded for meshes of thousands of services.
MAX_VERIFIED_SERVICES = 10
DEFAULT_PORT = 80


@dataclass(frozen=True)
class Backend:
    """One test Deployment: a subset of a service (or the whole service) in one cluster."""

    service: Service
    subset: str | None
    cluster: str

    @property
    def name(self) -> str:
        return f"{self.service.name}-{self.subset}" if self.subset else self.service.name

    @property
    def version(self) -> str:
        """What `helloworld` answers: `Hello version: <version>, ...`."""
        return self.subset or self.cluster


def service_clusters(mesh: Mesh, service: Service) -> list[Cluster]:
    return [c for c in mesh.spec.clusters if service.placed_in(c.name)]


def verified_services(mesh: Mesh) -> list[Service]:
    return mesh.spec.services[:MAX_VERIFIED_SERVICES]


def port_of(service: Service) -> int:
    return service.ports[0].number if service.ports else DEFAULT_PORT


def backends(mesh: Mesh, service: Service) -> list[Backend]:
    """The test Deployments of `service`, in cluster order then subset order."""
    clusters = [c.name for c in service_clusters(mesh, service)]
    subsets = [s.name for s in service.subsets]
    if not clusters:
        return []
    if not subsets:
        return [Backend(service, None, c) for c in clusters]
    modulus = min(len(subsets), len(clusters))
    pinned = {
        (d.subset, d.cluster)
        for r in service.routes
        for d in r.destinations
        if d.cluster is not None and d.subset is not None
    }
    return [
        Backend(service, s, c)
        for i, c in enumerate(clusters)
        for j, s in enumerate(subsets)
        if i % modulus == j % modulus or (s, c) in pinned
    ]


def _allow_policies(mesh: Mesh, service: Service) -> list[AuthorizationPolicy]:
    """The ALLOW policies that select the service's test pods."""
    security = mesh.spec.security
    if security is None:
        return []
    key, value = _labels(service)
    pods = [{key: value, **s.labels} for s in service.subsets] or [{key: value}]
    return [
        p
        for p in security.authorization_policies
        if p.namespace == service.namespace
        and any(all(labels.get(k) == v for k, v in p.selector.items()) for labels in pods)
    ]


def _allowed(policies: list[AuthorizationPolicy], namespace: str) -> bool:
    return not policies or any(
        namespace in p.allow.namespaces or f"{namespace}/{SLEEP}" in p.allow.service_accounts
        for p in policies
    )


def client_namespace(mesh: Mesh, service: Service) -> str:
    """Where the `sleep` that calls `service` runs (in every cluster: clients may run
    anywhere): the service's namespace, unless its AuthorizationPolicies admit only other
    namespaces; then the first of those that exists in every cluster (else the service's:
    the answer is 403)."""
    policies = _allow_policies(mesh, service)
    if _allowed(policies, service.namespace):
        return service.namespace
    everywhere = set.intersection(
        *({ns.name for ns in namespaces_in(mesh, c)} for c in mesh.spec.clusters)
    )
    for policy in policies:
        for ns in [
            *policy.allow.namespaces,
            *(
                sa.split("/", 1)[0]
                for sa in policy.allow.service_accounts
                if sa.endswith(f"/{SLEEP}")
            ),
        ]:
            if ns in everywhere:
                return ns
    return service.namespace


def denied(mesh: Mesh, service: Service) -> bool:
    return not _allowed(_allow_policies(mesh, service), client_namespace(mesh, service))


# --- manifests ---------------------------------------------------------------------------


def _labels(service: Service) -> tuple[str, str]:
    """(key, value) of the label the test Service selects: `app`, unless a subset sets it."""
    if any("app" in s.labels for s in service.subsets):
        return "meshgen.dev/service", service.name
    return "app", service.name


def _service(service: Service) -> Manifest:
    key, value = _labels(service)
    ports = service.ports or ()
    spec_ports: list[dict[str, object]] = []
    for p in ports:
        entry: dict[str, object] = {"name": p.name, "port": p.number, "targetPort": HELLOWORLD_PORT}
        if not p.name.startswith("http"):
            # helloworld speaks HTTP/1.1; appProtocol wins over the port name in Istio's
            # protocol selection, so the test answers whatever the port is named.
            entry["appProtocol"] = "http"
        spec_ports.append(entry)
    if not spec_ports:
        spec_ports = [{"name": "http", "port": DEFAULT_PORT, "targetPort": HELLOWORLD_PORT}]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            service.name,
            service.namespace,
            labels={**MANAGED_BY, VERIFY_LABEL[0]: VERIFY_LABEL[1], key: value},
        ),
        "spec": {"selector": {key: value}, "ports": spec_ports},
    }


def _deployment(
    name: str,
    namespace: str,
    labels: dict[str, str],
    container: dict[str, object],
    account: str | None = None,
) -> Manifest:
    pod: dict[str, object] = {"containers": [container]}
    if account is not None:
        pod = {"serviceAccountName": account, **pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace, labels={**MANAGED_BY, **labels}),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


def _backend(backend: Backend) -> Manifest:
    service = backend.service
    key, value = _labels(service)
    subset = next((s for s in service.subsets if s.name == backend.subset), None)
    labels = {key: value, **(subset.labels if subset else {}), VERIFY_LABEL[0]: VERIFY_LABEL[1]}
    return _deployment(
        backend.name,
        service.namespace,
        dict(sorted(labels.items())),
        {
            "name": "helloworld",
            "image": HELLOWORLD_IMAGE,
            "env": [{"name": "SERVICE_VERSION", "value": backend.version}],
            "ports": [{"containerPort": HELLOWORLD_PORT}],
        },
    )


def _sleep(namespace: str) -> list[Manifest]:
    labels = {"app": SLEEP, VERIFY_LABEL[0]: VERIFY_LABEL[1]}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(SLEEP, namespace, labels={**MANAGED_BY, **labels}),
        },
        _deployment(
            SLEEP,
            namespace,
            labels,
            {
                "name": SLEEP,
                "image": SLEEP_IMAGE,
                "command": ["/bin/sleep", "infinity"],
            },
            account=SLEEP,
        ),
    ]


class VerifyManifests:
    """The test objects of every cluster; what is the same in many clusters is built once
    (a Service, a subset's Deployment, a namespace's sleep), so emit serializes it once."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.services = verified_services(mesh)
        self._service = {id(s): _service(s) for s in self.services}
        self._sleep: dict[str, list[Manifest]] = {}
        self._backend: dict[tuple[int, str | None], Manifest] = {}
        # Per service: its backends by cluster, and the clusters it is placed in (looked up
        # once per cluster: a scan of every backend would cost clusters squared).
        self.placed: dict[int, dict[str, list[Backend]]] = {}
        for s in self.services:
            by_cluster = self.placed[id(s)] = {}
            for b in backends(mesh, s):
                by_cluster.setdefault(b.cluster, []).append(b)
        self.placement = {id(s): {c.name for c in service_clusters(mesh, s)} for s in self.services}
        self.clients = {id(s): client_namespace(mesh, s) for s in self.services}
        self.client_namespaces = set(self.clients.values())

    def files(self, cluster: Cluster) -> list[tuple[str, tuple[Manifest, ...]]]:
        """(path relative to the cluster directory, documents), one file per namespace: the
        test Service and backends where the service runs, a `sleep` client everywhere."""
        by_namespace: dict[str, list[Manifest]] = {}
        for service in self.services:
            mine = self.placed[id(service)].get(cluster.name, [])
            if not mine and cluster.name not in self.placement[id(service)]:
                by_namespace.setdefault(self.clients[id(service)], [])
                continue
            docs = by_namespace.setdefault(service.namespace, [])
            docs.append(self._service[id(service)])
            for b in mine:
                key = (id(service), b.subset)
                doc = self._backend.get(key) if b.subset is not None else None
                if doc is None:
                    doc = _backend(b)
                    if b.subset is not None:
                        self._backend[key] = doc
                docs.append(doc)
            by_namespace.setdefault(self.clients[id(service)], [])
        out = []
        for namespace, docs in by_namespace.items():
            if namespace in self.client_namespaces:
                docs = [*docs, *self._sleep.setdefault(namespace, _sleep(namespace))]
            out.append((f"{VERIFY_DIR}/{namespace}.yaml", tuple(docs)))
        return out
