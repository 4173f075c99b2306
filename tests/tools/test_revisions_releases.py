"""Control planes side by side (`istio.revisions`), judged by the released tools.

- helm: both istiod releases, each from its own release's chart, next to base and cni from
  the newest, render no two objects with the same kind, namespace and name, and every value
  meshgen writes into a revision's istiod values is read by that chart (the probe of
  test_helm_releases.py);
- kubeconform accepts every object of the operator and sail outputs with each revision's
  release CRDs (Sail: the release that accepts each version);
- `istioctl manifest generate` of the release accepts each revision's IstioOperator: both
  give a revisioned istiod, only the newest gives the CRDs and istio-cni, and the older one's
  injector keeps istio-init out (https://istio.io/latest/docs/setup/additional-setup/cni/#upgrading);
- the istioctl command tree: `istioctl tag` top level from 1.11, `istioctl uninstall` from 1.15
  (versions.TOP_LEVEL_TAG, TOP_LEVEL_UNINSTALL), read from the release source.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen import versions
from meshgen.render.helm import charts, helm_values
from tests.helpers import mesh_from
from tests.test_render_revisions import SAIL_REVISIONS, revisions_data
from tests.tooling import build, shared
from tests.tools.test_helm_releases import parse, template, unread_values
from tests.tools.test_istioctl_releases import generate, manifests
from tests.tools.test_kubeconform import conform_tree
from tests.tools.test_versions_releases import source_file

pytestmark = pytest.mark.tools

# (older, newer) last patches with a release folder; the newer one's istioctl is in .tools/bin
# where there is one.
HELM_PAIRS = [
    ("1.10.6", "1.11.8"),
    ("1.16.7", "1.17.8"),
    ("1.22.8", "1.23.6"),
    ("1.29.6", "1.30.3"),
]


def revisions(old: str, new: str) -> list[dict[str, str]]:
    return [{"name": v.replace(".", "-"), "version": v} for v in (old, new)]


def release_dir(version: str) -> Path:
    return shared("istio-releases", version)


@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
@pytest.mark.parametrize(("old", "new"), HELM_PAIRS)
def test_helm_releases_side_by_side(old: str, new: str, platform: str, tmp_path: Path) -> None:
    data = revisions_data("helm", revisions=revisions(old, new), platform=platform)
    if versions.parse(new) < (1, 17, 0):
        # One tag per release before 1.17 (versions.HELM_REVISION_TAGS_SEPARATED).
        data["spec"]["istio"]["tags"] = {"prod": revisions(old, new)[1]["name"]}
        data["spec"]["clusters"][0]["tags"] = {}
    mesh = mesh_from(data)
    values = helm_values(mesh, mesh.spec.clusters[0])
    seen: dict[tuple[str, str, str], str] = {}
    for chart in charts(mesh):
        # test_helm_releases locates a chart by its key: base, cni or istiod.
        as_chart = dataclasses.replace(chart, key=chart.chart)
        proc = template(release_dir(chart.version), as_chart, values[chart.key], tmp_path)
        assert proc.returncode == 0, (chart.release, proc.stderr)
        for doc in parse(proc.stdout):
            meta = doc["metadata"]
            key = (doc["kind"], meta.get("namespace", ""), meta["name"])
            assert key not in seen, f"{key} from {chart.release} and {seen[key]}"
            seen[key] = chart.release
    for rev in revisions(old, new):
        assert ("Deployment", "istio-system", f"istiod-{rev['name']}") in seen
    # The tags: one webhook each, from the release of the revision the tag points at.
    tag_hooks = {k[2]: r for k, r in seen.items() if k[2].startswith("istio-revision-tag-")}
    expected = {
        f"istio-revision-tag-{tag}": f"istiod-{target}"
        for tag, target in {**mesh.spec.istio.tags, **mesh.spec.clusters[0].tags}.items()
    }
    assert tag_hooks == expected


@pytest.mark.parametrize(("old", "new"), [("1.22.8", "1.23.6"), ("1.29.6", "1.30.3")])
def test_helm_every_revision_value_is_read(old: str, new: str, tmp_path: Path) -> None:
    mesh = mesh_from(revisions_data("helm", revisions=revisions(old, new)))
    values = helm_values(mesh, mesh.spec.clusters[0])
    unread = {}
    for chart in charts(mesh):
        if chart.chart == "istiod" or (chart.key == "base" and values["base"]):
            as_chart = dataclasses.replace(chart, key=chart.chart)
            unread[chart.key] = unread_values(
                release_dir(chart.version), as_chart, values[chart.key], tmp_path
            )
    assert unread == {key: [] for key in unread}


@pytest.mark.parametrize("installer", ["operator", "sail"])
def test_kubeconform_accepts_both_revisions(installer: str, tmp_path: Path) -> None:
    revs = SAIL_REVISIONS if installer == "sail" else revisions("1.22.8", "1.23.6")
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(revisions_data(installer, revisions=revs), sort_keys=False))
    build(spec, tmp_path / "out")
    for rev in revs:
        validated, emitted = conform_tree(tmp_path / "out", rev["version"])
        assert validated == emitted


def injector_values(objects: list[dict[str, Any]], revision: str) -> dict[str, Any]:
    (config,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and o["metadata"]["name"] == f"istio-sidecar-injector-{revision}"
    ]
    values: dict[str, Any] = json.loads(config["data"]["values"])
    return values


# (older, newer): the newer is a tag with a released istioctl in .tools/bin.
ISTIOCTL_PAIRS = [
    ("1.10.0", "1.10.6"),
    ("1.17.8", "1.18.7"),
    ("1.22.8", "1.23.6"),
]


def test_istioctl_from_1_24_drops_the_cni_value_of_a_revision_without_cni(
    tmp_path: Path,
) -> None:
    """versions.ISTIOCTL_CNI_FOLLOWS_COMPONENT, the reason MG309 refuses canary revisions from
    1.24 with installer istioctl: the released istioctl 1.30.3 renders an IstioOperator with
    components.cni.enabled false and values.pilot.cni.enabled true into an injector that
    adds istio-init (pilot.cni.enabled false), while 1.23.6 keeps the value."""
    for tag, kept in (("1.23.6", True), ("1.30.3", False)):
        iop = tmp_path / f"{tag}.yaml"
        iop.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "install.istio.io/v1alpha1",
                    "kind": "IstioOperator",
                    "metadata": {"name": "istio-old", "namespace": "istio-system"},
                    "spec": {
                        "revision": "old",
                        "components": {"cni": {"enabled": False}},
                        "values": {"pilot": {"cni": {"enabled": True}}},
                    },
                }
            )
        )
        values = injector_values(generate(tag, "-f", iop), "old")
        assert values["pilot"]["cni"]["enabled"] is kept, tag
        assert versions.release(tag).has(versions.ISTIOCTL_CNI_FOLLOWS_COMPONENT) is not kept


@pytest.mark.parametrize(("old", "new"), ISTIOCTL_PAIRS)
def test_istioctl_generates_each_revision(old: str, new: str, tmp_path: Path) -> None:
    revs = revisions(old, new)
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(revisions_data("istioctl", revisions=revs), sort_keys=False))
    build(spec, tmp_path / "out")
    generated: dict[str, list[dict[str, Any]]] = {}
    for rev in revs:
        iop = tmp_path / "out" / "cluster1" / "istio" / f"istio-operator-{rev['name']}.yaml"
        generated[rev["name"]] = generate(new, "-f", iop)
    older, newer = (generated[r["name"]] for r in revs)
    for name, objects in generated.items():
        kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
        assert ("Deployment", f"istiod-{name}") in kinds
    assert any(o["kind"] == "CustomResourceDefinition" for o in newer)
    assert not any(o["kind"] == "CustomResourceDefinition" for o in older)
    assert any(
        o["kind"] == "DaemonSet" and o["metadata"]["name"] == "istio-cni-node" for o in newer
    )
    assert not any(o["kind"] == "DaemonSet" for o in older)
    # The older one's injector still skips istio-init: the CNI is there (from the newest).
    cni_key = "pilot" if versions.release(new).has(versions.HELM_PILOT_CNI_VALUE) else "istio_cni"
    values = injector_values(older, revs[0]["name"])
    cni = values[cni_key]["cni"] if cni_key == "pilot" else values[cni_key]
    assert cni["enabled"] is True

    # No object of one revision has the name of one of the other's (cluster-wide).
    def names(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {
            (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects
        }

    # Only the ingress gateway: IstioOperator gateways are not revisioned, a canary install
    # upgrades them in place (https://istio.io/latest/docs/setup/upgrade/canary/#data-plane).
    shared_names = names(older) & names(newer)
    assert {name for _, _, name in shared_names} <= {
        "istio-ingressgateway",
        "istio-ingressgateway-service-account",
        "istio-ingressgateway-sds",
    }, sorted(shared_names)
    assert manifests(new).is_dir()


@pytest.mark.parametrize(
    ("tag", "fact", "member", "needle"),
    [
        ("1.10.6", versions.TOP_LEVEL_TAG, "istioctl/cmd/root.go", "rootCmd.AddCommand(tagCmd)"),
        ("1.11.8", versions.TOP_LEVEL_TAG, "istioctl/cmd/root.go", "rootCmd.AddCommand(tagCmd)"),
        ("1.14.6", versions.TOP_LEVEL_UNINSTALL, "istioctl/cmd/root.go", "UninstallCmd("),
        ("1.15.7", versions.TOP_LEVEL_UNINSTALL, "istioctl/cmd/root.go", "UninstallCmd("),
    ],
)
def test_istioctl_command_tree_facts(
    tag: str, fact: versions.Fact, member: str, needle: str
) -> None:
    root = source_file(tag, member)
    top_level = any(needle in line and "rootCmd" in line for line in root.splitlines())
    assert fact.holds(versions.parse(tag)) is top_level
