"""Every minor's released charts judge meshgen's Helm values (installer `helm`).

For the last patch of every Istio minor 1.10-1.30 (the charts exactly as tagged, from the
real-release folder), on OpenShift and on Kubernetes, `helm template` renders the base, cni
and istiod charts with the values meshgen writes, and:

- the rendered objects carry every intended setting: the mesh identity (CLUSTER_ID, meshID,
  network, clusterName) and, on OpenShift, every CNI setting that release's own OpenShift
  profile makes (CNI dirs, not chained, conf file name, privileged, the Multus attachment,
  the injector's values);
- no value meshgen writes is silently ignored: removing it, or changing it, changes what the
  chart renders. A value nothing reads is a lie to the reader of the generated files.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.render.helm import Chart, charts, helm_values
from meshgen.spec import Cluster, Mesh
from meshgen.versions import NEWEST_MINOR, OLDEST_MINOR
from tests.helpers import mesh_from, seed_data, with_istio
from tests.matrix import record
from tests.tooling import istio_release, run, tool

pytestmark = pytest.mark.tools

# Chart key (render/helm.py) -> its directory under manifests/charts, the same in every minor.
CHART_DIRS = {"base": "base", "cni": "istio-cni", "istiod": "istio-control/istio-discovery"}
MINORS = range(OLDEST_MINOR, NEWEST_MINOR + 1)
PLATFORMS = ("openshift", "kubernetes")
Docs = list[dict[str, Any]]


def template(
    release: Path, chart: Chart, values: dict[str, Any], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    values_file = tmp_path / f"{chart.key}-{id(values)}.values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    try:
        return run(
            tool("helm"),
            "template",
            chart.release,
            release / "charts" / CHART_DIRS[chart.key],
            "--namespace",
            chart.namespace,
            "-f",
            values_file,
        )
    finally:
        values_file.unlink()


def parse(text: str) -> Docs:
    # libyaml: the base chart's CRDs are ~1 MB of YAML.
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]


def render(release: Path, mesh: Mesh, cluster: Cluster, tmp_path: Path) -> dict[str, Docs]:
    values = helm_values(mesh, cluster)
    rendered: dict[str, Docs] = {}
    for chart in charts(mesh):
        proc = template(release, chart, values[chart.key], tmp_path)
        assert proc.returncode == 0, (release.name, chart.key, proc.stderr)
        rendered[chart.key] = parse(proc.stdout)
    return rendered


def one(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in found])
    return found[0]


def container_env(deployment: dict[str, Any], container: str) -> dict[str, Any]:
    (spec,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == container
    ]
    return {e["name"]: e.get("value") for e in spec.get("env", [])}


def injector_values(docs: Docs) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(
        one(docs, "ConfigMap", "istio-sidecar-injector")["data"]["values"]
    )
    return values


def openshift_profile(release: Path) -> dict[str, dict[str, Any]]:
    """What the release's own OpenShift profile sets, per chart: the istioctl profile up to
    1.20 (one values tree for both), each chart's Helm profile file from 1.21."""
    legacy = release / "profiles" / "openshift.yaml"
    profiles: dict[str, dict[str, Any]] = {}
    for key in ("cni", "istiod"):
        files = release / "charts" / CHART_DIRS[key] / "files"
        helm_profile = next(
            (
                p
                for p in (
                    files / "profile-platform-openshift.yaml",
                    files / "profile-openshift.yaml",
                )
                if p.exists()
            ),
            None,
        )
        if helm_profile is not None:
            profiles[key] = yaml.safe_load(helm_profile.read_text(encoding="utf-8"))
        else:
            profiles[key] = yaml.safe_load(legacy.read_text(encoding="utf-8"))["spec"]["values"]
    return profiles


def cni_settings(docs: Docs) -> dict[str, Any]:
    """The CNI settings of a rendered cni chart, wherever that release keeps them."""
    daemonset = one(docs, "DaemonSet", "istio-cni-node")
    pod = daemonset["spec"]["template"]["spec"]
    install = next(c for c in pod["containers"] if c["name"] in ("install-cni", "istio-cni"))
    settings: dict[str, Any] = {e["name"]: e.get("value") for e in install.get("env", [])}
    configs = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "istio-cni-config"
    ]
    for config in configs:
        settings.update({k: v for k, v in config["data"].items() if k.isupper()})
    settings["hostPaths"] = {
        v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v
    }
    settings["privileged"] = bool(install.get("securityContext", {}).get("privileged"))
    settings["nads"] = [
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in docs
        if d["kind"] == "NetworkAttachmentDefinition"
    ]
    return settings


