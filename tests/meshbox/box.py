"""One run of the mesh box: an example at an Istio release, built by the real meshgen CLI,
installed by executing its runbook against real Kubernetes control planes (tests/meshbox/kube.py),
each cluster's istiod pods run as that release's own pilot-discovery (istiod.py), and the
xDS of the runbook's verify clients checked against what mesh.yaml says (checks.py).

`run()` must run inside a network namespace of its own where every pod CIDR of the mesh is
local (`python -m tests.meshbox`, started by launch.py, sets that up), so that istiod listens
on its pod's IP as in a cluster.
"""

from __future__ import annotations

import copy
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshgen.render import render
from meshgen.render.runbook.model import ISTIO_RELEASE_DIR, Commands, Runbook
from meshgen.spec import Mesh
from tests.helpers import ROOT, mesh_from
from tests.meshbox import breakages, checks, netns
from tests.meshbox.istiod import Kubelet
from tests.meshbox.kube import Box, ClusterSpec
from tests.meshbox.runbook import (
    NO_GITOPS,
    Hooks,
    LineRecord,
    Policy,
    Shell,
    execute,
    run_block,
)
from tests.meshbox.standins import StandIns

BIN = ROOT / ".tools" / "bin"
SHARED = Path(os.environ.get("MESHGEN_SHARED", ROOT.parent / "shared"))


def kubernetes_for(release: str) -> str:
    """The Kubernetes the box runs for an Istio release (scripts/install-apiserver builds
    both): 1.34, but 1.21 for Istio 1.10 and 1.11, which install policy/v1beta1 and
    autoscaling/v2beta1 objects, gone from Kubernetes 1.25 (they support 1.18-1.22:
    https://istio.io/latest/docs/releases/supported-releases/)."""
    return "1.21" if _minor(release) <= 11 else "1.34"


@dataclass
class Report:
    example: str
    release: str
    breakage: str | None
    lines: list[LineRecord] = field(default_factory=list)
    standins: list[LineRecord] = field(default_factory=list)
    findings: list[checks.Finding] = field(default_factory=list)
    # Per mistake (breakages.py): what it did, the findings that failed with it, and whether
    # every check passed again once it was undone.
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


# --- the spec, at the release ------------------------------------------------------------


def last_patch(minor: int) -> str:
    found = sorted(SHARED.glob(f"istio-releases/1.{minor}.*"))
    if len(found) != 1:
        raise RuntimeError(f"no single Istio 1.{minor} release in {SHARED}/istio-releases")
    return found[0].name


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def retarget(data: dict[str, Any], release: str, installer: str | None = None) -> dict[str, Any]:
    """The example at `release`: istio.version (with revisions, each moved by as many minors,
    to its minor's last patch, names following), the clusters told the Kubernetes version
    they run in the box, and `installer` if given."""
    data = copy.deepcopy(data)
    spec = data["spec"]
    istio = spec["istio"]
    if installer is not None:
        istio["installer"] = installer
    shift = _minor(release) - _minor(istio["version"])
    renamed: dict[str, str] = {}
    for revision in istio.get("revisions", []):
        version = last_patch(_minor(revision["version"]) + shift)
        new = version.replace(".", "-")
        if revision["name"] == revision["version"].replace(".", "-"):
            renamed[revision["name"]] = new
            revision["name"] = new
        revision["version"] = version
    istio["version"] = release
    for holder in [istio, *spec["clusters"]]:
        tags = holder.get("tags") or {}
        for tag, target in list(tags.items()):
            tags[tag] = renamed.get(target, target)
    for cluster in spec["clusters"]:
        cluster["kubernetesVersion"] = kubernetes_for(release)
    return data


def releases_of(mesh: Mesh) -> list[str]:
    """Every Istio release the mesh runs (its revisions', or its version)."""
    istio = mesh.spec.istio
    return sorted({r.version for r in istio.revisions} or {istio.version}, key=_minor)


# --- tools -------------------------------------------------------------------------------


