"""The typer app: every command of the command line, its options and its help.

The plain `meshgen validate FILE...` does not come here: entry.py runs it without typer, since
pre-commit runs it on every commit. Both print through report.py and exit through
report.exit_with: 0 fine; 1 the spec has errors or the output is stale; 2 usage; 3 internal
error (a bug); 130 interrupted. Modules only some commands need are imported inside them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from meshgen import __version__
from meshgen.report import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Format,
    Options,
    apply,
    bad_ignore,
    use_color,
    validate_files,
)
from meshgen.report import exit_with as _exit_with
from meshgen.report import print_diagnostics as _print_diagnostics
from meshgen.report import say as _say
from meshgen.report import summary as _summary
from meshgen.report import writing as _writing

if TYPE_CHECKING:
    from meshgen.conform import Summary
    from meshgen.pipeline import Compiled
    from meshgen.spec import Mesh


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


@app.command()
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
    _check_output_dir(output)
    _check_lock_wait()
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
        _write(spec, output, result, force=force, quiet=quiet)
    except write.OutputConflict as conflict:
        _report_conflicts(output, conflict, fmt)
        raise typer.Exit(EXIT_FAILED) from None
    if validate_output and result.mesh is not None:
        _validate_written(output, result.mesh, schema_dir, fmt)


def _write(spec: Path, output: Path, result: Compiled, *, force: bool, quiet: bool) -> None:
    """Write the compiled files (write.OutputConflict: a file meshgen does not own, or one
    changed by hand without --force)."""
    from meshgen import write

    assert result.files is not None
    with _progress(spec) as progress:
        progress("writing")
        _writing(output, result.files)  # an interrupt from here on says what is on disk
        plan = write.write_output(output, result.files, force=force, identity=result.record())
    if not quiet:
        _say(
            f"{output}: {len(plan.written)} written, {len(plan.unchanged)} unchanged, "
            f"{len(plan.pruned)} pruned"
        )


def _validate_written(output: Path, mesh: Mesh, schema_dir: Path | None, fmt: Format) -> None:
    """`build --validate`: kubeconform over what was written, each cluster against its
    Kubernetes minor (when the spec names one)."""
    from meshgen.conform import find_kubeconform
    from meshgen.versions import minor_of

    if find_kubeconform() is None:
        _say(
            "kubeconform is not on PATH; --validate skipped "
            "(go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0)"
        )
        return
    clusters = {
        c.name: minor_of(c.kubernetes_version) if c.kubernetes_version else None
        for c in mesh.spec.clusters
    }
    if not _conform(output, clusters, mesh.spec.istio.version, schema_dir, fmt):
        raise typer.Exit(EXIT_FAILED)


def _conform(
    output: Path,
    clusters: dict[str, int | None],
    istio_version: str | None,
    schema_dir: Path | None,
    fmt: Format,
) -> bool:
    """kubeconform over every cluster directory; print its findings; True if all valid.

    `istio_version` (1.M or 1.M.P) picks that minor's Istio CRDs and the Sail Operator release
    that accepts it."""
    from meshgen.conform import Summary, find_kubeconform, manifest_files, run_kubeconform
    from meshgen.layout import REMOTE_SECRETS_DIR
    from meshgen.versions import KUBERNETES_SUPPORT, minor_of

    binary = find_kubeconform()
    assert binary is not None
    schema_dir = _schema_dir(schema_dir)
    istio_minor = minor_of(istio_version) if istio_version else None
    total = Summary()
    # The remote-secret placeholders sit next to the cluster directories, one per cluster.
    if (output / REMOTE_SECRETS_DIR).is_dir():
        clusters = {**clusters, REMOTE_SECRETS_DIR: None}
    for name, k8s_minor in clusters.items():
        if k8s_minor is None and istio_minor in KUBERNETES_SUPPORT:
            k8s_minor = KUBERNETES_SUPPORT[istio_minor][0]
        total.add(
            run_kubeconform(
                manifest_files(output / name),
                binary=binary,
                schema_dir=schema_dir,
                istio_version=istio_version,
                kubernetes_minor=k8s_minor,
                display_root=Path.cwd(),
            )
        )
    if schema_dir is None and _nothing_checked(total):
        return False
    _print_diagnostics(total.diagnostics, fmt)
    _say(
        f"kubeconform: {total.valid} valid, {total.invalid} invalid, {total.errors} errors, "
        f"{total.skipped} skipped"
    )
    return total.invalid == 0 and total.errors == 0


def _schema_dir(schema_dir: Path | None) -> Path | None:
    """--schema-dir, or the schemas meshgen ships; None: kubeconform's own, from the network."""
    if schema_dir is None:
        from meshgen.packaged_schemas import packaged_schema_dir

        return packaged_schema_dir()
    if not schema_dir.is_dir():
        raise typer.BadParameter(
            f"{schema_dir} is not a folder; build the offline schemas "
            f"once with `python scripts/make_schemas.py {schema_dir}`",
            param_hint="--schema-dir",
        )
    return schema_dir


