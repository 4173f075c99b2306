"""The control plane judges (tests/meshbox/): every example, built by meshgen, installed by
executing its runbook against real Kubernetes control planes, with each cluster's istiod the
release's own pilot-discovery, and the xDS its verify clients get checked against mesh.yaml.

Runs: every example at its own Istio minor (its last patch) and at 1.30.3, the seed at 1.10.6
(its own) and at a middle minor, 1.23.6, there also with the in-cluster operator. On two of
them, schema-valid but broken meshes are made and undone: each must fail the box with a
finding that names the cluster and the check, and the mesh must recover.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, ROOT
from tests.meshbox.launch import Job, Runs, unshare_argv

pytestmark = pytest.mark.tools

NEWEST = "1.30.3"
MIDDLE = "1.23.6"
SEED = "openshift-submariner"
SHARED = Path(os.environ.get("MESHGEN_SHARED", ROOT.parent / "shared"))


def _last_patch(version: str) -> str:
    minor = version.split(".")[1]
    found = sorted(p.name for p in SHARED.glob(f"istio-releases/1.{minor}.*"))
    return found[0] if len(found) == 1 else version


def own_release(example: str) -> str:
    data = yaml.safe_load(EXAMPLES[example].read_text())
    return _last_patch(data["spec"]["istio"]["version"])


# Schema-valid but broken meshes (tests/meshbox/breakages.py), each made on a healthy box
# and undone: (example, release, case, the check that must fail, the cluster it must name).
NEGATIVES: list[tuple[str, str, str, str, str]] = [
    (SEED, NEWEST, "placeholders-applied", "endpoints", "cluster1"),
    (SEED, NEWEST, "remote-secret-misnamed", "endpoints", "cluster1"),
    (SEED, NEWEST, "duplicate-cluster-name", "endpoints", "cluster2"),
    (SEED, NEWEST, "route-to-missing-subset", "answer", "cluster1"),
    (
        "kubernetes-three-clusters",
        NEWEST,
        "rules-missing-in-client-cluster",
        "destination-rule",
        "central",
    ),
]


def jobs() -> list[Job]:
    runs: dict[tuple[str, str], list[str]] = {}
    for name in EXAMPLES:
        for release in (own_release(name), NEWEST):
            runs.setdefault((name, release), [])
    runs.setdefault((SEED, MIDDLE), [])
    for example, release, case, _, _ in NEGATIVES:
        runs[(example, release)].append(case)
    jobs = [Job(EXAMPLES[e], r, tuple(cases)) for (e, r), cases in runs.items()]
    # The one installer no example uses: the in-cluster operator (Istio <= 1.23).
    return [*jobs, Job(EXAMPLES[SEED], MIDDLE, installer="operator")]


JOBS = jobs()


def _job(example: str, release: str) -> Job:
    return next(j for j in JOBS if j.example == EXAMPLES[example] and j.release == release)


def _binaries(job: Job) -> list[Path]:
    """What a run needs: Kubernetes (1.21's for Istio 1.10), and of every release the mesh
    runs (its revisions') pilot-discovery and the sidecar, of the newest also istioctl."""
    from tests.meshbox.box import kubernetes_for, retarget

    bin_dir = ROOT / ".tools" / "bin"
    suffix = "-1.21" if kubernetes_for(job.release) == "1.21" else ""
    names = [
        f"{c}{suffix}" for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    names += ["kwok", "etcd", "kubectl", "helm", f"istioctl-{job.release}"]
    istio = retarget(yaml.safe_load(job.example.read_text()), job.release, job.installer)
    istio = istio["spec"]["istio"]
    for release in {r["version"] for r in istio.get("revisions", [])} or {job.release}:
        names += [f"pilot-discovery-{release}", f"meshbox-sidecar-{release}"]
    return [bin_dir / n for n in sorted(set(names))]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    if unshare_argv() is None:
        message = "the mesh box needs network namespaces (unshare --net) and ip (iproute2)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is missing: the Istio releases (docs/development.md)")
    ready = [j for j in JOBS if all(p.exists() for p in _binaries(j))]
    pool = Runs(ready, tmp_path_factory.mktemp("meshbox"))
    yield pool
    pool.close()


def _result(runs: Runs, job: Job) -> dict[str, Any]:
    missing = [p.name for p in _binaries(job) if not p.exists()]
    if missing:
        message = f"not built: {', '.join(missing)} (scripts/install-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return runs.result(job)


def _failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{f['check']} in {f['cluster']}: {f['subject']}: {f['detail']}"
        for f in report["findings"]
        if not f["ok"]
    ]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_the_mesh_works_as_mesh_yaml_says(runs: Runs, job: Job) -> None:
    report = _result(runs, job)
    assert not report["error"], report["error"]
    assert report["findings"], "no check ran"
    assert _failures(report) == []
    # Nothing is skipped silently: every line ran, or says why not.
    for line in report["lines"]:
        assert line["outcome"].startswith("ran") or line["reason"], line


@pytest.mark.parametrize(
    ("example", "release", "case", "check", "cluster"),
    NEGATIVES,
    ids=[n[2] for n in NEGATIVES],
)
def test_a_broken_mesh_fails_the_box_and_recovers(
    runs: Runs, example: str, release: str, case: str, check: str, cluster: str
) -> None:
    report = _result(runs, _job(example, release))
    assert not report["error"], report["error"]
    tried = {m["name"]: m for m in report["mistakes"]}
    assert case in tried, f"{case} was not tried: {_failures(report)}"
    mistake = tried[case]
    failed = [(f["check"], f["cluster"]) for f in mistake["failed"]]
    assert (check, cluster) in failed, f"{case} did not fail {check} in {cluster}: {failed}"
    assert mistake["recovered"], f"not healthy again once undone: {mistake['still_failing']}"