def excluded_namespaces(docs: Docs) -> list[str]:
    """EXCLUDE_NAMESPACES / EXCLUDED_NAMESPACES (the name changed over releases), or the
    plugin config's exclude_namespaces in the oldest ones."""
    data = one(docs, "ConfigMap", "istio-cni-config")["data"]
    for key in ("EXCLUDE_NAMESPACES", "EXCLUDED_NAMESPACES"):
        if key in data:
            return str(data[key]).split(",")
    plugin = json.loads(data["cni_network_config"])
    names: list[str] = plugin["kubernetes"]["exclude_namespaces"]
    return names


def assert_subset(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    for key, value in expected.items():
        assert key in actual, f"{where}.{key} missing (expected {value!r})"
        if isinstance(value, dict):
            assert_subset(value, actual[key], f"{where}.{key}")
        else:
            assert actual[key] == value, f"{where}.{key}: {actual[key]!r} != {value!r}"


def mesh_at(version: str, platform: str, **istio: Any) -> Mesh:
    return with_istio(version, platform, installer="helm", **istio)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("minor", MINORS)
def test_release_charts_carry_every_intended_setting(
    tmp_path: Path, minor: int, platform: str
) -> None:
    release = istio_release(minor)
    version = release.name
    mesh = mesh_at(version, platform)
    openshift = platform == "openshift"
    for cluster in mesh.spec.clusters:
        rendered = render(release, mesh, cluster, tmp_path)
        istiod = rendered["istiod"]
        env = container_env(one(istiod, "Deployment", "istiod"), "discovery")
        assert env["CLUSTER_ID"] == cluster.name
        mesh_config = yaml.safe_load(one(istiod, "ConfigMap", "istio")["data"]["mesh"])
        assert mesh_config["defaultConfig"]["meshId"] == "mesh1"
        injector = injector_values(istiod)
        assert injector["global"]["meshID"] == "mesh1"
        assert injector["global"]["network"] == "network1"
        assert injector["global"]["multiCluster"]["clusterName"] == cluster.name

        cni = cni_settings(rendered["cni"])
        assert excluded_namespaces(rendered["cni"]) == ["istio-system", "kube-system"]
        if not openshift:
            assert cni["hostPaths"]["cni-bin-dir"] == "/opt/cni/bin"
            assert cni["hostPaths"]["cni-net-dir"] == "/etc/cni/net.d"
            assert cni["CHAINED_CNI_PLUGIN"] == "true"
            assert cni["nads"] == []
            continue
        profile = openshift_profile(release)
        wanted = profile["cni"]["cni"]
        assert cni["hostPaths"]["cni-bin-dir"] == wanted["cniBinDir"]
        assert cni["hostPaths"]["cni-net-dir"] == wanted["cniConfDir"]
        assert cni["CHAINED_CNI_PLUGIN"] == str(wanted["chained"]).lower()
        assert cni["CNI_CONF_NAME"] == wanted["cniConfFileName"]
        if "privileged" in wanted:  # else the chart's template decides, whatever the values
            assert cni["privileged"] == wanted["privileged"], (
                f"{version}: the OpenShift profile says privileged={wanted['privileged']}"
            )
        assert cni["nads"] == (
            [("default", "istio-cni")] if wanted.get("provider") == "multus" else []
        )
        # The injector sees what the profile gives it: the Multus network annotation (up to
        # 1.18), istio_cni / pilot.cni with the multus provider, the platform.
        wanted_injector: dict[str, Any] = {
            key: profile["istiod"][key]
            for key in ("istio_cni", "sidecarInjectorWebhook", "global")
            if key in profile["istiod"]
        }
        if "pilot" in profile["istiod"]:
            wanted_injector["pilot"] = {"cni": profile["istiod"]["pilot"]["cni"]}
        assert_subset(wanted_injector, injector, f"{version} injector values")
        if "platform" in profile["istiod"].get("global", {}):
            assert env["PLATFORM"] == "openshift"
    record("helm template", version, platform, "helm", "accepted")


def leaves(values: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in values.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key)


def without(values: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(values)
    node = copied
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copied


def changed(values: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(values)
    node = copied
    for key in path[:-1]:
        node = node[key]
    value = node[path[-1]]
    if isinstance(value, bool):
        node[path[-1]] = not value
    elif isinstance(value, str):
        node[path[-1]] = f"{value}-probe"
    elif isinstance(value, list):
        node[path[-1]] = [*value, "probe"]
    else:
        node[path[-1]] = {"probe": "x"}
    return copied


def unread_values(release: Path, chart: Chart, values: dict[str, Any], tmp_path: Path) -> list[str]:
    """The leaves of `values` whose removal and change both leave the rendering unchanged
    (a change that makes the chart fail proves nothing: the chart may just validate it)."""
    baseline = template(release, chart, values, tmp_path)
    assert baseline.returncode == 0, baseline.stderr

    def read(path: tuple[str, ...]) -> bool:
        removed = template(release, chart, without(values, path), tmp_path)
        if removed.returncode != 0 or removed.stdout != baseline.stdout:
            return True
        probe = template(release, chart, changed(values, path), tmp_path)
        return probe.returncode == 0 and probe.stdout != baseline.stdout

    paths = list(leaves(values))
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(read, paths))
    return [".".join(path) for path, ok in zip(paths, verdicts, strict=True) if not ok]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("minor", MINORS)
def test_no_value_is_silently_ignored(tmp_path: Path, minor: int, platform: str) -> None:
    release = istio_release(minor)
    mesh = mesh_at(release.name, platform)
    values = helm_values(mesh, mesh.spec.clusters[0])
    unread = {
        chart.key: unread_values(release, chart, values[chart.key], tmp_path)
        for chart in charts(mesh)
        if values[chart.key]
    }
    assert unread == {key: [] for key in unread}, f"{release.name}: values nothing reads"


@pytest.mark.parametrize("minor", [19, 21, 24, NEWEST_MINOR])
def test_openshift_without_cni_keeps_the_platform_but_not_multus(
    tmp_path: Path, minor: int
) -> None:
    release = istio_release(minor)
    mesh = mesh_at(release.name, "openshift", cni={"enabled": False})
    rendered = render(release, mesh, mesh.spec.clusters[0], tmp_path)
    assert set(rendered) == {"base", "istiod"}
    istiod = rendered["istiod"]
    assert container_env(one(istiod, "Deployment", "istiod"), "discovery")["PLATFORM"] == (
        "openshift"
    )
    injector = injector_values(istiod)
    assert not injector.get("pilot", {}).get("cni", {}).get("enabled")
    assert not injector.get("istio_cni", {}).get("enabled")


def test_trust_domain_revision_and_user_values(tmp_path: Path) -> None:
    release = istio_release(NEWEST_MINOR)
    data = seed_data()
    data["spec"]["trustDomain"] = "corp.example"
    data["spec"]["istio"].update(
        version=release.name,
        installer="helm",
        revision="1-30",
        values={"pilot": {"env": {"EXTRA": "yes"}}},
    )
    mesh = mesh_from(data)
    cluster = mesh.spec.clusters[1]
    istiod = render(release, mesh, cluster, tmp_path)["istiod"]
    env = container_env(one(istiod, "Deployment", "istiod-1-30"), "discovery")
    assert env["CLUSTER_ID"] == cluster.name
    assert env["REVISION"] == "1-30"
    assert env["EXTRA"] == "yes"
    mesh_config = yaml.safe_load(one(istiod, "ConfigMap", "istio-1-30")["data"]["mesh"])
    assert mesh_config["trustDomain"] == "corp.example"
    assert mesh_config["defaultConfig"]["meshId"] == "mesh1"


def test_the_probe_finds_a_value_nothing_reads(tmp_path: Path) -> None:
    # The 1.19 base chart renders CRDs only: global.platform changes nothing there.
    release = istio_release(19)
    base = Chart("base", "base", "istio-base", "istio-system")
    assert unread_values(release, base, {"global": {"platform": "openshift"}}, tmp_path) == [
        "global.platform"
    ]


@pytest.mark.parametrize(
    ("minor", "values", "message"),
    [
        (NEWEST_MINOR, {"global": {"platform": "foo"}}, "unknown platform"),
        # The 1.21-1.23 OpenShift switch is gone from the >= 1.24 charts.
        (NEWEST_MINOR, {"profile": "openshift"}, "unknown profile"),
        (22, {"profile": "nope"}, "unknown profile"),
    ],
)
def test_values_that_break_the_charts_fail(
    tmp_path: Path, minor: int, values: dict[str, Any], message: str
) -> None:
    chart = Chart("istiod", "istiod", "istiod", "istio-system")
    proc = template(istio_release(minor), chart, values, tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr
