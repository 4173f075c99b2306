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
import difflib
import fcntl
import hashlib
import json
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_NAME = ".meshgen-manifest.json"
TEMP_PREFIX = ".meshgen-tmp-"
# A manifest is a few MB at 100 clusters x 5,000 services; anything far larger is not ours.
MANIFEST_MAX_BYTES = 256 * 1024 * 1024
LOCK_WAIT_SECONDS = float(os.environ.get("MESHGEN_LOCK_WAIT", "10"))

NOT_OWNED = "exists and was not written by meshgen; move it away or delete it"
HAND_EDITED = "was changed since meshgen wrote it (a hand edit?)"
MOUNT_POINT = "is a mount point (meshgen does not write across mounts)"
_BAD_MANIFEST = "is not a valid meshgen manifest; delete it (existing files then count as yours)"

# The paths meshgen generates: names without a leading dot, files ending in .yaml or .md. A
# manifest entry outside this shape (say `.git/config`) is never treated as owned.
_GENERATED = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]*/)*[A-Za-z0-9][A-Za-z0-9._-]*\.(?:yaml|md)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# In a journal, a file the interrupted build created: any content is that build's.
ANY_CONTENT = "*"


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
    owned: dict[str, frozenset[str]]  # path -> the hashes its content may have
    complete: bool
    raw: bytes | None


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


def _same_content(path: str, st: os.stat_result, data: bytes) -> bool:
    """Whether the file holds exactly `data` (reads at most len(data) + 1 bytes)."""
    if st.st_size != len(data):
        return False
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
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


def _read(path: Path) -> bytes:
    fd = _open_nofollow(path)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _load_manifest(root: Path) -> _Manifest:
    path = root / MANIFEST_NAME
    st = _lstat(root, MANIFEST_NAME)
    if st is None:
        return _Manifest({}, True, None)
    if not stat.S_ISREG(st.st_mode):
        raise OutputConflict([(MANIFEST_NAME, "is not a regular file")])
    if st.st_size > MANIFEST_MAX_BYTES:
        raise OutputConflict([(MANIFEST_NAME, _BAD_MANIFEST)])
    raw = _read(path)
    try:
        doc = json.loads(raw)
        owned = _parse_manifest(doc)
    except (ValueError, TypeError, KeyError, RecursionError):
        raise OutputConflict([(MANIFEST_NAME, _BAD_MANIFEST)]) from None
    return _Manifest(owned, doc.get("state", "complete") == "complete", raw)


