"""Where the time goes: meshgen's stages per spec size, next to the floors they are judged by.

    python -m benchmarks.run                       # every size (about 20 minutes)
    python -m benchmarks.run --sizes 2x10,deep     # some sizes (peers at each of them)
    python -m benchmarks.run --no-helm --no-kustomize   # without the slow peers
    python -m benchmarks.run --smoke               # CI: the smallest sizes, no timing checks
    python -m benchmarks.run --json results.json   # also keep the numbers

Each size runs in a fresh child process (`--child SIZE`), so peak RSS is that size's alone.
The child builds the spec once, stage by stage (load, validate+checks, render, emit, write),
then builds it again into the same directory (the no-change rebuild: no file may change),
then times, for the very documents meshgen wrote (every copy: a rule written to 100 clusters
counts 100 times), `json.dumps` of each (the floor), meshgen's emitter (`yamlemit.dump`) of
each and PyYAML's C dumper, and ruamel's round-trip loader on the same spec text. Start-up is
measured once: `meshgen validate` on the example against the bare
`import pydantic, ruamel.yaml`.

The peers, at the sizes of --peer-sizes, right after the first build: the Helm chart in
benchmarks/helm-peer/ rendering the same DestinationRules and VirtualServices with
`helm template`, once per cluster (benchmarks/helm_peer.py), and `kustomize build` of the
largest GitOps unit of meshgen's output (benchmarks/units.py), with the pinned binaries in
.tools/bin (scripts/install-tools) unless --helm/--kustomize name others. How to read the
tables: benchmarks/README.md.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.busy import busy_line, measure_busy
from benchmarks.generate import make_deep_spec, make_spec
from benchmarks.helm_peer import time_helm
from benchmarks.plans import goal_lines, measure_plans
from benchmarks.units import time_kustomize

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "openshift-submariner" / "mesh.yaml"

DEFAULT_SIZES = "2x10,10x500,20x1000,20x4000,50x2000,100x5000,deep,300x20,1000x10"
SMOKE_SIZES = "2x10,deep-small"
# Where the peers run in the default set (the sizes of issue 13): helm takes minutes at
# 100x5000, so not at every size. With --sizes or --smoke, they run at every size given.
PEER_SIZES = "20x1000,20x4000,100x5000"
# plan, build --check and --diff next to a fresh build (benchmarks/plans.py).
PLAN_SIZES = "20x1000,100x5000"
SMOKE_PLAN_SIZES = "2x10"
BUSY_SIZE = "20x1000"  # a build beside a 3 GB dd (benchmarks/busy.py); not with --smoke
STARTUP_LINE = 2.8
TOOLS = ROOT / ".tools" / "bin"
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
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected CxS (e.g. 10x500), deep or deep-small"
        )
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


def max_files_per_cluster(paths: Iterable[str], clusters: int) -> int:
    """The most files under one cluster's directory (`c0/`, `c1/`, ...: benchmarks.generate's
    names)."""
    names = {f"c{i}" for i in range(clusters)}
    counts: dict[str, int] = {}
    for path in paths:
        top = path.split("/", 1)[0]
        if top in names:
            counts[top] = counts.get(top, 0) + 1
    return max(counts.values(), default=0)


def _peer(row: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    """Run one peer; a failure is reported in the row, never raised (nothing fails on it)."""
    try:
        row.update(fn())
    except Exception as error:  # a broken peer must not lose the row
        row[f"{name}_error"] = f"{type(error).__name__}: {error}"[-500:]


def measure(size: Size, helm: Path | None = None, kustomize: Path | None = None) -> dict[str, Any]:
    """Every number of one row; run in a fresh process. With `helm`, the Helm peer; with
    `kustomize`, `kustomize build` of the largest unit of the output."""
    import yaml
    from ruamel.yaml import YAML

    from meshgen.yamlemit import dump

    text = size.spec()
    with tempfile.TemporaryDirectory(prefix="meshgen-bench-") as tmp:
        spec, out = Path(tmp) / "mesh.yaml", Path(tmp) / "out"
        spec.write_text(text, encoding="utf-8")

        times, rendered, files, _ = _build(spec, out)
        row: dict[str, Any] = {
            "size": size.name,
            "clusters": size.clusters,
            "services": size.services,
            "spec_bytes": len(text.encode()),
            **times,
            "peak_rss_mb": _peak_rss_mb(),
            "files": len(files),
            "output_bytes": sum(map(len, files.values())),
            "max_files_per_cluster": max_files_per_cluster(files, size.clusters),
        }
        del rendered, files

        # The peers, on the output just written (they only read it).
        if helm is not None:
            _peer(row, "helm", lambda: time_helm(helm, text, Path(tmp)))
        if kustomize is not None:
            _peer(row, "kustomize", lambda: time_kustomize(kustomize, out))

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
    _timed(row, "pyyaml_c", lambda: yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False))
    if size.services <= RT_MAX_SERVICES:
        _timed(row, "ruamel_rt_load", lambda: YAML().load(text))
    return row


# --- the parent: every size, start-up, the table -------------------------------------------


def _median_run(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure_startup(runs: int) -> dict[str, float]:
    """`meshgen validate` on the example vs the bare import of its two big dependencies.

    Both as installed: from bytecode, as `pip install` leaves every package (meshgen's own
    wheel included). A checkout's editable install with PYTHONDONTWRITEBYTECODE=1 would
    compile meshgen's modules on every run while the dependencies load compiled (157 against
    181 ms here); so both commands run with bytecode written to a fresh
    PYTHONPYCACHEPREFIX, once to fill it, then `runs` times each."""
    script = Path(sys.executable).parent / "meshgen"
    meshgen = [str(script)] if script.exists() else [sys.executable, "-m", "meshgen"]
    commands = {
        "meshgen_validate": [*meshgen, "validate", str(EXAMPLE)],
        "bare_imports": [sys.executable, "-c", "import pydantic, ruamel.yaml"],
    }
    with tempfile.TemporaryDirectory(prefix="meshgen-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        times = {}
        for name, argv in commands.items():
            _median_run(argv, 1, env)
            times[name] = _median_run(argv, runs, env)
    return {**times, "ratio": times["meshgen_validate"] / times["bare_imports"]}


def run_child(size: Size, helm: Path | None, kustomize: Path | None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.run", "--child", size.name]
    if helm is not None:
        argv += ["--child-helm", str(helm)]
    if kustomize is not None:
        argv += ["--child-kustomize", str(kustomize)]
    proc = subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
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
    "size",
    "spec KB",
    "load",
    "validate+checks",
    "render",
    "emit",
    "write",
    "total",
    "peak RSS MB",
    "files",
    "max files/cluster",
    "output MB",
    "docs (unique)",
    "json floor",
    "yamlemit",
    "PyYAML C",
    "PyYAML C / yamlemit",
    "ruamel rt load",
    "rt / load",
    "rebuild",
    "mtimes changed",
)

PEER_COLUMNS = (
    "size",
    "meshgen build",
    "helm peer (all clusters)",
    "helm per cluster",
    "helm / meshgen",
    "units",
    "largest unit",
    "its docs",
    "kustomize build (largest unit)",
)


def _label(row: dict[str, Any]) -> str:
    return f"deep {row['clusters']}x{row['services']}" if "deep" in row["size"] else row["size"]


def _cells(row: dict[str, Any]) -> Iterator[str]:
    floor = row["json_floor"]
    yield _label(row)
    yield f"{row['spec_bytes'] / 1024:,.0f}"
    for stage in ("load", "validate", "render", "emit", "write", "total"):
        yield f"{_s(row[stage])} ({_x(row[stage], floor)})"
    yield f"{row['peak_rss_mb']:,.0f}"
    yield f"{row['files']:,}"
    yield f"{row['max_files_per_cluster']:,}"
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


def _failed(error: str) -> str:
    first = error.strip().splitlines()[0] if error.strip() else "?"
    return f"failed: {first[:120]}".replace("|", "/")


def _peer_cells(row: dict[str, Any]) -> Iterator[str]:
    """The peer table's cells; a peer that did not run says why (`helm_note`,
    `kustomize_note`: not at this size, skipped, or the tool is missing)."""
    yield _label(row)
    yield _s(row["total"])
    if "helm_s" in row:
        yield _s(row["helm_s"])
        yield _s(row["helm_s"] / max(row["helm_runs"], 1))
        yield _x(row["helm_s"], row["total"])
    else:
        note = _failed(row["helm_error"]) if "helm_error" in row else row.get("helm_note", "-")
        yield from (note, "-", "-")
    if "kustomize_note" in row or "units" not in row:
        note = (
            _failed(row["kustomize_error"])
            if "kustomize_error" in row
            else row.get("kustomize_note", "-")
        )
        yield from ("-", "-", "-", note)
        return
    yield f"{row['units']:,}"
    yield row.get("largest_unit", "-")
    yield f"{row['largest_unit_docs']:,}" if "largest_unit_docs" in row else "-"
    if "kustomize_error" in row:
        yield _failed(row["kustomize_error"])
    else:
        yield _s(row.get("kustomize_s"))


def markdown_table(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...] = COLUMNS,
    cells: Callable[[dict[str, Any]], Iterator[str]] = _cells,
) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def goals(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 13's and 20's goals, for the sizes that ran; informational (nothing fails on
    timing)."""
    by_size = {row["size"]: row for row in rows}
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    row = by_size.get("20x4000")
    if row is not None and "kustomize_s" in row and "kustomize_error" not in row:
        lines.append(
            f"largest unit's `kustomize build` at 20x4000 under 10 s: "
            f"{_s(row['kustomize_s'])} ({row['largest_unit']}, "
            f"{row['largest_unit_docs']:,} docs): {verdict(row['kustomize_s'] < 10)}"
        )
    row = by_size.get("300x20")
    if row is not None:
        most = row["max_files_per_cluster"]
        lines.append(
            f"at most 30 files per cluster at 300 clusters (300x20): {most}: {verdict(most <= 30)}"
        )
    row = by_size.get("100x5000")
    if row is not None:
        ratio = row["total"] / row["json_floor"]
        lines.append(
            f"fresh build at 100x5000 within 2x of the json.dumps floor of its documents: "
            f"{_s(row['total'])} against {_s(row['json_floor'])}, {ratio:.1f}x: "
            f"{verdict(ratio <= 2)}"
        )
    row = by_size.get("1000x10")
    if row is not None:
        lines.append(
            f"1000x10 build under 10 s: {_s(row['total'])}: "
            f"{verdict(row['total'] < 10)}; under 500 MB peak RSS: "
            f"{row['peak_rss_mb']:,.0f} MB: {verdict(row['peak_rss_mb'] < 500)}"
        )
    return lines


