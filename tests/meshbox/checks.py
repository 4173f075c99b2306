"""What the mesh must do, derived from mesh.yaml, against what each cluster's istiod tells the
runbook's verify clients (the `sleep` pods) over xDS.

Per client cluster x verified service (tests see the same services as the runbook's verify
step, meshgen/render/verify.py):
- endpoints: the EDS of every subset (and of the whole service) is exactly the test pods of
  every cluster that runs that subset, each tagged with the cluster it was read from;
- answer: what a plain `curl SERVICE.NS:PORT/hello` from that client gets, worked out from
  the route Envoy would take (RDS), its weights, the endpoints' localities and priorities
  (EDS) and the pods behind them, equals what the runbook says it gets
  (meshgen.render.answers.expected);
- rules: every DestinationRule subset is a cluster in CDS, and the first route's weights,
  timeout, retries and mirror are in RDS.
Per cluster: the plugged-in root certificate is what istiod distributes
(ConfigMap istio-ca-root-cert).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshgen.render.answers import expected
from meshgen.render.traffic import pinned_subset_name, service_host
from meshgen.render.verify import SLEEP, VERIFY_LABEL, client_namespace, port_of, verified_services
from meshgen.revisions import control_planes, injection_labels, tags_of
from meshgen.spec import Cluster, Service
from tests.meshbox import rules, security, sidecar
from tests.meshbox.api import Obj
from tests.meshbox.istiod import IstiodProcess

if TYPE_CHECKING:
    from tests.meshbox.box import Run

ROOT_CERT_CONFIGMAP = "istio-ca-root-cert"


@dataclass
class Finding:
    check: str
    cluster: str
    subject: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Pod:
    cluster: str
    name: str
    namespace: str
    ip: str
    version: str  # what helloworld answers: SERVICE_VERSION
    labels: dict[str, str]


def _test_pods(run: Run) -> dict[str, Pod]:
    """Every running test backend of every cluster, by pod IP."""
    assert run.box is not None
    pods: dict[str, Pod] = {}
    for cluster in run.box.clusters:
        for pod in cluster.api.items(
            "/api/v1/pods", labelSelector=f"{VERIFY_LABEL[0]}={VERIFY_LABEL[1]}"
        ):
            ip = pod.get("status", {}).get("podIP")
            if not ip or pod["metadata"].get("deletionTimestamp"):
                continue
            version = ""
            for container in pod["spec"]["containers"]:
                for env in container.get("env", []):
                    if env["name"] == "SERVICE_VERSION":
                        version = env.get("value", "")
            labels = dict(pod["metadata"].get("labels", {}))
            pods[ip] = Pod(
                cluster.name,
                pod["metadata"]["name"],
                pod["metadata"]["namespace"],
                ip,
                version,
                labels,
            )
    return pods


def _client_pod(run: Run, cluster: str, namespace: str) -> Obj:
    assert run.box is not None
    api = run.box.cluster(cluster).api
    pods = [
        p
        for p in api.items(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"app={SLEEP}")
        if p.get("status", {}).get("podIP") and not p["metadata"].get("deletionTimestamp")
    ]
    if not pods:
        raise AssertionError(f"{cluster}: no running {SLEEP} pod in namespace {namespace}")
    return pods[0]


class Dump:
    """One proxy's xDS, indexed."""

    def __init__(self, raw: dict[str, Any], istiod: IstiodProcess) -> None:
        self.raw = raw
        self.istiod = istiod  # the control plane that served it
        self.clusters = {c["name"]: c for c in raw.get("clusters", [])}
        self.routes = {r["name"]: r for r in raw.get("routes", [])}
        self.endpoints = {e["clusterName"]: e for e in raw.get("endpoints", [])}

    def eds(self, cluster: str) -> list[tuple[str, int, str]]:
        """(address, priority, istio.workload metadata) of each endpoint of `cluster`."""
        found = []
        assignment = self.endpoints.get(self._eds_name(cluster), {})
        for group in assignment.get("endpoints", []):
            for lb in group.get("lbEndpoints", []):
                address = lb["endpoint"]["address"]["socketAddress"]["address"]
                workload = (
                    lb.get("metadata", {})
                    .get("filterMetadata", {})
                    .get("istio", {})
                    .get("workload", "")
                )
                found.append((address, int(group.get("priority", 0)), workload))
        return found

    def _eds_name(self, cluster: str) -> str:
        c = self.clusters.get(cluster, {})
        return str(c.get("edsClusterConfig", {}).get("serviceName") or cluster)

    def virtual_host(self, host: str, port: int) -> dict[str, Any] | None:
        for config in self.routes.values():
            for vh in config.get("virtualHosts", []):
                if f"{host}:{port}" in vh.get("domains", []) or vh.get("name") == f"{host}:{port}":
                    return dict(vh)
        return None


