"""The runbook's remote secrets step: every istiod watches every peer's API server through
a secret made by `istioctl create-remote-secret` from the peer and applied to every other
cluster; above LOOP_ABOVE clusters, loops whose commands grow with the clusters, not with
their pairs."""

from __future__ import annotations

from meshgen.layout import REMOTE_SECRETS_DIR
from meshgen.render import markdown as md
from meshgen.render.runbook.commands import (
    LOOP_ABOVE,
    apply_reader_token,
    create_remote_secret,
    kubectl_apply_stdin,
)
from meshgen.render.runbook.model import Runbook
from meshgen.render.secrets import (
    READER_SERVICE_ACCOUNT,
    READER_TOKEN_SECRET,
    needs_reader_token,
    reader_token_in_kustomization,
    remote_secret_name,
)
from meshgen.render.shell import (
    Cmd,
    ContinueIf,
    Line,
    Var,
    Word,
    argv_of,
    assign,
    cmd,
    comment,
    loop,
    pipe,
)
from meshgen.spec import Cluster, Mesh
from meshgen.versions import release


def remote_secret_steps(mesh: Mesh, rb: Runbook) -> None:
    spec = mesh.spec
    rb.step(f"Remote secrets (`{REMOTE_SECRETS_DIR}/istio-remote-secret-*.yaml`)")
    rb.add(
        "Each istiod must watch every peer's API server. For every peer, create its secret "
        "from the peer and apply it to every other cluster (the `--name` must equal the "
        "peer's clusterName):\n"
    )
    if len(spec.clusters) > LOOP_ABOVE:
        _remote_secret_loops(mesh, rb)
        return
    for peer in spec.clusters:
        secret = remote_secret_name(peer.name)
        others = [c.name for c in spec.clusters if c.name != peer.name]
        rb.add(
            f"{md.code(f'{REMOTE_SECRETS_DIR}/{secret}.yaml')} (secret "
            f"{md.code(f'istio-system/{secret}')} in "
            f"{', '.join(md.code(name) for name in others)}):\n"
        )
        rb.commands(_peer_secret(mesh, peer, others))
    if any(needs_reader_token(mesh, c) for c in spec.clusters):
        where = (
            "the cluster directory applies it after Istio is installed"
            if reader_token_in_kustomization(mesh)
            else "the commands above apply it once Istio runs, since Kubernetes deletes a "
            "token Secret whose service account does not exist yet"
        )
        rb.add(
            f"`istio/reader-token-secret.yaml` asks Kubernetes (>= 1.24 no longer does it by "
            f"itself) for a token of `{READER_SERVICE_ACCOUNT}`, which comes with Istio: "
            f"{where}.\n"
        )


def _peer_secret(mesh: Mesh, peer: Cluster, others: list[str]) -> list[Line]:
    """`peer`'s remote secret, made from it and applied to each of `others`."""
    lines: list[Line] = []
    token = needs_reader_token(mesh, peer)
    if token and not reader_token_in_kustomization(mesh):
        lines += apply_reader_token(peer.name)
    for name in others:
        apply = kubectl_apply_stdin(name, equals=True)
        if token:
            lines.append(pipe(create_remote_secret(mesh, peer, READER_TOKEN_SECRET), apply))
            continue
        lines.append(pipe(create_remote_secret(mesh, peer), apply))
        if peer.platform == "openshift":
            lines += _openshift_token_secret(mesh, peer, apply)
    return lines


def _openshift_token_secret(mesh: Mesh, peer: Cluster, apply: Cmd) -> list[Line]:
    """OpenShift's service account has several secrets: name the token one."""
    srt_name = Var("ISTIO_READER_SRT_NAME")
    secrets = cmd(
        "kubectl",
        f"--context={peer.name}",
        "-n",
        "istio-system",
        "get",
        f"serviceaccount/{READER_SERVICE_ACCOUNT}",
        "-o",
        "jsonpath={.secrets}",
    )
    token_name = cmd(
        "jq",
        "-r",
        '.[] | select(.name | test ("istio-reader-service-account-token-")).name',
    )
    return [
        comment(
            "OpenShift: if istioctl finds several secrets on the service account, name the "
            "token secret:"
        ),
        assign(srt_name, secrets, token_name),
        pipe(create_remote_secret(mesh, peer, srt_name), apply),
    ]


def _remote_secret_loops(mesh: Mesh, rb: Runbook) -> None:
    """Above LOOP_ABOVE clusters: per peer (or group of peers created alike), one secret
    applied to every other cluster by a loop; the commands grow with the clusters, not with
    their pairs."""
    spec = mesh.spec
    names = [c.name for c in spec.clusters]
    peer_var, cluster_var = Var("PEER"), Var("CLUSTER")
    apply_body: list[Line] = [
        ContinueIf(cmd("test", cluster_var, "=", peer_var)),
        cmd("kubectl", "--context", cluster_var, "apply", "-f", "remote-secret.yaml"),
    ]
    groups: dict[tuple[bool, str | None], list[str]] = {}
    for peer in spec.clusters:
        groups.setdefault((needs_reader_token(mesh, peer), peer.api_server), []).append(peer.name)
    lines: list[Line] = []
    for (token, server), peers in groups.items():
        argv: list[Word] = [
            *argv_of(release(spec.istio.version).create_remote_secret),
            "--context",
            peer_var,
            "--name",
            peer_var,
        ]
        if server:
            argv.append(f"--server={server}")
        if token:
            argv.append(f"--secret-name={READER_TOKEN_SECRET}")
        create: Cmd = cmd(*argv, stdout="remote-secret.yaml")
        lines.append(loop(peer_var, peers, [create, loop(cluster_var, names, apply_body)]))
    lines.append(cmd("rm", "remote-secret.yaml"))
    rb.commands(lines)
    add = rb.add
    if any(c.platform == "openshift" and not needs_reader_token(mesh, c) for c in spec.clusters):
        add(
            "OpenShift: if istioctl finds several secrets on the service account of a peer, "
            "name its token secret with `--secret-name` (the `istio-reader-service-account-"
            "token-` secret of `kubectl -n istio-system get serviceaccount/"
            f"{READER_SERVICE_ACCOUNT} -o jsonpath={{.secrets}}`).\n"
        )
