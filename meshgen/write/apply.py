"""Writing: one transaction per build, undone whole when the file system refuses a step."""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import socket
import stat
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from meshgen.write.fs import (
    _Dirs,
    _flush_contents,
    _flush_directories,
    _link_new,
    _remove_temp,
    _remove_temps,
    _replace,
    _split,
    _stale_temps,
    _write_temp,
)
from meshgen.write.lock import _locked
from meshgen.write.manifest import _digests, _manifest_bytes
from meshgen.write.model import (
    MANIFEST_MAX_BYTES,
    MANIFEST_MAX_VALUES,
    MANIFEST_NAME,
    TEMP_PREFIX,
    OutputConflict,
    WritePlan,
    _abs,
    _io_conflict,
    _Manifest,
    _parents,
    _Plan,
    _snapshot,
    _validate,
)
from meshgen.write.planning import _read_plan, _root_usable


def write_output(
    out_dir: Path,
    files: Mapping[str, bytes],
    *,
    force: bool = False,
    identity: Mapping[str, object] | None = None,
) -> WritePlan:
    """Make out_dir hold exactly `files` plus the user's own entries. Raises OutputConflict;
    after MG907 the directory is as it was before the build."""
    root = _abs(out_dir)
    _validate(files)
    created_root = not os.path.lexists(root)
    _root_usable(root, create=True)
    try:
        with _locked(root, fcntl.LOCK_EX):
            return _write_locked(root, files, force=force, identity=identity)
    except OutputConflict:
        if created_root:
            with suppress(OSError):
                root.rmdir()  # leave nothing behind: only if still empty
        raise


def _write_locked(
    root: Path,
    files: Mapping[str, bytes],
    *,
    force: bool,
    identity: Mapping[str, object] | None = None,
) -> WritePlan:
    manifest, plan = _read_plan(root, files, force=force)
    digests = _digests(files)
    result = WritePlan(tuple(plan.written), tuple(plan.unchanged), tuple(plan.pruned))
    final = _manifest_bytes(digests, identity=identity)
    # Its journal records up to two hashes a file, and must stay readable after a kill.
    if 2 * len(final) > MANIFEST_MAX_BYTES or 4 * len(files) > MANIFEST_MAX_VALUES - 100:
        raise OutputConflict(
            [(MANIFEST_NAME, f"{len(files)} files are more than meshgen can record in one output")],
            "MG907",
            "split the mesh into several specs, each with its own output directory",
        )
    try:
        dirs = _Dirs(root)
    except OSError as exc:
        raise _io_conflict(".", exc, reading=True) from None
    try:
        try:
            stale = _stale_temps(dirs, _parents([*files, *manifest.owned]))
        except OSError as exc:
            raise _io_conflict(".", exc, reading=True) from None
        if not (plan.written or plan.pruned or plan.emptied) and final == manifest.raw:
            _remove_temps(dirs, stale)  # a build killed after its commit left them
            return result  # nothing to do: touch nothing else, so every mtime stays put
        _Transaction(root, dirs, plan, manifest).run(files, digests, final, stale)
    finally:
        dirs.close()
    return result


