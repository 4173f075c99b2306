"""The runbook's last step, *Prove the mesh works*: the proxies connected, the test workloads
of meshgen/render/verify.py deployed, every service called from every cluster with the answer
the routes predict (`expected`), the peers' endpoints in each client's Envoy, Submariner's
own check, and the workloads removed."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.answers import Answer, expected
from meshgen.render.objects import MANAGED_BY
from meshgen.render.runbook.commands import per_cluster, subctl_verify
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Cmd, Line, Var, Word, assign, cmd, concat
from meshgen.render.traffic import CLUSTER_LABEL
from meshgen.render.verify import (
    PATH,
    SLEEP,
    VERIFY_DIR,
    VERIFY_LABEL,
    backends,
    client_namespace,
    port_of,
    service_clusters,
    verified_services,
)
from meshgen.spec import Mesh, Service
from meshgen.spec_cidr import cidr_list


def verify_steps(mesh: Mesh, rb: Runbook) -> None:
    names = [c.name for c in mesh.spec.clusters]
    rb.step("Prove the mesh works")
    gitops_wait(mesh, rb)
    rb.add("Each istiod must see its own proxies:\n")
    rb.commands(per_cluster(names, lambda c: [cmd("istioctl", "--context", c, "proxy-status")]))
    services = verified_services(mesh)
    if not services:
        return
    _workloads(mesh, services, rb)
    rb.commands(per_cluster(names, _deploy))
    rb.add(
        "Call every service from every cluster, a few times each (its clients may run in "
        "any cluster: each has its Service and rules); what should answer follows from the "
        "routes:\n"
    )
    for service in services:
        _service_calls(mesh, service, rb)
    _endpoints(mesh, services[0], rb)
    if mesh.spec.submariner is not None:
        rb.add(
            "Submariner's own end-to-end check, now that Istio runs (its test pods are not "
            "in the mesh):\n"
        )
        rb.commands([subctl_verify(mesh)])
    rb.add("Remove the test workloads:\n")
    rb.commands(
        per_cluster(names, lambda c: [with_path(cmd("kubectl", "--context", c, "delete", "-f"), c)])
    )


def _workloads(mesh: Mesh, services: list[Service], rb: Runbook) -> None:
    """What the test workloads are, and which cluster runs each service's subsets."""
    add = rb.add
    add(
        f"`<cluster>/{VERIFY_DIR}/` holds test workloads, listed in no `kustomization.yaml` "
        "(GitOps never applies them): Istio's `helloworld` sample standing in for each "
        "service, one Deployment per subset with the subset's labels, and a `sleep` client. "
        "They take the services' own names: run them before the real applications are "
        "deployed (or in a staging mesh), and delete them afterwards. `helloworld` answers "
        "`Hello version: <subset>, instance: <pod>` (a service without subsets: the "
        "cluster's name instead of the subset).\n"
    )
    if len(mesh.spec.services) > len(services):
        add(
            f"Test workloads cover the first {len(services)} of {len(mesh.spec.services)} "
            "services; check the others the same way.\n"
        )
    add("| service | subset | test Deployment runs in |")
    add("|---|---|---|")
    for service in services:
        by_subset: dict[str, list[str]] = {}
        for b in backends(mesh, service):
            by_subset.setdefault(b.subset or "-", []).append(b.cluster)
        for subset, clusters in by_subset.items():
            cells = [
                md.code(f"{service.name}.{service.namespace}"),
                md.text(subset),
                md.text(", ".join(clusters)),
            ]
            add("| " + " | ".join(md.cell(x) for x in cells) + " |")
    add("")


def _deploy(cluster: Word) -> list[Line]:
    """Every cluster: the backends where the services run, a sleep client everywhere."""
    return [
        with_path(cmd("kubectl", "--context", cluster, "apply", "-f"), cluster),
        cmd(
            "kubectl",
            "--context",
            cluster,
            "wait",
            "deployment",
            "-A",
            "-l",
            f"{VERIFY_LABEL[0]}={VERIFY_LABEL[1]}",
            "--for=condition=Available",
            "--timeout=300s",
        ),
    ]


def _endpoints(mesh: Mesh, service: Service, rb: Runbook) -> None:
    """Each client's Envoy lists the endpoints of `service` in the other clusters too."""
    rb.add(
        "Each client's Envoy must list the endpoints of the other clusters too: pod IPs "
        "of the peers' pod CIDRs, which Submariner routes directly. Expect addresses in:\n"
    )
    ns = client_namespace(mesh, service)
    outbound = f"outbound|{port_of(service)}||{service.name}.{service.namespace}.svc.cluster.local"
    running = {b.cluster for b in backends(mesh, service)}
    rb.add(
        ", ".join(
            f"{md.code(c.name)}: {md.text(cidr_list(c.pod_cidr))}"
            for c in service_clusters(mesh, service)
            if c.name in running
        )
        + "\n"
    )
    names = [c.name for c in mesh.spec.clusters]
    rb.commands(per_cluster(names, lambda c: _client_endpoints(c, ns, outbound)))


