"""The console entry point.

pre-commit runs `meshgen validate FILE...` on every commit, and typer's start-up (it builds
pydantic adapters for every option) costs about as much as the validation itself; so the
plain form of that one command (files, --format, --ignore, --warnings-as-errors, --quiet,
--no-color) runs without typer.
Everything else, --help and any other option included, goes to the typer app in cli/.
Both exit through report.exit_with, so a failure reads and exits the same on either path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from meshgen.report import Options, bad_ignore


def _plain_validate(argv: list[str]) -> tuple[list[Path], str, Options] | None:
    """(files, format, options) of a plain `validate`, or None: typer handles everything else
    (help, a bad option or code, a missing file list) with its messages."""
    if not argv or argv[0] != "validate":
        return None
    files: list[Path] = []
    fmt = "text"
    ignore: set[str] = set()
    warnings_as_errors = quiet = False
    color = True
    args = iter(argv[1:])
    for arg in args:
        if arg in ("--format", "-f"):
            fmt = next(args, "")
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg == "--ignore" or arg.startswith("--ignore="):
            code = arg.partition("=")[2] if "=" in arg else next(args, "")
            ignore.add(code.strip().upper())
        elif arg == "--warnings-as-errors":
            warnings_as_errors = True
        elif arg in ("--quiet", "-q"):
            quiet = True
        elif arg == "--no-color":
            color = False
        elif arg.startswith("-") and arg != "-":  # `-` is the spec on standard input
            return None
        else:
            files.append(Path(arg))
    if not files or fmt not in ("text", "json", "github", "sarif"):
        return None
    if ignore and bad_ignore(sorted(ignore)) is not None:
        return None
    return files, fmt, Options(frozenset(ignore), warnings_as_errors, quiet, color)


def main() -> None:
    plain = _plain_validate(sys.argv[1:]) if os.environ.get("MESHGEN_DEBUG") != "1" else None
    if plain is None:
        from meshgen.cli import main as cli_main

        cli_main()
        return
    from meshgen.report import Format, exit_with, validate_files

    files, fmt, options = plain
    exit_with(lambda: validate_files(files, Format(fmt), options))
