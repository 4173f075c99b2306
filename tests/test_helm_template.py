"""helm template renders Istio's real charts with the values meshgen generates.

The charts come from the istio.io/istio Go module scripts/install-tools builds istioctl from:
Istio master of 2026-08-27 (1.31-dev, every chart versioned 1.0.0), the only Istio charts
reachable here (the Go module proxy serves no release tag, and the Helm repository is not
reachable). They have the value layout of 1.24 and later (global.platform, the flat cni
chart, pilot.cni), so the values of 1.24-1.30 are rendered against them; a value layout of an
older minor (e.g. `profile: openshift`, 1.21-1.23) is shown to fail on them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.render.helm import charts, helm_values
from meshgen.spec import Cluster, Mesh
from meshgen.versions import NEWEST_MINOR
from tests.helpers import ROOT, mesh_from, seed_data, with_istio
from tests.tooling import run, tool

pytestmark = pytest.mark.tools

# Chart name (render/helm.py) -> directory under manifests/charts of the Istio module.
CHART_DIRS = {"base": "base", "cni": "istio-cni", "istiod": "istio-control/istio-discovery"}
MINORS = range(24, NEWEST_MINOR + 1)


def istio_module_version() -> str:
    """The pseudo-version scripts/install-tools pins (one source of truth)."""
    script = (ROOT / "scripts" / "install-tools").read_text(encoding="utf-8")
    match = re.search(r"^ISTIOCTL_MODULE_VERSION=(\S+)$", script, re.MULTILINE)
    assert match is not None
    return match.group(1)


@pytest.fixture(scope="module")
def chart_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    module = f"istio.io/istio@{istio_module_version()}"
    proc = subprocess.run(["go", "mod", "download", "-json", module], capture_output=True,
                          text=True, check=False, env={**os.environ, "GOFLAGS": "-mod=mod"})
    info = json.loads(proc.stdout or "{}")
    if "Dir" not in info:
        pytest.fail(f"cannot download {module}: {info.get('Error', proc.stderr)}")
    source = Path(info["Dir"]) / "manifests" / "charts"
    target = tmp_path_factory.mktemp("charts")
    dirs: dict[str, Path] = {}
    for chart, directory in CHART_DIRS.items():
        # The module cache is read-only; helm wants to write nothing, but copies are cheap
        # and keep the cache out of harm's way.
        dirs[chart] = Path(shutil.copytree(source / directory, target / chart))
        os.chmod(dirs[chart], 0o755)
    return dirs


def template(chart_dirs: dict[str, Path], chart: str, values: dict[str, Any],
             namespace: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    values_file = tmp_path / f"{chart}.values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    return run(tool("helm"), "template", chart, chart_dirs[chart], "--namespace", namespace,
               "-f", values_file)


def render_all(chart_dirs: dict[str, Path], mesh: Mesh, cluster: Cluster, tmp_path: Path,
               only: tuple[str, ...] = ()) -> dict[str, list[dict[str, Any]]]:
    values = helm_values(mesh, cluster)
    rendered: dict[str, list[dict[str, Any]]] = {}
    for chart in charts(mesh):
        if only and chart.key not in only:
            continue
        proc = template(chart_dirs, chart.key, values[chart.key], chart.namespace, tmp_path)
        assert proc.returncode == 0, (chart.key, proc.stderr)
        # libyaml: the base chart's CRDs are ~1 MB of YAML.
        rendered[chart.key] = [d for d in yaml.load_all(proc.stdout, Loader=yaml.CSafeLoader)
                               if d]
    return rendered


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind
             and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in found])
    return found[0]


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "discovery"]
    return {e["name"]: e.get("value") for e in container["env"]}


def injector_values(docs: list[dict[str, Any]]) -> dict[str, Any]:
    configmap = one(docs, "ConfigMap", "istio-sidecar-injector")
    values: dict[str, Any] = json.loads(configmap["data"]["values"])
    return values


@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
@pytest.mark.parametrize("minor", MINORS)
def test_charts_render_with_the_values(chart_dirs: dict[str, Path], tmp_path: Path,
                                       minor: int, platform: str) -> None:
    mesh = with_istio(f"1.{minor}.0", platform)
    openshift = platform == "openshift"
    first = mesh.spec.clusters[0]
    # Only istiod's values differ between clusters.
    rendered = render_all(chart_dirs, mesh, first, tmp_path)
    for cluster in mesh.spec.clusters:
        if cluster != first:
            shared = ("base", "cni")
            assert [helm_values(mesh, cluster)[k] for k in shared] == [
                helm_values(mesh, first)[k] for k in shared]
            rendered.update(render_all(chart_dirs, mesh, cluster, tmp_path, only=("istiod",)))
        istiod = rendered["istiod"]
        env = env_of(one(istiod, "Deployment", "istiod"))
        assert env["CLUSTER_ID"] == cluster.name
        assert env["PLATFORM"] == ("openshift" if openshift else "")
        mesh_config = yaml.safe_load(one(istiod, "ConfigMap", "istio")["data"]["mesh"])
        assert mesh_config["defaultConfig"]["meshId"] == "mesh1"
        assert mesh_config["trustDomain"] == "cluster.local"
        injector = injector_values(istiod)
        assert injector["global"]["meshID"] == "mesh1"
        assert injector["global"]["network"] == "network1"
        assert injector["global"]["multiCluster"]["clusterName"] == cluster.name
        # The injection template adds the default/istio-cni network for Multus (§1.4).
        assert injector["pilot"]["cni"]["enabled"] is True
        assert injector["pilot"]["cni"]["provider"] == ("multus" if openshift else "default")

        cni = rendered["cni"]
        daemonset = one(cni, "DaemonSet", "istio-cni-node")
        host_paths = {v["name"]: v["hostPath"]["path"]
                      for v in daemonset["spec"]["template"]["spec"]["volumes"]
                      if "hostPath" in v}
        assert host_paths["cni-bin-dir"] == ("/var/lib/cni/bin" if openshift
                                             else "/opt/cni/bin")
        assert host_paths["cni-net-dir"] == ("/etc/cni/multus/net.d" if openshift
                                             else "/etc/cni/net.d")
        config = one(cni, "ConfigMap", "istio-cni-config")["data"]
        assert config["EXCLUDE_NAMESPACES"] == "istio-system,kube-system"
        assert config["CHAINED_CNI_PLUGIN"] == ("false" if openshift else "true")
        nads = [d for d in cni if d["kind"] == "NetworkAttachmentDefinition"]
        assert [(n["metadata"]["namespace"], n["metadata"]["name"]) for n in nads] == (
            [("default", "istio-cni")] if openshift else [])
        args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--log_output_level=info" in args

        base = rendered["base"]
        assert any(d["kind"] == "CustomResourceDefinition" for d in base)
        validator = one(base, "ValidatingWebhookConfiguration", "istiod-default-validator")
        assert validator["webhooks"][0]["failurePolicy"] == "Ignore"  # flipped at runtime


def test_trust_domain_revision_and_user_values(chart_dirs: dict[str, Path],
                                               tmp_path: Path) -> None:
    data = seed_data()
    data["spec"]["trustDomain"] = "corp.example"
    data["spec"]["istio"].update(version="1.30.0", revision="1-30",
                                 values={"pilot": {"env": {"EXTRA": "yes"}}})
    mesh = mesh_from(data)
    cluster = mesh.spec.clusters[1]
    istiod = render_all(chart_dirs, mesh, cluster, tmp_path)["istiod"]
    deployment = one(istiod, "Deployment", "istiod-1-30")
    env = env_of(deployment)
    assert env["CLUSTER_ID"] == cluster.name
    assert env["REVISION"] == "1-30"
    assert env["EXTRA"] == "yes"
    mesh_config = yaml.safe_load(one(istiod, "ConfigMap", "istio-1-30")["data"]["mesh"])
    assert mesh_config["trustDomain"] == "corp.example"
    assert mesh_config["defaultConfig"]["meshId"] == "mesh1"


def test_openshift_without_cni_keeps_the_platform_but_not_multus(
        chart_dirs: dict[str, Path], tmp_path: Path) -> None:
    mesh = with_istio("1.30.0", "openshift", cni={"enabled": False})
    rendered = render_all(chart_dirs, mesh, mesh.spec.clusters[0], tmp_path)
    assert set(rendered) == {"base", "istiod"}
    istiod = rendered["istiod"]
    assert env_of(one(istiod, "Deployment", "istiod"))["PLATFORM"] == "openshift"
    assert injector_values(istiod)["pilot"]["cni"]["enabled"] is False


@pytest.mark.parametrize(("values", "message"), [
    ({"global": {"platform": "foo"}}, "unknown platform"),
    # The 1.21-1.23 OpenShift switch is gone from the >= 1.24 charts (reference §1.3).
    ({"profile": "openshift"}, "unknown profile"),
    ({"profile": "nope"}, "unknown profile"),
])
@pytest.mark.parametrize("chart", sorted(CHART_DIRS))
def test_values_that_break_the_charts_fail(chart_dirs: dict[str, Path], tmp_path: Path,
                                           chart: str, values: dict[str, Any],
                                           message: str) -> None:
    proc = template(chart_dirs, chart, values, "istio-system", tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr
