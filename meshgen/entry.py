"""The console entry point.

pre-commit runs `meshgen validate FILE...` on every commit, and typer's start-up (it builds
pydantic adapters for every option) costs about as much as the validation itself; so the
plain form of that one command, files and an optional --format, runs without typer.
Everything else, --help and any other option included, goes to the typer app in cli.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _plain_validate(argv: list[str]) -> tuple[list[Path], str] | None:
    if not argv or argv[0] != "validate":
        return None
    files: list[Path] = []
    fmt = "text"
    args = iter(argv[1:])
    for arg in args:
        if arg in ("--format", "-f"):
            fmt = next(args, "")
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg.startswith("-") and arg != "-":  # `-` is the spec on standard input
            return None
        else:
            files.append(Path(arg))
    if not files or fmt not in ("text", "json", "github"):
        return None
    return files, fmt


def main() -> None:
    plain = _plain_validate(sys.argv[1:]) if os.environ.get("MESHGEN_DEBUG") != "1" else None
    if plain is None:
        from meshgen.cli import main as cli_main

        cli_main()
        return
    from meshgen.report import EXIT_INTERNAL, Format, interrupted, say, validate_files

    files, fmt = plain
    try:
        code = validate_files(files, Format(fmt))
    except KeyboardInterrupt:
        code = interrupted()
    except Exception as exc:  # the same contract as cli.main: one line, no traceback
        say(f"internal error: {type(exc).__name__}: {exc}. This is a bug in meshgen; please "
            "report it with the spec that triggered it (--debug shows the traceback)")
        code = EXIT_INTERNAL
    sys.exit(code)
