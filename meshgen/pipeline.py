"""The stages wired together: spec file -> diagnostics and, when clean, output bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from meshgen.diagnostics import Diagnostic, has_errors, sort_key
from meshgen.spec import Mesh


@dataclass
class Compiled:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    mesh: Mesh | None = None
    files: dict[str, bytes] | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def display_name(path: Path) -> str:
    """The spec's name in diagnostics and headers: relative to the working directory if
    possible, so output bytes do not depend on where the repository is checked out."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def check_spec(path: Path) -> Compiled:
    """Load, validate and check: every diagnostic, no output."""
    from meshgen.checks import run_checks
    from meshgen.load import load_file
    from meshgen.validate import validate

    result = Compiled()
    loaded, diags = load_file(path, display_name(path))
    result.diagnostics.extend(diags)
    if loaded is not None:
        mesh, diags = validate(loaded)
        result.diagnostics.extend(diags)
        if mesh is not None:
            result.mesh = mesh
            result.diagnostics.extend(run_checks(mesh, loaded.positions))
    result.diagnostics.sort(key=sort_key)
    return result


def compile_spec(path: Path) -> Compiled:
    """check_spec, then render and emit when there are no errors."""
    result = check_spec(path)
    if result.mesh is None or not result.ok:
        return result
    from meshgen.emit import emit
    from meshgen.render import render

    result.files = emit(render(result.mesh), display_name(path))
    return result
