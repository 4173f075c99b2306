"""`meshgen plan SPEC -o OUT [--against REV] [--format text|markdown|json]`: the exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from meshgen.report import (
    EXIT_CHANGES,
    EXIT_DISRUPTIVE,
    EXIT_FAILED,
    EXIT_OK,
    Format,
    Options,
    apply,
    print_diagnostics,
    say,
    summary,
    use_color,
)

if TYPE_CHECKING:
    from meshgen.plan.model import Plan
    from meshgen.spec import Mesh
    from meshgen.write import OutputConflict

FORMATS = ("text", "markdown", "json")


def run(
    spec: Path,
    output: Path,
    *,
    against: str | None = None,
    fmt: str = "text",
    options: Options | None = None,
    detailed: bool = False,
) -> int:
    """Compile `spec`, compare it with the output (on disk, or at git revision `against`),
    print the plan; 0 nothing disruptive, 4 disruptive changes, 1 an error. `detailed`
    (--detailed-exitcode): 0 no change at all, 2 changes none of which is disruptive."""
    from meshgen.pipeline import compile_spec

    options = options or Options()
    result = compile_spec(spec, output)
    diagnostics = apply(result.diagnostics, options)
    print_diagnostics(diagnostics, Format.text, options)
    if result.files is None or result.mesh is None or any(d.is_error for d in diagnostics):
        say(f"{spec}: {summary(diagnostics)}; no plan")
        return EXIT_FAILED
    if diagnostics and not options.quiet:
        say(f"{spec}: {summary(diagnostics)}")

    plan = _compare(output, against, result.files, result.mesh, options)
    if plan is None:
        return EXIT_FAILED
    _print(plan, fmt, options)
    if plan.disruptive:
        return EXIT_DISRUPTIVE
    return EXIT_CHANGES if detailed and plan.groups else EXIT_OK


def _compare(
    output: Path, against: str | None, files: dict[str, bytes], mesh: Mesh, options: Options
) -> Plan | None:
    """The plan of `files` against the output (on disk, or at git revision `against`), with
    the live-diff commands of the GitOps applications it touches; None: reported."""
    from meshgen.facts import cluster_facts
    from meshgen.plan.assemble import make_plan
    from meshgen.plan.collect import DiskOutput, GitOutput, PlanError
    from meshgen.write import OutputConflict

    try:
        if against is not None:
            old: GitOutput | DiskOutput = GitOutput(output, against)
        else:
            old = DiskOutput(output, files)
        plan = make_plan(files, old, cluster_facts(mesh))
    except PlanError as error:
        _report(output, error)
        return None
    except OutputConflict as conflict:
        _report_refusal(output, conflict)
        return None
    gitops = mesh.spec.gitops
    if gitops is not None:
        from meshgen.plan.live import live_diff_commands

        plan.live_diff = [app.argv() for app in live_diff_commands(plan, files, gitops.path)]
    if old.facts is None and old.paths and not options.quiet:
        say(
            f"note: {old.label} was built before meshgen recorded its clusters' CIDRs and "
            "Istio version in the manifest: the plan does not compare them (a build records "
            "them)"
        )
    return plan


def _print(plan: Plan, fmt: str, options: Options) -> None:
    from meshgen.plan import format as formats

    if fmt == "json":
        sys.stdout.write(formats.as_json(plan))
    elif fmt == "markdown":
        sys.stdout.write(formats.markdown(plan))
    else:
        color = use_color(options) and sys.stdout.isatty()
        sys.stdout.write(formats.text(plan, color=color))


def _report_refusal(output: Path, conflict: OutputConflict) -> None:
    """What `meshgen build` would refuse, as MG908: the same paths and reasons, so a plan
    never approves an output that the build cannot write."""
    from meshgen.diagnostics import Location, diagnostic

    print_diagnostics(
        [
            diagnostic(
                "MG908",
                f"{reason} (`meshgen build` refuses it: {conflict.code})",
                Location((output / path).as_posix()),
                conflict.hint,
            )
            for path, reason in conflict.problems
        ],
        Format.text,
    )
    say(f"{output}: no plan")


def _report(output: Path, error: Exception) -> None:
    from meshgen.diagnostics import Location, diagnostic

    message: str = getattr(error, "message", str(error))
    hint: str | None = getattr(error, "hint", None)
    print_diagnostics(
        [diagnostic("MG908", message, Location(output.as_posix()), hint)], Format.text
    )
