"""The release matrix: which judge accepted, or which diagnostic refused, each cell.

Tests call `record(judge, version, platform, installer, verdict)` when a cell passes; the
session's results land in .tools/matrix/results.jsonl, and scripts/matrix_table.py turns
them into docs/release-matrix.md (scripts/test checks the committed table against the run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import ROOT

RESULTS = ROOT / ".tools" / "matrix" / "results.jsonl"


def start_session() -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("", encoding="utf-8")


def record(judge: str, version: str, platform: str, installer: str, verdict: str) -> None:
    line = json.dumps(
        {
            "judge": judge,
            "version": version,
            "platform": platform,
            "installer": installer,
            "verdict": verdict,
        },
        sort_keys=True,
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # One short append per call: O_APPEND keeps lines whole under pytest-xdist workers too.
    fd = os.open(RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def results(path: Path = RESULTS) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
