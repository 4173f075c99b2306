"""What the command line prints, without typer: shared by cli.py and the fast entry."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from meshgen.diagnostics import Diagnostic

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Format(StrEnum):
    text = "text"
    json = "json"
    github = "github"


def print_diagnostics(diagnostics: Sequence[Diagnostic], fmt: Format) -> None:
    from meshgen.diagnostics import FORMATTERS

    text = FORMATTERS[fmt.value](diagnostics)
    if fmt is Format.text:
        if text:
            sys.stderr.write(text)
    else:
        sys.stdout.write(text)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def say(message: str) -> None:
    sys.stderr.write(f"meshgen: {message}\n")


def validate_files(specs: Sequence[Path], fmt: Format) -> int:
    """`meshgen validate`: every diagnostic of every spec; the exit code."""
    from meshgen.pipeline import check_spec

    diagnostics: list[Diagnostic] = []
    for spec in specs:
        diagnostics.extend(check_spec(spec).diagnostics)
    print_diagnostics(diagnostics, fmt)
    if any(d.is_error for d in diagnostics):
        if fmt is Format.text:
            say(summary(diagnostics))
        return EXIT_FAILED
    return EXIT_OK
