"""istioctl judges the output offline: validate, analyze --use-kube=false, manifest generate.

These run the newest released istioctl (1.30.3, built from its tagged source by
scripts/install-istioctl-releases) over every example and the whole 1.10-1.30 matrix: it
reads every networking API version meshgen emits (v1beta1 and v1) and every IstioOperator
field of 1.10-1.30. The checks that need each minor's own istioctl are in
tests/tools/test_istioctl_releases.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.conform import manifest_files
from meshgen.spec import Mesh
from meshgen.versions import NEWEST_MINOR, OLDEST_MINOR
from tests.helpers import EXAMPLES, seed_variant_file
from tests.tooling import build, documents, run, services_for, tool

pytestmark = pytest.mark.tools


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Mesh, Path]:
    out = tmp_path_factory.mktemp(request.param)
    return build(EXAMPLES[request.param], out), out


def write_services(mesh: Mesh, directory: Path) -> Path:
    path = directory / "services.yaml"
    path.write_text(yaml.safe_dump_all(services_for(mesh), sort_keys=False))
    return path


def analyze(*paths: Path) -> list[dict[str, Any]]:
    """analyze's messages. -A: without it only the "default" namespace is analyzed (a vacuous
    pass); with `-o json` the exit code stays 0, so callers judge the messages."""
    proc = run(tool("istioctl"), "analyze", "-A", "--use-kube=false", "-o", "json", *paths)
    assert proc.returncode == 0, proc.stderr
    messages: list[dict[str, Any]] = json.loads(proc.stdout)
    return messages


def errors(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["level"] == "Error"]


def clusters(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/kustomization.yaml"))


def file_args(files: list[Path]) -> list[str | Path]:
    return [arg for f in files for arg in ("-f", f)]


def test_validate_accepts_every_file(example: tuple[Mesh, Path]) -> None:
    _, out = example
    for cluster in clusters(out):
        proc = run(tool("istioctl"), "validate", *file_args(manifest_files(cluster)))
        assert proc.returncode == 0, proc.stderr


def test_analyze_reports_no_errors(example: tuple[Mesh, Path], tmp_path: Path) -> None:
    mesh, out = example
    services = write_services(mesh, tmp_path)
    for cluster in clusters(out):
        assert errors(analyze(*manifest_files(cluster), services)) == []


def test_manifest_generate_carries_the_cluster_identity(example: tuple[Mesh, Path]) -> None:
    mesh, out = example
    if mesh.spec.istio.installer not in ("istioctl", "operator"):
        pytest.skip(
            "no IstioOperator: helm values are rendered by tests/tools/test_helm_releases.py"
        )
    for cluster in mesh.spec.clusters:
        proc = run(
            tool("istioctl"),
            "manifest",
            "generate",
            "-f",
            out / cluster.name / "istio" / "istio-operator.yaml",
        )
        assert proc.returncode == 0, proc.stderr
        objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
        by_name = {(d["kind"], d["metadata"]["name"]): d for d in objects}
        istiod = by_name[("Deployment", "istiod")]
        env = {
            e["name"]: e.get("value")
            for e in istiod["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["CLUSTER_ID"] == cluster.name
        mesh_config = yaml.safe_load(by_name[("ConfigMap", "istio")]["data"]["mesh"])
        assert mesh_config["defaultConfig"]["meshId"] == mesh.mesh_id
        injector = json.loads(by_name[("ConfigMap", "istio-sidecar-injector")]["data"]["values"])
        assert injector["global"]["network"] == mesh.spec.network
        if mesh.spec.istio.cni.enabled:
            daemonset = by_name[("DaemonSet", "istio-cni-node")]
            assert daemonset["metadata"]["namespace"] == mesh.spec.istio.cni.namespace
        if cluster.platform == "openshift":
            assert "/var/lib/cni/bin" in proc.stdout  # the Multus paths of the seed setup


@pytest.mark.parametrize("minor", range(OLDEST_MINOR, NEWEST_MINOR + 1))
@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
def test_version_matrix(minor: int, platform: str, tmp_path: Path) -> None:
    mesh = build(seed_variant_file(tmp_path, minor, platform), tmp_path / "out")
    cluster = tmp_path / "out" / "cluster1"
    assert run(tool("istioctl"), "validate", "-f", cluster).returncode == 0
    assert errors(analyze(cluster, write_services(mesh, tmp_path))) == []
    generated = run(
        tool("istioctl"), "manifest", "generate", "-f", cluster / "istio" / "istio-operator.yaml"
    )
    assert generated.returncode == 0, generated.stderr
    assert "CLUSTER_ID" in generated.stdout


def break_file(out: Path, file: str, old: str, new: str) -> Path:
    target = out / "cluster1" / file
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    return target


def test_validate_rejects_an_unknown_field(tmp_path: Path) -> None:
    build(EXAMPLES["openshift-submariner"], tmp_path / "out")
    target = break_file(tmp_path / "out", "traffic/sample/rules.yaml", "  host: ", "  hostt: ")
    proc = run(tool("istioctl"), "validate", "-f", target)
    assert proc.returncode != 0
    assert "hostt" in proc.stderr + proc.stdout


def test_analyze_rejects_a_route_to_a_missing_subset(tmp_path: Path) -> None:
    mesh = build(EXAMPLES["openshift-submariner"], tmp_path / "out")
    target = break_file(
        tmp_path / "out", "traffic/sample/rules.yaml", "subset: v2\n", "subset: v3\n"
    )
    services = write_services(mesh, tmp_path)
    assert [m["code"] for m in errors(analyze(target, services))] == ["IST0101"]
    text = run(tool("istioctl"), "analyze", "-A", "--use-kube=false", target, services)
    assert text.returncode == 79  # issues at or above the failure threshold (Error)


def test_manifest_generate_rejects_an_unknown_value(tmp_path: Path) -> None:
    build(EXAMPLES["openshift-submariner"], tmp_path / "out")
    target = break_file(
        tmp_path / "out",
        "istio/istio-operator.yaml",
        "      meshID: mesh1",
        "      meshId_typo: mesh1",
    )
    proc = run(tool("istioctl"), "manifest", "generate", "-f", target)
    assert proc.returncode != 0
    assert "meshId_typo" in proc.stderr


def test_every_kind_in_the_output_is_known_to_a_validator(example: tuple[Mesh, Path]) -> None:
    # kubeconform covers core kinds and CRDs; kustomize covers the Kustomization.
    _, out = example
    kinds = {
        d["kind"]
        for f in out.rglob("*.yaml")
        for d in documents(f)
        if not f.name.endswith(".values.yaml")
    }
    assert kinds <= {
        "Kustomization",
        "Namespace",
        "Secret",
        "NetworkAttachmentDefinition",
        "IstioOperator",
        "DestinationRule",
        "VirtualService",
        "Istio",
        "IstioCNI",
        "Submariner",
        "Broker",
        "ServiceExport",
        "ExternalSecret",
        "Application",
        "ApplicationSet",
        "IstioRevisionTag",
        "GitRepository",
        "HelmRepository",
        "HelmRelease",
        "PeerAuthentication",
        "AuthorizationPolicy",
        # The test workloads of <cluster>/verify/ (out/README.md's last step).
        "Deployment",
        "Service",
        "ServiceAccount",
        # The argocd-cm health-check patch of gitops/argocd/bootstrap/.
        "ConfigMap",
    }
