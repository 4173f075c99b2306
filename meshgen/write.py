"""Write generated files into the output directory, atomically and touching only what we own.

The new output is built as a complete sibling staging tree and swapped in with one rename, so a
failed or killed run leaves the previous output intact. Files meshgen wrote are listed in
MANIFEST_NAME; everything else in the tree belongs to the user and is carried over untouched
(hard links, symlinks re-created verbatim). Symlinks are never followed.
"""

from __future__ import annotations

import ctypes
import difflib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = ".meshgen-manifest.json"

NOT_OWNED = "exists and was not written by meshgen; move it away or delete it"
_BAD_MANIFEST = "is not a valid meshgen manifest; delete it (existing files then count as yours)"

_FILE, _DIR, _LINK, _OTHER = "file", "directory", "symlink", "other"
_REASONS = {
    _FILE: NOT_OWNED,
    _DIR: "is a directory",
    _LINK: "is a symlink",
    _OTHER: "is not a regular file",
}


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

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.stale)


class OutputConflict(Exception):  # noqa: N818 - the name is the public API
    """meshgen refuses to write; `problems` lists (relative path, reason) for diagnostics."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in problems))


@dataclass(frozen=True)
class _Plan:
    exists: bool
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    pruned: tuple[str, ...]
    keep: dict[str, str]  # user entries to carry over: path -> kind
    dirs: tuple[str, ...]  # existing directories, to carry their modes over
    manifest: bytes
    manifest_changed: bool


def _is_safe(rel: str) -> bool:
    # An absolute path shows up as an empty first segment.
    segments_ok = all(part not in ("", ".", "..") for part in rel.split("/"))
    return segments_ok and "\\" not in rel and "\0" not in rel


def _validate(files: Mapping[str, bytes]) -> None:
    for rel in files:
        if not _is_safe(rel):
            raise ValueError(f"unsafe output path {rel!r}")
        if rel == MANIFEST_NAME:
            raise ValueError(f"{MANIFEST_NAME!r} is reserved for meshgen's manifest")
    clash = _parents(files) & files.keys()
    if clash:
        raise ValueError(f"output path {min(clash)!r} is both a file and a directory")


def _parents(paths: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for rel in paths:
        parts = rel.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return out


def _scan(root: Path) -> dict[str, str]:
    """Every entry under root by kind, without following any symlink."""
    found: dict[str, str] = {}

    def walk(directory: str, prefix: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    found[rel] = _LINK
                elif entry.is_dir(follow_symlinks=False):
                    found[rel] = _DIR
                    walk(entry.path, rel + "/")
                else:
                    found[rel] = _FILE if entry.is_file(follow_symlinks=False) else _OTHER

    walk(str(root), "")
    return found


def _read(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _load(out_dir: Path) -> tuple[dict[str, str], dict[str, str], bytes | None]:
    """(tree, owned path -> sha256, manifest bytes) of an existing output dir; {} if absent."""
    if out_dir.is_symlink():
        raise OutputConflict([(".", "output directory is a symlink")])
    if not out_dir.exists():
        return {}, {}, None
    if not out_dir.is_dir():
        raise OutputConflict([(".", "output directory is not a directory")])
    tree = _scan(out_dir)
    kind = tree.pop(MANIFEST_NAME, None)
    if kind is None:
        return tree, {}, None
    if kind != _FILE:
        raise OutputConflict([(MANIFEST_NAME, _REASONS[kind])])
    raw = _read(out_dir / MANIFEST_NAME)
    try:
        owned = json.loads(raw)["files"]
        valid = isinstance(owned, dict) and all(
            _is_safe(k) and k != MANIFEST_NAME and isinstance(v, str) for k, v in owned.items()
        )
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise OutputConflict([(MANIFEST_NAME, _BAD_MANIFEST)])
    return tree, owned, raw


def _manifest(files: Mapping[str, bytes]) -> bytes:
    digests: dict[int, str] = {}  # emit shares one bytes object between identical files
    listing = {}
    for rel, data in files.items():
        digest = digests.get(id(data))
        if digest is None:
            digest = digests[id(data)] = hashlib.sha256(data).hexdigest()
        listing[rel] = digest
    doc = {"generator": "meshgen", "version": 1, "files": listing}
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode()


def _make_plan(out_dir: Path, files: Mapping[str, bytes]) -> _Plan:
    _validate(files)
    tree, owned, old_manifest = _load(out_dir)
    is_owned = {rel for rel in owned if tree.get(rel) == _FILE}
    # Anything not an owned file is the user's; an empty directory is too (meshgen removes its
    # own once they empty out), while other directories only need to exist for their contents.
    nonempty = _parents(tree)
    keep = {
        rel: kind
        for rel, kind in tree.items()
        if rel not in is_owned and (kind != _DIR or rel not in nonempty)
    }
    problems: dict[str, str] = {}
    written: list[str] = []
    unchanged: list[str] = []
    for rel in sorted(files):
        parts = rel.split("/")
        blocked = False
        for i in range(1, len(parts)):  # every ancestor must be a real directory (or go away)
            prefix = "/".join(parts[:i])
            kind = tree.get(prefix)
            if kind not in (None, _DIR) and prefix not in is_owned:
                problems[prefix] = _REASONS[kind]
                blocked = True
                break
        if blocked:
            continue
        kind = tree.get(rel)
        if kind is None:
            written.append(rel)
        elif rel in is_owned:
            (unchanged if _read(out_dir / rel) == files[rel] else written).append(rel)
        elif kind == _DIR and not any(k == rel or k.startswith(rel + "/") for k in keep):
            written.append(rel)  # a directory of owned files only, turning into a file
        else:
            problems[rel] = _REASONS[kind]
    if problems:
        raise OutputConflict(sorted(problems.items()))
    manifest = _manifest(files)
    return _Plan(
        exists=out_dir.exists(),
        written=tuple(written),
        unchanged=tuple(unchanged),
        pruned=tuple(sorted(is_owned - files.keys())),
        keep=keep,
        dirs=tuple(sorted(rel for rel, kind in tree.items() if kind == _DIR)),
        manifest=manifest,
        manifest_changed=manifest != old_manifest,
    )


def plan_write(out_dir: Path, files: Mapping[str, bytes]) -> WritePlan:
    """What write_output would do; reads only. Raises OutputConflict."""
    plan = _make_plan(_abs(out_dir), files)
    return WritePlan(plan.written, plan.unchanged, plan.pruned)


def write_output(out_dir: Path, files: Mapping[str, bytes]) -> WritePlan:
    """Make out_dir hold exactly `files` plus the user's own entries. Raises OutputConflict."""
    out_dir = _abs(out_dir)
    _recover(out_dir)
    plan = _make_plan(out_dir, files)
    result = WritePlan(plan.written, plan.unchanged, plan.pruned)
    if not (plan.written or plan.pruned or plan.manifest_changed):
        return result  # nothing to do: touch nothing, so every mtime stays put
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(out_dir, "staging", os.getpid())
    _remove(staging)
    try:
        _build(staging, out_dir, files, plan)
        if plan.exists:
            _swap(staging, out_dir)
        else:
            os.rename(staging, out_dir)
    except BaseException:
        _remove(staging)
        raise
    _fsync(out_dir.parent)
    return result


