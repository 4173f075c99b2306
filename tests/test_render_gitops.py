"""GitOps wiring: Argo CD Applications and Flux sources, Kustomizations and HelmReleases."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from meshgen.render import render
from meshgen.render.gitops import (
    APPLICATION_HEALTH_KEY,
    APPLICATION_HEALTH_LUA,
    argocd_namespace,
    bounded_name,
    flux_bootstrap_path,
    flux_git_url,
    render_gitops,
)
from meshgen.render.helm import HELM_REPOSITORY, helm_values
from meshgen.render.objects import MANAGED_BY, Manifest
from meshgen.spec import Mesh
from tests.helpers import mesh_from, seed_data

REPO = "https://git.example.com/platform/mesh.git"
WEBHOOK_DRIFT = {
    "group": "admissionregistration.k8s.io",
    "kind": "ValidatingWebhookConfiguration",
    "jqPathExpressions": [".webhooks[]?.failurePolicy", ".webhooks[]?.clientConfig.caBundle"],
}


def gitops_mesh(
    engine: str,
    installer: str = "helm",
    version: str = "1.30.0",
    platform: str = "openshift",
    **gitops: Any,
) -> Mesh:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version=version, installer=installer)
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    data["spec"]["gitops"] = {"engine": engine, "repoURL": REPO, **gitops}
    return mesh_from(data)


def files(mesh: Mesh) -> dict[str, tuple[Manifest, ...]]:
    rendered = [(f.path, f.documents) for f in render(mesh).files if f.path.startswith("gitops/")]
    paths = [path for path, _ in rendered]
    assert len(paths) == len(set(paths))
    return dict(rendered)


def by_name(docs: tuple[Manifest, ...]) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs}


def test_nothing_without_gitops() -> None:
    data = seed_data()
    data["spec"]["istio"]["installer"] = "helm"
    assert render_gitops(mesh_from(data), {}) == []


def test_every_path_is_under_gitops_and_every_object_is_labelled() -> None:
    for engine in ("argocd", "flux"):
        for path, docs in files(gitops_mesh(engine)).items():
            assert path.startswith(f"gitops/{engine}/"), path
            for doc in docs:
                if path.endswith("argocd-cm.patch.yaml"):
                    # A patch of the install's argocd-cm: it leaves the labels alone.
                    assert "labels" not in doc["metadata"]
                elif doc["kind"] != "Kustomization" or "kustomize.config" not in doc["apiVersion"]:
                    assert doc["metadata"]["labels"] == MANAGED_BY, path


# --- Argo CD ---------------------------------------------------------------------------


def test_argocd_files() -> None:
    out = files(gitops_mesh("argocd"))
    assert list(out) == [
        "gitops/argocd/kustomization.yaml",
        "gitops/argocd/cluster1.yaml",
        "gitops/argocd/cluster2.yaml",
        "gitops/argocd/bootstrap/root-application.yaml",
        "gitops/argocd/bootstrap/argocd-cm.patch.yaml",
    ]
    (listing,) = out["gitops/argocd/kustomization.yaml"]
    # bootstrap/ is not listed: Argo CD syncs neither the root itself nor argocd-cm.
    assert listing == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["cluster1.yaml", "cluster2.yaml"],
    }


@pytest.mark.parametrize(
    ("platforms", "namespace"),
    [
        (("openshift", "openshift"), "openshift-gitops"),
        (("kubernetes", "kubernetes"), "argocd"),
        (("openshift", "kubernetes"), "argocd"),
    ],
)
def test_argocd_namespace_default(platforms: tuple[str, str], namespace: str) -> None:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version="1.30.0", installer="helm")
    for cluster, platform in zip(data["spec"]["clusters"], platforms, strict=True):
        cluster["platform"] = platform
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO}
    mesh = mesh_from(data)
    assert mesh.spec.gitops is not None
    assert mesh.spec.gitops.argocd.namespace is None
    assert argocd_namespace(mesh) == namespace
    for docs in files(mesh).values():
        for doc in docs:
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["namespace"] == namespace
    # Set explicitly, it wins.
    data["spec"]["gitops"]["argocd"] = {"namespace": "gitops"}
    assert argocd_namespace(mesh_from(data)) == "gitops"


def test_argocd_root_application() -> None:
    mesh = gitops_mesh(
        "argocd",
        path="clusters/mesh",
        revision="release",
        argocd={"namespace": "gitops", "project": "mesh"},
    )
    (root,) = files(mesh)["gitops/argocd/bootstrap/root-application.yaml"]
    assert (root["apiVersion"], root["kind"]) == ("argoproj.io/v1alpha1", "Application")
    assert root["metadata"]["name"] == f"{mesh.metadata.name}-apps"
    assert root["metadata"]["namespace"] == "gitops"
    assert "finalizers" not in root["metadata"]  # deleting the root keeps its children
    assert "annotations" not in root["metadata"]
    assert root["spec"]["project"] == "mesh"
    assert root["spec"]["source"] == {
        "repoURL": REPO,
        "targetRevision": "release",
        "path": "clusters/mesh/gitops/argocd",
    }
    assert root["spec"]["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": "gitops",
    }
    assert root["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_argocd_root_name_stays_a_label_value() -> None:
    data = copy.deepcopy(seed_data())
    data["metadata"]["name"] = "m" * 57 + "-abcde"
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO}
    (root,) = files(mesh_from(data))["gitops/argocd/bootstrap/root-application.yaml"]
    assert root["metadata"]["name"] == "m" * 57 + "-apps"


def test_argocd_health_check_patch() -> None:
    (patch,) = files(gitops_mesh("argocd", argocd={"namespace": "gitops"}))[
        "gitops/argocd/bootstrap/argocd-cm.patch.yaml"
    ]
    # Only the one key: `kubectl patch --type merge` keeps every other key of argocd-cm.
    assert patch == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "gitops"},
        "data": {APPLICATION_HEALTH_KEY: APPLICATION_HEALTH_LUA},
    }
    assert APPLICATION_HEALTH_KEY == "resource.customizations.health.argoproj.io_Application"


@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
@pytest.mark.parametrize("version", ["1.10.0", "1.22.3", "1.30.0"])
def test_argocd_helm_applications(version: str, platform: str) -> None:
    mesh = gitops_mesh(
        "argocd",
        version=version,
        platform=platform,
        path="clusters/mesh",
        revision="release",
        argocd={"namespace": "gitops", "project": "mesh"},
    )
    out = files(mesh)
    for cluster in mesh.spec.clusters:
        *docs, traffic = out[f"gitops/argocd/{cluster.name}.yaml"]
        assert traffic["kind"] == "ApplicationSet"
        apps = by_name(tuple(docs))
        name = cluster.name
        # The cluster directory before istiod: with external-secrets it holds the root of
        # trust, which istiod reads only when it starts (meshgen/render/gitops.py).
        assert list(apps) == [
            f"{name}-istio-base",
            f"{name}-istio-cni",
            f"{name}-mesh",
            f"{name}-istiod",
        ]
        for app in docs:
            assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
            assert app["metadata"]["namespace"] == "gitops"
            assert app["spec"]["project"] == "mesh"
            assert app["spec"]["destination"]["name"] == name
            assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
            assert "finalizers" not in app["metadata"]  # deleting an app keeps Istio's CRDs
        waves = [a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for a in docs]
        assert waves == ["0", "1", "2", "3"]
        assert traffic["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "4"
        values = helm_values(mesh, cluster)
        for key, release, namespace in (
            ("base", "istio-base", "istio-system"),
            ("cni", "istio-cni", "kube-system"),
            ("istiod", "istiod", "istio-system"),
        ):
            spec = apps[f"{name}-{release}"]["spec"]
            assert spec["source"] == {
                "repoURL": HELM_REPOSITORY,
                "chart": key,
                "targetRevision": version,
                "helm": {"releaseName": release, "valuesObject": values[key]},
            }
            assert spec["destination"] == {"name": name, "namespace": namespace}
            assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
        mesh_app = apps[f"{name}-mesh"]["spec"]
        assert mesh_app["source"] == {
            "repoURL": REPO,
            "targetRevision": "release",
            "path": f"clusters/mesh/{name}",
        }
        assert mesh_app["destination"] == {"name": name}


def test_argocd_webhook_drift_is_ignored() -> None:
    """istiod flips failurePolicy (and fills caBundle) at runtime (istio/istio#52785)."""
    apps = by_name(files(gitops_mesh("argocd"))["gitops/argocd/cluster1.yaml"])
    base = apps["cluster1-istio-base"]["spec"]
    istiod = apps["cluster1-istiod"]["spec"]
    assert base["ignoreDifferences"] == [WEBHOOK_DRIFT]
    assert istiod["ignoreDifferences"][0] == WEBHOOK_DRIFT
    assert istiod["ignoreDifferences"][1]["kind"] == "MutatingWebhookConfiguration"
    for spec in (base, istiod):
        assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    assert "ignoreDifferences" not in apps["cluster1-istio-cni"]["spec"]
    assert "ignoreDifferences" not in apps["cluster1-mesh"]["spec"]
    # The CRDs are too large for client-side apply's annotation.
    assert base["syncPolicy"]["syncOptions"] == [
        "CreateNamespace=true",
        "ServerSideApply=true",
        "RespectIgnoreDifferences=true",
    ]


def test_argocd_without_cni() -> None:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version="1.30.0", installer="helm", cni={"enabled": False})
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO}
    apps = by_name(files(mesh_from(data))["gitops/argocd/cluster2.yaml"])
    assert list(apps) == [
        "cluster2-istio-base",
        "cluster2-mesh",
        "cluster2-istiod",
        "cluster2-traffic",
    ]
    assert [
        a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for a in apps.values()
    ] == ["0", "2", "3", "4"]


