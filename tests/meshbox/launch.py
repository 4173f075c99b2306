"""Start box runs, each in network and mount namespaces of its own (`unshare`): there every pod
CIDR of its mesh is local, so each istiod listens on its pod's IP, runs cannot see each
other's addresses, and nothing is left on the machine when a run's processes end.

As root `unshare --net --mount`; otherwise with a user namespace (`--map-root-user`), which
most Linux distributions allow unprivileged users.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import ROOT

# A run takes about a minute of mostly waiting (installs, readiness); two cores hold three.
PARALLEL = int(os.environ.get("MESHBOX_PARALLEL", "3"))
_SPAWN = threading.Lock()
TIMEOUT = 900.0


def unshare_argv() -> list[str] | None:
    """The unshare prefix, or None where namespaces cannot be made here."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None:
        return None
    argv = [unshare, "--net", "--mount"]
    if os.geteuid() != 0:
        argv.insert(1, "--map-root-user")
    probe = subprocess.run(
        [*argv, "--", "ip", "link", "set", "lo", "up"], capture_output=True, check=False
    )
    return argv if probe.returncode == 0 else None


@dataclass(frozen=True)
class Job:
    example: Path
    release: str
    # Cases of tests/meshbox/breakages.py made (and undone) once the mesh is checked healthy.
    mistakes: tuple[str, ...] = ()
    installer: str | None = None  # another installer than the example's

    @property
    def name(self) -> str:
        tail = f"-{self.installer}" if self.installer else ""
        return f"{self.example.parent.name}-{self.release}{tail}"


def launch(job: Job, workdir: Path) -> dict[str, Any]:
    """One run to its end; its report (report.json), or an error report."""
    prefix = unshare_argv()
    if prefix is None:
        raise RuntimeError("cannot create network namespaces here (unshare --net)")
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        *prefix,
        "--",
        sys.executable,
        "-m",
        "tests.meshbox",
        str(job.example),
        job.release,
        str(workdir),
    ]
    if job.mistakes:
        argv += ["--mistakes", ",".join(job.mistakes)]
    if job.installer:
        argv += ["--installer", job.installer]
    with (workdir / "run.log").open("wb") as log:
        # One spawn at a time: forking from several threads at once failed here once with
        # EFAULT ("[Errno 14] Bad address") in the child's exec.
        with _SPAWN:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
    report = workdir / "report.json"
    if proc.returncode != 0 or not report.exists():
        tail = (workdir / "run.log").read_text(errors="replace")[-3000:]
        return {"error": f"the box exited {proc.returncode}:\n{tail}", "findings": [], "lines": []}
    result: dict[str, Any] = json.loads(report.read_text())
    return result


class Runs:
    """Every job started at once, PARALLEL at a time; `result(job)` waits for one."""

    def __init__(self, jobs: list[Job], root: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL)
        self._futures: dict[Job, Future[dict[str, Any]]] = {
            job: self._pool.submit(launch, job, root / job.name) for job in jobs
        }

    def result(self, job: Job) -> dict[str, Any]:
        return self._futures[job].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
