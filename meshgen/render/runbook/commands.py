"""The commands that more than one step of the runbook runs, each built in one place
(kubectl, istioctl, helm, subctl), and `per_cluster`, which turns one cluster's commands into
a loop over many."""

from __future__ import annotations

from collections.abc import Callable

from meshgen.layout import helm_values_file
from meshgen.render.control_planes import operator_file
from meshgen.render.helm import HELM_REPOSITORY, charts
from meshgen.render.shell import (
    Blank,
    Cmd,
    Line,
    Pipeline,
    Var,
    Word,
    argv_of,
    cmd,
    loop,
    pipe,
    with_comment,
)
from meshgen.render.submariner import GATEWAY_LABEL, submariner_cidrs
from meshgen.revisions import ControlPlane
from meshgen.spec import Cluster, Mesh, Submariner
from meshgen.versions import release


def create_remote_secret(mesh: Mesh, peer: Cluster, secret_name: Word | None = None) -> Cmd:
    """`istioctl [x] create-remote-secret` for `peer` (istioctl/pkg/multicluster/remote_secret.go
    in istio/istio): the context and the Istio clusterName are the cluster's name, `--server`
    its apiServer if set."""
    argv: list[Word] = [
        *argv_of(release(mesh.spec.istio.version).create_remote_secret),
        f"--context={peer.name}",
        f"--name={peer.name}",
    ]
    if peer.api_server:
        argv.append(f"--server={peer.api_server}")
    if isinstance(secret_name, str):
        argv.append(f"--secret-name={secret_name}")
    elif secret_name is not None:  # a variable of an earlier line: its own word
        argv += ["--secret-name", secret_name]
    return cmd(*argv)


def kubectl_apply_stdin(context: str, *, equals: bool = False) -> Cmd:
    """`kubectl --context <c> apply -f -`, the end of every create-then-apply pipeline."""
    flag = (f"--context={context}",) if equals else ("--context", context)
    return cmd("kubectl", *flag, "apply", "-f", "-")


# Print the object kubectl would create, create nothing.
DRY_RUN_CLIENT = "--dry-run=client"
DRY_RUN = (DRY_RUN_CLIENT, "-o", "yaml")


def create_namespace(context: str, namespace: str) -> Pipeline:
    """`kubectl create namespace <ns> --dry-run=client -o yaml | kubectl apply -f -`: the
    namespace, with no error when it exists already."""
    return pipe(
        cmd("kubectl", "--context", context, "create", "namespace", namespace, *DRY_RUN),
        kubectl_apply_stdin(context),
    )


def apply_reader_token(cluster: str) -> list[Line]:
    """Where the reader token Secret is not in the cluster directory
    (secrets.reader_token_in_kustomization): apply it once Istio runs there, and wait for
    Kubernetes to fill its token, before `istioctl create-remote-secret` reads it."""
    from meshgen.render.secrets import READER_TOKEN_FILE, READER_TOKEN_SECRET

    return [
        cmd("kubectl", "--context", cluster, "apply", "-f", f"{cluster}/{READER_TOKEN_FILE}"),
        cmd(
            "kubectl",
            "--context",
            cluster,
            "-n",
            "istio-system",
            "wait",
            "--for=jsonpath={.data.token}",
            f"secret/{READER_TOKEN_SECRET}",
            "--timeout=60s",
        ),
    ]


# More clusters than this: one command per cluster becomes a loop over the clusters.
LOOP_ABOVE = 3

CLUSTER_VAR = Var("CLUSTER")


def per_cluster(names: list[str], lines: Callable[[Word], list[Line]]) -> list[Line]:
    """`lines(name)` for each cluster, or one loop over them above LOOP_ABOVE clusters."""
    if len(names) > LOOP_ABOVE:
        return [loop(CLUSTER_VAR, names, lines(CLUSTER_VAR))]
    return [line for n in names for line in lines(n)]


# --- installing Istio: the one builder of each installer's command ---------------------