@pytest.mark.parametrize(
    ("installer", "version"), [("istioctl", "1.10.0"), ("operator", "1.23.0"), ("sail", "1.30.0")]
)
def test_argocd_other_installers_only_sync_the_cluster_directory(
    installer: str, version: str
) -> None:
    out = files(gitops_mesh("argocd", installer=installer, version=version))
    for cluster in ("cluster1", "cluster2"):
        app, traffic = out[f"gitops/argocd/{cluster}.yaml"]
        assert traffic["metadata"]["name"] == f"{cluster}-traffic"
        assert app["metadata"]["name"] == f"{cluster}-mesh"
        assert app["spec"]["source"]["path"] == f"out/{cluster}"
        assert app["spec"]["source"]["targetRevision"] == "main"


def test_argocd_traffic_units_are_one_application_set_per_cluster() -> None:
    """One list element per unit: the root's unit stays small however many units there are;
    every templated value comes from the element."""
    data = copy.deepcopy(seed_data())
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO, "path": "clusters/mesh"}
    data["spec"]["namespaces"].append({"name": "shop"})
    data["spec"]["services"].append(
        {
            "name": "cart",
            "namespace": "shop",
            "ports": [{"name": "http", "number": 80}],
            "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
        }
    )
    out = files(mesh_from(data))
    _, traffic = out["gitops/argocd/cluster1.yaml"]
    assert (traffic["apiVersion"], traffic["kind"]) == ("argoproj.io/v1alpha1", "ApplicationSet")
    assert traffic["metadata"]["namespace"] == "openshift-gitops"
    assert traffic["metadata"]["labels"] == MANAGED_BY
    assert traffic["spec"]["generators"] == [
        {
            "list": {
                "elements": [
                    {
                        "name": "cluster1-traffic-sample",
                        "path": "clusters/mesh/cluster1/traffic/sample",
                    },
                    {
                        "name": "cluster1-traffic-shop",
                        "path": "clusters/mesh/cluster1/traffic/shop",
                    },
                ]
            }
        }
    ]
    template = traffic["spec"]["template"]
    assert template["metadata"] == {"name": "{{name}}", "labels": MANAGED_BY}
    assert template["spec"]["source"] == {
        "repoURL": REPO,
        "targetRevision": "main",
        "path": "{{path}}",
    }
    assert template["spec"]["destination"] == {"name": "cluster1"}
    assert template["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # Nothing but the two parameters is templated.
    assert json.dumps(traffic).count("{{") == 2


def test_long_unit_names_stay_label_values() -> None:
    long = "n" * 63
    assert bounded_name(f"c-traffic-{long}") != bounded_name(f"c-traffic-{long[:-1]}x")
    for name in (f"c-traffic-{long}", f"{'c' * 52}-traffic-{long}.7"):
        bounded = bounded_name(name)
        assert len(bounded) <= 63
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", bounded)
    assert bounded_name("c-traffic-shop") == "c-traffic-shop"


def test_no_traffic_units_no_application_set() -> None:
    data = copy.deepcopy(seed_data())
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO}
    data["spec"]["services"] = []
    out = files(mesh_from(data))
    assert [d["kind"] for d in out["gitops/argocd/cluster1.yaml"]] == ["Application"]


