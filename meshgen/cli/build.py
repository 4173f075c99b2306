"""`meshgen build`: compile, then write the output (or --check, --diff it), then --validate."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from meshgen import __version__
from meshgen.cli.app import (
    CheckOption,
    DiffOption,
    ForceOption,
    FormatOption,
    IgnoreOption,
    NoColorOption,
    OutputOption,
    QuietOption,
    SchemaDirOption,
    SpecArgument,
    ValidateOption,
    WarningsAsErrorsOption,
    _options,
)
from meshgen.cli.kubeconform import validate_written
from meshgen.report import (
    EXIT_FAILED,
    Format,
    apply,
)
from meshgen.report import print_diagnostics as _print_diagnostics
from meshgen.report import say as _say
from meshgen.report import summary as _summary
from meshgen.report import writing as _writing


def build(
    spec: SpecArgument,
    output: OutputOption = Path("out"),
    check: CheckOption = False,
    diff: DiffOption = False,
    fmt: FormatOption = Format.text,
    validate_output: ValidateOption = False,
    schema_dir: SchemaDirOption = None,
    force: ForceOption = False,
    warnings_as_errors: WarningsAsErrorsOption = False,
    ignore: IgnoreOption = None,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
) -> None:
    """Validate SPEC (a file, or - for standard input) and compile it into one kustomize
    directory per cluster."""
    check_output_dir(output)
    check_lock_wait()
    options = _options(ignore, warnings_as_errors, quiet, no_color)
    from meshgen.diagnostics import has_errors
    from meshgen.pipeline import compile_spec

    with _progress(spec) as progress:
        result = compile_spec(spec, output, progress)
    diagnostics = apply(result.diagnostics, options)
    _print_diagnostics(diagnostics, fmt, options)
    if result.files is None or has_errors(diagnostics):
        _say(f"{spec}: {_summary(diagnostics)}; nothing written")
        raise typer.Exit(EXIT_FAILED)
    if diagnostics and not quiet:
        _say(f"{spec}: {_summary(diagnostics)}")

    from meshgen import write

    try:
        if check or diff:
            _check_or_diff(spec, output, result.files, diff=diff, fmt=fmt, quiet=quiet)
            return
        _write(spec, output, result.files, result.record(), force=force, quiet=quiet)
    except write.OutputConflict as conflict:
        report_conflicts(output, conflict, fmt)
        raise typer.Exit(EXIT_FAILED) from None
    if validate_output and result.mesh is not None:
        validate_written(output, result.mesh, schema_dir, fmt)


def _write(
    spec: Path,
    output: Path,
    files: dict[str, bytes],
    identity: dict[str, object],
    *,
    force: bool,
    quiet: bool,
) -> None:
    """Write the compiled files (write.OutputConflict: a file meshgen does not own, or one
    changed by hand without --force)."""
    from meshgen import write

    with _progress(spec) as progress:
        progress("writing")
        _writing(output, files)  # an interrupt from here on says what is on disk
        plan = write.write_output(output, files, force=force, identity=identity)
    if not quiet:
        _say(
            f"{output}: {len(plan.written)} written, {len(plan.unchanged)} unchanged, "
            f"{len(plan.pruned)} pruned"
        )


# Specs smaller than this build in well under a second: no progress display for them.
PROGRESS_MIN_BYTES = 256 * 1024


@contextlib.contextmanager
def _progress(spec: Path) -> Iterator[Callable[[str], None]]:
    """A one-line stage display on a terminal for long builds; silent in pre-commit and CI
    (not a TTY, or CI set) and for small specs."""
    try:
        big = spec.stat().st_size >= PROGRESS_MIN_BYTES
    except OSError:
        big = False
    if not (big and sys.stderr.isatty() and not os.environ.get("CI")):
        yield lambda stage: None
        return
    from rich.console import Console

    with Console(stderr=True).status("meshgen") as status:
        yield lambda stage: status.update(f"meshgen: {stage} {spec}")


def check_lock_wait() -> None:
    """MESHGEN_LOCK_WAIT is read before any work: a bad value is a usage error (exit 2)."""
    from meshgen.write import LockWaitError, lock_wait_seconds

    try:
        lock_wait_seconds()
    except LockWaitError as exc:
        raise typer.BadParameter(str(exc), param_hint="MESHGEN_LOCK_WAIT") from None


def check_output_dir(output: Path) -> None:
    """Refuse output directories that would swap away the working directory."""
    if not str(output).strip():
        raise typer.BadParameter("the output directory must not be empty", param_hint="-o")
    cwd = Path.cwd().resolve()
    target = output.resolve()
    if target == cwd or target in cwd.parents:
        raise typer.BadParameter(
            f"{output} contains the working directory; choose a subdirectory such as out",
            param_hint="-o",
        )


def _check_or_diff(
    spec: Path,
    output: Path,
    files: dict[str, bytes],
    *,
    diff: bool,
    fmt: Format,
    quiet: bool = False,
) -> None:
    from meshgen import write

    # One read of the output: a file meshgen did not write is a conflict (OutputConflict), a
    # hand edit of its own files is drift.
    drift = write.check_output(output, files)
    if diff:
        # Keep stdout parseable when it carries JSON or annotations.
        stream = sys.stdout if fmt is Format.text else sys.stderr
        for chunk in write.diff_chunks(output, files, drift):
            stream.write(chunk)
    if drift.interrupted:
        _say(f"{output}: an interrupted build left it incomplete")
    written_by = write.manifest_identity(output).get("meshgen")
    if written_by is not None and written_by != __version__ and not quiet:
        # A note, not a failure: the files decide whether the output is stale.
        _say(f"note: {output} was written by meshgen {written_by}; this is meshgen {__version__}")
    if drift.clean:
        if not quiet:
            _say(f"{output} is up to date")
        return
    for label, paths in (
        ("changed", drift.changed),
        ("missing", drift.missing),
        ("stale", drift.stale),
    ):
        for path in paths:
            _say(f"{output / path}: {label}")
    _say(f"{output} is out of date; run `meshgen build {spec} -o {output}`")
    raise typer.Exit(EXIT_FAILED)


def report_conflicts(output: Path, conflict: Exception, fmt: Format) -> None:
    from meshgen.diagnostics import Location, diagnostic

    problems: list[tuple[str, str]] = getattr(conflict, "problems", [])
    code: str = getattr(conflict, "code", "MG901")
    hint: str = getattr(conflict, "hint", "")
    diags = [
        diagnostic(code, reason, Location((output / path).as_posix()), hint)
        for path, reason in problems
    ]
    _print_diagnostics(diags, fmt)
    if getattr(conflict, "wrote_the_rest", False):
        _say(f"{output}: every other file written")
    elif getattr(conflict, "partial", False):
        _say(f"{output}: the build stopped part-way; run it again to complete the output")
    else:
        _say(f"nothing written to {output}")
