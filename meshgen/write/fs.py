"""The file-system steps of a write: directory descriptors walked without following
symlinks, temporary files, links and renames, and durability as git's batch fsync."""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from meshgen.write.model import _TEMP_NAME, FILE_MAX_BYTES, TEMP_PREFIX

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
