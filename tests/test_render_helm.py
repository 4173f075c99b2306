"""Helm values for Istio's base, cni and istiod charts: every minor 1.10-1.30, both platforms.

The expected values are written out per release row, independently of meshgen/render/helm.py,
as read from each minor's released charts and profiles (tests/tools/test_helm_releases.py renders
those charts with these values and is the judge; this table keeps the unit test fast).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshgen.render.helm import HELM_REPOSITORY, charts, helm_values
from meshgen.versions import NEWEST_MINOR, OLDEST_MINOR
from tests.helpers import mesh_from, seed_data, with_istio

MINORS = range(OLDEST_MINOR, NEWEST_MINOR + 1)
PLATFORMS = ("openshift", "kubernetes")

IDENTITY = {
    "global.meshID": "mesh1",
    "global.multiCluster.clusterName": "cluster1",
    "global.network": "network1",
}
EXCLUDE = {"cni.excludeNamespaces": ["istio-system", "kube-system"]}
LOG_LEVEL = {"cni.logLevel": "info"}  # < 1.23
LOGGING_LEVEL = {"cni.logging.level": "info"}  # >= 1.23
MULTUS_PATHS = {
    "cni.cniBinDir": "/var/lib/cni/bin",
    "cni.cniConfDir": "/etc/cni/multus/net.d",
    "cni.chained": False,
    "cni.cniConfFileName": "istio-cni.conf",
}
ANNOTATION = {"sidecarInjectorWebhook.injectedAnnotations.k8s.v1.cni.cncf.io/networks": "istio-cni"}
PLATFORM = {"global.platform": "openshift"}
PROFILE = {"profile": "openshift"}

# (first minor, last minor) -> flattened values of each chart.
KUBERNETES: dict[tuple[int, int], dict[str, dict[str, Any]]] = {
    (10, 21): {
        "base": {},
        "cni": {**EXCLUDE, **LOG_LEVEL},
        "istiod": {**IDENTITY, "istio_cni.enabled": True},
    },
    (22, 22): {
        "base": {},
        "cni": {**EXCLUDE, **LOG_LEVEL},
        "istiod": {**IDENTITY, "pilot.cni.enabled": True},
    },
    (23, 30): {
        "base": {},
        "cni": {**EXCLUDE, **LOGGING_LEVEL},
        "istiod": {**IDENTITY, "pilot.cni.enabled": True},
    },
}
OPENSHIFT: dict[tuple[int, int], dict[str, dict[str, Any]]] = {
    # 1.10.0-1.12.0: the seed's values (the cni chart reads no `privileged` before 1.11.6 and
    # 1.12.2; test_privileged_follows_the_patch below).
    (10, 12): {
        "base": {},
        "cni": {**MULTUS_PATHS, **EXCLUDE, **LOG_LEVEL},
        "istiod": {**IDENTITY, "istio_cni.enabled": True, "istio_cni.chained": False, **ANNOTATION},
    },
    # 1.13-1.18: + privileged, as each release's OpenShift profile.
    (13, 18): {
        "base": {},
        "cni": {**MULTUS_PATHS, "cni.privileged": True, **EXCLUDE, **LOG_LEVEL},
        "istiod": {**IDENTITY, "istio_cni.enabled": True, "istio_cni.chained": False, **ANNOTATION},
    },
    # 1.19-1.20: provider multus; istiod alone reads global.platform; no injected annotation.
    (19, 20): {
        "base": {},
        "cni": {
            **MULTUS_PATHS,
            "cni.privileged": True,
            "cni.provider": "multus",
            **EXCLUDE,
            **LOG_LEVEL,
        },
        "istiod": {**IDENTITY, **PLATFORM, "istio_cni.enabled": True, "istio_cni.chained": False},
    },
    # 1.21-1.23: the Helm-side profile of the cni and istiod charts (base reads none).
    (21, 21): {
        "base": {},
        "cni": {**PROFILE, **EXCLUDE, **LOG_LEVEL},
        "istiod": {**PROFILE, **IDENTITY, "istio_cni.enabled": True},
    },
    (22, 22): {
        "base": {},
        "cni": {**PROFILE, **EXCLUDE, **LOG_LEVEL},
        "istiod": {**PROFILE, **IDENTITY, "pilot.cni.enabled": True},
    },
    (23, 23): {
        "base": {},
        "cni": {**PROFILE, **EXCLUDE, **LOGGING_LEVEL},
        "istiod": {**PROFILE, **IDENTITY, "pilot.cni.enabled": True},
    },
    # 1.24 on: the platform profile of the cni and istiod charts.
    (24, 30): {
        "base": {},
        "cni": {**PLATFORM, **EXCLUDE, **LOGGING_LEVEL},
        "istiod": {**PLATFORM, **IDENTITY, "pilot.cni.enabled": True},
    },
}
TABLES = {"kubernetes": KUBERNETES, "openshift": OPENSHIFT}


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def expected(platform: str, minor: int) -> dict[str, dict[str, Any]]:
    rows = [v for (first, last), v in TABLES[platform].items() if first <= minor <= last]
    assert len(rows) == 1, (platform, minor)
    return rows[0]


def test_tables_cover_every_minor() -> None:
    for platform in PLATFORMS:
        for minor in MINORS:
            expected(platform, minor)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("minor", MINORS)
def test_values_per_version_and_platform(minor: int, platform: str) -> None:
    mesh = with_istio(f"1.{minor}.0", platform)
    values = helm_values(mesh, mesh.spec.clusters[0])
    assert list(values) == ["base", "cni", "istiod"]
    assert {chart: flatten(v) for chart, v in values.items()} == expected(platform, minor)


@pytest.mark.parametrize("minor", MINORS)
def test_no_value_a_version_does_not_read(minor: int) -> None:
    """The knobs that are no-ops or gone in a version (meshgen/versions.py) are not emitted."""
    for platform in PLATFORMS:
        mesh = with_istio(f"1.{minor}.0", platform)
        flat = {
            f"{chart}:{k}"
            for chart, v in helm_values(mesh, mesh.spec.clusters[0]).items()
            for k in flatten(v)
        }
        if minor >= 23:
            assert "cni:cni.logLevel" not in flat
        if minor >= 22:
            assert not any(k.startswith(("istiod:istio_cni", "cni:cni.privileged")) for k in flat)
        if minor >= 24:
            assert not any(k.split(":")[1] == "profile" for k in flat)
        if minor >= 19:
            assert not any("injectedAnnotations" in k for k in flat)
        if minor < 19:
            assert not any("platform" in k for k in flat)


def test_every_cluster_gets_its_own_identity() -> None:
    mesh = with_istio("1.30.0", "openshift")
    for cluster in mesh.spec.clusters:
        glob = helm_values(mesh, cluster)["istiod"]["global"]
        assert glob["multiCluster"] == {"clusterName": cluster.name}
        assert (glob["meshID"], glob["network"]) == ("mesh1", "network1")


def test_trust_domain_and_revision() -> None:
    mesh = with_istio("1.30.0", "kubernetes")
    istiod = helm_values(mesh, mesh.spec.clusters[0])["istiod"]
    assert "meshConfig" not in istiod
    assert "revision" not in istiod
    data = seed_data()
    data["spec"]["trustDomain"] = "corp.example"
    data["spec"]["istio"].update(version="1.30.0", revision="1-30")
    mesh = mesh_from(data)
    values = helm_values(mesh, mesh.spec.clusters[0])
    assert values["istiod"]["meshConfig"] == {"trustDomain": "corp.example"}
    assert values["istiod"]["revision"] == "1-30"
    assert "revision" not in values["base"]


@pytest.mark.parametrize("minor", [10, 21, 30])
def test_user_values_are_merged_last_into_istiod(minor: int) -> None:
    user = {
        "global": {"proxy": {"privileged": True}},
        "pilot": {"resources": {"requests": {"cpu": "1"}}, "cni": {"enabled": True}},
    }
    mesh = with_istio(f"1.{minor}.0", "openshift", values=copy.deepcopy(user))
    values = helm_values(mesh, mesh.spec.clusters[0])
    plain = helm_values(with_istio(f"1.{minor}.0", "openshift"), mesh.spec.clusters[0])
    istiod = values["istiod"]
    # Merged, not replaced: meshgen's global values stay next to the user's.
    assert istiod["global"]["proxy"] == {"privileged": True}
    assert istiod["global"]["meshID"] == "mesh1"
    assert istiod["pilot"]["resources"] == {"requests": {"cpu": "1"}}
    assert flatten(istiod) == {**flatten(plain["istiod"]), **flatten(user)}
    # Only istiod: base and cni are untouched.
    assert values["base"] == plain["base"]
    assert values["cni"] == plain["cni"]


def test_user_values_win_over_meshgen_values() -> None:
    mesh = with_istio("1.30.0", "kubernetes", values={"pilot": {"cni": {"enabled": False}}})
    assert helm_values(mesh, mesh.spec.clusters[0])["istiod"]["pilot"]["cni"] == {"enabled": False}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("minor", MINORS)
def test_without_cni(minor: int, platform: str) -> None:
    mesh = with_istio(f"1.{minor}.0", platform, cni={"enabled": False})
    values = helm_values(mesh, mesh.spec.clusters[0])
    assert list(values) == ["base", "istiod"]
    flat = flatten(values["istiod"])
    if platform == "openshift" and minor >= 19:
        # Istiod reads the platform even without CNI; the OpenShift profile is not used,
        # since it turns CNI on, and the >= 1.24 platform profile's CNI is turned off.
        assert flat.get("global.platform") == "openshift"
        assert "profile" not in flat
    assert values["base"] == {}
    if platform == "openshift" and minor >= 24:
        assert flat["pilot.cni.enabled"] is False
        assert set(flat) == {*IDENTITY, "global.platform", "pilot.cni.enabled"}
    else:
        assert not any("cni" in key for key in flat)


def test_cni_settings_from_the_spec() -> None:
    cni = {"namespace": "istio-cni", "logLevel": "debug", "excludeNamespaces": ["kube-system"]}
    for version, level in (
        ("1.22.0", {"logLevel": "debug"}),
        ("1.23.0", {"logging": {"level": "debug"}}),
    ):
        mesh = with_istio(version, "kubernetes", cni=cni)
        assert helm_values(mesh, mesh.spec.clusters[0])["cni"] == {
            "cni": {"excludeNamespaces": ["kube-system"], **level}
        }
        assert [c.namespace for c in charts(mesh)] == ["istio-system", "istio-cni", "istio-system"]


@pytest.mark.parametrize(
    ("version", "privileged"),
    [("1.11.5", False), ("1.11.6", True), ("1.12.1", False), ("1.12.2", True), ("1.13.0", True)],
)
def test_privileged_follows_the_patch(version: str, privileged: bool) -> None:
    """The cni chart's `privileged` value came with 1.13 and was backported to 1.11.6 and
    1.12.2 (istio/istio#36583, #36598): before that no value can make the DaemonSet
    privileged, and a value written there would be read by nothing."""
    mesh = with_istio(version, "openshift")
    cni = helm_values(mesh, mesh.spec.clusters[0])["cni"]["cni"]
    assert cni.get("privileged", False) is privileged


def test_charts_in_install_order() -> None:
    mesh = with_istio("1.30.0", "kubernetes")
    assert [(c.key, c.chart, c.release, c.namespace) for c in charts(mesh)] == [
        ("base", "base", "istio-base", "istio-system"),
        ("cni", "cni", "istio-cni", "kube-system"),
        ("istiod", "istiod", "istiod", "istio-system"),
    ]
    without = with_istio("1.30.0", "kubernetes", cni={"enabled": False})
    assert [c.key for c in charts(without)] == ["base", "istiod"]
    assert HELM_REPOSITORY == "https://istio-release.storage.googleapis.com/charts"


def test_results_share_nothing() -> None:
    mesh = with_istio("1.30.0", "openshift", values={"global": {"proxy": {"x": "y"}}})
    cluster = mesh.spec.clusters[0]
    first = helm_values(mesh, cluster)
    first["cni"]["global"]["platform"] = "changed"
    first["istiod"]["global"]["proxy"]["x"] = "changed"
    assert first["istiod"]["global"]["platform"] == "openshift"
    second = helm_values(mesh, cluster)
    assert second["cni"]["global"]["platform"] == "openshift"
    assert second["istiod"]["global"]["proxy"] == {"x": "y"}
    assert mesh.spec.istio.values == {"global": {"proxy": {"x": "y"}}}