# --- Flux --------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
@pytest.mark.parametrize("version", ["1.10.0", "1.22.3", "1.30.0"])
def test_flux_helm(version: str, platform: str) -> None:
    mesh = gitops_mesh(
        "flux",
        version=version,
        platform=platform,
        path="clusters/mesh",
        revision="prod",
        flux={"namespace": "flux", "interval": "5m"},
    )
    out = files(mesh)
    assert list(out) == [
        f"gitops/flux/{kind}/{cluster}/{name}"
        for cluster in ("cluster1", "cluster2")
        for kind, name in (
            ("clusters", "sources.yaml"),
            ("clusters", "kustomizations.yaml"),
            ("istio", "kustomization.yaml"),
            ("istio", "helmreleases.yaml"),
            ("istiod", "kustomization.yaml"),
            ("istiod", "helmreleases.yaml"),
        )
    ]
    for cluster in mesh.spec.clusters:
        name = cluster.name
        sources = by_name(out[f"gitops/flux/clusters/{name}/sources.yaml"])
        git = sources["meshgen"]
        assert (git["apiVersion"], git["kind"]) == ("source.toolkit.fluxcd.io/v1", "GitRepository")
        assert git["metadata"]["namespace"] == "flux"
        assert git["spec"]["url"] == REPO
        assert git["spec"]["ref"] == {"branch": "prod"}
        assert git["spec"]["interval"] == "5m"
        helm_repo = sources["istio"]
        assert (helm_repo["apiVersion"], helm_repo["kind"]) == (
            "source.toolkit.fluxcd.io/v1",
            "HelmRepository",
        )
        assert helm_repo["spec"]["url"] == HELM_REPOSITORY

        ks = by_name(out[f"gitops/flux/clusters/{name}/kustomizations.yaml"])
        assert list(ks) == ["istio", "mesh", "istiod", "traffic-sample"]
        for k in ks.values():
            assert (k["apiVersion"], k["kind"]) == (
                "kustomize.toolkit.fluxcd.io/v1",
                "Kustomization",
            )
            assert k["metadata"]["namespace"] == "flux"
            assert k["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "meshgen"}
            assert k["spec"]["prune"] is True
            assert k["spec"]["interval"] == "5m"
        assert ks["istio"]["spec"]["path"] == f"./clusters/mesh/gitops/flux/istio/{name}"
        assert ks["istio"]["spec"]["wait"] is True
        assert ks["mesh"]["spec"]["path"] == f"./clusters/mesh/{name}"
        assert ks["mesh"]["spec"]["dependsOn"] == [{"name": "istio"}]
        # The cluster directory (its ExternalSecrets rendered: wait) before istiod, which
        # reads the root of trust only when it starts (meshgen/render/gitops.py).
        assert ks["mesh"]["spec"]["wait"] is True
        assert ks["istiod"]["spec"]["path"] == f"./clusters/mesh/gitops/flux/istiod/{name}"
        assert ks["istiod"]["spec"]["dependsOn"] == [{"name": "mesh"}]
        assert ks["istiod"]["spec"]["wait"] is True
        assert ks["traffic-sample"]["spec"]["path"] == f"./clusters/mesh/{name}/traffic/sample"
        assert ks["traffic-sample"]["spec"]["dependsOn"] == [{"name": "mesh"}]

        for part in ("istio", "istiod"):
            (listing,) = out[f"gitops/flux/{part}/{name}/kustomization.yaml"]
            assert listing["resources"] == ["helmreleases.yaml"]
        releases = by_name(out[f"gitops/flux/istio/{name}/helmreleases.yaml"])
        assert list(releases) == ["istio-base", "istio-cni"]
        releases.update(by_name(out[f"gitops/flux/istiod/{name}/helmreleases.yaml"]))
        assert [r["spec"].get("dependsOn") for r in releases.values()] == [
            None,
            [{"name": "istio-base"}],
            [{"name": "istio-base"}, {"name": "istio-cni"}],
        ]
        values = helm_values(mesh, cluster)
        for key, release in (("base", "istio-base"), ("cni", "istio-cni"), ("istiod", "istiod")):
            hr = releases[release]
            assert (hr["apiVersion"], hr["kind"]) == ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
            assert hr["metadata"]["namespace"] == "flux"
            spec = hr["spec"]
            assert spec["chart"] == {
                "spec": {
                    "chart": key,
                    "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "istio", "namespace": "flux"},
                }
            }
            assert spec["releaseName"] == release
            assert spec["targetNamespace"] == ("kube-system" if key == "cni" else "istio-system")
            assert spec["install"]["createNamespace"] is True
            assert spec["values"] == values[key]
        assert releases["istio-base"]["spec"]["upgrade"] == {"crds": "CreateReplace"}


def test_flux_bootstrap_directory_has_no_kustomization_yaml() -> None:
    """Flux then generates one that also takes in the flux-system/ bootstrap commits there;
    the HelmReleases are outside it, so only the `istio` Kustomization applies them."""
    mesh = gitops_mesh("flux", path="clusters/mesh")
    out = files(mesh)
    for cluster in mesh.spec.clusters:
        bootstrap = flux_bootstrap_path(mesh, cluster)
        assert bootstrap == f"clusters/mesh/gitops/flux/clusters/{cluster.name}"
        inside = [p for p in out if f"clusters/mesh/{p}".startswith(f"{bootstrap}/")]
        assert sorted(inside) == [
            f"gitops/flux/clusters/{cluster.name}/kustomizations.yaml",
            f"gitops/flux/clusters/{cluster.name}/sources.yaml",
        ]


def test_flux_without_cni() -> None:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version="1.30.0", installer="helm", cni={"enabled": False})
    data["spec"]["gitops"] = {"engine": "flux", "repoURL": REPO}
    out = files(mesh_from(data))
    releases = by_name(out["gitops/flux/istio/cluster1/helmreleases.yaml"])
    releases.update(by_name(out["gitops/flux/istiod/cluster1/helmreleases.yaml"]))
    assert list(releases) == ["istio-base", "istiod"]
    assert releases["istiod"]["spec"]["dependsOn"] == [{"name": "istio-base"}]


