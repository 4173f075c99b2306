"""The typer app, its --version, and the options several commands share."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from meshgen import __version__
from meshgen.report import (
    EXIT_OK,
    Format,
    Options,
    bad_ignore,
)


def _plain_argument_names() -> None:
    """Help shows arguments as users write them (`SPEC`, `[PATH]`), not typer's internal
    notation (`{SPEC}`, `SPEC <path>`, `<list[Path]>`); tests/test_cli.py holds every
    command's help to that."""
    from typer.core import TyperArgument

    def usage_name(self: TyperArgument) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name if self.nargs == 1 or name.endswith("...") else name + "..."

    setattr(TyperArgument, "_usage_display_name", usage_name)  # noqa: B010
    setattr(TyperArgument, "display_type", lambda self, ctx: "")  # noqa: B010


_plain_argument_names()

app = typer.Typer(
    name="meshgen",
    help="Compile one mesh.yaml into per-cluster GitOps directories for an Istio "
    "multi-primary mesh on a flat (Submariner) network.",
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"meshgen {__version__}\n")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the meshgen version and exit.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Compile one mesh.yaml into per-cluster GitOps directories for an Istio multi-primary
    mesh on a flat (Submariner) network."""


SpecArgument = Annotated[Path, typer.Argument(help="The mesh spec (mesh.yaml).", metavar="SPEC")]

# readable=False: typer's default check would make an unreadable output a usage error (exit 2)
# before the writer can name the path (MG907, or MG908 for plan).
OutputOption = Annotated[
    Path,
    typer.Option("--output", "-o", metavar="DIR", help="Output directory.", readable=False),
]

FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        metavar="text|json|github|sarif",
        help="How to print diagnostics (sarif: SARIF 2.1.0 for code scanning).",
    ),
]

WarningsAsErrorsOption = Annotated[
    bool, typer.Option("--warnings-as-errors", help="Treat every warning as an error.")
]

IgnoreOption = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore",
        metavar="CODE",
        help="Do not report this warning code "
        "(repeatable, e.g. --ignore MG418); errors cannot be ignored.",
    ),
]

QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print errors only: no warnings, no summary.")
]

NoColorOption = Annotated[
    bool, typer.Option("--no-color", help="No colours (also: the NO_COLOR variable).")
]


SchemaDirOption = Annotated[
    Path | None,
    typer.Option(
        "--schema-dir",
        metavar="DIR",
        help="Schemas made by scripts/make_schemas.py; default: the ones packaged "
        "with meshgen (offline).",
    ),
]


CheckOption = Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 if OUTPUT is stale.")
]

DiffOption = Annotated[
    bool, typer.Option("--diff", help="Write nothing; print a unified diff of OUTPUT.")
]

ValidateOption = Annotated[
    bool,
    typer.Option("--validate", help="Then check the output with kubeconform (when it is on PATH)."),
]

ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Overwrite (or prune) generated files that were "
        "changed by hand; see them first with --diff.",
    ),
]


def _options(
    ignore: list[str] | None, warnings_as_errors: bool, quiet: bool, no_color: bool
) -> Options:
    codes = frozenset(code.strip().upper() for code in ignore or ())
    problem = bad_ignore(sorted(codes))
    if problem is not None:
        raise typer.BadParameter(problem, param_hint="--ignore")
    return Options(codes, warnings_as_errors, quiet, not no_color)
