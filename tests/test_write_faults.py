"""Fault injection, after SQLite's I/O-error tests (https://www.sqlite.org/testing.html#i_o_error_testing):
the writer's Nth file-system call fails, for every N over a build of each example, and the
tree must come out exactly as it was (exit 1, MG907) with nothing left behind; the next
build, unfailed, must converge. The same with kill -9 at the Nth call.

The calls counted are every `os` function the writer uses to change or read the tree (open,
write, rename, link, unlink, mkdir, rmdir, fsync, fchmod) and its sync_file_range. The failing errno
cycles through ENOSPC, EIO, EACCES and EROFS with N."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from meshgen.layout import REMOTE_SECRETS_DIR
from meshgen.pipeline import compile_spec
from meshgen.write import (
    TEMP_PREFIX,
    OutputConflict,
    apply,
    check_output,
    compare,
    lock,
    manifest,
    model,
    planning,
    write_output,
)
from meshgen.write import fs as write_fs
from tests.helpers import EXAMPLES

WRITER_MODULES = (apply, compare, lock, manifest, model, planning, write_fs)
COUNTED = ("open", "write", "rename", "link", "unlink", "mkdir", "rmdir", "fsync", "fchmod")
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EACCES, errno.EROFS)
USER_FILES = {"notes.md": b"mine\n", "ci/pipeline.yaml": b"steps: []\n"}

Tree = dict[str, tuple[str, int, bytes]]


class Faults:
    """Counts the writer's file-system calls; `at(n)` makes the nth fail (or `kill` it)."""

    def __init__(self) -> None:
        self.count = 0
        self.fail_at = 0
        self.persistent = False
        self.kill = False

    def hit(self, name: str, args: tuple[Any, ...]) -> None:
        self.count += 1
        if self.fail_at and (
            self.count == self.fail_at or (self.persistent and self.count > self.fail_at)
        ):
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            code = ERRNOS[self.fail_at % len(ERRNOS)]
            where = args[0] if args and isinstance(args[0], str) else None
            raise OSError(code, os.strerror(code), where)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    counter = Faults()
    proxy = types.SimpleNamespace()
    for name in dir(os):
        setattr(proxy, name, getattr(os, name))
    for name in COUNTED:
        setattr(proxy, name, _counted(counter, name, getattr(os, name)))
    # Every module of the writer package calls `os` through its own global.
    for module in WRITER_MODULES:
        monkeypatch.setattr(module, "os", proxy)
    # The durability barriers' own calls go through the proxy; sync_file_range counts too.
    real_writeout = write_fs._writeout

    def writeout(fd: int, *, wait: bool) -> None:
        counter.hit("sync_file_range", ())
        real_writeout(fd, wait=wait)

    monkeypatch.setattr(write_fs, "_writeout", writeout)
    return counter


def _counted(counter: Faults, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        counter.hit(name, args)
        return real(*args, **kwargs)

    return call


def tree(root: Path) -> Tree:
    """Every entry under root: kind, mode and (for files) content."""
    out: Tree = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory, name)
            st = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), b"")
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return out


def compiled(example: str) -> dict[str, bytes]:
    result = compile_spec(EXAMPLES[example], Path("out"))
    assert result.files is not None
    return result.files


def scenarios(
    files: Mapping[str, bytes],
) -> Iterator[tuple[str, dict[str, bytes], dict[str, bytes]]]:
    """(name, old output, new output): a cluster added, a cluster removed, files changed."""
    clusters = sorted(
        {rel.split("/")[0] for rel in files if "/" in rel} - {REMOTE_SECRETS_DIR, "gitops"}
    )
    last = clusters[-1]
    without = {rel: data for rel, data in files.items() if not rel.startswith(f"{last}/")}
    without["README.md"] = files["README.md"] + b"\n<!-- without the last cluster -->\n"
    changed = dict(files)
    for i, rel in enumerate(sorted(files)):
        if i % 3 == 0:
            changed[rel] = files[rel] + b"# changed\n"
    changed.pop(sorted(files)[1])
    yield "added-cluster", without, dict(files)
    yield "removed-cluster", dict(files), without
    yield "changed", dict(files), changed


def build(out: Path, files: Mapping[str, bytes]) -> OutputConflict | None:
    """write_output's refusal, or None when it wrote."""
    try:
        write_output(out, files)
    except OutputConflict as conflict:
        return conflict
    return None


def seeded(template: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target, symlinks=True)


