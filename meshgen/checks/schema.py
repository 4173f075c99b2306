"""MG1xx checks that need more than the schema: values it accepts but meshgen cannot build yet."""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import error
from meshgen.diagnostics import Diagnostic
from meshgen.load import Positions
from meshgen.spec import Mesh

CODES = {
    "MG105": "error: secrets.provider external-secrets (not yet supported)",
}


def check_secrets_provider(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG105: `secrets.provider: external-secrets` is part of the spec but not built yet."""
    if mesh.spec.secrets.provider != "external-secrets":
        return
    yield error("MG105", 'secrets provider "external-secrets" is not yet supported by this '
                "meshgen version", positions.at(("spec", "secrets", "provider")),
                "use provider: placeholder for now and fill the generated Secret placeholders")


CHECKS = (check_secrets_provider,)