def _nothing_checked(total: Summary) -> bool:
    """No packaged schemas and no network: one message with the fix, not one per object."""
    unchecked = [d for d in total.diagnostics if d.code == "MG904"]
    if not unchecked or len(unchecked) != len(total.diagnostics) or total.valid:
        return False
    _say(
        f"kubeconform could not check any object ({len(unchecked)} unchecked, MG904): "
        "this installation has no packaged schemas and kubeconform's defaults need "
        "network access. Build offline schemas once with "
        "`python scripts/make_schemas.py schemas-offline` and pass "
        "`--schema-dir schemas-offline`"
    )
    return True


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


def _check_lock_wait() -> None:
    """MESHGEN_LOCK_WAIT is read before any work: a bad value is a usage error (exit 2)."""
    from meshgen.write import LockWaitError, lock_wait_seconds

    try:
        lock_wait_seconds()
    except LockWaitError as exc:
        raise typer.BadParameter(str(exc), param_hint="MESHGEN_LOCK_WAIT") from None


def _check_output_dir(output: Path) -> None:
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


def _report_conflicts(output: Path, conflict: Exception, fmt: Format) -> None:
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


@app.command()
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


@app.command()
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
        _check_lock_wait()  # plan reads the output under the build's lock
    options = _options(ignore, warnings_as_errors, quiet, no_color)
    code = run(spec, output, against=against, fmt=fmt, options=options, detailed=detailed_exitcode)
    if code:
        raise typer.Exit(code)


@app.command()
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


@app.command("check-output")
def check_output(
    directory: Annotated[Path, typer.Argument(help="A meshgen output directory.", metavar="DIR")],
    schema_dir: SchemaDirOption = None,
    istio_version: Annotated[
        str | None,
        typer.Option(
            "--istio-version",
            metavar="1.M[.P]",
            help="Istio MAJOR.MINOR[.PATCH] of the output: its "
            "minor's CRD schemas, and those of the Sail Operator "
            "release that accepts it (a bare minor: its newest "
            "patch Sail accepts; default: the newest available).",
        ),
    ] = None,
    kubernetes_version: Annotated[
        str | None,
        typer.Option(
            "--kubernetes-version",
            metavar="1.M",
            help="Kubernetes MAJOR.MINOR to validate against (default: per Istio version).",
        ),
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Validate every object of an output directory with kubeconform -strict."""
    from meshgen.conform import find_kubeconform

    _minor(istio_version, "--istio-version", patch=True)
    k8s_minor = _minor(kubernetes_version, "--kubernetes-version")
    if find_kubeconform() is None:
        _say(
            "kubeconform is not on PATH: "
            "go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0"
        )
        raise typer.Exit(EXIT_FAILED)
    clusters = sorted(p.parent.name for p in directory.glob("*/kustomization.yaml"))
    if not clusters:
        _say(f"{directory}: no cluster directories (*/kustomization.yaml) found")
        raise typer.Exit(EXIT_FAILED)
    if not _conform(directory, dict.fromkeys(clusters, k8s_minor), istio_version, schema_dir, fmt):
        raise typer.Exit(EXIT_FAILED)


def _minor(version: str | None, option: str, *, patch: bool = False) -> int | None:
    """The MINOR of `1.MINOR[...]` (with `patch`: exactly `1.MINOR` or `1.MINOR.PATCH`)."""
    from meshgen.versions import minor_of

    if version is None:
        return None
    try:
        minor = minor_of(version)
    except ValueError:
        minor = None
    if minor is None or (not patch and version.count(".") != 1):
        expected = "1.MINOR or 1.MINOR.PATCH" if patch else "1.MINOR"
        raise typer.BadParameter(f"expected {expected}, got {version!r}", param_hint=option)
    return minor


@app.command()
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


@app.command()
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
    _report_conflicts(path.parent, conflict, Format.text)
    raise typer.Exit(EXIT_FAILED)


def _write_single(path: Path, text: str, *, overwrite: bool) -> None:
    """One file, atomically, never through a symlink; a refusal is a diagnostic and exit 1."""
    from meshgen import write

    try:
        write.write_single_file(path, text.encode(), overwrite=overwrite)
    except write.OutputConflict as conflict:
        _report_conflicts(path.parent, conflict, Format.text)
        raise typer.Exit(EXIT_FAILED) from None


def main() -> None:
    """The typer app under the exit contract of report.exit_with."""
    debug = "--debug" in sys.argv or os.environ.get("MESHGEN_DEBUG") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    _exit_with(_run_app, debug=debug)


def _run_app() -> int:
    try:
        # Without standalone mode click returns the exit code instead of calling exit.
        code = app(standalone_mode=False, prog_name="meshgen")
    except typer.Abort:  # click's word for an interrupt (and for EOF at a prompt)
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        # Usage errors: bad option, missing argument, unknown command; without the
        # validation library's prefix ("Value error, 'xml' is not one of ...").
        message = getattr(exc, "message", None)
        if isinstance(message, str):
            exc.message = message.replace("Value error, ", "")
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        exit_code: int = getattr(exc, "exit_code", EXIT_USAGE)
        return exit_code
    return code if isinstance(code, int) else EXIT_OK