def prepare(base: Path, old: Mapping[str, bytes], new: Mapping[str, bytes]) -> tuple[Path, Tree]:
    """A template of the old output with the user's files in it, and the tree the new
    output makes of it."""
    template = base / "template"
    write_output(template, old)
    for rel, data in USER_FILES.items():
        (template / rel).parent.mkdir(parents=True, exist_ok=True)
        (template / rel).write_bytes(data)
    expected = base / "expected"
    seeded(template, expected)
    write_output(expected, new)
    return template, tree(expected)


@dataclass
class Trial:
    """One build of a scenario with the Nth call failing, on a fresh copy of the old tree."""

    scenario: str
    n: int
    out: Path
    new: dict[str, bytes]
    before: Tree
    after: Tree
    done: bool = False  # set when the build made fewer than n calls: every call was tried


def trials(example: str, tmp_path: Path, faults: Faults) -> Iterator[Trial]:
    """Every N for every scenario of the example; the caller runs the build and sets
    `done` when it got through."""
    for name, old, new in scenarios(compiled(example)):
        base = tmp_path / name
        template, after = prepare(base, old, new)
        before = tree(template)
        n = 0
        while True:
            n += 1
            trial = Trial(name, n, base / "trial", new, before, after)
            seeded(template, trial.out)
            faults.count, faults.fail_at = 0, n
            yield trial
            faults.fail_at, faults.persistent, faults.kill = 0, False, False
            if trial.done:
                break
            for rel, data in USER_FILES.items():
                assert (trial.out / rel).read_bytes() == data
            write_output(trial.out, new)  # the next build, unfailed, converges
            assert tree(trial.out) == after, (name, n)
            assert not list(trial.out.rglob(f"{TEMP_PREFIX}*"))
        assert n > 20, (name, n)  # the build made that many calls: the loop covered them all


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_failing_call_leaves_the_tree_as_it_was(
    example: str, tmp_path: Path, faults: Faults
) -> None:
    tried = 0
    for trial in trials(example, tmp_path, faults):
        conflict = build(trial.out, trial.new)
        where = (trial.scenario, trial.n, conflict)
        if conflict is not None:
            assert conflict.code == "MG907", where
            assert tree(trial.out) == trial.before, where
            tried += 1
        else:
            # The failing call came after the commit (clean-up, retried) or not at all.
            assert tree(trial.out) == trial.after, where
            trial.done = faults.count < trial.n
            tried += not trial.done
    print(f"{example}: {tried} faults injected")


@pytest.mark.parametrize("example", ["kubernetes-three-clusters", "openshift-sail"])
def test_a_lasting_failure_is_reported_and_the_next_build_converges(
    example: str, tmp_path: Path, faults: Faults
) -> None:
    """Every call from the Nth on fails (a full disk that stays full): the undo may not
    get through, but the build says MG907, the user's files are intact, and once the cause is
    gone the next build completes the output."""
    for trial in trials(example, tmp_path, faults):
        faults.persistent = True
        conflict = build(trial.out, trial.new)
        faults.fail_at = 0
        where = (trial.scenario, trial.n, conflict)
        # A temporary file the failing disk would not let go of may stay (the next build
        # removes it); everything else is either the old tree, the new one, or journaled.
        now = {k: v for k, v in tree(trial.out).items() if not k.startswith(TEMP_PREFIX)}
        if conflict is None:
            assert now == trial.after, where
            trial.done = faults.count < trial.n
        elif conflict.partial:  # the undo failed too: the journal says so
            assert conflict.code == "MG907", where
            assert check_output(trial.out, trial.new).interrupted, where
        else:
            assert conflict.code == "MG907", where
            assert now == trial.before, where


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_kill_9_at_every_call_converges(example: str, tmp_path: Path, faults: Faults) -> None:
    """A build killed at its Nth call: --check does not call the tree fresh unless it is
    complete, and the next build converges with nothing left behind."""
    kills = 0
    for trial in trials(example, tmp_path, faults):
        faults.kill = True
        pid = os.fork()
        if pid == 0:  # the build, killed at its nth call
            code = 0
            try:
                write_output(trial.out, trial.new)
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        faults.fail_at = 0
        if not os.WIFSIGNALED(status):
            assert os.WEXITSTATUS(status) == 0
            assert tree(trial.out) == trial.after
            trial.done = True
            continue
        if check_output(trial.out, trial.new).clean:
            assert tree(trial.out) == trial.after, (trial.scenario, trial.n)
        kills += 1
    print(f"{example}: {kills} kills")
