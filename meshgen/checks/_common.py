"""Helpers shared by the check families: diagnostic constructors, paths, did-you-mean."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

from meshgen.diagnostics import Diagnostic, Location, Related, Severity, diagnostic
from meshgen.load import Positions, YamlPath
from meshgen.spec import Mesh

Check = Callable[[Mesh, Positions], Iterable[Diagnostic]]

ISTIO: YamlPath = ("spec", "istio")
SUBMARINER: YamlPath = ("spec", "submariner")


def error(
    code: str, message: str, location: Location, hint: str, related: Sequence[Related] = ()
) -> Diagnostic:
    return diagnostic(code, message, location, hint, related, severity=Severity.ERROR)


def warning(
    code: str, message: str, location: Location, hint: str, related: Sequence[Related] = ()
) -> Diagnostic:
    return diagnostic(code, message, location, hint, related, severity=Severity.WARNING)


def cluster_path(index: int) -> YamlPath:
    return ("spec", "clusters", index)


def cidr_path(positions: Positions, cluster: int, field: str, item: int) -> YamlPath:
    """The CIDR list item when the YAML value was a list, else the scalar field itself."""
    path = (*cluster_path(cluster), field, item)
    return path if path in positions.values else path[:-1]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else None


def quoted_list(names: Iterable[str], limit: int = 8) -> str:
    """`"a", "b"` for a hint, shortened for long lists."""
    items = list(names)
    shown = ", ".join(f'"{n}"' for n in items[:limit])
    more = len(items) - limit
    return f"{shown} and {more} more" if more > 0 else shown
