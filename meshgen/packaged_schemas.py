"""The kubeconform schemas that ship with meshgen, unpacked once into a cache folder.

meshgen/data/kubeconform-schemas.json.xz holds, for every Kubernetes minor, Istio minor and
Sail release meshgen supports, the schemas of the kinds it writes, in the layout of
scripts/make_schemas.py (made by scripts/make_package_schemas.py from the real releases).
`meshgen check-output` and `build --validate` use them when no --schema-dir is given: no
network, no clone. They are unpacked into $XDG_CACHE_HOME/meshgen (default ~/.cache/meshgen),
one folder per archive content, written whole under a temporary name and renamed into place,
so concurrent runs never see a half-written folder; where the cache cannot be written, into a
temporary folder for this run.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import lzma
import os
import re
import shutil
import tempfile
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parent / "data" / "kubeconform-schemas.json.xz"
_SAFE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "meshgen"


def packaged_schema_dir() -> Path | None:
    """The unpacked schema folder (None when this installation has no archive)."""
    try:
        data = ARCHIVE.read_bytes()
    except OSError:
        return None
    name = f"schemas-{hashlib.sha256(data).hexdigest()[:16]}"
    root = cache_root()
    target = root / name
    if (target / ".complete").is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        return _unpack(data, root, target)
    except OSError:
        scratch = Path(tempfile.mkdtemp(prefix="meshgen-schemas-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        return _unpack(data, scratch, scratch / name)


def _unpack(data: bytes, parent: Path, target: Path) -> Path:
    files: dict[str, str] = json.loads(lzma.decompress(data))
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=parent))
    try:
        for rel, text in files.items():
            if not _SAFE.fullmatch(rel) or ".." in rel.split("/"):
                raise ValueError(f"unexpected path in {ARCHIVE.name}: {rel!r}")
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (staging / ".complete").write_text("", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not (target / ".complete").is_file():  # not another run's complete copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
