"""Read-only comparisons (--check, --diff) and single files (meshgen schema -o, init)."""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import suppress
from pathlib import Path

from meshgen.textdiff import unified_diff
from meshgen.write.lock import _locked
from meshgen.write.manifest import _json_values, _read
from meshgen.write.model import (
    _TEMP_NAME,
    FILE_MAX_BYTES,
    MANIFEST_MAX_BYTES,
    MANIFEST_NAME,
    TEMP_PREFIX,
    Drift,
    OutputConflict,
    _abs,
    _io_conflict,
    _lstat,
    _validate,
)
from meshgen.write.planning import _read_plan, _root_usable

# --- read-only comparisons (--check, --diff) -------------------------------------------------


def check_output(out_dir: Path, files: Mapping[str, bytes]) -> Drift:
    """How the disk differs from `files`; stale = owned files a write would prune. Reads the
    output like a build with --force (hand edits are drift, files of the user's in the way
    are refused: OutputConflict). Never writes."""
    root = _abs(out_dir)
    _validate(files)
    if not _root_usable(root, create=False):
        return Drift((), tuple(sorted(files)), ())
    with _locked(root, fcntl.LOCK_SH):
        manifest, plan = _read_plan(root, files, force=True)
        try:
            leftovers = [n for n in os.listdir(root) if _TEMP_NAME.fullmatch(n)]
        except OSError as exc:
            raise _io_conflict(".", exc, reading=True) from None
    missing = tuple(rel for rel in plan.written if plan.snapshots[rel] is None)
    changed = tuple(rel for rel in plan.written if plan.snapshots[rel] is not None)
    # A killed build: its journal, its temporary files, or directories it left empty.
    interrupted = not manifest.complete or bool(leftovers) or bool(plan.emptied)
    return Drift(changed, missing, tuple(plan.pruned), interrupted)


def manifest_identity(out_dir: Path) -> dict[str, str]:
    """{"meshgen": version, "spec": sha256} as recorded by the build that wrote out_dir
    (empty when unknown: no manifest, an older one, or unreadable). Never writes."""
    try:
        root = _abs(out_dir)
        st = _lstat(root, MANIFEST_NAME)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size > MANIFEST_MAX_BYTES:
            return {}
        doc = _json_values(_read(root / MANIFEST_NAME, MANIFEST_MAX_BYTES))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        key: value
        for key in ("meshgen", "spec")
        if isinstance(value := doc.get(key), str) and len(value) < 200
    }


def diff_output(out_dir: Path, files: Mapping[str, bytes], drift: Drift | None = None) -> str:
    """Unified diff from the disk to `files` (a/ = on disk, b/ = generated), for the `drift`
    check_output found (read again if not given). Never writes."""
    return "".join(diff_chunks(out_dir, files, drift))


def diff_chunks(
    out_dir: Path, files: Mapping[str, bytes], drift: Drift | None = None
) -> Iterator[str]:
    """diff_output one file at a time, so that a diff of every file is written as it is made
    and never held whole. A pair of contents seen before (the same rules in every cluster of
    a mesh-wide change) is diffed once; only the file names in its header differ."""
    root = _abs(out_dir)
    drift = drift if drift is not None else check_output(root, files)
    hunks: dict[tuple[bytes, bytes], str] = {}
    for rel in sorted({*drift.changed, *drift.missing, *drift.stale}):
        st = _lstat(root, rel)
        old = b""
        if st is not None and stat.S_ISREG(st.st_mode):
            old = _read(root / rel, FILE_MAX_BYTES)
        new = files.get(rel, b"")
        body = hunks.get((old, new))
        if body is None:
            lines = list(
                unified_diff(
                    old.decode("utf-8", errors="replace").splitlines(keepends=True),
                    new.decode("utf-8", errors="replace").splitlines(keepends=True),
                    fromfile="a",
                    tofile="b",
                )
            )
            # Without its two header lines: they name the file.
            body = hunks[(old, new)] = "".join(
                line if line.endswith("\n") else line + "\n" for line in lines[2:]
            )
        if body:
            yield f"--- a/{rel}\n+++ b/{rel}\n{body}"


# --- single files (meshgen schema -o, meshgen init) ------------------------------------------


def write_single_file(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write one file atomically (temporary file beside it, rename). A symlink at `path`, even
    a dangling one, is refused, never written through; so is an existing file without
    `overwrite`. Raises OutputConflict."""
    path = _abs(path)
    rel = path.name
    if os.path.islink(path):
        raise OutputConflict([(rel, "is a symlink; meshgen does not write through symlinks")])
    if os.path.lexists(path):
        if not os.path.isfile(path):
            raise OutputConflict([(rel, "exists and is not a regular file")])
        if not overwrite:
            raise OutputConflict(
                [(rel, "exists; not overwriting it")], "MG901", "use --force to overwrite it"
            )
    temp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, path)
    except OSError as exc:
        with suppress(OSError):
            temp.unlink()
        raise _io_conflict(rel, exc) from None