def install_revision(mesh: Mesh, cluster: str, plane: ControlPlane) -> list[Line]:
    """The commands that install one revision's control plane in `cluster` with the istioctl
    of that revision's version (Helm: helm_releases, every release at once)."""
    istio = mesh.spec.istio
    installer = istio.installer
    if installer == "istioctl":
        install = istioctl_install(cluster, operator_file(plane.name))
        return [with_comment(install, f"istioctl {plane.version}")]
    if installer == "operator":
        # Always with the IstioOperator's revision: an operator without one reconciles every
        # IstioOperator (https://istio.io/v1.23/docs/setup/install/operator/#canary-upgrade).
        init = operator_init(cluster, plane.name)
        return [with_comment(init, f"istioctl {plane.version}")]
    return []


def istioctl_install(cluster: str, operator: str) -> Cmd:
    """`istioctl install` of the IstioOperator `operator` (a path in the cluster directory)."""
    return cmd(
        "istioctl",
        "install",
        "--context",
        cluster,
        "-f",
        f"{cluster}/{operator}",
        "--skip-confirmation",
    )


def operator_init(cluster: str, revision: str) -> Cmd:
    """`istioctl operator init` (Istio <= 1.23), for `revision` when there is one."""
    return cmd(
        "istioctl",
        "operator",
        "init",
        "--context",
        cluster,
        *(("--revision", revision) * bool(revision)),
    )


def helm_releases(mesh: Mesh, cluster: str) -> list[Line]:
    """`helm upgrade --install` of each chart of helm.charts(): base and cni (with revisions,
    from the newest), then istiod (with revisions, each release oldest first). The one Helm
    command of the runbook: `upgrade --install` installs the first time and upgrades after.
    The webhook of a revision tag (`istio-revision-tag-<tag>`) belongs to the release whose
    `revisionTags` list the tag, and Helm refuses to create an object another release owns:
    the release that loses a moving tag (an older one) must drop its webhook before the one
    that gains it creates it."""
    return [
        cmd(
            "helm",
            "upgrade",
            "--install",
            chart.release,
            chart.chart,
            "--kube-context",
            cluster,
            "--repo",
            HELM_REPOSITORY,
            "--version",
            chart.version,
            "-n",
            chart.namespace,
            "--create-namespace",
            "-f",
            f"{cluster}/{helm_values_file(chart.key)}",
            "--wait",
        )
        # charts(): base, cni, then the istiod releases oldest first.
        for chart in charts(mesh)
    ]


# --- Submariner: subctl, and the gateway label ----------------------------------------


def subctl_deploy_broker(sub: Submariner) -> Cmd:
    return cmd("subctl", "deploy-broker", "--context", sub.broker)


def subctl_join(sub: Submariner, cluster: Cluster) -> Cmd:
    """`subctl join` with the spec's values: the cluster ID, its ranges (the very ranges the
    MG2xx checks checked), the cable driver and NAT traversal (subctl cmd/subctl/join.go;
    `--natt`, default true)."""
    argv = [
        "subctl",
        "join",
        "broker-info.subm",
        "--context",
        cluster.name,
        "--clusterid",
        cluster.name,
        "--clustercidr",
        submariner_cidrs(cluster.pod_cidr),
        "--servicecidr",
        submariner_cidrs(cluster.service_cidr),
        "--cable-driver",
        sub.cable_driver,
    ]
    if not sub.nat_traversal:
        argv.append("--natt=false")
    return cmd(*argv)


def label_gateway_node(cluster: Cluster) -> Cmd:
    """Label a gateway node: the gateway engine runs only on nodes with GATEWAY_LABEL
    (https://submariner.io/getting-started/); `<node>` is for the user to fill in."""
    return cmd("kubectl", "--context", cluster.name, "label", "node", Blank("node"), GATEWAY_LABEL)


def subctl_verify(mesh: Mesh) -> Cmd:
    clusters = mesh.spec.clusters
    return cmd(
        "subctl",
        "verify",
        "--context",
        clusters[0].name,
        "--tocontext",
        clusters[-1].name,
        "--only",
        "service-discovery,connectivity",
        "--verbose",
    )


def subctl_show_connections(cluster: Cluster) -> Cmd:
    return cmd("subctl", "show", "connections", "--context", cluster.name)