@pytest.mark.parametrize(
    ("installer", "version"), [("istioctl", "1.10.0"), ("operator", "1.23.0"), ("sail", "1.30.0")]
)
def test_flux_other_installers_only_apply_the_cluster_directory(
    installer: str, version: str
) -> None:
    out = files(gitops_mesh("flux", installer=installer, version=version))
    assert list(out) == [
        f"gitops/flux/clusters/{c}/{f}"
        for c in ("cluster1", "cluster2")
        for f in ("sources.yaml", "kustomizations.yaml")
    ]
    (git,) = out["gitops/flux/clusters/cluster1/sources.yaml"]
    assert git["kind"] == "GitRepository"
    mesh_ks, traffic = out["gitops/flux/clusters/cluster1/kustomizations.yaml"]
    assert traffic["metadata"]["name"] == "traffic-sample"
    assert mesh_ks["metadata"]["name"] == "mesh"
    assert mesh_ks["spec"]["path"] == "./out/cluster1"
    assert "dependsOn" not in mesh_ks["spec"]


@pytest.mark.parametrize(
    ("url", "flux"),
    [
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("git@github.com:org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("git@gitlab.example.com:group/sub/repo", "ssh://git@gitlab.example.com/group/sub/repo"),
    ],
)
def test_flux_git_urls(url: str, flux: str) -> None:
    assert flux_git_url(url) == flux
    mesh = gitops_mesh("flux", repoURL=url)
    (git, _) = files(mesh)["gitops/flux/clusters/cluster1/sources.yaml"]
    assert git["spec"]["url"] == flux
    # Argo CD reads the scp-like form itself.
    argo = gitops_mesh("argocd", repoURL=url)
    apps = by_name(files(argo)["gitops/argocd/cluster1.yaml"])
    assert apps["cluster1-mesh"]["spec"]["source"]["repoURL"] == url


def test_istiod_applications_of_long_revisions_stay_label_values() -> None:
    """`<cluster>-istiod-<revision>`: a 52-character cluster and a 40-character revision."""
    data = copy.deepcopy(seed_data())
    long = "c" * 52
    data["spec"]["clusters"][0]["name"] = long
    data["spec"]["submariner"]["broker"] = long
    data["spec"]["istio"] = {
        "version": "1.23.6",
        "installer": "helm",
        "revisions": [
            {"name": "r" * 40, "version": "1.22.8"},
            {"name": "s" * 40, "version": "1.23.6"},
        ],
        "tags": {"prod": "r" * 40},
    }
    data["spec"]["namespaces"][0]["revisionTag"] = "prod"
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO}
    names = [d["metadata"]["name"] for d in files(mesh_from(data))[f"gitops/argocd/{long}.yaml"]]
    assert len(names) == len(set(names)) == 6
    assert all(len(name) <= 63 for name in names), names