def _client_endpoints(cluster: Word, namespace: str, outbound: str) -> list[Line]:
    """The `sleep` client's pod in `cluster`, then its Envoy's endpoints of `outbound`."""
    pod = Var("POD")
    return [
        assign(
            pod,
            cmd(
                "kubectl",
                "--context",
                cluster,
                "-n",
                namespace,
                "get",
                "pod",
                "-l",
                f"app={SLEEP}",
                "-o",
                "jsonpath={.items[0].metadata.name}",
            ),
        ),
        cmd(
            "istioctl",
            "--context",
            cluster,
            "proxy-config",
            "endpoints",
            pod,
            "-n",
            namespace,
            "--cluster",
            outbound,
        ),
    ]


def gitops_wait(mesh: Mesh, rb: Runbook) -> None:
    """With GitOps, the engine first: istiod comes only once the cluster directory (with
    external-secrets, every Secret of the store) is in, and a pod created before its
    injector runs gets no sidecar."""
    from meshgen.render.gitops import argocd_namespace

    gitops = mesh.spec.gitops
    if gitops is None:
        return
    rb.add(
        "First let the GitOps engine finish in every cluster (istiod comes only once the "
        "cluster directory is in, and a pod created before its injector runs gets no "
        "sidecar):\n"
    )
    if gitops.engine == "flux":
        rb.commands(
            cmd(
                "kubectl",
                "--context",
                c.name,
                "-n",
                gitops.flux.namespace,
                "wait",
                "kustomization",
                "--all",
                "--for=condition=Ready",
                "--timeout=15m",
            )
            for c in mesh.spec.clusters
        )
        return
    rb.commands(
        [
            cmd(
                "kubectl",
                "-n",
                argocd_namespace(mesh),
                "wait",
                "application",
                "-l",
                ",".join(f"{k}={v}" for k, v in MANAGED_BY.items()),
                "--for=jsonpath={.status.health.status}=Healthy",
                "--timeout=15m",
            )
        ]
    )


def with_path(command: Cmd, cluster: Word) -> Cmd:
    """`command` and then the word `<cluster>/verify/`; for the loop variable the word is
    `"$CLUSTER"/verify/` (the variable quoted by shell.word, the constant rest by shlex)."""
    if isinstance(cluster, Var):
        return cmd(*command.argv, concat(cluster, f"/{VERIFY_DIR}/"))
    assert isinstance(cluster, str)
    return cmd(*command.argv, f"{cluster}/{VERIFY_DIR}/")


def _curl(mesh: Mesh, service: Service, context: Word) -> Cmd:
    url = f"{service.name}.{service.namespace}:{port_of(service)}{PATH}"
    return cmd(
        "kubectl",
        "--context",
        context,
        "exec",
        f"deploy/{SLEEP}",
        "-c",
        SLEEP,
        "-n",
        client_namespace(mesh, service),
        "--",
        "curl",
        "-sS",
        url,
    )


def describe(answer: Answer) -> str:
    """An Answer as Markdown."""
    if answer.status is not None:
        text = f"HTTP {answer.status}"
    elif not answer.versions:
        text = "no answer (no test workload behind the route: HTTP 503)"
    else:
        parts = []
        for version, share in answer.versions:
            part = md.code(f"Hello version: {version}")
            parts.append(part + (f" ({share}%)" if share is not None else ""))
        lead = "only " if len(parts) == 1 else "a mix of "
        text = lead + ", ".join(parts)
    return text + (f"; {md.text(answer.note)}" if answer.note else "")


def _caller_keys(mesh: Mesh, service: Service) -> dict[str, object]:
    """What of a caller `expected` depends on: its locality, and its name only when a route
    matches the cluster label. Callers with one key get one answer, so the answers cost
    localities x clusters, not clusters squared."""
    by_name = any(CLUSTER_LABEL in m.source_labels for r in service.routes for m in r.match)
    return {c.name: (c.region, c.zone, c.name if by_name else None) for c in mesh.spec.clusters}


def _service_calls(mesh: Mesh, service: Service, rb: Runbook) -> None:
    keys = _caller_keys(mesh, service)
    callers = list(keys)
    placed = backends(mesh, service)
    by_key: dict[object, Answer] = {}
    for c in callers:
        if keys[c] not in by_key:
            by_key[keys[c]] = expected(mesh, service, c, placed)
    answers = {c: by_key[keys[c]] for c in callers}
    first = answers[callers[0]] if callers else None
    add = rb.add
    add(f"{md.code(f'{service.name}.{service.namespace}')}:\n")
    if first is not None and all(a == first for a in answers.values()):
        rb.commands(per_cluster(callers, lambda c: [_curl(mesh, service, c)]))
        add(f"From every cluster: {describe(first)}.\n")
        return
    rb.commands(_curl(mesh, service, c) for c in callers)
    for c in callers:
        add(f"- from {md.code(c)}: {describe(answers[c])}")
    add("")