def _outbound(port: int, subset: str, host: str) -> str:
    return f"outbound|{port}|{subset}|{host}"


def run_all(run: Run) -> list[Finding]:
    findings: list[Finding] = []
    findings.extend(_root_certs(run))
    pods = _test_pods(run)
    dumps: dict[tuple[str, str], Dump] = {}
    services = verified_services(run.mesh)
    for cluster in run.mesh.spec.clusters:
        for service in services:
            namespace = client_namespace(run.mesh, service)
            key = (cluster.name, namespace)
            if key not in dumps:
                dumps[key] = _dump(run, cluster.name, namespace)
                findings.extend(_control_plane(run, cluster, namespace, dumps[key]))
            dump = dumps[key]
            findings.extend(_resolves(run, cluster, service, dump))
            findings.extend(_endpoints(run, cluster, service, dump, pods))
            findings.extend(_locality(run, cluster, service, dump, pods))
            findings.extend(_answer(run, cluster, service, dump, pods))
            findings.extend(_rules(run, cluster, service, dump))
    for service in services:
        if security.governed(run.mesh, service):
            findings.extend(_server_side(run, service, pods))
    return findings


def _dump(run: Run, cluster: str, namespace: str, pod: Obj | None = None) -> Dump:
    """The xDS of `pod` (default: the sleep client in `namespace`) in `cluster`."""
    from tests.meshbox.box import release_binary

    assert run.box is not None
    if pod is None:
        pod = _client_pod(run, cluster, namespace)
    api = run.box.cluster(cluster).api
    release = _proxy_release(run, pod)
    node = sidecar.node_of(pod, release)
    serving = {p.ip: p for p in run.kubelets[cluster].running.values() if p.alive()}
    address = sidecar.istiod_address(api, node.discovery_service, set(serving))
    raw = sidecar.fetch(release_binary("meshbox-sidecar", release), f"{address}:15010", node)
    keep = run.workdir / "xds" / f"{cluster}.{namespace}.{pod['metadata']['name']}.json"
    keep.parent.mkdir(exist_ok=True)
    keep.write_text(json.dumps(raw, indent=1))
    return Dump(raw, serving[address])


def _proxy_release(run: Run, pod: Obj) -> str:
    from tests.meshbox.box import releases_of

    releases = releases_of(run.mesh)
    container = sidecar.proxy_container(pod) or {}
    tag = str(container.get("image", "")).rsplit(":", 1)[-1]
    match = re.match(r"\d+\.\d+\.\d+", tag)
    return match.group(0) if match and match.group(0) in releases else releases[-1]


# --- the checks --------------------------------------------------------------------------


def _root_certs(run: Run) -> Iterator[Finding]:
    from tests.meshbox.box import istio_release_dir, releases_of

    assert run.box is not None
    root = istio_release_dir(run.workdir, releases_of(run.mesh)[-1]) / "certs" / "root-cert.pem"
    want = root.read_text() if root.exists() else None
    for cluster in run.box.clusters:
        cm = cluster.api.maybe(f"/api/v1/namespaces/istio-system/configmaps/{ROOT_CERT_CONFIGMAP}")
        got = None if cm is None else cm.get("data", {}).get("root-cert.pem")
        ok = want is not None and got is not None and got.strip() == want.strip()
        detail = (
            "the plugged-in root"
            if ok
            else (
                "no root-cert.pem made by the runbook"
                if want is None
                else f"istiod distributes another root ({'none' if got is None else 'differs'})"
            )
        )
        yield Finding("root-cert", cluster.name, ROOT_CERT_CONFIGMAP, ok, detail)