def _parse_manifest(doc: object) -> dict[str, frozenset[str]]:
    if not isinstance(doc, dict) or doc.get("generator", "meshgen") != "meshgen":
        raise ValueError("not a meshgen manifest")
    files, pending = doc["files"], doc.get("pending", {})
    created = doc.get("created", [])
    if not (isinstance(files, dict) and isinstance(pending, dict) and isinstance(created, list)):
        raise ValueError("files")
    owned: dict[str, frozenset[str]] = {}
    for rel, digest in [*files.items(), *pending.items()]:
        if not (isinstance(rel, str) and isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise ValueError("entry")
        if could_generate(rel):  # anything else (.git/config, ../x) stays the user's
            owned[rel] = owned.get(rel, frozenset()) | {digest}
    for rel in created:
        if isinstance(rel, str) and could_generate(rel):
            owned[rel] = owned.get(rel, frozenset()) | {ANY_CONTENT}
    return owned


def _manifest_bytes(
    files: Mapping[str, str],
    *,
    pending: Mapping[str, str] | None = None,
    holder: str | None = None,
    created: list[str] | None = None,
    identity: Mapping[str, str] | None = None,
) -> bytes:
    doc: dict[str, object] = {"generator": "meshgen", "version": 2, "files": dict(files)}
    # {"meshgen": <version>, "spec": <sha256 of the spec's bytes>}: deterministic per spec.
    doc.update(identity or {})
    if pending is not None:
        doc.update(state="in-progress", pending=dict(pending), holder=holder, created=created or [])
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


@contextmanager
def _locked(root: Path, mode: int) -> Iterator[int]:
    """flock on the output directory itself (no lock file to commit or clean up); released by
    the kernel when the process dies, kill -9 included."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
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
                                f"directory (waited {LOCK_WAIT_SECONDS:g} s)",
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
        doc = json.loads(_read(root / MANIFEST_NAME))
        holder = doc.get("holder") if isinstance(doc, dict) else None
    except (OSError, ValueError, RecursionError):
        return ""
    return f" ({holder})" if isinstance(holder, str) and len(holder) < 200 else ""


# --- planning ----------------------------------------------------------------------------------


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


def _make_plan(
    root: Path,
    files: Mapping[str, bytes],
    digests: Mapping[str, str],
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
        elif _same_content(f"{root}/{rel}", st, files[rel]):
            plan.unchanged.append(rel)
        else:
            current = _hash_file(root / rel)
            if force or current in manifest.owned[rel] or ANY_CONTENT in manifest.owned[rel]:
                plan.written.append(rel)
                plan.current[rel] = current
            else:
                plan.edited[rel] = HAND_EDITED
    parents = _parents(files)
    for rel in sorted(manifest.owned.keys() - files.keys()):
        if _parents([rel]) & files.keys():
            continue  # inside an owned directory that becomes a file: removed with it
        st = _lstat(root, rel)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_dev != root_st.st_dev:
            continue  # gone, or no longer a file of ours: leave it alone
        if _check_ancestors(root, rel, root_st.st_dev, {}, {}, seen) is not None:
            continue
        current = _hash_file(root / rel)
        if force or current in manifest.owned[rel] or ANY_CONTENT in manifest.owned[rel]:
            plan.pruned.append(rel)
            plan.snapshots[rel] = _snapshot(st)
            plan.current[rel] = current
            if rel in parents:  # an owned file that becomes a directory: goes first
                plan.blocking.append(rel)
        else:
            plan.edited[rel] = HAND_EDITED + "; meshgen no longer generates it"
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


def plan_write(out_dir: Path, files: Mapping[str, bytes], *, force: bool = False) -> WritePlan:
    """What write_output would do; reads only. Raises OutputConflict."""
    root = _abs(out_dir)
    _validate(files)
    if not _root_usable(root, create=False):
        return WritePlan(tuple(sorted(files)), (), ())
    manifest = _load_manifest(root)
    plan = _make_plan(root, files, _digests(files), manifest, force=force)
    _raise_problems(plan)
    return WritePlan(tuple(plan.written), tuple(plan.unchanged), tuple(plan.pruned))


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
    if root.is_symlink():
        raise OutputConflict([(".", "output directory is a symlink")])
    if not root.exists():
        if not create:
            return False
        try:
            root.mkdir(parents=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _io_conflict(".", exc) from None
    if not root.is_dir() or root.is_symlink():
        raise OutputConflict([(".", "output directory is not a directory")])
    return True


def _io_conflict(rel: str, exc: OSError) -> OutputConflict:
    return OutputConflict(
        [(rel, f"cannot write: {exc.strerror or exc}")],
        "MG907",
        "make the output directory writable (and its file system writable "
        "and not full), then run the build again",
    )


# --- writing -----------------------------------------------------------------------------------


class _Dirs:
    """Open directory fds below the output root, walked one name at a time with O_NOFOLLOW:
    a directory swapped for a symlink during the build makes the walk fail, never follow."""

    def __init__(self, root: Path) -> None:
        self.fds = {"": os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)}

    def fd(self, directory: str, *, create: bool) -> int:
        found = self.fds.get(directory)
        if found is not None:
            return found
        parent, _, name = directory.rpartition("/")
        parent_fd = self.fd(parent, create=create)
        if create:
            with suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent_fd)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
        self.fds[directory] = fd
        return fd

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
    identity: Mapping[str, str] | None = None,
) -> WritePlan:
    """Make out_dir hold exactly `files` plus the user's own entries. Raises OutputConflict."""
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
    identity: Mapping[str, str] | None = None,
) -> WritePlan:
    manifest = _load_manifest(root)
    digests = _digests(files)
    plan = _make_plan(root, files, digests, manifest, force=force)
    _raise_problems(plan)
    result = WritePlan(tuple(plan.written), tuple(plan.unchanged), tuple(plan.pruned))
    final = _manifest_bytes(digests, identity=identity)
    if not (plan.written or plan.pruned) and final == manifest.raw:
        return result  # nothing to do: touch nothing, so every mtime stays put
    dirs = _Dirs(root)
    try:
        return _apply(root, dirs, files, digests, manifest, plan, result, identity)
    finally:
        dirs.close()


