"""Write generated files into the output directory, touching only what meshgen owns.

One writer at a time: an advisory lock (flock) on the output directory itself is held from
planning to the last rename; a second build waits briefly, then fails naming the holder.
Files are replaced one by one in place (a temporary file in the same directory, then a
rename): no directory and no file meshgen does not own is ever re-created, moved or copied,
so the user's files, directories, modes, owners, mount points and files created during a build
stay exactly as they are. Symlinks are never followed and mount points never crossed.

MANIFEST_NAME records what meshgen wrote (path and sha256). An owned file whose content no
longer matches its recorded hash was changed by hand: meshgen refuses to overwrite or prune
it without `force`. Before the first file changes, the manifest is rewritten as a journal
(state `in-progress`, with the hashes about to be written); a build killed at any moment
leaves files that match either hash, so the next run recognises them as its own and
converges, and `--check` never calls such a tree fresh.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgen.textdiff import unified_diff

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


# --- reading -----------------------------------------------------------------------------------


def _open_nofollow(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)


def _hash_file(path: Path) -> str:
    """sha256 of a regular file, streamed (a 1 GiB file is never read into memory)."""
    fd = _open_nofollow(path)
    with os.fdopen(fd, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _same_content(root: Path, rel: str, st: os.stat_result, data: bytes) -> bool:
    """Whether the file holds exactly `data` (reads at most len(data) + 1 bytes)."""
    if st.st_size != len(data):
        return False
    fd = os.open(f"{root}/{rel}", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        chunks, left = [], len(data) + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks) == data
    finally:
        os.close(fd)


def _read(path: Path, limit: int) -> bytes:
    """At most `limit` bytes (a file that grew past its checked size costs no more)."""
    fd = _open_nofollow(path)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def _load_manifest(root: Path) -> _Manifest:
    st = _lstat(root, MANIFEST_NAME)
    if st is None:
        return _Manifest({}, True, None)
    if not stat.S_ISREG(st.st_mode):
        raise OutputConflict([(MANIFEST_NAME, "is not a regular file")])
    if st.st_size > MANIFEST_MAX_BYTES:
        raise OutputConflict([(MANIFEST_NAME, _BAD_MANIFEST)])
    raw = _read(root / MANIFEST_NAME, MANIFEST_MAX_BYTES)
    try:
        return _parse_manifest(_json_values(raw), raw)
    except (ValueError, TypeError, KeyError, RecursionError):
        raise OutputConflict([(MANIFEST_NAME, _BAD_MANIFEST)]) from None


def _json_values(raw: bytes) -> object:
    """json.loads, after counting separators: memory is bounded by the number of values, and
    a manifest of a million tiny strings would cost more than its size says."""
    if len(raw) > MANIFEST_MAX_BYTES or raw.count(b",") + raw.count(b":") > MANIFEST_MAX_VALUES:
        raise ValueError("too large")
    return json.loads(raw)


def _parse_manifest(doc: object, raw: bytes) -> _Manifest:
    if not isinstance(doc, dict) or doc.get("generator", "meshgen") != "meshgen":
        raise ValueError("not a meshgen manifest")
    files, pending = doc["files"], doc.get("pending", {})
    # `created` (journals of meshgen 0.2) and `dirs` are lists of paths; a created file is
    # owned by its content like any other, never by being listed.
    created, dirs = doc.get("created", []), doc.get("dirs", [])
    state = doc.get("state", "complete")
    if not (
        isinstance(files, dict)
        and isinstance(pending, dict)
        and isinstance(created, list)
        and isinstance(dirs, list)
        and state in ("complete", "in-progress")
    ):
        raise ValueError("files")
    owned: dict[str, tuple[str, ...]] = {}
    for rel, digest in [*files.items(), *pending.items()]:
        if not (isinstance(rel, str) and isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise ValueError("entry")
        if could_generate(rel):  # anything else (.git/config, ../x) stays the user's
            known = owned.get(rel, ())
            owned[rel] = known if digest in known else (*known, digest)
    if not all(isinstance(rel, str) for rel in [*created, *dirs]):
        raise ValueError("entry")
    complete = state == "complete"
    # Directories an interrupted build may have made or emptied: the next build removes those
    # left empty (an empty directory is all they can hold of meshgen's).
    journal_dirs = frozenset(
        () if complete else _parents(owned) | {d for d in dirs if _could_be_dir(d)}
    )
    return _Manifest(owned, complete, raw, journal_dirs)


def manifest_paths(raw: bytes) -> frozenset[str]:
    """The paths a manifest's bytes make meshgen's (recorded or pending); ValueError if a build
    would refuse the manifest."""
    try:
        return frozenset(_parse_manifest(_json_values(raw), raw).owned)
    except (TypeError, KeyError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def _could_be_dir(rel: str) -> bool:
    return _is_safe(rel) and all(_DIR_NAME.fullmatch(part) for part in rel.split("/"))


def _manifest_bytes(
    files: Mapping[str, str],
    *,
    pending: Mapping[str, str] | None = None,
    holder: str | None = None,
    dirs: Iterable[str] = (),
    identity: Mapping[str, object] | None = None,
) -> bytes:
    doc: dict[str, object] = {"generator": "meshgen", "version": 2, "files": dict(files)}
    # {"meshgen": <version>, "spec": <sha256 of the spec's bytes>, "clusters": the facts a
    # plan compares (meshgen/facts.py)}: deterministic per spec.
    doc.update(identity or {})
    if pending is not None:
        doc.update(state="in-progress", pending=dict(pending), holder=holder, dirs=sorted(dirs))
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode()


def _digests(files: Mapping[str, bytes]) -> dict[str, str]:
    cache: dict[int, str] = {}  # emit shares one bytes object between identical files
    out = {}
    for rel, data in files.items():
        digest = cache.get(id(data))
        if digest is None:
            digest = cache[id(data)] = hashlib.sha256(data).hexdigest()
        out[rel] = digest
    return out


# --- the lock -----------------------------------------------------------------------------------


class LockWaitError(ValueError):
    """MESHGEN_LOCK_WAIT is not a finite number of seconds >= 0 (a usage error)."""


def lock_wait_seconds() -> float:
    """How long a build waits for another one's lock: `MESHGEN_LOCK_WAIT` seconds, default 10.
    Raises LockWaitError for anything but a finite number >= 0 (`nan` would wait forever)."""
    raw = os.environ.get("MESHGEN_LOCK_WAIT")
    if raw is None:
        return LOCK_WAIT_DEFAULT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise LockWaitError(
            f"MESHGEN_LOCK_WAIT={raw[:40]!r} is not a number of seconds; set it to a finite "
            "number >= 0 (e.g. MESHGEN_LOCK_WAIT=60), or unset it for the default 10"
        )
    return value


@contextmanager
def _locked(root: Path, mode: int) -> Iterator[int]:
    """flock on the output directory itself (no lock file to commit or clean up); released by
    the kernel when the process dies, kill -9 included."""
    wait = lock_wait_seconds()
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise _io_conflict(".", exc, reading=True) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OutputConflict(
                        [
                            (
                                ".",
                                f"another meshgen build{_holder(root)} is writing this output "
                                f"directory (waited {wait:g} s)",
                            )
                        ],
                        "MG905",
                        "wait for it to finish, then run this build again",
                    ) from None
                time.sleep(0.05)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _holder(root: Path) -> str:
    """` (pid N on HOST)` from an in-progress journal, if the holder wrote one yet."""
    try:
        if (_lstat(root, MANIFEST_NAME) or os.lstat(root)).st_size > MANIFEST_MAX_BYTES:
            return ""
        doc = _json_values(_read(root / MANIFEST_NAME, MANIFEST_MAX_BYTES))
        holder = doc.get("holder") if isinstance(doc, dict) else None
    except (OSError, ValueError, RecursionError):
        return ""
    return f" ({holder})" if isinstance(holder, str) and len(holder) < 200 else ""


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
    root_st = os.lstat(root)
    seen: dict[str, str | None] = {}
    for rel in sorted(files):
        blocked = _check_ancestors(root, rel, root_st.st_dev, manifest.owned, files, seen)
        if blocked is not None:
            plan.problems[blocked] = seen[blocked] or NOT_OWNED
            continue
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
    parents = _parents(files)
    for rel in sorted(manifest.owned.keys() - files.keys()):
        if _parents([rel]) & files.keys():
            continue  # inside an owned directory that becomes a file: removed with it
        st = _lstat(root, rel)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_dev != root_st.st_dev:
            continue  # gone, or no longer a file of ours: leave it alone
        if _check_ancestors(root, rel, root_st.st_dev, {}, {}, seen) is not None:
            continue
        current = _owned_content(root, rel, st, manifest.owned[rel], force=force)
        if current is None:
            plan.edited[rel] = HAND_EDITED + "; meshgen no longer generates it"
            continue
        plan.pruned.append(rel)
        plan.snapshots[rel] = _snapshot(st)
        plan.current[rel] = current
        if rel in parents:  # an owned file that becomes a directory: goes first
            plan.blocking.append(rel)
    # Directories that may end up empty: those of pruned files, and those an interrupted build
    # made or was emptying. Deepest first, so a parent is tried after its children.
    maybe_empty = (_parents(plan.pruned) | manifest.dirs) - parents - files.keys()
    for rel in sorted(maybe_empty, key=lambda d: (-d.count("/"), d)):
        st = _lstat(root, rel)
        if (
            st is not None
            and stat.S_ISDIR(st.st_mode)
            and st.st_dev == root_st.st_dev
            and _check_ancestors(root, rel + "/x", root_st.st_dev, {}, {}, seen) is None
        ):
            plan.emptied.append(rel)
    return plan


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


def read_output(out_dir: Path, files: Mapping[str, bytes]) -> tuple[dict[str, bytes], bytes | None]:
    """The content of every file meshgen owns in out_dir (`meshgen plan`'s old side), and the
    manifest's bytes (None without one), read under the shared lock; refuses (OutputConflict)
    exactly what a build of `files` refuses.
    Each file is read through directory descriptors opened without following symlinks and is
    at most FILE_MAX_BYTES, so memory stays bounded whatever the directory holds."""
    root = _abs(out_dir)
    _validate(files)
    if not _root_usable(root, create=False):
        return {}, None
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
    return out, manifest.raw


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


def _io_conflict(rel: str, exc: OSError, *, reading: bool = False) -> OutputConflict:
    verb = "cannot read" if reading else "cannot write"
    return OutputConflict(
        [(rel, f"{verb}: {exc.strerror or exc}")],
        "MG907",
        "make the output directory readable and writable (and its file system writable "
        "and not full), then run the build again; nothing was changed",
    )


# --- writing: one transaction per build ---------------------------------------------------------


class _Dirs:
    """Open directory fds below the output root, walked one name at a time with O_NOFOLLOW:
    a directory swapped for a symlink during the build makes the walk fail, never follow."""

    def __init__(self, root: Path) -> None:
        self.fds = {"": os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)}

    def fd(self, directory: str) -> int:
        found = self.fds.get(directory)
        if found is not None:
            return found
        parent, _, name = directory.rpartition("/")
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd(parent))
        self.fds[directory] = fd
        return fd

    def forget(self, directory: str, *, below: bool = False) -> None:
        """Drop the fd of `directory` (it was removed or moved), and with `below` those of its
        subdirectories (a scan of every fd: only for the rare moved directory)."""
        found = self.fds.pop(directory, None)
        if found is not None:
            os.close(found)
        if below:
            for key in [k for k in self.fds if k.startswith(directory + "/")]:
                os.close(self.fds.pop(key))

    def lstat(self, rel: str) -> os.stat_result | None:
        directory, name = _split(rel)
        try:
            return os.lstat(name, dir_fd=self.fd(directory))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read(self, rel: str) -> bytes:
        directory, name = _split(rel)
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.fd(directory))
        with os.fdopen(fd, "rb") as f:
            data = f.read(FILE_MAX_BYTES + 1)
        if len(data) > FILE_MAX_BYTES:
            raise OSError(errno.EFBIG, "larger than any file meshgen writes", rel)
        return data

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def _split(rel: str) -> tuple[str, str]:
    directory, _, name = rel.rpartition("/")
    return directory, name


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


def _link_new(src_dir_fd: int, temp: str, dst_dir_fd: int, name: str) -> bool:
    """Give the temp file its final name where nothing exists; False if something does (a
    hard link never replaces). File systems without hard links get an lstat-then-rename."""
    try:
        os.link(temp, name, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    try:
        os.lstat(name, dir_fd=dst_dir_fd)
        return False
    except FileNotFoundError:
        os.rename(temp, name, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        return True


def _relative(root: Path, exc: OSError) -> str:
    """The path below the root a planning read failed on (reads there name absolute paths)."""
    name = exc.filename
    if isinstance(name, str | os.PathLike):
        with suppress(ValueError):
            return Path(name).relative_to(root).as_posix() or "."
    return "."


def _write_temp(dirs: _Dirs, data: bytes, *, keep_mode_of: str | None = None) -> str:
    """`data` in a fresh, uniquely named file in the root directory (random, so builds in
    other PID namespaces or hosts never collide). The mode of the file it replaces is kept."""
    mode: int | None = None
    st = None if keep_mode_of is None else dirs.lstat(keep_mode_of)
    if st is not None and stat.S_ISREG(st.st_mode):
        mode = stat.S_IMODE(st.st_mode)
    temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    root_fd = dirs.fd("")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(temp, flags, 0o666 if mode is None else mode, dir_fd=root_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if mode is not None:
            os.fchmod(fd, mode)  # a mode the user set, whatever the umask
        _writeout(fd, wait=False)
    except BaseException:
        os.close(fd)
        with suppress(OSError):
            os.unlink(temp, dir_fd=root_fd)
        raise
    os.close(fd)
    return temp


def _replace(dirs: _Dirs, rel: str, data: bytes) -> None:
    """Atomic and durable replace of one small file in the root (the manifest)."""
    temp = _write_temp(dirs, data, keep_mode_of=rel)
    root_fd = dirs.fd("")
    try:
        fd = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=root_fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, rel, src_dir_fd=root_fd, dst_dir_fd=root_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=root_fd)
        raise
    with suppress(OSError):
        os.fsync(root_fd)


def _stale_temps(dirs: _Dirs, directories: Iterable[str]) -> list[str]:
    """Temporary files and moved-aside directories of killed builds (in the root; meshgen 0.2
    left them beside the files): with the lock held, every one of them is stale."""
    stale: list[str] = []
    for directory in sorted({"", *directories}):
        try:
            names = os.listdir(dirs.fd(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        prefix = f"{directory}/" if directory else ""
        stale.extend(prefix + name for name in names if _TEMP_NAME.fullmatch(name))
    return stale


def _remove_temps(dirs: _Dirs, rels: Iterable[str]) -> None:
    for rel in rels:
        _remove_temp(dirs, rel)


def _remove_temp(dirs: _Dirs, rel: str) -> None:
    """Remove a temp file or a moved-aside owned directory, retrying once (a transient error
    must not leave it); a lasting error leaves it to the next build."""
    directory, name = _split(rel)
    for _ in range(2):
        try:
            fd = dirs.fd(directory)
            if stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode):
                shutil.rmtree(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)
            return
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:
            continue


# Durability as git's core.fsyncMethod=batch (https://git-scm.com/docs/git-config#Documentation/git-config.txt-corefsyncMethod):
# each file's own pages are written out as it is written, then one full fsync flushes the
# device cache; directories get an fsync each for their entries. Unlike syncfs(2), nothing
# waits for other processes' dirty pages (a build beside a 3 GB `dd` took 2.8x as long).
_SYNC_FILE_RANGE_WAIT_BEFORE, _SYNC_FILE_RANGE_WRITE, _SYNC_FILE_RANGE_WAIT_AFTER = 1, 2, 4
_sync_file_range: Any = None


def _writeout(fd: int, *, wait: bool) -> None:
    """Start writing the file's dirty pages to the device (and with `wait`, wait for them).
    Without sync_file_range(2) (not Linux), `wait` is an fsync of the file."""
    global _sync_file_range
    if _sync_file_range is None:
        found: Any = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
        if found is not None:
            found.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
        _sync_file_range = found if found is not None else False
    flags = _SYNC_FILE_RANGE_WRITE
    if wait:
        flags |= _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WAIT_AFTER
    if _sync_file_range and _sync_file_range(fd, 0, 0, flags) == 0:
        return
    code = ctypes.get_errno() if _sync_file_range else errno.ENOSYS
    if code not in (errno.ENOSYS, errno.EINVAL, errno.ESPIPE, errno.EOPNOTSUPP):
        raise OSError(code, os.strerror(code))
    if wait:  # a file system (or a system) without it: the file's own fsync
        os.fsync(fd)


def _flush_contents(dirs: _Dirs, temps: list[str]) -> None:
    """The temporary files' contents on the device before any of them is renamed: wait for
    each one's write-out, then fsync the last (a journal commit and a device cache flush)."""
    root_fd = dirs.fd("")
    for i, temp in enumerate(temps):
        fd = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=root_fd)
        try:
            _writeout(fd, wait=True)
            if i == len(temps) - 1:
                os.fsync(fd)
        finally:
            os.close(fd)


def _flush_directories(dirs: _Dirs, directories: list[str]) -> None:
    """Every changed directory's entries (the renames) on the device."""
    for directory in directories:
        try:
            fd = dirs.fd(directory)
        except FileNotFoundError:
            continue  # removed since (an owned directory that became a file)
        os.fsync(fd)


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