def release_binary(name: str, release: str) -> Path:
    path = BIN / f"{name}-{release}"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: scripts/install-istioctl-releases builds it (its TAGS)"
        )
    return path


def tool_dir(directory: Path, istioctl_release: str) -> Path:
    """A directory of links, first on PATH: `istioctl` of the release, kubectl and helm."""
    directory.mkdir(parents=True, exist_ok=True)
    links = {
        "istioctl": release_binary("istioctl", istioctl_release),
        "kubectl": BIN / "kubectl",
        "helm": BIN / "helm",
    }
    for name, target in links.items():
        link = directory / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return directory


def istio_release_dir(workdir: Path, release: str) -> Path:
    """The top directory of the Istio release, as the runbook's certificate step expects it:
    tools/certs (Makefile.selfsigned.mk) from the tagged source."""
    top = workdir / f"istio-{release}"
    if (top / "tools" / "certs").is_dir():
        return top
    with tarfile.open(SHARED / "istio-src" / f"istio-{release}.tar.xz") as archive:
        members = [m for m in archive.getmembers() if "/tools/certs/" in m.name and m.isfile()]
        archive.extractall(workdir, members=members, filter="data")
    return top


# The images of a source tree's values (gcr.io/istio-testing, registry.istio.io/testing).
_TESTING_HUB = re.compile(r"(?m)^(\s*)hub: \S*istio\S*testing\S*$")
_LATEST_TAG = re.compile(r"(?m)^(\s*)tag: latest$")


