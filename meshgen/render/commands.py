"""The commands that more than one part of out/README.md runs, each built in one place (the
Submariner ones are in meshgen/render/submariner.py, next to what they create)."""

from __future__ import annotations

from meshgen.render.shell import Cmd, Line, Pipeline, Word, argv_of, cmd, pipe
from meshgen.spec import Cluster, Mesh
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
