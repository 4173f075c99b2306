"""Diagnostics: every problem meshgen reports, with a stable code and a location.

Modelled on compiler output (``FILE:LINE:COL: error[CODE]: message``): collect them all,
print them all, then decide the exit code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in a file (line 0 means "the whole file")."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Related:
    location: Location
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None
    related: tuple[Related, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.location.file, d.location.line, d.location.column, d.code)


def format_text(diagnostics: Sequence[Diagnostic]) -> str:
    lines: list[str] = []
    for d in diagnostics:
        lines.append(f"{d.location}: {d.severity}[{d.code}]: {d.message}")
        lines.extend(f"  {r.location}: note: {r.message}" for r in d.related)
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "".join(line + "\n" for line in lines)


def to_json_obj(d: Diagnostic) -> dict[str, object]:
    return {
        "code": d.code,
        "severity": str(d.severity),
        "message": d.message,
        "file": d.location.file,
        "line": d.location.line,
        "column": d.location.column,
        "hint": d.hint,
        "related": [
            {
                "file": r.location.file,
                "line": r.location.line,
                "column": r.location.column,
                "message": r.message,
            }
            for r in d.related
        ],
    }


def format_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([to_json_obj(d) for d in diagnostics], indent=2) + "\n"


def _github_escape(text: str, *, is_property: bool = False) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if is_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so problems show up on the pull request."""
    lines = []
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        props = [f"file={_github_escape(d.location.file, is_property=True)}"]
        if d.location.line > 0:
            props += [f"line={d.location.line}", f"col={d.location.column}"]
        props.append(f"title={_github_escape(d.code, is_property=True)}")
        body = d.message
        body += "".join(f"\n{r.location}: note: {r.message}" for r in d.related)
        if d.hint:
            body += f"\nhint: {d.hint}"
        lines.append(f"::{level} {','.join(props)}::{_github_escape(body)}\n")
    return "".join(lines)


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