def _apply(
    root: Path,
    dirs: _Dirs,
    files: Mapping[str, bytes],
    digests: Mapping[str, str],
    manifest: _Manifest,
    plan: _Plan,
    result: WritePlan,
    identity: Mapping[str, str] | None = None,
) -> WritePlan:
    _remove_stale_temps(dirs, files)
    # The journal: each file of the old and the new output with the hash it has now, and the
    # hash it is about to get.
    journal = {rel: digests[rel] for rel in plan.unchanged}
    journal.update(plan.current)
    pending = {rel: digests[rel] for rel in plan.written}
    # Files that do not exist yet are created in place (O_EXCL): a kill mid-write leaves a
    # partial file that only this build can have made, so the journal owns it whatever it holds.
    created = sorted(rel for rel in plan.written if plan.snapshots[rel] is None)
    holder = f"pid {os.getpid()} on {socket.gethostname()}"
    try:
        _replace(
            dirs,
            MANIFEST_NAME,
            _manifest_bytes(journal, pending=pending, holder=holder, created=created),
        )
    except OSError as exc:
        raise _io_conflict(MANIFEST_NAME, exc) from None

    temps: dict[str, str] = {}
    made: list[str] = []
    raced: dict[str, str] = {}
    try:
        for rel in plan.blocking:
            os.unlink(root / rel)
        for rel in plan.written:
            if plan.snapshots[rel] is not None:
                temps[rel] = _write_temp(dirs, rel, files[rel])
            elif _create(dirs, rel, files[rel]):
                made.append(rel)
            else:
                raced[rel] = "created by another program while meshgen was writing; left as it is"
        _sync_filesystem(root)
    except OSError as exc:
        for rel, temp in temps.items():
            with suppress(OSError):
                os.unlink(temp, dir_fd=dirs.fd(_split(rel)[0], create=False))
        # Nothing of the output changed yet: put the previous manifest back.
        with suppress(OSError):
            if manifest.raw is None:
                os.unlink(MANIFEST_NAME, dir_fd=dirs.fd("", create=False))
            else:
                _replace(dirs, MANIFEST_NAME, manifest.raw)
        raise _io_conflict(_relative(root, exc), exc) from None

    try:
        for rel, temp in temps.items():
            directory, name = _split(rel)
            fd = dirs.fd(directory, create=False)
            if _snapshot(_lstat(root, rel)) != plan.snapshots[rel]:
                os.unlink(temp, dir_fd=fd)  # changed by someone else during the build
                raced[rel] = "changed while meshgen was writing; left as it is"
                continue
            if os.path.isdir(root / rel):  # an owned directory turning into a file
                _remove_owned_tree(root / rel)
            os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
        for rel in plan.pruned:
            if rel in plan.blocking:
                continue
            if _snapshot(_lstat(root, rel)) != plan.snapshots[rel]:
                raced[rel] = "changed while meshgen was writing; not pruned"
                continue
            directory, name = _split(rel)
            os.unlink(name, dir_fd=dirs.fd(directory, create=False))
            _remove_empty_parents(root, rel)
        owned = {rel: d for rel, d in digests.items() if rel not in raced}
        for rel in raced:  # keep owning what still holds the content we recorded
            if rel in plan.current and rel not in files:
                owned[rel] = plan.current[rel]
        # The renames must be durable before the manifest says the new output is complete.
        _sync_filesystem(root)
        _replace(
            dirs, MANIFEST_NAME, _manifest_bytes(dict(sorted(owned.items())), identity=identity)
        )
    except OSError as exc:
        # The journal stays `in-progress`: the next run recognises both versions and converges.
        raise _io_conflict(_relative(root, exc), exc) from None
    if raced:
        raise OutputConflict(
            sorted(raced.items()),
            "MG906",
            "another program changed these files during the build; look at "
            "them, then run the build again",
            wrote_the_rest=True,
        )
    return result


def _relative(root: Path, exc: OSError) -> str:
    name = exc.filename if isinstance(exc.filename, str) else ""
    try:
        return Path(name).relative_to(root).as_posix() if name else "."
    except ValueError:
        return "."


def _write_temp(dirs: _Dirs, rel: str, data: bytes) -> str:
    """The new content in a fresh, uniquely named file beside `rel` (random, so builds in
    other PID namespaces or hosts never collide); the parents are made as needed."""
    directory, name = _split(rel)
    fd_dir = dirs.fd(directory, create=True)
    mode = 0o644
    with suppress(OSError):
        mode = stat.S_IMODE(os.lstat(name, dir_fd=fd_dir).st_mode)  # keep a mode the user set
    temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=fd_dir)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with suppress(OSError):
            os.unlink(temp, dir_fd=fd_dir)
        raise
    os.close(fd)
    return temp


