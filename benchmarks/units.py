"""GitOps units in an output directory: every directory that holds a kustomization, how many
documents each renders, the largest one, and `kustomize build` of it, timed.

Nothing here knows meshgen's layout: a unit is any directory with a kustomization.yaml (or
.yml, or Kustomization), and what it renders is what its `resources` (and `bases`,
`components`) list, files and directories, recursively, counted without parsing YAML (the
`---`-separated parts that hold more than comments), so it stays fast on 100 clusters of
10,000 documents each.

    python -m benchmarks.units out/              # every unit and its documents
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
LISTS = ("resources", "bases", "components")
# A document marker (what follows it on the line belongs to the next document), and a line
# that is content: not blank, not a comment, not a `...` end marker.
_SEPARATOR = re.compile(rb"^---(?=[ \t\r]|$)", re.MULTILINE)
_CONTENT = re.compile(rb"^(?!\.\.\.[ \t\r]*$)[ \t]*[^#\s]", re.MULTILINE)


@dataclass(frozen=True)
class Unit:
    path: Path  # the directory
    documents: int


def count_documents(data: bytes) -> int:
    """Documents in a YAML stream: the parts between `---` markers that hold more than
    comments, blank lines and `...` end markers."""
    return sum(1 for part in _SEPARATOR.split(data) if _CONTENT.search(part))


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            return path
    return None


def find_units(root: Path) -> list[Path]:
    """Every directory under `root` (itself included) that holds a kustomization, sorted."""
    units = []
    for directory, _, names in os.walk(root):
        if any(name in names for name in KUSTOMIZATION_FILES):
            units.append(Path(directory))
    return sorted(units)


def _listed(kustomization: Path) -> list[str]:
    data = yaml.load(kustomization.read_bytes(), Loader=yaml.CSafeLoader)
    if not isinstance(data, dict):
        return []
    entries: list[str] = []
    for key in LISTS:
        value = data.get(key)
        if isinstance(value, list):
            entries.extend(str(entry) for entry in value)
    return entries


def unit_documents(
    directory: Path, _cache: dict[Path, int] | None = None, _seen: frozenset[Path] = frozenset()
) -> int:
    """Documents `kustomize build directory` renders: those of every file its kustomization
    lists, and of every listed directory, recursively (remote resources count 0)."""
    cache = {} if _cache is None else _cache
    directory = directory.resolve()
    if directory in cache:
        return cache[directory]
    kustomization = kustomization_file(directory)
    if kustomization is None or directory in _seen:
        return 0
    total = 0
    for entry in _listed(kustomization):
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            continue
        path = directory / entry
        if path.is_dir():
            total += unit_documents(path, cache, _seen | {directory})
        elif path.is_file():
            total += count_documents(path.read_bytes())
    cache[directory] = total
    return total


def units_of(root: Path) -> list[Unit]:
    cache: dict[Path, int] = {}
    return [Unit(path, unit_documents(path, cache)) for path in find_units(root)]


def largest_unit(root: Path) -> Unit | None:
    """The unit that renders the most documents; the first in path order among equals."""
    units = units_of(root)
    return max(units, key=lambda unit: unit.documents) if units else None


def time_kustomize(kustomize: Path, root: Path) -> dict[str, Any]:
    """Find the largest unit under `root` and time `kustomize build` on it.

    Returns units (how many), largest_unit (its path relative to root), largest_unit_docs
    (the count above), kustomize_s, and kustomize_docs (the documents kustomize printed)."""
    units = units_of(root)
    row: dict[str, Any] = {"units": len(units)}
    if not units:
        return row
    unit = max(units, key=lambda u: u.documents)
    row["largest_unit"] = unit.path.relative_to(root).as_posix() or "."
    row["largest_unit_docs"] = unit.documents
    start = time.perf_counter()
    proc = subprocess.run(
        [str(kustomize), "build", str(unit.path)], capture_output=True, check=False
    )
    row["kustomize_s"] = time.perf_counter() - start
    if proc.returncode != 0:
        row["kustomize_error"] = proc.stderr.decode(errors="replace").strip()[-500:]
    else:
        row["kustomize_docs"] = count_documents(proc.stdout)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.units",
        description="List the GitOps units of an output directory and the documents each renders.",
    )
    parser.add_argument("root", type=Path)
    args = parser.parse_args(argv)
    units = units_of(args.root)
    for unit in units:
        print(f"{unit.documents:8,}  {unit.path.relative_to(args.root).as_posix() or '.'}")
    if units:
        largest = max(units, key=lambda u: u.documents)
        print(
            f"largest: {largest.path.relative_to(args.root).as_posix() or '.'} "
            f"({largest.documents:,} documents)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
