"""The runbook's shared root of trust: one root CA and an intermediate per cluster, made with
the Istio release's `tools/certs` Makefiles
(https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/), then each
cluster's `cacerts` Secret, or with External Secrets the keys of the store."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.runbook.commands import create_namespace
from meshgen.render.runbook.external_secrets import external_secret_steps
from meshgen.render.runbook.model import ISTIO_RELEASE_DIR, Runbook
from meshgen.render.secrets import CACERTS_KEYS
from meshgen.render.shell import Line, and_then, cmd
from meshgen.spec import Mesh

CERTS_MAKEFILE = "../tools/certs/Makefile.selfsigned.mk"


def root_of_trust_step(mesh: Mesh, rb: Runbook) -> None:
    spec = mesh.spec
    external = spec.secrets.provider == "external-secrets"
    rb.step("Shared root of trust (`cacerts`)")
    rb.add(
        "One root CA, one intermediate per cluster, with Istio's `tools/certs` Makefiles; "
        f"run this from the top directory of the Istio {md.text(spec.istio.version)} release:\n"
    )
    lines: list[Line] = [
        and_then(cmd("mkdir", "-p", "certs"), cmd("cd", "certs")),
        cmd("make", "-f", CERTS_MAKEFILE, "root-ca"),
    ]
    lines += [cmd("make", "-f", CERTS_MAKEFILE, f"{c.name}-cacerts") for c in spec.clusters]
    if not external:
        lines += [line for c in spec.clusters for line in _cacerts_secret(c.name)]
    rb.commands(lines, cwd=ISTIO_RELEASE_DIR)
    if external:
        external_secret_steps(mesh, rb)
    rb.add("Every cluster must end up with the same `root-cert.pem`.\n")


def _cacerts_secret(cluster: str) -> list[Line]:
    """The `cacerts` Secret of `cluster` from the files `make <cluster>-cacerts` wrote."""
    return [
        create_namespace(cluster, "istio-system"),
        cmd(
            "kubectl",
            "--context",
            cluster,
            "create",
            "secret",
            "generic",
            "cacerts",
            "-n",
            "istio-system",
            *(f"--from-file={cluster}/{key}" for key in CACERTS_KEYS),
        ),
    ]
