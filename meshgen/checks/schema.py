"""MG1xx checks that need more than the schema: values it accepts but meshgen cannot build yet."""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import error
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic
from meshgen.load import Positions
from meshgen.spec import Mesh

CODES = summaries("MG105")


def check_secrets_provider(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG105: External Secrets needs to know which store holds the secrets."""
    secrets = mesh.spec.secrets
    if secrets.provider != "external-secrets" or secrets.store is not None:
        return
    yield error(
        "MG105",
        'secrets provider "external-secrets" needs secrets.store',
        positions.at(("spec", "secrets", "provider")),
        "add e.g. store: {kind: ClusterSecretStore, name: vault}",
    )


CHECKS = (check_secrets_provider,)
