"""What the command line prints and how it exits, without typer: shared by cli/ and the
fast entry (entry.py)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

from meshgen.diagnostics import Diagnostic, Severity, printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# `meshgen plan`: the change is valid but disruptive (CI can require an approval).
EXIT_DISRUPTIVE = 4
# `meshgen plan --detailed-exitcode`: changes, none disruptive (terraform's 2; a usage error
# is 2 as well, and says so on stderr).
EXIT_CHANGES = 2


class Format(StrEnum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


@dataclass(frozen=True)
class Options:
    """How diagnostics are chosen and shown (--ignore, --warnings-as-errors, --quiet,
    --no-color)."""

    ignore: frozenset[str] = frozenset()
    warnings_as_errors: bool = False
    quiet: bool = False
    color: bool = True  # still only on a terminal without NO_COLOR


DEFAULT = Options()


def bad_ignore(codes: Iterable[str]) -> str | None:
    """Why `--ignore CODE` is refused (unknown code, or a code that is always an error)."""
    from meshgen.codes import REGISTRY

    for code in codes:
        entry = REGISTRY.get(code)
        if entry is None:
            return f"{code} is not a meshgen diagnostic code (see `meshgen explain CODE`)"
        if entry.severity == "error":
            return f"{code} is an error; only warnings can be ignored"
    return None


def apply(diagnostics: Sequence[Diagnostic], options: Options) -> list[Diagnostic]:
    """Drop ignored warnings; with --warnings-as-errors, the rest are errors."""
    out = []
    for d in diagnostics:
        if d.severity is Severity.WARNING:
            if d.code in options.ignore:
                continue
            if options.warnings_as_errors:
                d = replace(d, severity=Severity.ERROR)
        out.append(d)
    return out


def use_color(options: Options = DEFAULT) -> bool:
    """Colour on a terminal only, unless NO_COLOR (https://no-color.org) or --no-color."""
    return (
        options.color
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
        and sys.stderr.isatty()
    )


def print_diagnostics(
    diagnostics: Sequence[Diagnostic], fmt: Format, options: Options = DEFAULT
) -> None:
    from meshgen.diagnostics import FORMATTERS, format_text

    if options.quiet:
        diagnostics = [d for d in diagnostics if d.is_error]
    if fmt is Format.text:
        text = format_text(diagnostics, color=use_color(options))
        if text:
            sys.stderr.write(text)
    elif fmt is Format.sarif:
        from meshgen.sarif import format_sarif

        sys.stdout.write(format_sarif(diagnostics))
    else:
        sys.stdout.write(FORMATTERS[fmt.value](diagnostics))


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


def exit_with(command: Callable[[], int], *, debug: bool = False) -> NoReturn:
    """Run `command` and exit with meshgen's exit contract, the one of every command, whether
    the typer app (cli.main) or the fast `validate` (entry.main) runs it:

    - the command's own code: 0 fine, 1 the spec has errors or the output is stale, 2 usage;
    - Ctrl-C: 130, saying what the interrupt left behind (`interrupted`);
    - a file-system error no stage turned into a diagnostic: one line `PATH: reason`, 1;
    - standard output closed early (`meshgen validate -f json ... | head -1`): 1, silently;
    - any other exception is a bug in meshgen: one line `internal error: ...`, no traceback,
      3; with `debug` (--debug, MESHGEN_DEBUG=1) the traceback instead.
    """
    try:
        code = command()
        sys.stdout.flush()  # a closed pipe shows here, not as a warning at exit
    except KeyboardInterrupt:
        code = interrupted()
    except BrokenPipeError:
        # What Python's documentation recommends: nothing more reaches the closed pipe, not
        # even the flush at exit (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        with contextlib.suppress(OSError, ValueError):  # no descriptor behind sys.stdout
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAILED
    except OSError as exc:
        say(f"{exc.filename or ''}: {exc.strerror or exc}")
        code = EXIT_FAILED
    except Exception as exc:
        if debug:
            raise
        say(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in meshgen; please "
            "report it with the spec that triggered it (--debug shows the traceback)"
        )
        code = EXIT_INTERNAL
    else:
        if code == EXIT_INTERRUPTED:
            # typer returns a Ctrl-C inside a command as the code 130, without a word; no
            # command exits 130 itself.
            code = interrupted()
    sys.exit(code)


def validate_files(specs: Sequence[Path], fmt: Format, options: Options = DEFAULT) -> int:
    """`meshgen validate`: every diagnostic of every spec; the exit code."""
    from meshgen.gcpause import gc_paused

    # Paused from the imports on (check_spec pauses it for its stages): defining and building
    # the pydantic models makes many objects and no garbage the collector could free.
    with gc_paused():
        from meshgen.pipeline import check_spec

        diagnostics: list[Diagnostic] = []
        for spec in specs:
            diagnostics.extend(apply(check_spec(spec).diagnostics, options))
    print_diagnostics(diagnostics, fmt, options)
    failed = any(d.is_error for d in diagnostics)
    if diagnostics and fmt is Format.text and not (options.quiet and not failed):
        say(summary(diagnostics))
    return EXIT_FAILED if failed else EXIT_OK
