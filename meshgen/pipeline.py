"""The stages wired together: spec file -> diagnostics and, when clean, output bytes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meshgen.diagnostics import Diagnostic, has_errors, sort_key
from meshgen.gcpause import gc_paused
from meshgen.spec import Mesh


@dataclass
class Compiled:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    mesh: Mesh | None = None
    files: dict[str, bytes] | None = None
    spec_sha256: str = ""  # of the spec's bytes, for the output manifest

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    def record(self) -> dict[str, object]:
        """What the output manifest records of the build besides its files: meshgen's version,
        the spec's hash and each cluster's facts (meshgen/facts.py, what a plan compares)."""
        from meshgen import __version__
        from meshgen.facts import CLUSTERS, cluster_facts, recorded

        out: dict[str, object] = {"meshgen": __version__, "spec": self.spec_sha256}
        if self.mesh is not None:
            out[CLUSTERS] = recorded(cluster_facts(self.mesh))
        return out


def _printable(name: str) -> str:
    """Escape what must not reach a terminal or a generated header: newlines, control
    characters and undecodable file-system bytes (surrogates)."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in name)


def display_name(path: Path) -> str:
    """The spec's name in diagnostics: relative to the working directory when inside it;
    `<stdin>` for a spec piped in (`-`, /dev/stdin, /dev/fd/N)."""
    from meshgen.load import stream_name

    stream = stream_name(path)
    if stream is not None:
        return stream
    try:
        name = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        name = path.as_posix()
    return _printable(name)


def header_name(spec: Path, output: Path) -> str:
    """The spec's name in generated headers: relative to the output directory's parent, so
    the bytes depend on the layout of the repository, not on the working directory. A spec
    piped in is `<stdin>`: its path (/proc/PID/fd/N) would change every file on every run."""
    from meshgen.load import stream_name

    stream = stream_name(spec)
    if stream is not None:
        return stream
    relative = os.path.relpath(spec.resolve(), output.resolve().parent)
    return _printable(Path(relative).as_posix())


Progress = Callable[[str], None]


def _quiet(stage: str) -> None:
    del stage


def check_spec(path: Path, progress: Progress = _quiet) -> Compiled:
    """Load, validate and check: every diagnostic, no output."""
    with gc_paused():
        return _check_spec(path, progress)


def _check_spec(path: Path, progress: Progress) -> Compiled:
    from meshgen.checks import run_checks
    from meshgen.load import load_file
    from meshgen.validate import validate

    result = Compiled()
    progress("loading")
    loaded, diags = load_file(path, display_name(path))
    result.diagnostics.extend(diags)
    if loaded is not None:
        result.spec_sha256 = loaded.sha256
        progress("validating")
        mesh, diags = validate(loaded)
        result.diagnostics.extend(diags)
        if mesh is not None:
            result.mesh = mesh
            progress("checking")
            result.diagnostics.extend(run_checks(mesh, loaded.positions))
    result.diagnostics.sort(key=sort_key)
    return result


def compile_spec(path: Path, output: Path = Path("out"), progress: Progress = _quiet) -> Compiled:
    """check_spec, then render and emit (for the output directory) when there are no errors."""
    with gc_paused():
        return _compile_spec(path, output, progress)


def _compile_spec(path: Path, output: Path, progress: Progress) -> Compiled:
    result = _check_spec(path, progress)
    if result.mesh is None or not result.ok:
        return result
    from meshgen.emit import emit
    from meshgen.render import render

    progress("rendering")
    rendered = render(result.mesh)
    progress("emitting")
    result.files = emit(rendered, header_name(path, output))
    return result
