"""The two file sets a plan compares: the output meshgen owns now (on disk, or committed at a
git revision) and what the spec compiles to. Bytes are compared first; only the files that
differ are read (from git: only their blobs), since a plan is about as fast as a build."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from meshgen.facts import ClusterFacts, read_cluster_facts
from meshgen.write import MANIFEST_NAME, could_generate, read_manifest, read_output


class PlanError(Exception):
    """The output to compare with cannot be read: `message` and `hint` for a diagnostic."""

    def __init__(self, message: str, hint: str) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)


def _owned(raw: bytes, where: str) -> tuple[set[str], dict[str, object]]:
    """The paths a committed manifest records, read as strictly as a build reads one, and
    what else it records of the build."""
    try:
        paths, record = read_manifest(raw)
        return set(paths), record
    except ValueError:
        raise PlanError(
            f"{where} is not a valid meshgen manifest",
            "rebuild the output with `meshgen build`, or compare with another revision",
        ) from None


class DiskOutput:
    """The files of the output directory that meshgen owns, read the way a build reads them
    (meshgen.write.read_output): whatever a build of `new` would refuse is refused here too
    (OutputConflict), symlinks are never followed and no file is larger than meshgen writes."""

    def __init__(self, out_dir: Path, new: Mapping[str, bytes]) -> None:
        self.root = out_dir
        self.label = str(out_dir)
        self._files, manifest = read_output(out_dir, new)
        self.paths: frozenset[str] = frozenset(self._files)
        self.facts: Mapping[str, ClusterFacts] | None = read_cluster_facts(manifest)

    def differing(self, new: Mapping[str, bytes]) -> set[str]:
        return {rel for rel, data in self._files.items() if rel in new and new[rel] != data}

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        return {rel: self._files[rel] for rel in paths}


class GitOutput:
    """The output committed at a git revision: `git ls-tree` for the files and their blob ids
    (compared with the ids of the compiled bytes, so equal files are never read), one
    `git cat-file --batch` for the blobs that differ."""

    def __init__(self, out_dir: Path, rev: str) -> None:
        top = _toplevel(out_dir)
        rel = os.path.relpath(os.path.realpath(out_dir), top)
        if rel == ".." or rel.startswith("../"):
            raise PlanError(
                f"{out_dir} is outside the git repository at {top}",
                "pass the output directory inside the repository with -o",
            )
        self.top = top
        self.rev = rev
        self.prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        self.label = f"{rev}:{self.prefix.rstrip('/') or '.'}"
        commit = _git(
            top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
        if commit.returncode != 0:
            raise PlanError(
                f"{rev!r} is not a revision of the git repository at {top}",
                "pass a branch, tag or commit that exists (`git fetch` it first in a shallow CI "
                "checkout, e.g. actions/checkout with fetch-depth: 0)",
            )
        self.commit = commit.stdout.decode().strip()
        listing = _git(
            top, "ls-tree", "-r", "-z", "--full-tree", self.commit, "--", self.prefix or "."
        )
        if listing.returncode != 0:
            raise PlanError(_first_line(listing.stderr), "check the revision and the -o path")
        self.blobs: dict[str, str] = {}
        for entry in listing.stdout.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            mode, kind, oid = meta.decode().split()
            name = path.decode("utf-8", errors="surrogateescape")
            if kind == "blob" and mode in ("100644", "100755") and name.startswith(self.prefix):
                self.blobs[name[len(self.prefix) :]] = oid
        if not self.blobs:
            raise PlanError(
                f"nothing at {self.label}: no output committed there",
                "build and commit the output first, or name the revision that has it",
            )
        manifest = self.blobs.get(MANIFEST_NAME)
        self.facts: Mapping[str, ClusterFacts] | None = None
        if manifest is not None:
            owned, record = _owned(self._cat([manifest])[manifest], f"{self.label}/{MANIFEST_NAME}")
            self.facts = read_cluster_facts(record)
        else:
            owned = {rel for rel in self.blobs if could_generate(rel)}
        self.paths = frozenset(rel for rel in owned if rel in self.blobs)

    def differing(self, new: Mapping[str, bytes]) -> set[str]:
        oid_of = _blob_id_sha256 if any(len(o) == 64 for o in self.blobs.values()) else _blob_id
        return {rel for rel in self.paths if rel in new and oid_of(new[rel]) != self.blobs[rel]}

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        wanted = {rel: self.blobs[rel] for rel in paths}
        contents = self._cat(sorted(set(wanted.values())))
        return {rel: contents[oid] for rel, oid in wanted.items()}

    def _cat(self, oids: list[str]) -> dict[str, bytes]:
        if not oids:
            return {}
        proc = subprocess.run(
            ["git", "-C", self.top, "cat-file", "--batch"],
            input="".join(f"{oid}\n" for oid in oids).encode(),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise PlanError(_first_line(proc.stderr), "check the git repository")
        out, data, pos = {}, proc.stdout, 0
        for oid in oids:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            if len(header) != 3:
                raise PlanError(f"git cannot read {oid}: {data[pos:end]!r}", "check the repository")
            size = int(header[2])
            out[oid] = data[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
        return out


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _blob_id_sha256(data: bytes) -> str:
    return hashlib.sha256(b"blob %d\0" % len(data) + data).hexdigest()


def _git(cwd: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", cwd, *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise PlanError(
            "git is not installed (not on PATH)", "install git to use --against"
        ) from None


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", errors="replace").strip()
    return text.splitlines()[0] if text else "git failed"


def _toplevel(out_dir: Path) -> str:
    """The work tree holding out_dir (or, when it does not exist, its nearest parent)."""
    probe = Path(os.path.abspath(out_dir))
    while not probe.is_dir() and probe != probe.parent:
        probe = probe.parent
    proc = _git(str(probe), "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise PlanError(
            f"{out_dir} is not in a git repository",
            "--against REV compares with the output committed in git; without it, "
            "meshgen plan compares with the output directory itself",
        )
    return os.path.realpath(proc.stdout.decode().strip())