class _Transaction:
    """One build's changes to the tree, each recorded with its undo as it is made: any
    OSError before the final manifest is renamed into place undoes them all, newest first,
    and puts the previous manifest back, so a failed build leaves the tree as it found it.

    Temporary files (new contents, and old files moved aside) live in the root directory
    under TEMP_PREFIX: a build killed at any moment leaves them only there, where the next
    build (holding the lock, so every one of them is stale) removes them."""

    def __init__(self, root: Path, dirs: _Dirs, plan: _Plan, manifest: _Manifest) -> None:
        self.root, self.dirs, self.plan, self.manifest = root, dirs, plan, manifest
        self.undo: list[tuple[str, str, str]] = []  # (kind, path, temp name or mode)
        self.temps: dict[str, str] = {}  # rel -> the temp holding its new content
        self.moved: dict[str, None] = {}  # temps holding old files, deleted after the commit
        self.raced: dict[str, str] = {}
        self.at = MANIFEST_NAME  # the path being changed, for the error message

    def run(
        self,
        files: Mapping[str, bytes],
        digests: Mapping[str, str],
        final: bytes,
        stale: list[str],
    ) -> None:
        plan = self.plan
        made = _parents(plan.written) - _parents(plan.unchanged)
        # The journal: every file of both outputs with the hashes it may have, and the
        # directories this build may make or empty; in place before anything changes.
        journal = {rel: digests[rel] for rel in plan.unchanged} | plan.current
        pending = {rel: digests[rel] for rel in plan.written}
        holder = f"pid {os.getpid()} on {socket.gethostname()}"
        journal_bytes = _manifest_bytes(
            journal, pending=pending, holder=holder, dirs={*made, *plan.emptied}
        )
        try:
            _replace(self.dirs, MANIFEST_NAME, journal_bytes)
        except OSError as exc:
            raise _io_conflict(MANIFEST_NAME, exc) from None
        try:
            _remove_temps(self.dirs, stale)
            self._change(files)
            self.at = MANIFEST_NAME
            # The renames are durable before the manifest says the output is complete.
            _flush_directories(self.dirs, self.changed_dirs())
            _replace(self.dirs, MANIFEST_NAME, final)
        except OSError as exc:
            conflict = _io_conflict(self.at, exc)
            if not self._rollback():
                conflict.partial = True
                conflict.hint = (
                    "fix the cause, then run the build again: it completes the output (the "
                    "journal in .meshgen-manifest.json records both versions)"
                )
            raise conflict from None
        # Committed: what is left is clean-up, which the next build repeats if it fails here.
        _remove_temps(self.dirs, self.moved)
        if self.raced:
            raise OutputConflict(
                sorted(self.raced.items()),
                "MG906",
                "another program changed these files during the build; look at "
                "them, then run the build again",
                wrote_the_rest=True,
            )

    def _change(self, files: Mapping[str, bytes]) -> None:
        plan = self.plan
        for rel in plan.blocking:  # owned files where a directory goes
            self._move_aside(rel)
        for rel in plan.written:
            self.at = rel
            self._make_parents(rel)
            self.temps[rel] = _write_temp(self.dirs, files[rel], keep_mode_of=rel)
        _flush_contents(self.dirs, list(self.temps.values()))  # durable before any rename
        for rel in plan.written:
            self._put(rel)
        blocking = set(plan.blocking)
        for rel in plan.pruned:
            if rel in blocking:
                continue
            if _snapshot(self.dirs.lstat(rel)) != plan.snapshots[rel]:
                self.raced[rel] = "changed while meshgen was writing; not pruned"
                continue
            self._move_aside(rel)
        for rel in plan.emptied:
            self._remove_if_empty(rel)

    def changed_dirs(self) -> list[str]:
        """Every directory whose entries this build changed (the root holds the temps)."""
        plan = self.plan
        changed = {"", *(_split(rel)[0] for rel in (*plan.written, *plan.pruned))}
        changed |= {_split(rel)[0] for rel in plan.emptied}
        return sorted(d for d in changed if d not in plan.emptied)

    def _make_parents(self, rel: str) -> None:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory in self.dirs.fds:
                continue
            parent, name = _split(directory)
            try:
                os.mkdir(name, 0o777, dir_fd=self.dirs.fd(parent))
            except FileExistsError:
                continue
            self.undo.append(("mkdir", directory, ""))

    def _put(self, rel: str) -> None:
        """Move the new content into place: over the old file (moved aside first, so it can
        come back), or where nothing was, never over a file someone created meanwhile."""
        self.at = rel
        temp = self.temps[rel]
        directory, name = _split(rel)
        now = self.dirs.lstat(rel)
        if _snapshot(now) != self.plan.snapshots[rel]:
            self.raced[rel] = "changed while meshgen was writing; left as it is"
        elif now is not None:
            # The old file, or an owned directory becoming a file.
            self._move_aside(rel, is_dir=stat.S_ISDIR(now.st_mode))
            os.rename(temp, name, src_dir_fd=self.dirs.fd(""), dst_dir_fd=self.dirs.fd(directory))
            self.undo.append(("placed", rel, ""))
            del self.temps[rel]
            return
        elif _link_new(self.dirs.fd(""), temp, self.dirs.fd(directory), name):
            self.undo.append(("placed", rel, ""))
        else:
            self.raced[rel] = "created by another program while meshgen was writing; left as it is"
        _remove_temp(self.dirs, temp)
        del self.temps[rel]

    def _move_aside(self, rel: str, *, is_dir: bool = False) -> None:
        self.at = rel
        directory, name = _split(rel)
        temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        os.rename(name, temp, src_dir_fd=self.dirs.fd(directory), dst_dir_fd=self.dirs.fd(""))
        if is_dir:
            self.dirs.forget(rel, below=True)
        self.moved[temp] = None
        self.undo.append(("moved", rel, temp))

    def _remove_if_empty(self, rel: str) -> None:
        self.at = rel
        st = self.dirs.lstat(rel)
        if st is None or not stat.S_ISDIR(st.st_mode):
            return
        parent, name = _split(rel)
        self.dirs.forget(rel)
        try:
            os.rmdir(name, dir_fd=self.dirs.fd(parent))
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return  # somebody's files are in it
            raise
        self.undo.append(("rmdir", rel, f"{stat.S_IMODE(st.st_mode):o}"))

    def _rollback(self) -> bool:
        """Undo every change, newest first; True if all came back and the previous manifest
        is in place again. A step that fails is skipped: the journal then stays, and the
        next build converges."""
        complete = True
        for kind, rel, extra in reversed(self.undo):
            directory, name = _split(rel)
            try:
                fd = self.dirs.fd(directory)
                if kind == "placed":
                    os.unlink(name, dir_fd=fd)
                elif kind == "moved":
                    os.rename(extra, name, src_dir_fd=self.dirs.fd(""), dst_dir_fd=fd)
                    del self.moved[extra]
                elif kind == "mkdir":
                    self.dirs.forget(rel)
                    os.rmdir(name, dir_fd=fd)
                else:  # rmdir
                    os.mkdir(name, 0o700, dir_fd=fd)
                    os.chmod(name, int(extra, 8), dir_fd=fd, follow_symlinks=False)
            except OSError:
                complete = False
        for temp in self.temps.values():
            _remove_temp(self.dirs, temp)
        if not complete:
            return False
        try:
            if self.manifest.raw is None:
                os.unlink(MANIFEST_NAME, dir_fd=self.dirs.fd(""))
            else:
                _replace(self.dirs, MANIFEST_NAME, self.manifest.raw)
        except OSError:
            return False
        return True
