"""One writer at a time: an advisory lock (flock) on the output directory itself."""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meshgen.write.manifest import _json_values, _read
from meshgen.write.model import (
    LOCK_WAIT_DEFAULT,
    MANIFEST_MAX_BYTES,
    MANIFEST_NAME,
    OutputConflict,
    _io_conflict,
    _lstat,
)

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
