"""The runbook with `secrets.provider: external-secrets`: which keys go into the secret store
and where their values come from (the certs, `istioctl create-remote-secret`), and the step
that fills the remote kubeconfigs once each cluster's directory is applied."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.external_secrets import (
    cacerts_key,
    remote_key,
    remote_kubeconfig_key,
    submariner_psk_key,
)
from meshgen.render.runbook.commands import (
    DRY_RUN_CLIENT,
    apply_reader_token,
    create_remote_secret,
)
from meshgen.render.runbook.model import Runbook
from meshgen.render.secrets import (
    CACERTS_KEYS,
    READER_TOKEN_SECRET,
    needs_reader_token,
    reader_token_in_kustomization,
)
from meshgen.render.shell import Line, cmd, pipe
from meshgen.render.submariner import BROKER_SECRET_KEYS, PSK_SECRET_KEYS
from meshgen.spec import Mesh


def external_secret_steps(mesh: Mesh, rb: Runbook) -> None:
    """The runbook's text: which keys to put into the store, and where their values come
    from (the certs made in the previous step, and `istioctl create-remote-secret`)."""
    store = mesh.spec.secrets.store
    where = f"{md.code(store.kind)} {md.code(store.name)}" if store else "the secret store"
    remote = len(mesh.spec.clusters) > 1
    lines = [
        f"External Secrets renders `cacerts` and the remote secrets from {where}; put these "
        "keys there (nothing secret is committed):\n",
        "| remote key | properties | value |",
        "|---|---|---|",
    ]

    def row(key: str, properties: str, value: str) -> None:
        lines.append(f"| {md.cell(md.code(key))} | {md.cell(properties)} | {md.cell(value)} |")

    for cluster in mesh.spec.clusters:
        row(
            cacerts_key(mesh, cluster),
            ", ".join(CACERTS_KEYS),
            f"the files in {md.code(f'certs/{cluster.name}/')}",
        )
    if remote:
        for cluster in mesh.spec.clusters:
            row(
                remote_kubeconfig_key(mesh, cluster),
                "(the whole value)",
                f"what the command for {md.code(cluster.name)} in the step *Remote secrets* "
                "prints, once Istio runs there",
            )
    sub = mesh.spec.submariner
    if sub is not None and sub.deploy == "operator":
        for cluster in mesh.spec.clusters:
            row(
                remote_key(mesh, cluster.name, "submariner-broker"),
                ", ".join(BROKER_SECRET_KEYS),
                "the broker token (see the Submariner step)",
            )
        row(
            submariner_psk_key(mesh),
            ", ".join(PSK_SECRET_KEYS),
            "one IPsec pre-shared key for all gateways",
        )
    lines.append("")
    for line in lines:
        rb.add(line)


def external_remote_secret_steps(mesh: Mesh, rb: Runbook) -> None:
    """The step that fills the remote-kubeconfig keys: after the cluster directories are
    applied, since `istioctl create-remote-secret` reads the istio-reader service account
    (Istio's base chart) and its token Secret (the cluster directory)."""
    if len(mesh.spec.clusters) < 2:
        return
    store = mesh.spec.secrets.store
    where = f"{md.code(store.kind)} {md.code(store.name)}" if store else "the secret store"
    rb.step("Remote secrets (the `remote-kubeconfig` keys of the secret store)")
    gitops = mesh.spec.gitops is not None
    rb.add(
        "Each istiod must watch every peer's API server. As soon as a cluster's directory is "
        "applied (its istio-reader token Secret; Istio's base chart brings the service "
        f"account), print its remote kubeconfig and put it into {where} under the key of the "
        "table above; External Secrets then renders the remote secret in every other cluster"
        + (
            ". Do not wait for istiod: the GitOps engine installs it only once every "
            "ExternalSecret of the cluster directory is rendered, these included"
            if gitops
            else ""
        )
        + ":\n"
    )
    lines: list[Line] = []
    for cluster in mesh.spec.clusters:
        if needs_reader_token(mesh, cluster) and not reader_token_in_kustomization(mesh):
            lines += apply_reader_token(cluster.name)
        lines.append(
            pipe(
                create_remote_secret(
                    mesh,
                    cluster,
                    READER_TOKEN_SECRET if needs_reader_token(mesh, cluster) else None,
                ),
                cmd(
                    "kubectl",
                    "create",
                    DRY_RUN_CLIENT,
                    "-f",
                    "-",
                    "-o",
                    f"jsonpath={{.stringData.{cluster.name}}}",
                ),
            )
        )
    rb.commands(lines)
