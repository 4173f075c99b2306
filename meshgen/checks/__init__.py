"""Stage 3, checks: semantic rules over a valid `Mesh`, one module per code family.

Every check is a plain function `(mesh, positions) -> Iterable[Diagnostic]`; `run_checks`
runs them all and returns every diagnostic, so the caller can print them all before it
decides on the exit code. Codes are stable: `CODES` lists each one with a one-line summary.
"""

from __future__ import annotations

from collections.abc import Mapping

from meshgen.checks import (
    availability,
    istio,
    network,
    policies,
    revisions,
    routes,
    safety,
    schema,
    topology,
    traffic,
)
from meshgen.checks._common import Check
from meshgen.diagnostics import Diagnostic, sort_key
from meshgen.load import Positions
from meshgen.spec import Mesh

_FAMILIES = (
    schema,
    network,
    istio,
    revisions,
    traffic,
    routes,
    policies,
    availability,
    topology,
    safety,
)

CHECKS: tuple[Check, ...] = tuple(check for family in _FAMILIES for check in family.CHECKS)

CODES: Mapping[str, str] = dict(
    sorted((code, summary) for family in _FAMILIES for code, summary in family.CODES.items())
)


def run_checks(mesh: Mesh, positions: Positions) -> list[Diagnostic]:
    """All diagnostics of all checks, sorted by location then code."""
    diagnostics = [d for check in CHECKS for d in check(mesh, positions)]
    return sorted(diagnostics, key=sort_key)


__all__ = ["CHECKS", "CODES", "Check", "run_checks"]
