"""The commands that read a spec or write one file: validate, plan, explain, schema, init."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from meshgen.cli.app import (
    FormatOption,
    IgnoreOption,
    NoColorOption,
    OutputOption,
    QuietOption,
    SpecArgument,
    WarningsAsErrorsOption,
    _options,
)
from meshgen.cli.build import check_lock_wait, report_conflicts
from meshgen.report import (
    EXIT_FAILED,
    Format,
    Options,
    use_color,
    validate_files,
)
from meshgen.report import print_diagnostics as _print_diagnostics
from meshgen.report import say as _say
from meshgen.report import summary as _summary


def validate(
    specs: Annotated[
        list[Path],
        typer.Argument(
            help="Mesh specs to check (- for standard input).",
            metavar="SPEC...",
            show_default=False,
        ),
    ],
    fmt: FormatOption = Format.text,
    warnings_as_errors: WarningsAsErrorsOption = False,
    ignore: IgnoreOption = None,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
) -> None:
    """Check specs without writing anything (for pre-commit and CI)."""
    code = validate_files(specs, fmt, _options(ignore, warnings_as_errors, quiet, no_color))
    if code:
        raise typer.Exit(code)


def plan(
    spec: SpecArgument,
    output: OutputOption = Path("out"),
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="REV",
            help="Compare with the output committed at git revision REV "
            "instead of the output directory.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="text|markdown|json",
            help="How to print the plan (markdown: a pull-request comment).",
        ),
    ] = "text",
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 2 when there are changes and none is disruptive (as terraform plan "
            "-detailed-exitcode); 0 then means no change at all.",
        ),
    ] = False,
    warnings_as_errors: WarningsAsErrorsOption = False,
    ignore: IgnoreOption = None,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
) -> None:
    """Show what compiling SPEC would change in each cluster, writing nothing; exit 4 when a
    change is disruptive (with --detailed-exitcode: 2 when there are other changes)."""
    from meshgen.plan.command import FORMATS, run

    if fmt not in FORMATS:
        raise typer.BadParameter(
            f"{fmt!r} is not one of {', '.join(map(repr, FORMATS))}", param_hint="--format"
        )
    if against is None:
        check_lock_wait()  # plan reads the output under the build's lock
    options = _options(ignore, warnings_as_errors, quiet, no_color)
    code = run(spec, output, against=against, fmt=fmt, options=options, detailed=detailed_exitcode)
    if code:
        raise typer.Exit(code)


def explain(
    topic: Annotated[
        str | None,
        typer.Argument(
            help="A diagnostic code (MG201), or a spec file (or - "
            "for standard input) to summarise; nothing: list every "
            "code.",
            metavar="CODE|SPEC",
            show_default=False,
        ),
    ] = None,
    no_color: NoColorOption = False,
) -> None:
    """Explain a diagnostic code (what, why, how to fix, an example), or summarise a mesh."""
    import re

    from meshgen.codes import FAMILIES, REGISTRY, lookup

    if topic is None:
        lines = []
        for prefix, family in FAMILIES.items():
            lines.append(f"{prefix}xx  {family}")
            lines.extend(
                f"  {c.code}  {c.summary}" for c in REGISTRY.values() if c.code.startswith(prefix)
            )
        sys.stdout.write("\n".join(lines) + "\n")
        return
    if re.fullmatch(r"(?i)mg\d{3}", topic.strip()):
        entry = lookup(topic)
        if entry is None:
            _say(f"{topic}: not a meshgen diagnostic code; `meshgen explain` lists them all")
            raise typer.Exit(EXIT_FAILED)
        sys.stdout.write(entry.page())
        return
    _explain_spec(Path(topic), Options(color=not no_color))


def _explain_spec(spec: Path, options: Options) -> None:
    from meshgen.pipeline import check_spec

    result = check_spec(spec)
    if result.mesh is None or not result.ok:
        _print_diagnostics(result.diagnostics, Format.text, options)
        _say(f"{spec}: {_summary(result.diagnostics)}; fix them to see the summary")
        raise typer.Exit(EXIT_FAILED)
    from meshgen.overview import mesh_summary

    color = use_color(options) and sys.stdout.isatty()
    text = mesh_summary(result.mesh, color=color)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
) -> None:
    """Print the JSON Schema of mesh.yaml."""
    from meshgen.schema import schema_text

    text = schema_text()
    if output is None:
        sys.stdout.write(text)
    else:
        _write_single(output, text, overwrite=True)


def init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the starter spec.", metavar="PATH")
    ] = Path("mesh.yaml"),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite PATH (and mesh.schema.json) if they exist.")
    ] = False,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="Name the schema published at this release's tag in the modeline instead of "
            "writing mesh.schema.json next to PATH.",
        ),
    ] = False,
) -> None:
    """Write a commented starter mesh.yaml, and next to it the JSON Schema its modeline names
    (editors: completion, hover and validation, offline)."""
    from meshgen.schema import MODELINE, schema_text
    from meshgen.starter import SCHEMA_FILE, starter

    if online:
        _write_single(path, starter(MODELINE), overwrite=force)
        _say(f"wrote {path}; next: meshgen validate {path}")
        return
    schema_path = path.parent / SCHEMA_FILE
    schema = schema_text()
    same = schema_path.is_file() and not schema_path.is_symlink()
    same = same and schema_path.read_bytes() == schema.encode()
    if not force and not same and os.path.lexists(schema_path):
        _refuse_existing(schema_path, f"or `meshgen schema -o {schema_path}` to refresh it")
    if not force and os.path.lexists(path):
        _refuse_existing(path, "")
    _write_single(path, starter(), overwrite=force)
    if not same:
        _write_single(schema_path, schema, overwrite=force)
    _say(f"wrote {path} and {schema_path}; next: meshgen validate {path}")


def _refuse_existing(path: Path, more: str) -> NoReturn:
    from meshgen import write

    hint = "use --force to overwrite it" + (f", {more}" if more else "")
    conflict = write.OutputConflict([(path.name, "exists; not overwriting it")], "MG901", hint)
    report_conflicts(path.parent, conflict, Format.text)
    raise typer.Exit(EXIT_FAILED)


def _write_single(path: Path, text: str, *, overwrite: bool) -> None:
    """One file, atomically, never through a symlink; a refusal is a diagnostic and exit 1."""
    from meshgen import write

    try:
        write.write_single_file(path, text.encode(), overwrite=overwrite)
    except write.OutputConflict as conflict:
        report_conflicts(path.parent, conflict, Format.text)
        raise typer.Exit(EXIT_FAILED) from None
