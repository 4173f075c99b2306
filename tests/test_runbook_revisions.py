"""The runbook of a canary upgrade, state by state (issue 14).

A spec with `istio.revisions` is a state in the middle of an upgrade: each file of
examples/canary-upgrade/steps/ is one. In every state, and for every installer, a cluster
restarts only the namespaces whose tag points at the canary there, and removes an old revision
only when none of its tags points at it; a cluster whose tags still point at the old revision
installs and verifies the canary and is told to move them. With Helm every list of commands
upgrades the istiod releases oldest revision first (the release that loses a tag drops its
webhook before the one that gains it creates it), and so do Flux (dependsOn) and Argo CD (sync
waves). The sh blocks are read with the shell lexer of tests/test_injection.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.render import render
from meshgen.spec import Mesh
from meshgen.versions import parse
from tests.helpers import ROOT, mesh_from
from tests.test_injection import sh_blocks, shell_commands

STEPS = sorted((ROOT / "examples" / "canary-upgrade" / "steps").glob("*.yaml"))
CANARY = "#### Canary upgrade"
GITOPS = {"repoURL": "https://github.com/example/mesh.git"}
# Sail 1.25.2 runs Istio 1.21 to 1.25 (meshgen.versions.SAIL_RELEASES).
INSTALLERS = ["helm", "istioctl", "operator", "sail"]


def step_data(step: Path, installer: str = "helm", **spec: Any) -> dict[str, Any]:
    data = yaml.safe_load(step.read_text())
    assert isinstance(data, dict)
    data = copy.deepcopy(data)
    data["spec"]["istio"]["installer"] = installer
    data["spec"].update(spec)
    return data


def step_mesh(step: Path, installer: str = "helm", **spec: Any) -> Mesh:
    return mesh_from(step_data(step, installer, **spec))


def revisions(data: dict[str, Any]) -> list[dict[str, str]]:
    """istio.revisions, oldest first."""
    return sorted(data["spec"]["istio"]["revisions"], key=lambda r: parse(r["version"]))


def cluster_tags(data: dict[str, Any], cluster: dict[str, Any]) -> dict[str, str]:
    return {**data["spec"]["istio"].get("tags", {}), **cluster.get("tags", {})}


def canary_blocks(readme: str, clusters: list[str]) -> dict[str, str]:
    """The canary section's sh block of each cluster (one each, in the clusters' order)."""
    section = readme[readme.index(CANARY) :]
    section = section[: section.index("\n### ")]
    blocks = sh_blocks(section)
    assert len(blocks) == len(clusters)
    return dict(zip(clusters, blocks, strict=True))


def cluster_paragraph(readme: str, cluster: str) -> str:
    """The canary section's text about `cluster`: from its name to the next cluster's."""
    section = readme[readme.index(CANARY) :]
    start = section.index(f"`{cluster}`:")
    rest = section[start + 1 :]
    ends = [i for i in (rest.find("\n`cluster"), rest.find("\nOnce every cluster")) if i >= 0]
    return section[start : start + 1 + min(ends)]


TWO_REVISION_STEPS = [
    s for s in STEPS if len(yaml.safe_load(s.read_text())["spec"]["istio"]["revisions"]) > 1
]
ONE_REVISION_STEPS = [s for s in STEPS if s not in TWO_REVISION_STEPS]


def test_the_steps_cover_every_state() -> None:
    assert [s.stem for s in TWO_REVISION_STEPS] == [
        "01-canary-1.22",
        "02-cluster1-1.22",
        "03-cluster2-1.22",
        "05-canary-1.23",
        "06-cluster1-1.23",
        "07-cluster2-1.23",
    ]
    assert [s.stem for s in ONE_REVISION_STEPS] == ["00-start", "04-done-1.22", "08-done-1.23"]


@pytest.mark.parametrize("step", ONE_REVISION_STEPS, ids=lambda s: s.stem)
@pytest.mark.parametrize("installer", INSTALLERS)
def test_one_revision_has_no_canary_section(step: Path, installer: str) -> None:
    assert CANARY not in render(step_mesh(step, installer)).readme


@pytest.mark.parametrize("step", TWO_REVISION_STEPS, ids=lambda s: s.stem)
@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_cluster_removes_the_old_revision_only_once_its_tags_moved(
    step: Path, installer: str
) -> None:
    data = step_data(step, installer)
    old, new = (r["name"] for r in revisions(data))
    readme = render(mesh_from(data)).readme
    names = [c["name"] for c in data["spec"]["clusters"]]
    blocks = canary_blocks(readme, names)
    for cluster in data["spec"]["clusters"]:
        name = cluster["name"]
        block = blocks[name]
        argvs = shell_commands(block)
        restart = ["kubectl", "--context", name, "rollout", "restart", "deployment", "-n", "sample"]
        helm_delete = ["helm", "delete", f"istiod-{old}", "--kube-context", name]
        uninstall = ["istioctl", "uninstall", "--context", name, "--revision", old, "-y"]
        sail_delete = f"# {old}: the Sail Operator deletes it once unused"
        removals = [a for a in argvs if a[:5] == helm_delete or a == uninstall]
        text = cluster_paragraph(readme, name)
        # Every cluster installs the canary and checks both istiod first.
        assert [
            "kubectl", "--context", name, "get", "pods", "-n", "istio-system",
            "-l", "app=istiod", "-L", "istio.io/rev",
        ] in argvs  # fmt: skip
        assert ["istioctl", "--context", name, "proxy-status"] in argvs
        if cluster_tags(data, cluster)["prod"] == old:
            assert restart not in argvs, (step.stem, name)
            assert removals == [], (step.stem, name)
            assert sail_delete not in block
            assert (
                f"Tag `prod` still points at `{old}` in this cluster: move it in mesh.yaml "
                "(`clusters[].tags`) when the canary is verified, build, and apply again."
            ) in text
        else:
            assert cluster_tags(data, cluster)["prod"] == new
            assert restart in argvs, (step.stem, name)
            assert "still point" not in text
            if installer == "helm":
                assert argvs[-1][:5] == helm_delete
            elif installer == "sail":
                assert block.splitlines()[-1].startswith(sail_delete)
            else:
                assert uninstall in argvs
            # The restart comes before the removal.
            if installer != "sail":
                assert argvs.index(restart) < argvs.index(removals[0])


@pytest.mark.parametrize("step", TWO_REVISION_STEPS, ids=lambda s: s.stem)
@pytest.mark.parametrize("installer", ["istioctl", "operator"])
def test_istioctl_sets_each_clusters_tags_after_the_check(step: Path, installer: str) -> None:
    data = step_data(step, installer)
    names = [c["name"] for c in data["spec"]["clusters"]]
    blocks = canary_blocks(render(mesh_from(data)).readme, names)
    for cluster in data["spec"]["clusters"]:
        name = cluster["name"]
        argvs = shell_commands(blocks[name])
        tag_sets = [a for a in argvs if a[:3] == ["istioctl", "tag", "set"]]
        context = ["--context", name]
        assert tag_sets == [
            ["istioctl", "tag", "set", tag, "--revision", rev, "--overwrite", *context, "-y"]
            for tag, rev in sorted(cluster_tags(data, cluster).items())
        ]
        check = argvs.index(["istioctl", "--context", name, "proxy-status"])
        assert all(argvs.index(t) > check for t in tag_sets)


def helm_istiod_versions(readme: str) -> list[list[str]]:
    """For each sh block and kube-context, the versions of the istiod releases that block
    upgrades there, in order."""
    found: list[list[str]] = []
    for block in sh_blocks(readme):
        by_context: dict[str, list[str]] = {}
        for argv in shell_commands(block):
            if argv[:3] == ["helm", "upgrade", "--install"] and argv[4] == "istiod":
                context = argv[argv.index("--kube-context") + 1]
                by_context.setdefault(context, []).append(argv[argv.index("--version") + 1])
        found.extend(by_context.values())
    return found


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.stem)
def test_helm_upgrades_the_istiod_releases_oldest_first(step: Path) -> None:
    data = step_data(step)
    readme = render(mesh_from(data)).readme
    lists = helm_istiod_versions(readme)
    everything = [r["version"] for r in revisions(data)]
    clusters = len(data["spec"]["clusters"])
    # The install block, and with two revisions the canary block of each cluster.
    assert lists == [everything] * (clusters * (2 if len(everything) > 1 else 1))
    # base and cni come before every istiod.
    for block in sh_blocks(readme):
        upgrades = [a for a in shell_commands(block) if a[:3] == ["helm", "upgrade", "--install"]]
        releases = [a[3] for a in upgrades]
        if releases:
            assert releases[:2] == ["istio-base", "istio-cni"]
    if len(everything) > 1:
        assert "not injected" in readme[readme.index(CANARY) :]


def test_helm_moving_tag_is_dropped_before_it_is_created() -> None:
    """In cluster1 of step 02, tag prod moves from 1-21-6 to 1-22-8: the release that drops
    it (istiod-1-21-6, whose values no longer list it) is upgraded before the one that lists
    it."""
    (step,) = [s for s in STEPS if s.stem == "02-cluster1-1.22"]
    mesh = step_mesh(step)
    files = {f.path: f for f in render(mesh).files}
    (old,) = files["cluster1/istio/helm/istiod-1-21-6.values.yaml"].documents
    (new,) = files["cluster1/istio/helm/istiod-1-22-8.values.yaml"].documents
    assert "revisionTags" not in old
    assert new["revisionTags"] == ["prod"]
    (block,) = [b for b in sh_blocks(render(mesh).readme) if "# 1. the canary" in b][:1]
    releases = [a[3] for a in shell_commands(block) if a[:2] == ["helm", "upgrade"]]
    assert releases == ["istio-base", "istio-cni", "istiod-1-21-6", "istiod-1-22-8"]


# --- GitOps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.stem)
def test_flux_newer_istiod_depends_on_older(step: Path) -> None:
    data = step_data(step, gitops={"engine": "flux", **GITOPS})
    files = {f.path: f for f in render(mesh_from(data)).files}
    istiods = [f"istiod-{r['name']}" for r in revisions(data)]
    for cluster in data["spec"]["clusters"]:
        docs = [
            *files[f"gitops/flux/istio/{cluster['name']}/helmreleases.yaml"].documents,
            *files[f"gitops/flux/istiod/{cluster['name']}/helmreleases.yaml"].documents,
        ]
        releases = {d["metadata"]["name"]: d["spec"] for d in docs}
        assert list(releases) == ["istio-base", "istio-cni", *istiods]
        for i, istiod in enumerate(istiods):
            assert releases[istiod]["dependsOn"] == [
                {"name": name} for name in ["istio-base", "istio-cni", *istiods[:i]]
            ]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.stem)
def test_argocd_waves_order_istiod_oldest_first(step: Path) -> None:
    data = step_data(step, gitops={"engine": "argocd", **GITOPS})
    files = {f.path: f for f in render(mesh_from(data)).files}
    istiods = [f"istiod-{r['name']}" for r in revisions(data)]
    for cluster in data["spec"]["clusters"]:
        name = cluster["name"]
        waves = {
            d["metadata"]["name"]: int(d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
            for d in files[f"gitops/argocd/{name}.yaml"].documents
        }
        expected = {
            f"{name}-istio-base": 0,
            f"{name}-istio-cni": 1,
            f"{name}-mesh": 2,  # the root of trust before any istiod (render/gitops.py)
            **{f"{name}-{istiod}": 3 + i for i, istiod in enumerate(istiods)},
            f"{name}-traffic": 3 + len(istiods),
        }
        assert waves == expected