def _control_plane(run: Run, cluster: Cluster, namespace: str, dump: Dump) -> Iterator[Finding]:
    """The client's proxy is served by the control plane mesh.yaml gives its namespace in this
    cluster: the revision its label names (a tag, through `tags_of`), at that revision's
    version. The injector that matched the label decided it (the pod's discovery address)."""
    declared = next((n for n in run.mesh.spec.namespaces if n.name == namespace), None)
    if declared is None:
        return
    planes = {p.name: p for p in control_planes(run.mesh)}
    label = injection_labels(run.mesh, declared).get("istio.io/rev")
    if label is None:
        want = control_planes(run.mesh)[0] if len(planes) == 1 else None
    else:
        want = planes.get(tags_of(run.mesh, cluster).get(label, label))
    if want is None:
        return
    served = dump.istiod
    revision = "" if served.revision == "default" else served.revision
    version = served.binary.name.removeprefix("pilot-discovery-")
    ok = revision == want.name and version == want.version
    label_text = f"istio.io/rev={label}" if label else "istio-injection=enabled"
    yield Finding(
        "control-plane",
        cluster.name,
        f"{namespace} ({label_text})",
        ok,
        f"served by {served.pod} (revision {want.name or 'default'}, {version})"
        if ok
        else f"served by {served.pod} (revision {revision or 'default'}, {version}); "
        f"mesh.yaml gives revision {want.name or 'default'} ({want.version})",
    )


def _resolves(run: Run, cluster: Cluster, service: Service, dump: Dump) -> Iterator[Finding]:
    """A client in `cluster` finds the service by name: the cluster has its Service (which
    Kubernetes DNS answers for), and the Envoy routes its ClusterIP (where the call is
    intercepted) to the service's virtual host."""
    assert run.box is not None
    api = run.box.cluster(cluster.name).api
    subject = f"{service.namespace}/{service.name}"
    found = api.maybe(f"/api/v1/namespaces/{service.namespace}/services/{service.name}")
    if found is None:
        yield Finding(
            "resolves",
            cluster.name,
            subject,
            False,
            f"no Service {subject} in {cluster.name}: the name does not resolve there",
        )
        return
    ip = found["spec"].get("clusterIP", "")
    vh = dump.virtual_host(service_host(service), port_of(service))
    domains = [] if vh is None else vh.get("domains", [])
    ok = any(d == ip or d.startswith(f"{ip}:") for d in domains)
    yield Finding(
        "resolves",
        cluster.name,
        subject,
        ok,
        f"Service {ip} routed to its virtual host"
        if ok
        else f"the Service's ClusterIP {ip} is not a domain of its virtual host {domains}",
    )


def _subset_pods(
    service: Service, subset_labels: dict[str, str], pods: dict[str, Pod], only: str | None = None
) -> set[str]:
    """The test backends of `service` that `subset_labels` select (in cluster `only`)."""
    return {
        ip
        for ip, pod in pods.items()
        if pod.namespace == service.namespace
        and service.name in (pod.labels.get("app"), pod.labels.get("meshgen.dev/service"))
        and all(pod.labels.get(k) == v for k, v in subset_labels.items())
        and (only is None or pod.cluster == only)
    }


def _subsets(service: Service) -> list[tuple[str, dict[str, str], str | None]]:
    """(name, labels, cluster) of each subset of the DestinationRule, the whole service
    first: the declared ones, then the pinned ones (<subset>-<cluster>)."""
    declared = {s.name: dict(s.labels) for s in service.subsets}
    out: list[tuple[str, dict[str, str], str | None]] = [("", {}, None)]
    out += [(name, labels, None) for name, labels in declared.items()]
    for route in service.routes:
        for dest in route.destinations:
            if dest.cluster is None:
                continue
            name = pinned_subset_name(dest.subset, dest.cluster)
            labels = declared.get(dest.subset, {}) if dest.subset else {}
            if all(name != n for n, _, _ in out):
                out.append((name, labels, dest.cluster))
    return out