def _create(dirs: _Dirs, rel: str, data: bytes) -> bool:
    """Write a file that did not exist when planned, in place; False if someone else made it
    meanwhile (O_EXCL: theirs, never overwritten)."""
    directory, name = _split(rel)
    fd_dir = dirs.fd(directory, create=True)
    try:
        fd = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=fd_dir
        )
    except FileExistsError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return True


def _replace(dirs: _Dirs, rel: str, data: bytes) -> None:
    """Atomic and durable replace of one small file (the manifest)."""
    directory, name = _split(rel)
    temp = _write_temp(dirs, rel, data)
    fd_dir = dirs.fd(directory, create=False)
    try:
        fd = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd_dir)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=fd_dir, dst_dir_fd=fd_dir)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=fd_dir)
        raise
    with suppress(OSError):
        os.fsync(fd_dir)


def _remove_stale_temps(dirs: _Dirs, files: Mapping[str, bytes]) -> None:
    """Temporary files of killed builds: with the lock held, every one of them is stale."""
    for directory in sorted({"", *_parents(files)}):
        try:
            fd = dirs.fd(directory, create=False)
        except OSError:
            continue
        for name in os.listdir(fd):
            if name.startswith(TEMP_PREFIX):
                with suppress(OSError):
                    if stat.S_ISREG(os.lstat(name, dir_fd=fd).st_mode):
                        os.unlink(name, dir_fd=fd)


def _remove_owned_tree(path: Path) -> None:
    for directory, _, filenames in os.walk(path, topdown=False):
        for name in filenames:
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)


def _remove_empty_parents(root: Path, rel: str) -> None:
    """Directories that held only the pruned file go with it (meshgen made them)."""
    parts = rel.split("/")[:-1]
    while parts:
        try:
            os.rmdir(root.joinpath(*parts))
        except OSError:
            return
        parts.pop()


def _sync_filesystem(path: Path) -> None:
    """Make everything written durable with one syncfs(2) for the file system instead of an
    fsync per file and directory (20,000 of them at 100 clusters)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


# --- read-only comparisons (--check, --diff) -------------------------------------------------


def check_output(out_dir: Path, files: Mapping[str, bytes]) -> Drift:
    """How the disk differs from `files`; stale = owned files a write would prune. Never writes."""
    root = _abs(out_dir)
    _validate(files)
    if not _root_usable(root, create=False):
        return Drift((), tuple(sorted(files)), ())
    with _locked(root, fcntl.LOCK_SH):
        manifest = _load_manifest(root)
        changed: list[str] = []
        missing: list[str] = []
        for rel in sorted(files):
            st = _lstat(root, rel)
            if st is None:
                missing.append(rel)
            elif not stat.S_ISREG(st.st_mode) or not _same_content(f"{root}/{rel}", st, files[rel]):
                changed.append(rel)
        stale = sorted(rel for rel in manifest.owned if rel not in files and _is_regular(root, rel))
    return Drift(tuple(changed), tuple(missing), tuple(stale), not manifest.complete)


def manifest_identity(out_dir: Path) -> dict[str, str]:
    """{"meshgen": version, "spec": sha256} as recorded by the build that wrote out_dir
    (empty when unknown: no manifest, an older one, or unreadable). Never writes."""
    try:
        root = _abs(out_dir)
        st = _lstat(root, MANIFEST_NAME)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size > MANIFEST_MAX_BYTES:
            return {}
        doc = json.loads(_read(root / MANIFEST_NAME))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        key: value
        for key in ("meshgen", "spec")
        if isinstance(value := doc.get(key), str) and len(value) < 200
    }


def _is_regular(root: Path, rel: str) -> bool:
    st = _lstat(root, rel)
    return st is not None and stat.S_ISREG(st.st_mode)


def diff_output(out_dir: Path, files: Mapping[str, bytes]) -> str:
    """Unified diff from the disk to `files` (a/ = on disk, b/ = generated). Never writes."""
    root = _abs(out_dir)
    drift = check_output(root, files)
    chunks: list[str] = []
    for rel in sorted({*drift.changed, *drift.missing, *drift.stale}):
        st = _lstat(root, rel)
        old = b""
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size <= MANIFEST_MAX_BYTES:
            old = _read(root / rel)
        new = files.get(rel, b"")
        lines = difflib.unified_diff(
            old.decode("utf-8", errors="replace").splitlines(keepends=True),
            new.decode("utf-8", errors="replace").splitlines(keepends=True),
            fromfile=f"a/{rel}",
            tofile=f"b/{rel}",
        )
        chunks.extend(line if line.endswith("\n") else line + "\n" for line in lines)
    return "".join(chunks)


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
