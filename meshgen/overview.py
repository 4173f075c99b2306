"""The mesh at a glance: a Mermaid diagram (out/README.md) and the same summary as terminal
text (`meshgen explain`, through `mesh_summary`); the address map is in address_map.py.

Pure and bounded: beyond MAX_CLUSTERS clusters or MAX_SERVICES services the picture shows the
first ones and says how many more there are, so its size does not grow with the mesh.
Spec values reach Mermaid labels only as entity codes (`#NN;`) outside a small safe set, and
node ids are indexes, never names.
"""

from __future__ import annotations

from meshgen.address_map import address_map
from meshgen.spec import Cluster, Mesh, Route, Service
from meshgen.spec_cidr import cidr_list

MAX_CLUSTERS = 8  # drawn one by one; beyond, the first SHOWN_CLUSTERS and a note
SHOWN_CLUSTERS = 6
MAX_WATCH_EDGES = 4  # istiod -> each peer's API server edges, up to this many clusters
MAX_SERVICES = 8


# --- shared descriptions -----------------------------------------------------------------


def cluster_line(c: Cluster) -> str:
    pods, services = cidr_list(c.pod_cidr), cidr_list(c.service_cidr)
    return f"{c.name} ({c.platform}): pods {pods}, services {services}"


def _match_text(route: Route) -> str:
    if not route.match:
        return ""
    parts = []
    for m in route.match:
        conds = [f"header {k}" for k in sorted(m.headers)]
        if m.uri is not None:
            conds.append("uri " + (m.uri.exact or m.uri.prefix or m.uri.regex or ""))
        if m.port is not None:
            conds.append(f"port {m.port}")
        conds += [f"from {k}={v}" for k, v in sorted(m.source_labels.items())]
        parts.append(" and ".join(conds) or "any")
    return "if " + " or ".join(parts)


def route_targets(route: Route) -> list[tuple[str, str]]:
    """(weight text, target text) per destination: `90%`, `v2 in cluster2`."""
    single = len(route.destinations) == 1
    out = []
    for d in route.destinations:
        weight = "100%" if single else f"{d.weight}%" if d.weight is not None else "?"
        target = d.subset or "all"
        if d.cluster is not None:
            target += f" in {d.cluster}"
        out.append((weight, target))
    return out


def failover_text(service: Service) -> str:
    policy = service.traffic_policy
    lb = policy.load_balancer if policy is not None else None
    locality = lb.locality if lb is not None else None
    if locality is None or not locality.enabled:
        return ""
    steps = [f"{f.from_} -> {f.to}" for f in locality.failover]
    if locality.failover_priority:
        steps.append("priority " + ", ".join(locality.failover_priority))
    return "failover " + "; ".join(steps) if steps else "locality-aware"


def service_lines(service: Service) -> list[str]:
    port = f":{service.ports[0].number}" if service.ports else ""
    head = f"{service.name}.{service.namespace}{port}"
    if service.clusters:
        head += " in " + ", ".join(service.clusters)
    failover = failover_text(service)
    if failover:
        head += f" ({failover})"
    lines = [head]
    if not service.routes:
        lines.append("  no routes: every endpoint in every cluster")
    for i, route in enumerate(service.routes, 1):
        match = _match_text(route)
        targets = ", ".join(f"{w} {t}" for w, t in route_targets(route))
        lines.append(f"  route {i}{' ' + match if match else ''}: {targets}")
    return lines


# --- Mermaid -----------------------------------------------------------------------------

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._/:-%,()=")


def label(text: str) -> str:
    """`text` for a quoted Mermaid label: anything outside a safe set as an entity code."""
    return "".join(ch if ch in _SAFE else f"#{ord(ch)};" for ch in text)


def _q(*lines: str) -> str:
    return '"' + "<br/>".join(label(x) for x in lines) + '"'


def mermaid(mesh: Mesh) -> list[str]:
    """The lines of a Mermaid flowchart of the mesh (without the fence). Submariner is drawn as
    it is deployed, a gateway per cluster joined to the broker, with the tunnels between the
    gateways in the broker's label: the picture grows with the clusters, not their pairs."""
    spec = mesh.spec
    clusters = spec.clusters
    shown = clusters if len(clusters) <= MAX_CLUSTERS else clusters[:SHOWN_CLUSTERS]
    out = ["flowchart LR"]
    sub = spec.submariner
    istiods = _istiod_lines(mesh)
    for i, c in enumerate(shown):
        out.append(f"  subgraph c{i}[{_q(f'{c.name} ({c.platform})')}]")
        net = _q("pods " + cidr_list(c.pod_cidr), "services " + cidr_list(c.service_cidr))
        out.append(f"    c{i}net[{net}]")
        watch = (
            []
            if len(clusters) <= MAX_WATCH_EDGES
            else [f"watches {len(clusters) - 1} peer API servers"]
        )
        out.append(f"    c{i}istiod[{_q(*istiods, *watch)}]")
        out.append(f"    c{i}api[{_q('API server')}]")
        if sub is not None:
            out.append(f"    c{i}gw[{_q('Submariner gateway')}]")
        out.append("  end")
    if len(shown) < len(clusters):
        out.append(f"  more[{_q(f'... and {len(clusters) - len(shown)} more clusters')}]")
    if sub is not None:
        pairs = len(clusters) * (len(clusters) - 1) // 2
        tunnels = f"{pairs} {sub.cable_driver} tunnel{'s' * (pairs != 1)}, gateway to gateway"
        out.append(f"  broker{{{{{_q('Submariner broker on ' + sub.broker, tunnels)}}}}}")
        out.extend(f"  c{i}gw <-.->|{_q('joins')}| broker" for i in range(len(shown)))
        if len(shown) < len(clusters):
            out.append("  more <-.-> broker")
    if len(clusters) <= MAX_WATCH_EDGES:
        for i in range(len(shown)):
            for j in range(len(shown)):
                if i != j:
                    out.append(f"  c{i}istiod -.->|watches| c{j}api")
    out += _service_lines(spec.services)
    return out


