"""Reading the output's files and its manifest (`.meshgen-manifest.json`), and writing the
manifest's bytes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from meshgen.write.model import (
    _BAD_MANIFEST,
    _DIR_NAME,
    _SHA256,
    MANIFEST_MAX_BYTES,
    MANIFEST_MAX_VALUES,
    MANIFEST_NAME,
    OutputConflict,
    _is_safe,
    _lstat,
    _Manifest,
    _parents,
    could_generate,
)

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
    record = {k: v for k, v in doc.items() if k not in ("files", "pending", "created", "dirs")}
    return _Manifest(owned, complete, raw, journal_dirs, record)


def read_manifest(raw: bytes) -> tuple[frozenset[str], dict[str, object]]:
    """The paths a manifest's bytes make meshgen's (recorded or pending), and what else it
    records of the build; ValueError if a build would refuse the manifest."""
    try:
        manifest = _parse_manifest(_json_values(raw), raw)
    except (TypeError, KeyError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    return frozenset(manifest.owned), manifest.record


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
