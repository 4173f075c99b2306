"""What the writer reads and writes, and the paths it may own."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_NAME = ".meshgen-manifest.json"
TEMP_PREFIX = ".meshgen-tmp-"
# The manifest of 100 clusters x 5,000 services (21,602 files) is 2.3 MB, and the journal of a
# build rewriting all of them twice that. A larger manifest, or one of more JSON values, is not
# meshgen's; reading the largest accepted (78,000 entries) keeps a build at 86 MB of memory.
MANIFEST_MAX_BYTES = 8 * 1024 * 1024
MANIFEST_MAX_VALUES = 200_000
# No file meshgen writes comes near this (at 100 clusters x 5,000 services the largest is
# under 1 MB): a larger file at a generated path is never read and never meshgen's.
FILE_MAX_BYTES = 16 * 1024 * 1024
LOCK_WAIT_DEFAULT = 10.0

NOT_OWNED = "exists and was not written by meshgen; move it away or delete it"
HAND_EDITED = "was changed since meshgen wrote it (a hand edit?)"
MOUNT_POINT = "is a mount point (meshgen does not write across mounts)"
_BAD_MANIFEST = "is not a valid meshgen manifest; delete it (existing files then count as yours)"

# The paths meshgen generates: names without a leading dot, files ending in .yaml or .md. A
# manifest entry outside this shape (say `.git/config`) is never treated as owned.
_GENERATED = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]*/)*[A-Za-z0-9][A-Za-z0-9._-]*\.(?:yaml|md)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}")  # exactly what meshgen names


class OutputConflict(Exception):  # noqa: N818 - the name is the public API
    """meshgen refuses to write (or could not finish): `problems` lists (relative path,
    reason); `code` is the diagnostic code and `hint` what the user can do."""

    def __init__(
        self,
        problems: list[tuple[str, str]],
        code: str = "MG901",
        hint: str = "meshgen never overwrites or deletes files it did not write",
        *,
        wrote_the_rest: bool = False,
    ) -> None:
        self.problems = problems
        self.code = code
        self.hint = hint
        self.wrote_the_rest = wrote_the_rest  # every other file of the output was written
        self.partial = False  # a failed build could not undo all it did (the journal stays)
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in problems))


@dataclass(frozen=True)
class WritePlan:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    pruned: tuple[str, ...]


@dataclass(frozen=True)
class Drift:
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    interrupted: bool = False  # a build was killed mid-way: the tree may mix two outputs

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.stale or self.interrupted)


@dataclass(frozen=True)
class _Manifest:
    owned: dict[str, tuple[str, ...]]  # path -> the hashes its content may have (1 or 2)
    complete: bool
    raw: bytes | None
    dirs: frozenset[str] = frozenset()  # an interrupted build's directories
    # What else it records of the build (meshgen's version, the spec's hash, the clusters'
    # facts: meshgen/facts.py), without the file lists.
    record: dict[str, object] = field(default_factory=dict)


@dataclass
class _Plan:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    # The state each target had when planned; a different one at rename time means someone
    # else changed it during the build.
    snapshots: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    edited: dict[str, str] = field(default_factory=dict)
    # The hash each owned file to be rewritten or pruned has now (for the journal).
    current: dict[str, str] = field(default_factory=dict)
    blocking: list[str] = field(default_factory=list)  # pruned files where a directory goes
    emptied: list[str] = field(default_factory=list)  # directories removed if left empty


# --- paths ------------------------------------------------------------------------------------


def _is_safe(rel: str) -> bool:
    # An absolute path shows up as an empty first segment.
    segments_ok = all(part not in ("", ".", "..") for part in rel.split("/"))
    return segments_ok and "\\" not in rel and "\0" not in rel


def could_generate(rel: str) -> bool:
    """Whether meshgen could have written `rel` (the shape of every path it emits)."""
    return _GENERATED.fullmatch(rel) is not None


def _validate(files: Mapping[str, bytes]) -> None:
    for rel in files:
        if not _is_safe(rel):
            raise ValueError(f"unsafe output path {rel!r}")
        if not could_generate(rel):
            # Every generated path must be one a later run would recognise as its own.
            raise ValueError(f"output path {rel!r} is not a name meshgen generates")
    clash = _parents(files) & files.keys()
    if clash:
        raise ValueError(f"output path {min(clash)!r} is both a file and a directory")


def _parents(paths: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for rel in paths:
        parts = rel.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return out


def _abs(out_dir: Path) -> Path:
    # Lexical only: resolving would follow an out_dir that is itself a symlink.
    return Path(os.path.abspath(out_dir))


def _lstat(root: Path, rel: str) -> os.stat_result | None:
    try:
        return os.lstat(f"{root}/{rel}")
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def _snapshot(st: os.stat_result | None) -> tuple[int, int, int] | None:
    return None if st is None else (st.st_ino, st.st_size, st.st_mtime_ns)


def _io_conflict(rel: str, exc: OSError, *, reading: bool = False) -> OutputConflict:
    verb = "cannot read" if reading else "cannot write"
    return OutputConflict(
        [(rel, f"{verb}: {exc.strerror or exc}")],
        "MG907",
        "make the output directory readable and writable (and its file system writable "
        "and not full), then run the build again; nothing was changed",
    )