def _istiod_lines(mesh: Mesh) -> list[str]:
    """`istiod`, or with control planes per revision (a canary upgrade) one line each."""
    istio = mesh.spec.istio
    if not istio.revisions:
        return ["istiod" + (f" {istio.revision}" if istio.revision else "")]
    return [f"istiod {r.name} ({r.version})" for r in istio.revisions]


def _service_lines(all_services: list[Service]) -> list[str]:
    """Each service's routes (weights, matches) and mirrors, to the subsets they reach."""
    services = all_services[:MAX_SERVICES]
    out = [line for i, service in enumerate(services) for line in _service_edges(f"s{i}", service)]
    if len(all_services) > len(services):
        more = _q(f"... and {len(all_services) - len(services)} more services")
        out.append(f"  moresvc([{more}])")
    return out


def _service_edges(sid: str, service: Service) -> list[str]:
    out = [f"  {sid}([{_q(*service_lines(service)[:1])}])"]
    targets: dict[str, str] = {}
    for r_index, route in enumerate(service.routes, 1):
        match = _match_text(route)
        edges = [
            ("-->", f"r{r_index} {weight}" + (f" {match}" if match else ""), target)
            for weight, target in route_targets(route)
        ]
        if route.mirror is not None:
            mirrored = f"r{r_index} mirror {route.mirror.percentage}%"
            edges.append(("-.->", mirrored, route.mirror.subset or "all"))
        for arrow, text, target in edges:
            tid = targets.setdefault(target, f"{sid}t{len(targets)}")
            out.append(f"  {sid} {arrow}|{_q(text)}| {tid}[{_q(target)}]")
    return out


# --- terminal text -----------------------------------------------------------------------

_BOLD, _CYAN, _GREEN, _YELLOW, _DIM, _RESET = (
    "\033[1m",
    "\033[36m",
    "\033[32m",
    "\033[33m",
    "\033[2m",
    "\033[0m",
)


def mesh_summary(mesh: Mesh, *, color: bool) -> str:
    """The mesh as terminal text: clusters, tunnels, istiod watches, routes, address map.
    ANSI colours when `color`, plain text otherwise."""

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    spec = mesh.spec
    clusters = spec.clusters
    n = len(clusters)
    out = [
        paint(_BOLD, f"mesh {mesh.metadata.name}")
        + f": Istio {spec.istio.version} multi-primary, network {spec.network}, "
        f"{n} cluster{'s' * (n != 1)}, {len(spec.services)} service"
        f"{'s' * (len(spec.services) != 1)}",
        "",
        paint(_BOLD, "clusters"),
    ]
    shown = clusters if n <= MAX_CLUSTERS else clusters[:SHOWN_CLUSTERS]
    for c in shown:
        out.append(
            f"  {paint(_BOLD, c.name)} ({c.platform}): pods "
            f"{paint(_CYAN, cidr_list(c.pod_cidr))}, services "
            f"{paint(_CYAN, cidr_list(c.service_cidr))}"
        )
    if len(shown) < n:
        out.append(paint(_DIM, f"  ... and {n - len(shown)} more clusters"))
    sub = spec.submariner
    if sub is not None:
        out.append(
            f"  Submariner broker on {paint(_BOLD, sub.broker)}; "
            f"{n * (n - 1) // 2} {sub.cable_driver} tunnel"
            f"{'s' * (n * (n - 1) // 2 != 1)} between the gateways (full mesh)"
        )
    if n > 1:
        out.append(f"  each istiod watches the {n - 1} other API server{'s' * (n > 2)}")
    if spec.services:
        out += ["", paint(_BOLD, "services")]
        for service in spec.services[:MAX_SERVICES]:
            head, *rest = service_lines(service)
            out.append("  " + paint(_GREEN, head))
            out.extend("  " + line for line in rest)
        if len(spec.services) > MAX_SERVICES:
            out.append(paint(_DIM, f"  ... and {len(spec.services) - MAX_SERVICES} more"))
    out += ["", paint(_BOLD, "address map") + " (to scale within each group; ~ a gap)"]
    for line in address_map(mesh):
        out.append("  " + (paint(_YELLOW, line) if line.startswith("IPv") else line))
    return "\n".join(out) + "\n"
