"""`python -m tests.meshbox EXAMPLE RELEASE WORKDIR [--mistakes A,B]`: one box run, inside a
network namespace of its own (launch.py starts it with `unshare`), its report written to
WORKDIR/report.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def _local_routes(example: Path) -> None:
    from tests.meshbox.netns import local_routes

    data = yaml.safe_load(example.read_text())
    cidrs = []
    for cluster in data["spec"]["clusters"]:
        pod = cluster["podCIDR"]
        cidrs += pod if isinstance(pod, list) else [pod]
    local_routes(cidrs)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.meshbox")
    parser.add_argument("example", type=Path)
    parser.add_argument("release")
    parser.add_argument("workdir", type=Path)
    parser.add_argument(
        "--mistakes", default="", help="comma-separated cases of tests/meshbox/breakages.py"
    )
    parser.add_argument("--installer", default=None, help="another installer than the example's")
    args = parser.parse_args()
    from tests.meshbox import box

    _local_routes(args.example)
    mistakes = [m for m in args.mistakes.split(",") if m]
    report = box.run(args.example, args.release, args.workdir, mistakes, args.installer)
    (args.workdir / "report.json").write_text(report.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
