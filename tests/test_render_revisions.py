"""Control planes side by side (`istio.revisions`): what each installer renders per revision.

The seed spec with revisions [1.22.8, 1.23.6] (and [1.10.0, 1.11.8] for istioctl), tag `prod`
on the older revision (moved to the newer one in cluster1) and `default` on the newer one:
every control plane with its own revision fields, one CNI and one base, the tags where each
cluster has them, namespaces labelled `istio.io/rev=<tag>`. Without revisions nothing changes
(tests/test_golden.py). tests/tools/test_revisions_releases.py judges the output with the
released charts, istioctl and the CRDs.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshgen.render import OutputFile, render
from meshgen.render.helm import charts, helm_values
from meshgen.spec import Mesh
from tests.helpers import mesh_from, seed_data

OLD, NEW = "1-22-8", "1-23-6"
REVISIONS = [{"name": OLD, "version": "1.22.8"}, {"name": NEW, "version": "1.23.6"}]


def revisions_data(
    installer: str,
    revisions: list[dict[str, str]] = REVISIONS,
    platform: str = "openshift",
    **spec: Any,
) -> dict[str, Any]:
    data = copy.deepcopy(seed_data())
    old, new = revisions[0]["name"], revisions[-1]["name"]
    data["spec"]["istio"].update(
        version=revisions[-1]["version"],
        installer=installer,
        revisions=revisions,
        tags={"prod": old, "default": new},
    )
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    # cluster1 has moved `prod` to the new revision already, cluster2 not yet.
    data["spec"]["clusters"][0]["tags"] = {"prod": new}
    data["spec"]["namespaces"][0]["revisionTag"] = "prod"
    data["spec"].update(spec)
    return data


def revisions_mesh(installer: str, **kwargs: Any) -> Mesh:
    return mesh_from(revisions_data(installer, **kwargs))


def files_of(mesh: Mesh) -> dict[str, OutputFile]:
    return {f.path: f for f in render(mesh).files}


def docs_of(files: dict[str, OutputFile], path: str) -> list[dict[str, Any]]:
    return [dict(d) for d in files[path].documents]


def kustomization(files: dict[str, OutputFile], cluster: str) -> list[str]:
    (doc,) = files[f"{cluster}/kustomization.yaml"].documents
    resources: list[str] = doc["resources"]
    return resources


# --- every installer ----------------------------------------------------------------------


@pytest.mark.parametrize("installer", ["istioctl", "operator", "helm", "sail"])
def test_namespaces_follow_their_tag(installer: str) -> None:
    files = files_of(revisions_mesh(installer))
    for cluster in ("cluster1", "cluster2"):
        (sample,) = [
            d
            for d in docs_of(files, f"{cluster}/namespaces.yaml")
            if d["metadata"]["name"] == "sample"
        ]
        labels = sample["metadata"]["labels"]
        assert labels["istio.io/rev"] == "prod"
        assert "istio-injection" not in labels


# --- helm ---------------------------------------------------------------------------------


def test_helm_charts_one_istiod_per_revision() -> None:
    mesh = revisions_mesh("helm")
    assert [(c.key, c.chart, c.release, c.version) for c in charts(mesh)] == [
        ("base", "base", "istio-base", "1.23.6"),
        ("cni", "cni", "istio-cni", "1.23.6"),
        (f"istiod-{OLD}", "istiod", f"istiod-{OLD}", "1.22.8"),
        (f"istiod-{NEW}", "istiod", f"istiod-{NEW}", "1.23.6"),
    ]


def test_helm_values_per_revision_and_cluster() -> None:
    mesh = revisions_mesh("helm")
    cluster1, cluster2 = mesh.spec.clusters
    one = helm_values(mesh, cluster1)
    assert sorted(one) == ["base", "cni", f"istiod-{OLD}", f"istiod-{NEW}"]
    # The validator follows the `default` tag (base >= 1.12).
    assert one["base"] == {"defaultRevision": NEW}
    assert one[f"istiod-{OLD}"]["revision"] == OLD
    assert one[f"istiod-{NEW}"]["revision"] == NEW
    # cluster1 moved `prod` to the new revision; cluster2 not yet.
    assert "revisionTags" not in one[f"istiod-{OLD}"]
    assert one[f"istiod-{NEW}"]["revisionTags"] == ["default", "prod"]
    two = helm_values(mesh, cluster2)
    assert two[f"istiod-{OLD}"]["revisionTags"] == ["prod"]
    assert two[f"istiod-{NEW}"]["revisionTags"] == ["default"]
    # Each istiod gets its own release's values (1.22+: pilot.cni), with its cluster's name.
    for values, name in ((one, "cluster1"), (two, "cluster2")):
        for rev in (OLD, NEW):
            assert values[f"istiod-{rev}"]["pilot"] == {"cni": {"enabled": True}}
            assert values[f"istiod-{rev}"]["global"]["multiCluster"]["clusterName"] == name


def test_helm_values_follow_each_revisions_version() -> None:
    revisions = [{"name": "1-21-6", "version": "1.21.6"}, {"name": "1-22-8", "version": "1.22.8"}]
    mesh = revisions_mesh("helm", revisions=revisions, platform="kubernetes")
    values = helm_values(mesh, mesh.spec.clusters[0])
    assert values["istiod-1-21-6"]["istio_cni"] == {"enabled": True}
    assert "pilot" not in values["istiod-1-21-6"]
    assert values["istiod-1-22-8"]["pilot"] == {"cni": {"enabled": True}}


def test_helm_base_without_default_tag_is_as_before() -> None:
    data = revisions_data("helm")
    del data["spec"]["istio"]["tags"]["default"]
    mesh = mesh_from(data)
    assert helm_values(mesh, mesh.spec.clusters[0])["base"] == {}


def test_helm_values_files() -> None:
    files = files_of(revisions_mesh("helm"))
    helm = sorted(p for p in files if p.startswith("cluster1/istio/helm/"))
    assert helm == [
        "cluster1/istio/helm/base.values.yaml",
        "cluster1/istio/helm/cni.values.yaml",
        f"cluster1/istio/helm/istiod-{OLD}.values.yaml",
        f"cluster1/istio/helm/istiod-{NEW}.values.yaml",
    ]
    assert not any("istio/helm" in r for r in kustomization(files, "cluster1"))


def test_argocd_one_application_per_istiod() -> None:
    gitops = {"engine": "argocd", "repoURL": "https://github.com/example/mesh.git"}
    files = files_of(revisions_mesh("helm", gitops=gitops))
    apps = {d["metadata"]["name"]: d for d in docs_of(files, "gitops/argocd/cluster1.yaml")}
    # Each release in a wave of its own, oldest first (a moving tag's webhook is dropped by
    # the older release before the newer creates it), after the cluster directory (the root
    # of trust: render/gitops.py); the traffic after them.
    for rev, version, wave in ((OLD, "1.22.8", "3"), (NEW, "1.23.6", "4")):
        app = apps[f"cluster1-istiod-{rev}"]
        assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == wave
        source = app["spec"]["source"]
        assert (source["chart"], source["targetRevision"]) == ("istiod", version)
        assert source["helm"]["releaseName"] == f"istiod-{rev}"
        assert source["helm"]["valuesObject"]["revision"] == rev
        assert app["spec"]["ignoreDifferences"]
    assert apps["cluster1-istio-base"]["spec"]["source"]["targetRevision"] == "1.23.6"
    assert apps["cluster1-istio-cni"]["spec"]["source"]["targetRevision"] == "1.23.6"
    assert "cluster1-istiod" not in apps
    assert apps["cluster1-mesh"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2"


def test_flux_one_helmrelease_per_revision_after_cni_and_older() -> None:
    gitops = {"engine": "flux", "repoURL": "https://github.com/example/mesh.git"}
    files = files_of(revisions_mesh("helm", gitops=gitops))
    releases = {
        d["metadata"]["name"]: d["spec"]
        for part in ("istio", "istiod")
        for d in docs_of(files, f"gitops/flux/{part}/cluster2/helmreleases.yaml")
    }
    assert list(releases) == ["istio-base", "istio-cni", f"istiod-{OLD}", f"istiod-{NEW}"]
    for rev, version in ((OLD, "1.22.8"), (NEW, "1.23.6")):
        spec = releases[f"istiod-{rev}"]
        assert spec["chart"]["spec"]["version"] == version
        assert spec["releaseName"] == f"istiod-{rev}"
        # After base, cni and the older revisions (a moving tag's webhook is dropped by the
        # older release before the newer creates it).
        older = [{"name": f"istiod-{OLD}"}] if rev == NEW else []
        assert spec["dependsOn"] == [{"name": "istio-base"}, {"name": "istio-cni"}, *older]
        assert spec["values"]["revision"] == rev
    assert releases[f"istiod-{OLD}"]["values"]["revisionTags"] == ["prod"]


# --- istioctl / operator --------------------------------------------------------------------


def operators(files: dict[str, OutputFile], cluster: str) -> dict[str, dict[str, Any]]:
    prefix = f"{cluster}/istio/istio-operator"
    found: dict[str, dict[str, Any]] = {}
    for path, f in files.items():
        if path.startswith(prefix):
            (doc,) = f.documents
            found[path.removeprefix(f"{cluster}/")] = dict(doc)
    return found


@pytest.mark.parametrize(
    ("installer", "revisions", "injector"),
    [
        ("istioctl", REVISIONS, {"pilot": {"cni": {"enabled": True}}}),
        ("operator", REVISIONS, {"pilot": {"cni": {"enabled": True}}}),
        (
            "istioctl",
            [{"name": "1-10-0", "version": "1.10.0"}, {"name": "1-11-8", "version": "1.11.8"}],
            {"istio_cni": {"enabled": True}},
        ),
        (
            "istioctl",
            [{"name": "1-21-6", "version": "1.21.6"}, {"name": "1-22-8", "version": "1.22.8"}],
            {"istio_cni": {"enabled": True}},
        ),
    ],
)
def test_one_istio_operator_per_revision(
    installer: str, revisions: list[dict[str, str]], injector: dict[str, Any]
) -> None:
    old, new = revisions[0]["name"], revisions[-1]["name"]
    files = files_of(revisions_mesh(installer, revisions=revisions))
    found = operators(files, "cluster1")
    assert sorted(found) == [f"istio/istio-operator-{old}.yaml", f"istio/istio-operator-{new}.yaml"]
    older, newer = (
        found[f"istio/istio-operator-{old}.yaml"],
        found[f"istio/istio-operator-{new}.yaml"],
    )
    assert (older["metadata"]["name"], newer["metadata"]["name"]) == (
        f"istio-{old}",
        f"istio-{new}",
    )
    assert (older["spec"]["revision"], newer["spec"]["revision"]) == (old, new)
    # Only the newest installs base (the CRDs) and istio-cni.
    assert newer["spec"]["components"] == {"cni": {"enabled": True, "namespace": "kube-system"}}
    assert "base" not in newer["spec"]["components"]
    assert older["spec"]["components"] == {"base": {"enabled": False}, "cni": {"enabled": False}}
    for key, value in injector.items():
        assert older["spec"]["values"][key] == value
        assert key not in newer["spec"]["values"] or key == "pilot"
    listed = kustomization(files, "cluster1")
    in_kustomization = [r for r in listed if r.startswith("istio/istio-operator")]
    if installer == "operator":
        assert sorted(in_kustomization) == sorted(found)
    else:
        assert in_kustomization == []


def test_istio_operator_without_cni_only_base_is_off() -> None:
    data = revisions_data("istioctl", platform="kubernetes")
    data["spec"]["istio"]["cni"] = {"enabled": False}
    found = operators(files_of(mesh_from(data)), "cluster1")
    older = found[f"istio/istio-operator-{OLD}.yaml"]
    assert older["spec"]["components"] == {"base": {"enabled": False}}
    assert "pilot" not in older["spec"]["values"]
    assert "components" not in found[f"istio/istio-operator-{NEW}.yaml"]["spec"]


# --- sail -----------------------------------------------------------------------------------

# Both accepted by Sail 1.25.2 (meshgen.versions.SAIL_RELEASES).
SAIL_REVISIONS = [{"name": OLD, "version": "1.22.8"}, {"name": "1-23-5", "version": "1.23.5"}]


def test_sail_revision_based_istio_and_tags() -> None:
    files = files_of(revisions_mesh("sail", revisions=SAIL_REVISIONS))
    assert "istio/sail.yaml" in kustomization(files, "cluster1")
    for cluster, prod in (("cluster1", "default-v1-23-5"), ("cluster2", "default-v1-22-8")):
        docs = docs_of(files, f"{cluster}/istio/sail.yaml")
        assert [d["kind"] for d in docs] == [
            "IstioCNI",
            "Istio",
            "IstioRevisionTag",
            "IstioRevisionTag",
        ]
        cni, istio, *tags = docs
        # One CNI, from the newest.
        assert cni["spec"]["version"] == "v1.23.5"
        assert istio["metadata"]["name"] == "default"
        assert istio["spec"]["version"] == "v1.23.5"
        assert istio["spec"]["updateStrategy"] == {
            "type": "RevisionBased",
            "inactiveRevisionDeletionGracePeriodSeconds": 30,
        }
        assert {t["metadata"]["name"]: t["spec"] for t in tags} == {
            "default": {"targetRef": {"kind": "IstioRevision", "name": "default-v1-23-5"}},
            "prod": {"targetRef": {"kind": "IstioRevision", "name": prod}},
        }
        for tag in tags:
            assert tag["apiVersion"] == "sailoperator.io/v1"
            assert "namespace" not in tag["metadata"]


def test_sail_without_revisions_has_no_update_strategy() -> None:
    data = revisions_data("sail", revisions=SAIL_REVISIONS)
    istio = data["spec"]["istio"]
    for key in ("revisions", "tags"):
        del istio[key]
    for cluster in data["spec"]["clusters"]:
        cluster.pop("tags", None)
    del data["spec"]["namespaces"][0]["revisionTag"]
    docs = docs_of(files_of(mesh_from(data)), "cluster1/istio/sail.yaml")
    assert [d["kind"] for d in docs] == ["IstioCNI", "Istio"]
    assert "updateStrategy" not in docs[1]["spec"]


# --- runbook --------------------------------------------------------------------------------


def canary_section(mesh: Mesh, cluster: str = "cluster1") -> list[str]:
    readme = render(mesh).readme
    section = readme[readme.index("#### Canary upgrade") :]
    block = section[section.index(f"`{cluster}`:") :]
    return block[block.index("```sh") + 6 : block.index("```\n", 6)].splitlines()


def test_runbook_without_revisions_has_no_canary_section() -> None:
    assert "Canary upgrade" not in render(mesh_from(seed_data())).readme


def test_runbook_istioctl_canary_in_order() -> None:
    lines = canary_section(revisions_mesh("istioctl"))
    commands = [line for line in lines if not line.startswith("#")]
    assert commands == [
        "istioctl install --context cluster1 -f cluster1/istio/istio-operator-1-23-6.yaml "
        "--skip-confirmation   # istioctl 1.23.6",
        "kubectl --context cluster1 get pods -n istio-system -l app=istiod -L istio.io/rev",
        "istioctl --context cluster1 proxy-status",
        "istioctl tag set default --revision 1-23-6 --overwrite --context cluster1 -y",
        "istioctl tag set prod --revision 1-23-6 --overwrite --context cluster1 -y",
        "kubectl --context cluster1 rollout restart deployment -n sample",
        "istioctl uninstall --context cluster1 --revision 1-22-8 -y",
    ]
    two = canary_section(revisions_mesh("istioctl"), "cluster2")
    assert "istioctl tag set prod --revision 1-22-8 --overwrite --context cluster2 -y" in two


def test_runbook_old_istioctl_commands() -> None:
    revisions = [{"name": "1-10-0", "version": "1.10.0"}, {"name": "1-10-6", "version": "1.10.6"}]
    lines = canary_section(revisions_mesh("istioctl", revisions=revisions))
    assert any(line.startswith("istioctl x revision tag set default") for line in lines)
    assert "istioctl x uninstall --context cluster1 --revision 1-10-0 -y" in lines


def test_runbook_operator_inits_one_operator_per_revision() -> None:
    readme = render(revisions_mesh("operator")).readme
    for rev, version in ((NEW, "1.23.6"), (OLD, "1.22.8")):
        assert (
            f"istioctl operator init --context cluster1 --revision {rev}   # istioctl {version}"
        ) in readme
    lines = canary_section(revisions_mesh("operator"))
    assert lines[-3:] == [
        "kubectl --context cluster1 delete istiooperators.install.istio.io -n istio-system "
        f"istio-{OLD}",
        f"istioctl uninstall --context cluster1 --revision {OLD} -y",
        f"istioctl operator remove --context cluster1 --revision {OLD} -y",
    ]


def test_runbook_helm_and_sail_remove_the_old_revision() -> None:
    helm = canary_section(revisions_mesh("helm"))
    assert helm[-1] == f"helm delete istiod-{OLD} --kube-context cluster1 -n istio-system"
    assert any(
        f"--version 1.23.6 -n istio-system --create-namespace -f cluster1/istio/helm/istiod-{NEW}"
        in line
        for line in helm
    )
    sail = canary_section(revisions_mesh("sail", revisions=SAIL_REVISIONS))
    assert sail[-1] == f"# {OLD}: the Sail Operator deletes it once unused, 30 s later"
    assert "kubectl --context cluster1 rollout restart deployment -n sample" in sail