def _build(staging: Path, out_dir: Path, files: Mapping[str, bytes], plan: _Plan) -> None:
    staging.mkdir()
    for rel, kind in sorted(plan.keep.items()):
        src, dst = out_dir / rel, staging / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if kind == _DIR:
            dst.mkdir()
        elif kind == _LINK:
            os.symlink(os.readlink(src), dst)  # same target text, never resolved
        else:
            _link_or_copy(src, dst, kind)
    made: set[Path] = set()

    def parent_of(rel: str) -> Path:
        target = staging / rel
        if target.parent not in made:  # one mkdir per directory, not per file
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        return target

    for rel in plan.unchanged:  # hard links keep inode and mtime of unchanged files
        _link_or_copy(out_dir / rel, parent_of(rel), _FILE)
    for rel in plan.written:
        _write_file(parent_of(rel), files[rel])
    _write_file(staging / MANIFEST_NAME, plan.manifest)
    for rel in ("", *plan.dirs):  # keep directory permissions the user may have set
        if plan.exists and (staging / rel).is_dir():
            shutil.copymode(out_dir / rel, staging / rel, follow_symlinks=False)
    _sync_filesystem(staging)


def _link_or_copy(src: Path, dst: Path, kind: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        if kind != _FILE:  # copying a fifo or device would block or misbehave
            raise
        shutil.copy2(src, dst, follow_symlinks=False)


def _write_file(path: Path, data: bytes) -> None:
    # "x": a fresh inode, never writing through a hard link into a file we carried over
    with open(path, "xb") as f:
        f.write(data)


def _sync_filesystem(path: Path) -> None:
    """Make the whole staged tree durable before the swap: one syncfs(2) for its file system
    instead of an fsync per file and directory (20,000 of them at 100 clusters)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _fsync(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- swapping and crash recovery -------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False if libc or the filesystem can't."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap(staging: Path, out_dir: Path) -> None:
    if _exchange(staging, out_dir):
        old = staging  # now holds the previous output
    else:
        # Two renames; if killed in between, _recover() puts the backup back on the next run.
        old = _sibling(out_dir, "backup", os.getpid())
        os.rename(out_dir, old)
        try:
            os.rename(staging, out_dir)
        except BaseException:
            os.rename(old, out_dir)
            raise
    # The new output is in place; a failed cleanup must not turn success into an error.
    shutil.rmtree(old, ignore_errors=True)


def _recover(out_dir: Path) -> None:
    """Clean up after a killed run: restore a backup left without output, drop other leftovers."""
    if not out_dir.parent.is_dir():
        return
    stem = f".{out_dir.name}.meshgen-"
    for path in sorted(out_dir.parent.iterdir()):
        kind, _, pid = path.name.removeprefix(stem).partition("-")
        if not path.name.startswith(stem) or kind not in ("staging", "backup"):
            continue
        if not pid.isdigit() or _alive(int(pid)):
            continue  # another meshgen run is busy with it
        if kind == "backup" and not os.path.lexists(out_dir):
            os.rename(path, out_dir)
        else:
            _remove(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sibling(out_dir: Path, kind: str, pid: int) -> Path:
    return out_dir.parent / f".{out_dir.name}.meshgen-{kind}-{pid}"


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _abs(out_dir: Path) -> Path:
    # Lexical only: resolving would follow an out_dir that is itself a symlink.
    return Path(os.path.abspath(out_dir))


# --- read-only comparisons (--check, --diff) -------------------------------------------------


def check_output(out_dir: Path, files: Mapping[str, bytes]) -> Drift:
    """How the disk differs from `files`; stale = owned files a write would prune. Never writes."""
    out_dir = _abs(out_dir)
    _validate(files)
    tree, owned, _ = _load(out_dir)
    changed: list[str] = []
    missing: list[str] = []
    for rel in sorted(files):
        kind = tree.get(rel)
        if kind is None:
            missing.append(rel)
        elif kind != _FILE or _read(out_dir / rel) != files[rel]:
            changed.append(rel)
    stale = sorted(rel for rel in owned if rel not in files and tree.get(rel) == _FILE)
    return Drift(tuple(changed), tuple(missing), tuple(stale))


def diff_output(out_dir: Path, files: Mapping[str, bytes]) -> str:
    """Unified diff from the disk to `files` (a/ = on disk, b/ = generated). Never writes."""
    out_dir = _abs(out_dir)
    drift = check_output(out_dir, files)
    tree, _, _ = _load(out_dir)
    chunks: list[str] = []
    for rel in sorted({*drift.changed, *drift.missing, *drift.stale}):
        old = _read(out_dir / rel) if tree.get(rel) == _FILE else b""
        new = files.get(rel, b"")
        lines = difflib.unified_diff(
            old.decode("utf-8", errors="replace").splitlines(keepends=True),
            new.decode("utf-8", errors="replace").splitlines(keepends=True),
            fromfile=f"a/{rel}",
            tofile=f"b/{rel}",
        )
        chunks.extend(line if line.endswith("\n") else line + "\n" for line in lines)
    return "".join(chunks)
