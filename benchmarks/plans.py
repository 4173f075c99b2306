"""plan, build --check and build --diff next to a fresh build of the same spec (issue 20).

Each command runs in its own process through a small wrapper that reports the child's wall
time and peak RSS, so every number is that command's alone. Two changes per size: one
service's weights (the first 90/10 split becomes 70/30) and a mesh-wide change (every
route's weights become 80/20). The goal: wall and peak RSS at most 1.5x the build's."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.generate import make_spec

GOAL = 1.5
_PROBE = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run([sys.executable, '-m', 'meshgen', *sys.argv[1:]],"
    " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "wall = time.perf_counter() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps({'code': code, 'wall': wall, 'rss': rss}))\n"
)


def _run(*args: object) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, args)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def variants(text: str) -> dict[str, str]:
    """The two changed specs: one service's split, and every route's."""
    one = text.replace("weight: 90}", "weight: 70}", 1).replace("weight: 10}", "weight: 30}", 1)
    wide = text.replace("weight: 90}", "weight: 80}").replace("weight: 10}", "weight: 20}")
    return {"one service": one, "mesh-wide": wide}


def measure_plans(clusters: int, services: int) -> dict[str, Any]:
    text = make_spec(clusters, services)
    with tempfile.TemporaryDirectory(prefix="meshgen-plan-bench-") as tmp:
        spec, out = Path(tmp) / "mesh.yaml", Path(tmp) / "out"
        spec.write_text(text, encoding="utf-8")
        build = _run("build", spec, "-o", out, "-q")
        row: dict[str, Any] = {"size": f"{clusters}x{services}", "build": build, "changes": {}}
        for change, changed in variants(text).items():
            spec.write_text(changed, encoding="utf-8")  # same name: the headers stay the same
            row["changes"][change] = {
                "plan": _run("plan", spec, "-o", out),
                "check": _run("build", spec, "-o", out, "--check", "-q"),
                "diff": _run("build", spec, "-o", out, "--diff", "-q"),
            }
    return row


def goal_lines(row: dict[str, Any]) -> list[str]:
    """`plan at 20x1000, mesh-wide: 1.46 s (1.7x build), 90 MB (1.2x): open`, per command."""
    build = row["build"]
    lines = []
    for change, commands in row["changes"].items():
        for command, run in commands.items():
            wall, rss = run["wall"] / build["wall"], run["rss"] / build["rss"]
            verdict = "met" if wall <= GOAL and rss <= GOAL else "open"
            lines.append(
                f"{command} at {row['size']}, {change}: {run['wall']:.2f} s ({wall:.1f}x the "
                f"build's {build['wall']:.2f} s), {run['rss']:.0f} MB ({rss:.1f}x): "
                f"within {GOAL}x: {verdict}"
            )
    return lines