def _revision() -> str:
    proc = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def tool_version(path: Path) -> str:
    """The pinned version install-tools records next to the binary (`go install` builds
    report none of their own), else what the binary says."""
    recorded = path.parent / f".{path.name}.version"
    if recorded.is_file():
        return recorded.read_text(encoding="utf-8").strip()
    argv = [str(path), "version", "--short"] if path.name == "helm" else [str(path), "version"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "unknown version"
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "unknown version"


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _parse_sizes(text: str) -> list[Size]:
    return [parse_size(s.strip()) for s in text.split(",") if s.strip()]


@dataclass(frozen=True)
class Peer:
    name: str  # helm, kustomize
    path: Path
    enabled: bool  # not --no-<name>

    def plan(self, size: Size, at: set[str] | None) -> tuple[Path | None, str | None]:
        """(the binary to pass to the child, or the note that takes its place)."""
        if at is not None and size.name not in at:
            return None, "-"
        if not self.enabled:
            return None, f"skipped (--no-{self.name})"
        if not _usable(self.path):
            return None, f"n/a (tool missing: {_shown(self.path)})"
        return self.path, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default=None,
        help=f"comma-separated CxS, deep, deep-small (default: {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--smoke", action="store_true", help=f"only {SMOKE_SIZES} and fewer start-up runs, for CI"
    )
    parser.add_argument(
        "--peer-sizes",
        default=None,
        help="where the helm and kustomize peers run: comma-separated sizes, "
        f"or `all` (default: {PEER_SIZES} in the default set, every size "
        "with --sizes or --smoke)",
    )
    parser.add_argument("--no-helm", action="store_true", help="skip the Helm-chart peer")
    parser.add_argument(
        "--no-kustomize", action="store_true", help="skip `kustomize build` of the largest unit"
    )
    parser.add_argument(
        "--helm",
        type=Path,
        default=TOOLS / "helm",
        help="the helm binary (default: .tools/bin/helm)",
    )
    parser.add_argument(
        "--kustomize",
        type=Path,
        default=TOOLS / "kustomize",
        help="the kustomize binary (default: .tools/bin/kustomize)",
    )
    parser.add_argument(
        "--plan-sizes",
        default=None,
        help=f"where plan, build --check and --diff run next to a build (default: {PLAN_SIZES}; "
        f"with --smoke: {SMOKE_PLAN_SIZES}; `none` for nowhere)",
    )
    parser.add_argument(
        "--busy-size",
        default=None,
        help=f"where a build runs beside a 3 GB dd on the same file system (default: "
        f"{BUSY_SIZE}; not with --smoke; `none` to skip)",
    )
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--child", type=parse_size, help=argparse.SUPPRESS)
    parser.add_argument("--child-helm", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-kustomize", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(measure(args.child, args.child_helm, args.child_kustomize)))
        return 0

    started = time.perf_counter()
    revision = _revision()
    text = args.sizes or (SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    sizes = _parse_sizes(text)
    if args.peer_sizes == "all" or (args.peer_sizes is None and (args.sizes or args.smoke)):
        peer_at = None
    else:
        peer_at = {size.name for size in _parse_sizes(args.peer_sizes or PEER_SIZES)}
    peers = (
        Peer("helm", args.helm, not args.no_helm),
        Peer("kustomize", args.kustomize, not args.no_kustomize),
    )
    rows = []
    for size in sizes:
        plans = {peer.name: peer.plan(size, peer_at) for peer in peers}
        running = [name for name, (path, _) in plans.items() if path is not None]
        extra = f" (with {' and '.join(running)})" if running else ""
        print(f"benchmark: {size.name}{extra} ...", file=sys.stderr, flush=True)
        row = run_child(size, plans["helm"][0], plans["kustomize"][0])
        for name, (_, note) in plans.items():
            if note is not None:
                row[f"{name}_note"] = note
        rows.append(row)
    plan_text = args.plan_sizes or (SMOKE_PLAN_SIZES if args.smoke else PLAN_SIZES)
    plan_rows = []
    for size in _parse_sizes("" if plan_text == "none" else plan_text):
        print(f"benchmark: plan, check, diff at {size.name} ...", file=sys.stderr, flush=True)
        plan_rows.append(measure_plans(size.clusters, size.services))
    busy_text = args.busy_size or ("none" if args.smoke else BUSY_SIZE)
    busy = None
    if busy_text != "none":
        size = parse_size(busy_text)
        print(f"benchmark: a build beside dd at {size.name} ...", file=sys.stderr, flush=True)
        busy = measure_busy(size.clusters, size.services)
    startup = measure_startup(runs=3 if args.smoke else 5)
    elapsed = time.perf_counter() - started

    tools = ", ".join(
        f"{peer.name} {tool_version(peer.path)} ({_shown(peer.path)})"
        for peer in peers
        if peer.enabled and _usable(peer.path)
    )
    print(
        f"meshgen {revision}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs"
        f"{'; ' + tools if tools else ''}\n"
    )
    print("stage (ratio to the json floor):\n")
    print(markdown_table(rows))
    peer_rows = [
        row
        for row in rows
        if not (row.get("helm_note") == "-" and row.get("kustomize_note") == "-")
    ]
    if peer_rows:
        print(
            "meshgen next to its peers: the Helm chart benchmarks/helm-peer "
            "(`helm template` once per cluster) and `kustomize build` of the largest "
            "GitOps unit:\n"
        )
        print(markdown_table(peer_rows, PEER_COLUMNS, _peer_cells))
    for line in goals(rows):
        print(f"goal: {line}")
    for plan_row in plan_rows:
        for line in goal_lines(plan_row):
            print(f"goal: {line}")
    if busy is not None:
        print(f"goal: {busy_line(busy)}")
    print(
        f"start-up (median of {3 if args.smoke else 5}): `meshgen validate` on the example "
        f"{_s(startup['meshgen_validate'])}, `import pydantic, ruamel.yaml` "
        f"{_s(startup['bare_imports'])}: {startup['ratio']:.2f}x"
    )
    # A regression line, not a target (issue 20: the floor with pydantic models is ~2.4x).
    verdict = "met" if startup["ratio"] < STARTUP_LINE else "NOT met"
    print(f"goal: start-up under {STARTUP_LINE}x of the bare imports: {verdict}")
    print(f"whole run: {elapsed:.0f} s")
    if args.json is not None:
        report = {
            "revision": revision,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "sizes": rows,
            "startup": startup,
            "plans": plan_rows,
            "busy": busy,
            "elapsed_s": elapsed,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    changed = [row["size"] for row in rows if row["mtimes_changed"] or row["rebuild_written"]]
    if changed:
        print(f"FAILED: a no-change rebuild changed files at {', '.join(changed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
