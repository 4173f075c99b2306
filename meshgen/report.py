"""What the command line prints, without typer: shared by cli.py and the fast entry."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from meshgen.diagnostics import Diagnostic, printable

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
    # Messages quote paths and names from the command line and the spec: no raw control
    # characters reach the terminal.
    sys.stderr.write(f"meshgen: {printable(message)}\n")


# The output a build is writing, set just before the write starts: an interrupt that lands
# once the directory holds all of it (even between the write's return and the summary line)
# must not read as a failed or partial build.
_writing: list[tuple[Path, Mapping[str, bytes]]] = []


def writing(output: Path, files: Mapping[str, bytes]) -> None:
    _writing.append((output, files))


def interrupted() -> int:
    """Say what an interrupt (Ctrl-C) left behind; the exit code, 130 in every case: the
    user asked to stop, so a calling script stops too, but it is told when the output is
    complete."""
    if not _writing:
        say("interrupted")
        return EXIT_INTERRUPTED
    output, files = _writing[-1]
    try:
        from meshgen.write import check_output

        complete = check_output(output, files).clean
    except (KeyboardInterrupt, Exception):  # a second Ctrl-C, or unreadable: claim nothing
        complete = None
    if complete:
        say(f"interrupted after {output} was completely written: it is up to date")
    elif complete is None:
        say("interrupted")
    else:
        say(f"interrupted while writing {output}: run the build again to complete it")
    return EXIT_INTERRUPTED


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
