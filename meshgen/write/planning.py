"""Planning: the one reader of the output (build, --check, plan)."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from meshgen.write.fs import _Dirs, _relative
from meshgen.write.lock import _locked
from meshgen.write.manifest import _hash_file, _load_manifest, _same_content
from meshgen.write.model import (
    FILE_MAX_BYTES,
    HAND_EDITED,
    MOUNT_POINT,
    NOT_OWNED,
    OutputConflict,
    WritePlan,
    _abs,
    _io_conflict,
    _lstat,
    _Manifest,
    _parents,
    _Plan,
    _snapshot,
    _validate,
)

# --- planning: the one reader of the output (build, --check, plan) -----------------------------


def _check_ancestors(
    root: Path,
    rel: str,
    root_dev: int,
    owned: Mapping[str, object],
    files: Mapping[str, bytes],
    seen: dict[str, str | None],
) -> str | None:
    """Why `rel` cannot be written because of a parent directory, or None."""
    parts = rel.split("/")
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if prefix not in seen:
            st = _lstat(root, prefix)
            reason: str | None = None
            if st is None:
                reason = None
            elif stat.S_ISLNK(st.st_mode):
                reason = "is a symlink"
            elif stat.S_ISDIR(st.st_mode):
                if st.st_dev != root_dev:
                    reason = MOUNT_POINT
            elif prefix in owned and prefix not in files and stat.S_ISREG(st.st_mode):
                reason = None  # an owned file that is pruned and becomes a directory
            else:
                reason = NOT_OWNED if stat.S_ISREG(st.st_mode) else "is not a directory"
            seen[prefix] = reason
        if seen[prefix] is not None:
            return prefix
    return None


def _owned_content(
    root: Path, rel: str, st: os.stat_result, hashes: tuple[str, ...], *, force: bool
) -> str | None:
    """The file's sha256 if its content is one meshgen wrote there (or `force`), else None.
    A file larger than any meshgen writes is never read: it cannot be meshgen's."""
    if st.st_size > FILE_MAX_BYTES:
        return "" if force else None
    current = _hash_file(root / rel)
    return current if force or current in hashes else None


def _make_plan(
    root: Path,
    files: Mapping[str, bytes],
    manifest: _Manifest,
    *,
    force: bool,
) -> _Plan:
    plan = _Plan()
    walk = _Walk(root, os.lstat(root).st_dev)
    for rel in sorted(files):
        _plan_file(plan, walk, rel, files, manifest, force=force)
    parents = _parents(files)
    for rel in sorted(manifest.owned.keys() - files.keys()):
        if _parents([rel]) & files.keys():
            continue  # inside an owned directory that becomes a file: removed with it
        pruned = _plan_prune(plan, walk, rel, manifest, force=force)
        if pruned and rel in parents:  # an owned file that becomes a directory: goes first
            plan.blocking.append(rel)
    # Directories that may end up empty: those of pruned files, and those an interrupted build
    # made or was emptying. Deepest first, so a parent is tried after its children.
    maybe_empty = (_parents(plan.pruned) | manifest.dirs) - parents - files.keys()
    for rel in sorted(maybe_empty, key=lambda d: (-d.count("/"), d)):
        st = _lstat(root, rel)
        if (
            st is not None
            and stat.S_ISDIR(st.st_mode)
            and st.st_dev == walk.dev
            and walk.blocked(rel + "/x") is None
        ):
            plan.emptied.append(rel)
    return plan


