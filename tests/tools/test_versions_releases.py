"""Every fact of meshgen.versions, checked against the released Istio of every minor.

For each minor's last patch (charts, profiles and CRDs exactly as tagged, from the
real-release folder) an observer reads the release itself, and the fact must say the same.
Facts that no chart, profile or CRD shows are listed in NOT_IN_RELEASE_FILES with the reason,
and the Sail table is compared with each Sail release's own versions.yaml.
"""

from __future__ import annotations

import functools
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen import versions
from meshgen.versions import FACTS, Fact
from tests.tooling import istio_release, shared

pytestmark = pytest.mark.tools

MINORS = range(versions.OLDEST_MINOR, versions.NEWEST_MINOR + 1)


@functools.cache
def crds(release: Path) -> dict[str, dict[str, Any]]:
    """kind -> CRD of the release's crd-all.gen.yaml (moved to files/ in 1.24)."""
    base = release / "charts" / "base"
    path = next(
        p
        for p in (base / "crds" / "crd-all.gen.yaml", base / "files" / "crd-all.gen.yaml")
        if p.exists()
    )
    docs = yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return {d["spec"]["names"]["kind"]: d for d in docs if d}


def schema(release: Path, kind: str, version: str) -> dict[str, Any]:
    crd = crds(release)[kind]
    (found,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    spec: dict[str, Any] = found["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec


def load_balancer(release: Path) -> dict[str, Any]:
    spec = schema(release, "DestinationRule", "v1beta1")
    lb: dict[str, Any] = spec["properties"]["trafficPolicy"]["properties"]["loadBalancer"]
    properties: dict[str, Any] = lb["properties"]
    return properties


def chart_text(release: Path, chart: str, *parts: str) -> str:
    directory = release / "charts" / chart
    return "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(directory.joinpath(*parts).glob("*.yaml"))
    )


def openshift_profile_values(release: Path) -> Any:
    profile = yaml.safe_load((release / "profiles" / "openshift.yaml").read_text("utf-8"))
    return profile["spec"].get("values")


ISTIOD = "istio-control/istio-discovery"
Observer = Callable[[Path], bool]
OBSERVERS: dict[str, Observer] = {
    "NETWORKING_V1": lambda r: any(
        v["name"] == "v1" and v.get("served") for v in crds(r)["VirtualService"]["spec"]["versions"]
    ),
    "LB_LEAST_REQUEST": lambda r: "LEAST_REQUEST" in load_balancer(r)["simple"]["enum"],
    "FAILOVER_PRIORITY": lambda r: (
        "failoverPriority" in (load_balancer(r)["localityLbSetting"]["properties"])
    ),
    "IN_CLUSTER_OPERATOR": lambda r: (r / "charts" / "istio-operator").is_dir(),
    "OPENSHIFT_PROFILE_BEYOND_SEED": lambda r: (
        openshift_profile_values(r)
        != (openshift_profile_values(istio_release(versions.OLDEST_MINOR)))
    ),
    "OPENSHIFT_PROFILE_INJECTED_NETWORK": lambda r: (
        "injectedAnnotations"
        in (openshift_profile_values(r) or {}).get("sidecarInjectorWebhook", {})
    ),
    "MULTUS_NETWORK_NAMESPACED": lambda r: (
        "`default/istio-cni`"
        in (r / "charts" / ISTIOD / "files" / "injection-template.yaml").read_text("utf-8")
    ),
    "CNI_LOGGING_LEVEL": lambda r: (
        ".Values.cni.logLevel" not in chart_text(r, "istio-cni", "templates")
    ),
    "HELM_CNI_PRIVILEGED_VALUE": lambda r: (
        ".Values.cni.privileged" in chart_text(r, "istio-cni", "templates")
    ),
    "HELM_CNI_PROVIDER_VALUE": lambda r: "provider" in chart_text(r, "istio-cni", "templates"),
    "HELM_OPENSHIFT_PROFILE": lambda r: (
        r / "charts" / "istio-cni" / "files" / "profile-openshift.yaml"
    ).exists(),
    "HELM_PLATFORM_PROFILE": lambda r: (
        r / "charts" / "istio-cni" / "files" / "profile-platform-openshift.yaml"
    ).exists(),
    "HELM_ISTIOD_PLATFORM_VALUE": lambda r: (
        ".Values.global.platform" in chart_text(r, ISTIOD, "templates")
    ),
    "HELM_PILOT_CNI_VALUE": lambda r: (
        ".Values.pilot.cni.enabled"
        in (r / "charts" / ISTIOD / "files" / "injection-template.yaml").read_text("utf-8")
    ),
    "HELM_BASE_DEFAULT_REVISION": lambda r: (
        ".Values.defaultRevision" in chart_text(r, "base", "templates")
    ),
    "HELM_REVISION_TAGS_SEPARATED": lambda r: any(
        line.strip() == "---"
        for p in (r / "charts" / ISTIOD / "templates").glob("revision-tags*.yaml")
        for line in p.read_text("utf-8").splitlines()
    ),
    "OLDEST_KUBERNETES_124": lambda r: (
        versions.KUBERNETES_SUPPORT[versions.parse(r.name)[1]][0] >= 24
    ),
}

# Facts about istioctl's code or the platform, not about charts, profiles or CRDs: their
# boundary is checked against the release source where it is cheap (below) or cited only.
NOT_IN_RELEASE_FILES = {
    "OPENSHIFT_SIDECAR_NEEDS_ANYUID": "OpenShift's SCC behaviour, from the istio.io platform "
    "setup page of each version (cited in meshgen/versions.py)",
    "TOP_LEVEL_CREATE_REMOTE_SECRET": "istioctl's command tree: test_istioctl_source_facts",
    "REMOTE_SECRET_WITHOUT_TOKEN_SECRETS": "istioctl's code: test_istioctl_source_facts",
    "TOP_LEVEL_TAG": "istioctl's command tree: tests/tools/test_revisions_releases.py",
    "ISTIOCTL_CNI_FOLLOWS_COMPONENT": "the released istioctl's manifest generate: "
    "tests/tools/test_revisions_releases.py",
    "TOP_LEVEL_UNINSTALL": "istioctl's command tree: tests/tools/test_revisions_releases.py",
}


def test_every_fact_has_an_observer_or_a_reason() -> None:
    assert set(FACTS) == set(OBSERVERS) | set(NOT_IN_RELEASE_FILES)
    assert not set(OBSERVERS) & set(NOT_IN_RELEASE_FILES)


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("name", sorted(OBSERVERS))
def test_fact_matches_the_release(name: str, minor: int) -> None:
    release = istio_release(minor)
    fact: Fact = FACTS[name]
    observed = OBSERVERS[name](release)
    assert fact.holds(versions.parse(release.name)) == observed, (
        f"{name} ({fact.summary}): meshgen says {not observed} for {release.name}, the release "
        f"says {observed}"
    )


def source_file(tag: str, member: str) -> str:
    with tarfile.open(shared("istio-src", f"istio-{tag}.tar.xz")) as archive:
        for info in archive:
            if info.name.endswith(member):
                data = archive.extractfile(info)
                assert data is not None
                return data.read().decode()
    pytest.fail(f"{member} not in istio-{tag}")


@pytest.mark.parametrize(("tag", "top_level"), [("1.11.8", False), ("1.12.9", True)])
def test_istioctl_source_facts(tag: str, top_level: bool) -> None:
    """create-remote-secret: under `istioctl x` until 1.11, top level from 1.12."""
    root = source_file(tag, "istioctl/cmd/root.go")
    on_root = (
        "rootCmd.AddCommand(multicluster.NewCreateRemoteSecretCommand" in root
        or "rootCmd.AddCommand(remoteSecretCmd)" in root
    )
    assert on_root is top_level
    assert versions.release(tag).has(versions.TOP_LEVEL_CREATE_REMOTE_SECRET) is top_level


@pytest.mark.parametrize(("tag", "handles_124"), [("1.13.9", False), ("1.14.6", True)])
def test_remote_secret_on_kubernetes_124(tag: str, handles_124: bool) -> None:
    code = source_file(tag, "istioctl/pkg/multicluster/remote_secret.go")
    assert ("IsAtLeastVersion" in code) is handles_124
    assert versions.release(tag).has(versions.REMOTE_SECRET_WITHOUT_TOKEN_SECRETS) is handles_124


def test_sail_table_is_each_release_versions_file() -> None:
    folder = shared("sail-operator")
    found = {p.parent.name: p for p in folder.glob("*/versions.yaml")}
    assert sorted(found) == sorted(versions.SAIL_RELEASES)
    for name, path in found.items():
        listed = yaml.safe_load(path.read_text(encoding="utf-8"))["versions"]
        assert versions.SAIL_RELEASES[name] == tuple(
            v["version"] for v in listed if "version" in v
        ), name


def test_patch_level_spans() -> None:
    fact = versions.HELM_CNI_PRIVILEGED_VALUE
    held = [
        v
        for v in ("1.11.5", "1.11.6", "1.12.0", "1.12.1", "1.12.2", "1.21.6", "1.22.0")
        if fact.holds(versions.parse(v))
    ]
    assert held == ["1.11.6", "1.12.2", "1.21.6"]
