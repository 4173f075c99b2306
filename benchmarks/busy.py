"""A fresh build while another process writes a large file to the same file system (issue 20).

meshgen makes what it wrote durable the way git's `core.fsyncMethod=batch` does: write-out
started per file, one flush at the end (meshgen/write/fs.py). A syncfs(2) would also wait for
the other writer's dirty pages. The other writer here is `dd` of 3 GB from /dev/zero, started
a second before the build; the goal: the build within 1.3x of the same build on a quiet
disk (medians of `runs`)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.generate import make_spec

GOAL = 1.3
DD_MB = 3000


def _build(spec: Path, out: Path) -> float:
    subprocess.run(["rm", "-rf", str(out)], check=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "meshgen", "build", str(spec), "-o", str(out), "-q"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _busy_build(spec: Path, out: Path, sink: Path, megabytes: int) -> float:
    dd = subprocess.Popen(
        ["dd", "if=/dev/zero", f"of={sink}", "bs=1M", f"count={megabytes}", "status=none"]
    )
    try:
        time.sleep(1)  # its dirty pages pile up first
        return _build(spec, out)
    finally:
        dd.wait()
        sink.unlink(missing_ok=True)
        os.sync()  # the next sample starts from a quiet disk


def measure_busy(
    clusters: int, services: int, runs: int = 3, megabytes: int = DD_MB
) -> dict[str, Any]:
    """Quiet and busy build times at clusters x services, in a directory on the same file
    system as the temporary directory (where dd writes too)."""
    with tempfile.TemporaryDirectory(prefix="meshgen-busy-bench-") as tmp:
        spec, out, sink = Path(tmp) / "mesh.yaml", Path(tmp) / "out", Path(tmp) / "dd.bin"
        spec.write_text(make_spec(clusters, services), encoding="utf-8")
        quiet, busy = [], []
        for _ in range(runs):
            quiet.append(_build(spec, out))
            busy.append(_busy_build(spec, out, sink, megabytes))
    return {
        "size": f"{clusters}x{services}",
        "megabytes": megabytes,
        "quiet": statistics.median(quiet),
        "busy": statistics.median(busy),
        "quiet_samples": quiet,
        "busy_samples": busy,
    }


def busy_line(row: dict[str, Any]) -> str:
    ratio = row["busy"] / row["quiet"]
    mb = row["megabytes"]
    written = f"{mb / 1000:g} GB" if mb >= 1000 else f"{mb} MB"
    verdict = "met" if ratio <= GOAL else "open"
    return (
        f"build at {row['size']} beside a {written} dd: "
        f"{row['busy']:.2f} s against {row['quiet']:.2f} s quiet ({ratio:.2f}x, medians of "
        f"{len(row['busy_samples'])}): within {GOAL}x: {verdict}"
    )
