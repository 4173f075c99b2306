"""Where the time goes: meshgen's stages per spec size, next to the floors they are judged by.

    python -m benchmarks.run                       # every size (several minutes)
    python -m benchmarks.run --sizes 2x10,deep     # some sizes
    python -m benchmarks.run --smoke               # CI: the smallest sizes, no timing checks
    python -m benchmarks.run --json results.json   # also keep the numbers

Each size runs in a fresh child process (`--child SIZE`), so peak RSS is that size's alone.
The child builds the spec once, stage by stage (load, validate+checks, render, emit, write),
then builds it again into the same directory (the no-change rebuild: no file may change),
then times, for the very documents meshgen wrote (every copy: a rule written to 100 clusters
counts 100 times), `json.dumps` of each (the floor), meshgen's emitter (`yamlemit.dump`) of
each and PyYAML's C dumper, and ruamel's round-trip loader on the same spec text. Start-up is
measured once: `meshgen validate` on the example against the bare
`import pydantic, ruamel.yaml`. How to read the table: benchmarks/README.md.

The exit status is 1 when a no-change rebuild changed a file; timings never fail the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.generate import make_deep_spec, make_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "openshift-submariner" / "mesh.yaml"

DEFAULT_SIZES = "2x10,10x500,50x2000,100x5000,deep,1000x10"
SMOKE_SIZES = "2x10,deep-small"
# ruamel's round-trip loader takes ~20 s per 1.5 MB: measured up to 100x5000 (and the deep
# case), the sizes the load target is about.
RT_MAX_SERVICES = 5000

T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    name: str
    clusters: int
    services: int
    deep: bool = False

    def spec(self) -> str:
        if self.deep:
            return make_deep_spec(self.clusters, self.services)
        return make_spec(self.clusters, self.services)


_NAMED = {"deep": Size("deep", 2, 2000, deep=True), "deep-small": Size("deep-small", 2, 20, True)}


def parse_size(text: str) -> Size:
    if text in _NAMED:
        return _NAMED[text]
    clusters, sep, services = text.partition("x")
    if not (sep and clusters.isdigit() and services.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: expected CxS (e.g. 10x500), deep or "
                                         "deep-small")
    return Size(text, int(clusters), int(services))


# --- the child: one size -------------------------------------------------------------------


def _timed(times: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    times[name] = time.perf_counter() - start
    return result


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _build(spec: Path, out: Path) -> tuple[dict[str, float], Any, dict[str, bytes], Any]:
    """The pipeline stage by stage, as `meshgen build` runs it; (times, rendered, files, plan)."""
    from meshgen.checks import run_checks
    from meshgen.diagnostics import has_errors
    from meshgen.emit import emit
    from meshgen.load import load_file
    from meshgen.pipeline import header_name
    from meshgen.render import render
    from meshgen.validate import validate
    from meshgen.write import write_output

    times: dict[str, float] = {}
    loaded, diags = _timed(times, "load", lambda: load_file(spec))
    if loaded is None:
        raise SystemExit(f"{spec}: cannot load: {diags}")

    def validate_and_check() -> Any:
        mesh, diags = validate(loaded)
        if mesh is None:
            raise SystemExit(f"{spec}: invalid: {diags[:3]}")
        diags = run_checks(mesh, loaded.positions)
        if has_errors(diags):
            raise SystemExit(f"{spec}: check errors: {diags[:3]}")
        return mesh

    mesh = _timed(times, "validate", validate_and_check)
    rendered = _timed(times, "render", lambda: render(mesh))
    files = _timed(times, "emit", lambda: emit(rendered, header_name(spec, out)))
    plan = _timed(times, "write", lambda: write_output(out, files))
    times["total"] = sum(times.values())
    return times, rendered, files, plan


def _mtimes(root: Path) -> dict[str, int]:
    out = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            out[path] = os.stat(path, follow_symlinks=False).st_mtime_ns
    return out


def measure(size: Size) -> dict[str, Any]:
    """Every number of one row; run in a fresh process."""
    import yaml
    from ruamel.yaml import YAML

    from meshgen.yamlemit import dump

    text = size.spec()
    with tempfile.TemporaryDirectory(prefix="meshgen-bench-") as tmp:
        spec, out = Path(tmp) / "mesh.yaml", Path(tmp) / "out"
        spec.write_text(text, encoding="utf-8")

        times, rendered, files, _ = _build(spec, out)
        row: dict[str, Any] = {
            "size": size.name, "clusters": size.clusters, "services": size.services,
            "spec_bytes": len(text.encode()), **times, "peak_rss_mb": _peak_rss_mb(),
            "files": len(files), "output_bytes": sum(map(len, files.values())),
        }
        del rendered, files

        before = _mtimes(out)
        again, rendered, _, plan = _build(spec, out)
        after = _mtimes(out)
        row["rebuild"] = again["total"]
        row["rebuild_written"] = len(plan.written) + len(plan.pruned)
        row["mtimes_changed"] = sum(after.get(path) != mtime for path, mtime in before.items())

    # The same documents meshgen wrote, every copy of them (a rule shared by all clusters
    # counts once per cluster, as it is written once per cluster).
    docs = [doc for output in rendered.files for doc in output.documents]
    row["documents"] = len(docs)
    row["unique_documents"] = len({id(doc) for doc in docs})
    _timed(row, "json_floor", lambda: [json.dumps(d) for d in docs])
    _timed(row, "yamlemit", lambda: [dump(d) for d in docs])
    _timed(row, "pyyaml_c", lambda: yaml.dump_all(docs, Dumper=yaml.CSafeDumper,
                                                  sort_keys=False))
    if size.services <= RT_MAX_SERVICES:
        _timed(row, "ruamel_rt_load", lambda: YAML().load(text))
    return row


# --- the parent: every size, start-up, the table -------------------------------------------


def _median_run(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure_startup(runs: int) -> dict[str, float]:
    """`meshgen validate` on the example vs the bare import of its two big dependencies."""
    script = Path(sys.executable).parent / "meshgen"
    meshgen = [str(script)] if script.exists() else [sys.executable, "-m", "meshgen"]
    validate = _median_run([*meshgen, "validate", str(EXAMPLE)], runs)
    imports = _median_run([sys.executable, "-c", "import pydantic, ruamel.yaml"], runs)
    return {"meshgen_validate": validate, "bare_imports": imports, "ratio": validate / imports}


def run_child(size: Size) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--child", size.name],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
    )
    row: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return row


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _x(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.1f}x"


COLUMNS = (
    "size", "spec KB", "load", "validate+checks", "render", "emit", "write", "total",
    "peak RSS MB", "files", "output MB", "docs (unique)", "json floor", "yamlemit",
    "PyYAML C", "PyYAML C / yamlemit", "ruamel rt load", "rt / load", "rebuild",
    "mtimes changed",
)


def _cells(row: dict[str, Any]) -> Iterator[str]:
    floor = row["json_floor"]
    label = f"deep {row['clusters']}x{row['services']}" if "deep" in row["size"] else row["size"]
    yield label
    yield f"{row['spec_bytes'] / 1024:,.0f}"
    for stage in ("load", "validate", "render", "emit", "write", "total"):
        yield f"{_s(row[stage])} ({_x(row[stage], floor)})"
    yield f"{row['peak_rss_mb']:,.0f}"
    yield f"{row['files']:,}"
    yield f"{row['output_bytes'] / 1e6:,.1f}"
    yield f"{row['documents']:,} ({row['unique_documents']:,})"
    yield _s(floor)
    yield f"{_s(row['yamlemit'])} ({_x(row['yamlemit'], floor)})"
    yield f"{_s(row['pyyaml_c'])} ({_x(row['pyyaml_c'], floor)})"
    yield _x(row["pyyaml_c"], row["yamlemit"])
    rt = row.get("ruamel_rt_load")
    yield _s(rt)
    yield _x(rt, row["load"])
    yield _s(row["rebuild"])
    yield str(row["mtimes_changed"])


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _revision() -> str:
    proc = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None,
                        help=f"comma-separated CxS, deep, deep-small (default: {DEFAULT_SIZES})")
    parser.add_argument("--smoke", action="store_true",
                        help=f"only {SMOKE_SIZES} and fewer start-up runs, for CI")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--child", type=parse_size, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return 0

    started = time.perf_counter()
    revision = _revision()
    text = args.sizes or (SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    sizes = [parse_size(s.strip()) for s in text.split(",") if s.strip()]
    rows = []
    for size in sizes:
        print(f"benchmark: {size.name} ...", file=sys.stderr, flush=True)
        rows.append(run_child(size))
    startup = measure_startup(runs=3 if args.smoke else 5)
    elapsed = time.perf_counter() - started

    print(f"meshgen {revision}, {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPUs; stage (ratio to the json floor)\n")
    print(markdown_table(rows))
    print(f"start-up (median of {3 if args.smoke else 5}): `meshgen validate` on the example "
          f"{_s(startup['meshgen_validate'])}, `import pydantic, ruamel.yaml` "
          f"{_s(startup['bare_imports'])}: {startup['ratio']:.2f}x")
    print(f"whole run: {elapsed:.0f} s")
    if args.json is not None:
        report = {"revision": revision, "python": platform.python_version(),
                  "cpus": os.cpu_count(),
                  "sizes": rows, "startup": startup, "elapsed_s": elapsed}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    changed = [row["size"] for row in rows if row["mtimes_changed"] or row["rebuild_written"]]
    if changed:
        print(f"FAILED: a no-change rebuild changed files at {', '.join(changed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