class _Walk:
    """The output root's device, and what _check_ancestors found of each directory so far."""

    def __init__(self, root: Path, dev: int) -> None:
        self.root = root
        self.dev = dev
        self.seen: dict[str, str | None] = {}

    def blocked(
        self,
        rel: str,
        owned: Mapping[str, object] | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> str | None:
        return _check_ancestors(self.root, rel, self.dev, owned or {}, files or {}, self.seen)


def _plan_file(
    plan: _Plan,
    walk: _Walk,
    rel: str,
    files: Mapping[str, bytes],
    manifest: _Manifest,
    *,
    force: bool,
) -> None:
    """What happens to `rel`, a file of this build: written, unchanged, or a problem."""
    root = walk.root
    blocked = walk.blocked(rel, manifest.owned, files)
    if blocked is not None:
        plan.problems[blocked] = walk.seen[blocked] or NOT_OWNED
        return
    st = _lstat(root, rel)
    plan.snapshots[rel] = _snapshot(st)
    if st is None:
        plan.written.append(rel)
    elif stat.S_ISDIR(st.st_mode):
        if _owned_only(root, rel, manifest.owned, files):
            plan.written.append(rel)  # a directory of owned files only, becoming a file
        else:
            plan.problems[rel] = "is a directory"
    elif rel not in manifest.owned or not stat.S_ISREG(st.st_mode):
        plan.problems[rel] = NOT_OWNED if stat.S_ISREG(st.st_mode) else _kind_reason(st)
    elif _same_content(root, rel, st, files[rel]):
        plan.unchanged.append(rel)
    else:
        current = _owned_content(root, rel, st, manifest.owned[rel], force=force)
        if current is None:
            plan.edited[rel] = HAND_EDITED
        else:
            plan.written.append(rel)
            plan.current[rel] = current


def _plan_prune(plan: _Plan, walk: _Walk, rel: str, manifest: _Manifest, *, force: bool) -> bool:
    """Whether `rel`, a file of the last build but not of this one, is pruned."""
    st = _lstat(walk.root, rel)
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_dev != walk.dev:
        return False  # gone, or no longer a file of ours: leave it alone
    if walk.blocked(rel) is not None:
        return False
    current = _owned_content(walk.root, rel, st, manifest.owned[rel], force=force)
    if current is None:
        plan.edited[rel] = HAND_EDITED + "; meshgen no longer generates it"
        return False
    plan.pruned.append(rel)
    plan.snapshots[rel] = _snapshot(st)
    plan.current[rel] = current
    return True


def _kind_reason(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    return "is not a regular file"


def _owned_only(
    root: Path, rel: str, owned: Mapping[str, object], files: Mapping[str, bytes]
) -> bool:
    """Whether directory `rel` holds nothing but owned files that the new output drops."""
    for directory, dirnames, filenames in os.walk(root / rel):
        for name in filenames:
            sub = os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
            if sub not in owned or sub in files:
                return False
        for name in dirnames:
            if os.path.islink(os.path.join(directory, name)):
                return False
    return True


def _read_plan(root: Path, files: Mapping[str, bytes], *, force: bool) -> tuple[_Manifest, _Plan]:
    """The manifest and the plan, or OutputConflict: the refusals every reader shares. Any
    file-system error while reading is MG907 naming the path."""
    try:
        manifest = _load_manifest(root)
        plan = _make_plan(root, files, manifest, force=force)
    except OSError as exc:
        raise _io_conflict(_relative(root, exc), exc, reading=True) from None
    _raise_problems(plan)
    return manifest, plan


def plan_write(out_dir: Path, files: Mapping[str, bytes], *, force: bool = False) -> WritePlan:
    """What write_output would do; reads only. Raises OutputConflict exactly where
    write_output would refuse."""
    root = _abs(out_dir)
    _validate(files)
    if not _root_usable(root, create=False):
        return WritePlan(tuple(sorted(files)), (), ())
    with _locked(root, fcntl.LOCK_SH):
        _, plan = _read_plan(root, files, force=force)
    return WritePlan(tuple(plan.written), tuple(plan.unchanged), tuple(plan.pruned))


def read_output(
    out_dir: Path, files: Mapping[str, bytes]
) -> tuple[dict[str, bytes], dict[str, object]]:
    """The content of every file meshgen owns in out_dir (`meshgen plan`'s old side), and what
    else its manifest records of the build (empty without one), read under the shared lock;
    refuses (OutputConflict) exactly what a build of `files` refuses.
    Each file is read through directory descriptors opened without following symlinks and is
    at most FILE_MAX_BYTES, so memory stays bounded whatever the directory holds."""
    root = _abs(out_dir)
    _validate(files)
    if not _root_usable(root, create=False):
        return {}, {}
    with _locked(root, fcntl.LOCK_SH):
        manifest, plan = _read_plan(root, files, force=False)
        present = [rel for rel in (*plan.written, *plan.pruned) if rel in plan.current]
        out = {rel: files[rel] for rel in plan.unchanged}
        # Equal contents are kept once: a mesh-wide change leaves the same old rules in every
        # cluster (100 clusters, 368 MB read, 4 MB distinct), and a build emits them once too.
        distinct: dict[bytes, bytes] = {}
        dirs = _Dirs(root)
        rel = "."
        try:
            for rel in present:
                data = dirs.read(rel)
                out[rel] = distinct.setdefault(data, data)
        except OSError as exc:
            raise _io_conflict(rel, exc, reading=True) from None
        finally:
            dirs.close()
    return out, manifest.record


def _raise_problems(plan: _Plan) -> None:
    if plan.problems:
        raise OutputConflict(sorted(plan.problems.items()))
    if plan.edited:
        raise OutputConflict(
            sorted(plan.edited.items()),
            "MG906",
            "`meshgen build --diff` shows the edits; move them into mesh.yaml (or keep them "
            "elsewhere), then rebuild, or rebuild with --force to overwrite them",
        )


def _root_usable(root: Path, *, create: bool) -> bool:
    """False if the output directory does not exist (and was not to be created)."""
    try:
        st: os.stat_result | None = os.lstat(root)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _io_conflict(".", exc, reading=True) from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise OutputConflict([(".", "output directory is a symlink")])
    if st is None:
        if not create:
            return False
        try:
            root.mkdir(parents=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _io_conflict(".", exc) from None
        st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        raise OutputConflict([(".", "output directory is not a directory")])
    return True