def _endpoints(
    run: Run, cluster: Cluster, service: Service, dump: Dump, pods: dict[str, Pod]
) -> Iterator[Finding]:
    host = service_host(service)
    port = port_of(service)
    for subset, labels, only in _subsets(service):
        name = _outbound(port, subset, host)
        subject = f"{service.namespace}/{service.name} {name}"
        if name not in dump.clusters:
            yield Finding("endpoints", cluster.name, subject, False, "no such cluster in CDS")
            continue
        got = dump.eds(name)
        want = _subset_pods(service, labels, pods, only)
        addresses = {a for a, _, _ in got}
        wrong_cluster = [
            f"{a} tagged {w.rsplit(';', 1)[-1]!r}, runs in {pods[a].cluster!r}"
            for a, _, w in got
            if a in pods and w.rsplit(";", 1)[-1] != pods[a].cluster
        ]
        ok = addresses == want and not wrong_cluster
        detail = (
            f"{len(want)} endpoint(s), each tagged with its cluster"
            if ok
            else f"expected {sorted(want)} ({_where(want, pods)}), got {sorted(addresses)}"
            + (f"; {'; '.join(wrong_cluster)}" if wrong_cluster else "")
        )
        yield Finding("endpoints", cluster.name, subject, ok, detail)


def _where(ips: set[str], pods: dict[str, Pod]) -> str:
    return (
        ", ".join(sorted(f"{pods[i].cluster}:{pods[i].name}" for i in ips if i in pods)) or "none"
    )


# --- what a plain GET /hello gets ---------------------------------------------------------


def _path_matches(match: dict[str, Any], path: str) -> bool:
    if "prefix" in match:
        return path.startswith(match["prefix"])
    if "path" in match:
        return bool(path == match["path"])
    if "safeRegex" in match:
        return re.fullmatch(match["safeRegex"]["regex"], path) is not None
    if "pathSeparatedPrefix" in match:
        prefix = match["pathSeparatedPrefix"]
        return bool(path == prefix or path.startswith(prefix + "/"))
    return True


def _plain_request_matches(match: dict[str, Any], path: str) -> bool:
    """A GET of `path` with no headers of its own: a header matcher matches only when it
    asks for the header to be absent."""
    if not _path_matches(match, path):
        return False
    for header in match.get("headers", []):
        absent = header.get("presentMatch") is False or (
            header.get("presentMatch") is True and header.get("invertMatch")
        )
        if not absent and not header.get("invertMatch"):
            return False
    return True


def _answer(
    run: Run, cluster: Cluster, service: Service, dump: Dump, pods: dict[str, Pod]
) -> Iterator[Finding]:
    from meshgen.render.verify import PATH

    want = expected(run.mesh, service, cluster.name)
    subject = f"{service.namespace}/{service.name}"
    vh = dump.virtual_host(service_host(service), port_of(service))
    if vh is None:
        yield Finding("answer", cluster.name, subject, False, "no virtual host in RDS")
        return
    route = next(
        (r for r in vh.get("routes", []) if _plain_request_matches(r.get("match", {}), PATH)),
        None,
    )
    if route is None:
        got: dict[str, Any] = {"status": 404}
    elif "directResponse" in route:
        got = {"status": int(route["directResponse"]["status"])}
    else:
        got = _shares(route, dump, pods)
        abort = _abort(route)
        if abort is not None and abort[1] >= 100:
            got = {"status": abort[0]}
    if want.status is not None and want.status != 403:
        wanted: dict[str, Any] = {"status": want.status}
    elif want.status == 403:
        # RBAC answers on the server side: the client's route reaches the service.
        yield Finding(
            "answer", cluster.name, subject, True, "403 is the server's: not a client route"
        )
        return
    else:
        wanted = {"versions": dict(want.versions)}
    ok = got == wanted
    yield Finding(
        "answer",
        cluster.name,
        subject,
        ok,
        f"as the runbook says: {wanted}" if ok else f"runbook says {wanted}, xDS gives {got}",
    )


def _abort(route: dict[str, Any]) -> tuple[int, float] | None:
    for name, config in route.get("typedPerFilterConfig", {}).items():
        if "fault" not in name:
            continue
        abort = config.get("abort")
        if abort and "httpStatus" in abort:
            pct = abort.get("percentage", {})
            numerator = float(pct.get("numerator", 0))
            denominator = {"HUNDRED": 100, "TEN_THOUSAND": 10000, "MILLION": 1000000}[
                pct.get("denominator", "HUNDRED")
            ]
            return int(abort["httpStatus"]), numerator * 100 / denominator
    return None