@contextmanager
def helm_repository(workdir: Path, releases: list[str]) -> Iterator[str]:
    """Istio's chart repository for `releases`, served on loopback: each release's charts
    (MESHGEN_SHARED/istio-releases, as tagged) packaged as Istio's release process publishes
    them: the release as chart and app version, and the release's images (the tree's values
    name a testing registry and `latest`, the published ones docker.io/istio and the
    release), and indexed."""
    repo = workdir / "charts"
    repo.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(workdir / "helm-home")}
    for release in releases:
        charts = SHARED / "istio-releases" / release / "charts"
        for chart in ("base", "istio-control/istio-discovery", "istio-cni", "gateway", "ztunnel"):
            if not (charts / chart / "Chart.yaml").exists():
                continue
            copy = workdir / "chart-src" / release / chart
            shutil.copytree(charts / chart, copy, dirs_exist_ok=True)
            values = copy / "values.yaml"
            text = _TESTING_HUB.sub(r"\1hub: docker.io/istio", values.read_text())
            values.write_text(_LATEST_TAG.sub(rf"\g<1>tag: {release}", text))
            argv = [str(BIN / "helm"), "package", str(copy), "--version", release]
            argv += ["--app-version", release, "-d", str(repo)]
            subprocess.run(argv, env=env, check=True, capture_output=True)
    subprocess.run(
        [str(BIN / "helm"), "repo", "index", str(repo)], env=env, check=True, capture_output=True
    )
    handler = functools.partial(_QuietHandler, directory=str(repo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- the run -----------------------------------------------------------------------------


@dataclass
class Run:
    """Everything of one run, for the stand-ins, the breakages and the checks."""

    example: str
    release: str
    workdir: Path
    data: dict[str, Any]
    mesh: Mesh
    runbook: Runbook
    out: Path
    box: Box | None = None
    kubelets: dict[str, Kubelet] = field(default_factory=dict)
    report: Report | None = None

    def sync_pods(self, wait: bool = True) -> None:
        """Run the istiod pods KWOK runs; with `wait`, until each is ready (before checks).
        Between runbook lines the box does not wait: istiod starts as in a cluster, while
        the person goes on (a pod created before the injector answers is retried by its
        ReplicaSet)."""
        for kubelet in self.kubelets.values():
            kubelet.sync(wait=False)
        if wait:
            for kubelet in self.kubelets.values():
                kubelet.sync(wait=True)


def _is_cleanup(block: Commands) -> bool:
    argvs = [[str(w) for w in c.argv] for line in block.lines for c in line.commands()]
    return bool(argvs) and all(a[:2] == ["kubectl", "--context"] and "delete" in a for a in argvs)


def prepare(example: Path, release: str, workdir: Path, installer: str | None = None) -> Run:
    """The example at `release`, built by the real CLI into workdir/out."""
    data = retarget(yaml.safe_load(example.read_text()), release, installer)
    spec = workdir / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    out = workdir / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "meshgen", "build", str(spec), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=workdir,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"meshgen build of {example} at {release}: {proc.stderr}")
    mesh = mesh_from(data)
    rendered = render(mesh)
    assert rendered.runbook is not None
    readme = (out / "README.md").read_text()
    # The data the box executes is what README.md shows (README's first line: the header).
    assert readme.split("\n", 2)[2] == rendered.readme, "README.md is not the runbook's Markdown"
    return Run(example.parent.name, release, workdir, data, mesh, rendered.runbook, out)


def run(
    example: Path,
    release: str,
    workdir: Path,
    mistakes: list[str] | None = None,
    installer: str | None = None,
) -> Report:
    """One run: the clusters up, the runbook executed, the checks, the mistakes, the
    runbook's cleanup; every failure is in the report, with what ran before it."""
    started = time.monotonic()
    report = Report(example.parent.name, release, ",".join(mistakes or []) or None)
    box_run = prepare(example, release, workdir, installer)
    box_run.report = report
    releases = releases_of(box_run.mesh)
    with (
        Box(
            workdir / "box", _cluster_specs(box_run), kubernetes=kubernetes_for(releases[0])
        ) as box,
        helm_repository(workdir, releases) as repo,
    ):
        box_run.box = box
        report.timings["kubernetes"] = round(time.monotonic() - started, 1)
        for cluster in box.clusters:
            box_run.kubelets[cluster.name] = Kubelet(
                cluster.name,
                cluster.api,
                functools.partial(_pilot_for, releases),
                workdir / "pods",
            )
        try:
            _prerequisites(box_run)
            policy, shell = _shell(box_run, repo, releases[-1])
            standins = StandIns(box_run, repo, shell.env)
            report.standins = standins.records
            hooks = _hooks(box_run, standins, shell)
            records, held = execute(box_run.runbook, policy, shell, hooks, stop_before=_is_cleanup)
            report.lines.extend(records)
            hooks.before_line()
            box_run.sync_pods()
            report.findings.extend(
                checks.Finding("gitops", cluster, "sync", False, waiting)
                for cluster, _, waiting in (p.partition(": ") for p in standins.gitops_pending())
            )
            report.timings["runbook"] = round(time.monotonic() - started, 1)
            report.findings.extend(checks.run_all(box_run))
            report.timings["checks"] = round(time.monotonic() - started, 1)
            if all(f.ok for f in report.findings):
                for name in mistakes or []:
                    mistake = breakages.CASES[name](box_run)
                    report.mistakes.append(_try(box_run, mistake, policy, shell, hooks))
                report.timings["mistakes"] = round(time.monotonic() - started, 1)
            # The runbook's last lines remove the test workloads: run them after the checks.
            for title, block in held:
                report.lines.extend(run_block(title, block, policy, shell, hooks))
        except Exception:  # reported, with what ran so far
            report.error = traceback.format_exc()
        finally:
            for kubelet in box_run.kubelets.values():
                kubelet.stop_all()
    report.timings["total"] = round(time.monotonic() - started, 1)
    return report


def _cluster_specs(box_run: Run) -> list[ClusterSpec]:
    """The simulated clusters, as the spec has them; an `apiServer` URL's host resolves to
    the address its API server listens on."""
    specs = []
    names: dict[str, str] = {}
    for i, c in enumerate(box_run.mesh.spec.clusters):
        address = "127.0.0.1"
        if c.api_server:
            address = netns.api_address(i)
            names[str(urllib.parse.urlsplit(c.api_server).hostname)] = address
        specs.append(
            ClusterSpec(
                c.name,
                str(c.pod_cidr[0]),
                str(c.service_cidr[0]),
                c.region,
                c.zone,
                api_server=c.api_server,
                address=address,
            )
        )
    netns.resolve(names, box_run.workdir)
    return specs


def _hooks(box_run: Run, standins: StandIns, shell: Shell) -> Hooks:
    """Before each line the istiod pods and the stand-ins; the person's inputs after the
    lines that make them."""

    def before_line() -> None:
        box_run.sync_pods(wait=False)
        standins.sync()

    def after_block(block: Commands, records: list[LineRecord]) -> None:
        if block.cwd == ISTIO_RELEASE_DIR:
            standins.certificates_made(shell.release_dir / "certs")
        if any(r.reason == NO_GITOPS for r in records):
            standins.gitops()

    return Hooks(before_line, standins.printed, after_block)


def _try(
    box_run: Run, mistake: breakages.Mistake, policy: Policy, shell: Shell, hooks: Hooks
) -> dict[str, Any]:
    """Make the mistake, wait for the checks to see it (the expected check failing in its
    cluster), undo it, wait for every check to pass again."""
    title = f"mistake: {mistake.name}"
    lines = run_block(title, Commands(tuple(mistake.make)), policy, shell, hooks)
    failed = _until(
        box_run,
        lambda fs: any(
            not f.ok and f.check == mistake.check and f.cluster == mistake.cluster for f in fs
        ),
    )
    lines += run_block(f"undo {title}", Commands(tuple(mistake.undo)), policy, shell, hooks)
    after = _until(box_run, lambda fs: all(f.ok for f in fs), timeout=90)
    return {
        "name": mistake.name,
        "what": mistake.what,
        "check": mistake.check,
        "cluster": mistake.cluster,
        "lines": [asdict(r) for r in lines],
        "failed": [asdict(f) for f in failed if not f.ok],
        "recovered": all(f.ok for f in after),
        "still_failing": [asdict(f) for f in after if not f.ok],
    }


def _until(
    box_run: Run, done: Callable[[list[checks.Finding]], bool], timeout: float = 45.0
) -> list[checks.Finding]:
    """The checks, again and again (istiod pushes within seconds) until `done` says so."""
    deadline = time.monotonic() + timeout
    while True:
        box_run.sync_pods()
        try:
            findings = checks.run_all(box_run)
        except AssertionError as error:  # an istiod restarting, say: not there yet
            findings = [checks.Finding("xds", "", "", False, str(error))]
        if done(findings) or time.monotonic() > deadline:
            return findings
        time.sleep(1.0)


def _pilot_for(releases: list[str], image: str) -> Path:
    """pilot-discovery of the release the pod's image names (its tag), else the newest."""
    tag = image.rsplit(":", 1)[-1]
    match = re.match(r"\d+\.\d+\.\d+", tag)
    release = match.group(0) if match and match.group(0) in releases else releases[-1]
    return release_binary("pilot-discovery", release)


def _prerequisites(box_run: Run) -> None:
    """What the clusters have before the runbook starts, besides Kubernetes: the CRDs of the
    platform pieces the runbook does not install with a command (OpenShift's Multus, the
    Submariner operator, the Sail Operator, the External Secrets Operator, the GitOps
    engine). Nothing Istio: the runbook's installer brings that."""
    from tests.meshbox import platform

    platform.install_crds(box_run)


def _shell(box_run: Run, repo: str, istioctl_release: str) -> tuple[Policy, Shell]:
    """How the runbook's lines run: in bash with the release's tools first on PATH, the box's
    kubeconfig, a HOME of their own."""
    assert box_run.box is not None
    workdir = box_run.workdir
    tools = tool_dir(workdir / "bin", istioctl_release)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{tools}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "KUBECONFIG": str(box_run.box.kubeconfig),
        "LANG": "C.UTF-8",
    }
    policy = Policy(
        nodes={c.name: c.node_names()[0] for c in box_run.box.clusters},
        helm_repository=repo,
    )
    shell = Shell(box_run.out, istio_release_dir(workdir, istioctl_release), env, workdir / "sh")
    return policy, shell