def _shares(route: dict[str, Any], dump: Dump, pods: dict[str, Pod]) -> dict[str, Any]:
    action = route.get("route", {})
    if "weightedClusters" in action:
        targets = [
            (c["name"], int(c.get("weight", 0))) for c in action["weightedClusters"]["clusters"]
        ]
    else:
        targets = [(action.get("cluster", ""), 100)]
    single = len(targets) == 1
    shares: dict[str, int | None] = {}
    for name, weight in targets:
        endpoints = dump.eds(name)
        if endpoints:
            best = min(p for _, p, _ in endpoints)
            local = [a for a, p, _ in endpoints if p == best]
        else:
            local = []
        versions = list(dict.fromkeys(pods[a].version for a in local if a in pods))
        if weight == 0 and not single:
            continue
        for version in versions:
            share = (100 if single else weight) if len(versions) == 1 else None
            old = shares.get(version, 0)
            shares[version] = None if share is None or old is None else old + share
    return {"versions": shares}


# --- the rules, field by field --------------------------------------------------------------


def _rules(run: Run, cluster: Cluster, service: Service, dump: Dump) -> Iterator[Finding]:
    for subject, ok, detail in rules.cds(service, dump.clusters):
        yield Finding("destination-rule", cluster.name, subject, ok, detail)
    vh = dump.virtual_host(service_host(service), port_of(service))
    for subject, ok, detail in rules.rds(service, cluster.name, vh):
        yield Finding("virtual-service", cluster.name, subject, ok, detail)


# --- locality ---------------------------------------------------------------------------


def _locality_lb(service: Service) -> Any:
    policy = service.traffic_policy
    lb = None if policy is None else policy.load_balancer
    return None if lb is None or lb.locality is None or not lb.locality.enabled else lb.locality


def expected_priorities(
    client: tuple[str | None, str | None],
    endpoints: dict[str, tuple[str | None, str | None]],
    failover: dict[str, str],
) -> dict[str, int]:
    """Istio's locality failover (pilot/pkg/networking/core/loadbalancer): same region and
    zone first, then the same region, then the region `failover` names for the client's,
    then the rest; the priorities made consecutive."""

    def rank(where: tuple[str | None, str | None]) -> int:
        if where[0] == client[0]:
            return 0 if where[1] == client[1] else 2
        if client[0] is not None and failover.get(client[0]) == where[0]:
            return 3
        return 4

    ranks = {ip: rank(where) for ip, where in endpoints.items()}
    order = sorted(set(ranks.values()))
    return {ip: order.index(r) for ip, r in ranks.items()}


def _locality(
    run: Run, cluster: Cluster, service: Service, dump: Dump, pods: dict[str, Pod]
) -> Iterator[Finding]:
    setting = _locality_lb(service)
    if setting is None:
        return
    where = {c.name: (c.region, c.zone) for c in run.mesh.spec.clusters}
    name = _outbound(port_of(service), "", service_host(service))
    got = {a: p for a, p, _ in dump.eds(name)}
    endpoints = {a: where[pods[a].cluster] for a in got if a in pods}
    failover = {f.from_: f.to for f in setting.failover}
    want = expected_priorities(where[cluster.name], endpoints, failover)
    ok = bool(got) and got == want
    yield Finding(
        "locality",
        cluster.name,
        f"{service.namespace}/{service.name} {name}",
        ok,
        f"priorities {want}" if ok else f"expected priorities {want}, got {got}",
    )


# --- the server side --------------------------------------------------------------------


def _server_side(run: Run, service: Service, pods: dict[str, Pod]) -> Iterator[Finding]:
    """mTLS and authorization at a test backend of `service` in each cluster that runs it."""
    assert run.box is not None
    for cluster in run.mesh.spec.clusters:
        backend = next(
            (
                p
                for p in pods.values()
                if p.cluster == cluster.name
                and p.namespace == service.namespace
                and service.name in (p.labels.get("app"), p.labels.get("meshgen.dev/service"))
            ),
            None,
        )
        if backend is None:
            continue
        api = run.box.cluster(cluster.name).api
        pod = api.get(f"/api/v1/namespaces/{backend.namespace}/pods/{backend.name}")
        listeners = _dump(run, cluster.name, backend.namespace, pod).raw.get("listeners", [])
        for subject, ok, detail in security.mtls(run.mesh, service, listeners):
            yield Finding("mtls", cluster.name, subject, ok, detail)
        for caller in run.mesh.spec.clusters:
            for subject, ok, detail in security.authorization(
                run.mesh, service, caller.name, listeners
            ):
                yield Finding("authorization", cluster.name, subject, ok, detail)
