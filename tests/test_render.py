"""Render: version-correct objects for every Istio minor and both platforms."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshgen.render import OutputFile, render
from meshgen.render.istio import render_istio_operator
from meshgen.versions import NEWEST_MINOR, OLDEST_MINOR
from tests.helpers import mesh_from, seed_data, seed_mesh, with_istio

# The IstioOperator spec of the seed setup (tests/data/seed: "Create the following Istio
# configuration for cluster1"), copied verbatim from the blog post.
SEED_CLUSTER1_SPEC = yaml.safe_load("""
components:
  cni:
    enabled: true
    namespace: kube-system
values:
  global:
    meshID: mesh1
    multiCluster:
      clusterName: cluster1
    network: network1
  cni:
    cniBinDir: /var/lib/cni/bin
    cniConfDir: /etc/cni/multus/net.d
    chained: false
    cniConfFileName: "istio-cni.conf"
    excludeNamespaces:
    - istio-system
    - kube-system
    logLevel: info
  sidecarInjectorWebhook:
    injectedAnnotations:
      k8s.v1.cni.cncf.io/networks: istio-cni
""")

MINORS = range(OLDEST_MINOR, NEWEST_MINOR + 1)


def files_by_path(files: tuple[OutputFile, ...]) -> dict[str, tuple[dict[str, Any], ...]]:
    return {f.path: f.documents for f in files}


def test_seed_istio_operator_spec_is_exactly_the_blog_values() -> None:
    mesh = seed_mesh()
    for cluster in mesh.spec.clusters:
        expected = yaml.safe_load(yaml.safe_dump(SEED_CLUSTER1_SPEC))
        expected["values"]["global"]["multiCluster"]["clusterName"] = cluster.name
        assert render_istio_operator(mesh, cluster)["spec"] == expected


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
def test_every_minor_renders_identity_and_version_specific_fields(
    minor: int, platform: str
) -> None:
    mesh = with_istio(f"1.{minor}.0", platform)
    cluster = mesh.spec.clusters[1]
    iop = render_istio_operator(mesh, cluster)
    values = iop["spec"]["values"]
    assert values["global"] == {
        "meshID": "mesh1",
        "multiCluster": {"clusterName": "cluster2"},
        "network": "network1",
    }
    assert iop["spec"]["components"]["cni"] == {"enabled": True, "namespace": "kube-system"}
    cni = values["cni"]
    # logLevel is a no-op from 1.23 (istio/istio#51972).
    if minor >= 23:
        assert cni["logging"] == {"level": "info"}
        assert "logLevel" not in cni
    else:
        assert cni["logLevel"] == "info"
        assert "logging" not in cni
    openshift = platform == "openshift"
    # From 1.11 the openshift profile carries the version-specific CNI details (1.11 added
    # privileged CNI, istio/istio#34232); 1.10 spells out the seed's values.
    assert (iop["spec"].get("profile") == "openshift") == (openshift and minor >= 11)
    assert ("cniBinDir" in cni) == (openshift and minor < 11)
    assert ("sidecarInjectorWebhook" in values) == (openshift and minor < 11)

    out = files_by_path(render(mesh).files)
    traffic = out["cluster2/traffic/sample/rules.yaml"]
    api = "networking.istio.io/v1" if minor >= 22 else "networking.istio.io/v1beta1"
    assert {d["apiVersion"] for d in traffic} == {api}
    # Per-namespace NetworkAttachmentDefinitions only up to 1.18 on OpenShift
    # (versions.MULTUS_NETWORK_NAMESPACED).
    has_nad = "cluster2/cni/network-attachment-definitions.yaml" in out
    assert has_nad == (openshift and minor <= 18)
    # Kubernetes >= 1.24 (assumed from Istio 1.18) needs the reader token Secret.
    assert ("cluster2/istio/reader-token-secret.yaml" in out) == (minor >= 18)


def test_revision_changes_injection_label_and_operator() -> None:
    mesh = with_istio("1.20.3", "kubernetes", revision="canary")
    out = files_by_path(render(mesh).files)
    sample = [d for d in out["cluster1/namespaces.yaml"] if d["metadata"]["name"] == "sample"]
    labels = sample[0]["metadata"]["labels"]
    assert labels["istio.io/rev"] == "canary"
    assert "istio-injection" not in labels
    iop = out["cluster1/istio/istio-operator.yaml"][0]
    assert iop["spec"]["revision"] == "canary"
    assert iop["metadata"]["name"] == "istio-canary"


def test_injection_false_disables_injection() -> None:
    data = seed_data()
    data["spec"]["namespaces"] = [{"name": "sample", "injection": False}]
    out = files_by_path(render(mesh_from(data)).files)
    ns = out["cluster1/namespaces.yaml"][1]
    assert ns["metadata"]["labels"]["istio-injection"] == "disabled"
    assert "cluster1/cni/network-attachment-definitions.yaml" not in out


def test_placeholders_have_exact_names_labels_and_empty_keys() -> None:
    out = files_by_path(render(seed_mesh()).files)
    (remote,) = out["remote-secrets/istio-remote-secret-cluster2.yaml"]
    assert remote == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "istio-remote-secret-cluster2",
            "namespace": "istio-system",
            "labels": {"istio/multiCluster": "true"},
            "annotations": {"networking.istio.io/cluster": "cluster2"},
        },
        "stringData": {"cluster2": ""},
    }
    (cacerts,) = out["cluster2/secrets/cacerts.yaml"]
    assert cacerts["metadata"] == {"name": "cacerts", "namespace": "istio-system"}
    assert cacerts["stringData"] == dict.fromkeys(
        ["ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"], ""
    )
    # One placeholder per cluster (for its peers), none inside the cluster directories.
    assert [p for p in out if "remote-secret" in p] == [
        "remote-secrets/istio-remote-secret-cluster1.yaml",
        "remote-secrets/istio-remote-secret-cluster2.yaml",
    ]


def test_kustomization_lists_no_placeholder_and_no_operator_with_istioctl() -> None:
    out = files_by_path(render(seed_mesh()).files)
    (kustomization,) = out["cluster1/kustomization.yaml"]
    assert kustomization["resources"] == [
        "namespaces.yaml",
        "cni/network-attachment-definitions.yaml",
    ]
    # The rules are their own unit, applied after the cluster directory.
    assert out["cluster1/traffic/sample/kustomization.yaml"] == (
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["rules.yaml"],
        },
    )


def test_operator_installer_lists_the_istio_operator() -> None:
    mesh = with_istio("1.23.0", installer="operator")
    out = files_by_path(render(mesh).files)
    assert "istio/istio-operator.yaml" in out["cluster1/kustomization.yaml"][0]["resources"]


def test_rules_go_to_every_cluster_workloads_stay_where_placed() -> None:
    """Each istiod reads rules only from its own cluster but serves every cluster's endpoints:
    a cluster that does not run the service still gets its rules (and its namespace), or its
    clients would bypass them (tests/test_placement.py has the rest)."""
    data = seed_data()
    data["spec"]["namespaces"] = [{"name": "sample", "clusters": ["cluster1"]}]
    data["spec"]["services"][0]["clusters"] = ["cluster1"]
    out = files_by_path(render(mesh_from(data)).files)
    assert out["cluster1/traffic/sample/rules.yaml"] == out["cluster2/traffic/sample/rules.yaml"]
    assert "cluster1/traffic/sample/services.yaml" not in out
    (stub,) = out["cluster2/traffic/sample/services.yaml"]
    assert stub["kind"] == "Service"
    assert "selector" not in stub["spec"]
    names = [d["metadata"]["name"] for d in out["cluster2/namespaces.yaml"]]
    assert names == ["istio-system", "sample"]
    verify = [d["kind"] for d in out["cluster2/verify/sample.yaml"]]
    assert verify == ["ServiceAccount", "Deployment"]  # a client, no backend


def test_values_escape_hatch_is_deep_merged_last() -> None:
    mesh = with_istio("1.10.0", values={"pilot": {"env": {"A": "1"}}, "cni": {"logLevel": "debug"}})
    values = render_istio_operator(mesh, mesh.spec.clusters[0])["spec"]["values"]
    assert values["pilot"] == {"env": {"A": "1"}}
    assert values["cni"]["logLevel"] == "debug"
    assert values["cni"]["cniBinDir"] == "/var/lib/cni/bin"


def test_weighted_routes_and_full_hosts() -> None:
    data = seed_data()
    data["spec"]["services"][0]["routes"] = [
        {"destinations": [{"subset": "v1", "weight": 90}, {"subset": "v2", "weight": 10}]}
    ]
    out = files_by_path(render(mesh_from(data)).files)
    vs = out["cluster1/traffic/sample/rules.yaml"][1]
    host = "helloworld.sample.svc.cluster.local"
    assert vs["spec"] == {
        "hosts": [host],
        "http": [
            {
                "route": [
                    {"destination": {"host": host, "subset": "v1"}, "weight": 90},
                    {"destination": {"host": host, "subset": "v2"}, "weight": 10},
                ]
            }
        ],
    }


def test_traffic_objects_are_shared_between_clusters() -> None:
    out = files_by_path(render(seed_mesh()).files)
    first = out["cluster1/traffic/sample/rules.yaml"]
    second = out["cluster2/traffic/sample/rules.yaml"]
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_trust_domain_goes_to_mesh_config() -> None:
    mesh = seed_mesh(trustDomain="example.org")
    spec = render_istio_operator(mesh, mesh.spec.clusters[0])["spec"]
    assert spec["meshConfig"] == {"trustDomain": "example.org"}


def test_float_values_survive_emit() -> None:
    from meshgen.emit import emit

    mesh = with_istio("1.10.0", values={"pilot": {"traceSampling": 1.0}})
    files = emit(render(mesh), "mesh.yaml")
    text = files["cluster1/istio/istio-operator.yaml"].decode()
    assert yaml.safe_load(text)["spec"]["values"]["pilot"] == {"traceSampling": 1.0}


def test_single_cluster_needs_no_peer_secrets() -> None:
    data = seed_data()
    data["spec"]["clusters"] = data["spec"]["clusters"][:1]
    data["spec"]["istio"]["version"] = "1.28.0"
    rendered = render(mesh_from(data))
    paths = {f.path for f in rendered.files}
    assert not any("remote-secret" in p or "reader-token" in p for p in paths)
    assert "Remote secrets" not in rendered.readme


def test_dual_stack_join_passes_comma_separated_cidrs() -> None:
    data = seed_data()
    data["spec"]["clusters"][0]["podCIDR"] = ["10.128.0.0/14", "fd01::/48"]
    data["spec"]["clusters"][0]["serviceCIDR"] = ["172.30.0.0/16", "fd02::/112"]
    readme = render(mesh_from(data)).readme
    assert "--clustercidr 10.128.0.0/14,fd01::/48 --servicecidr 172.30.0.0/16,fd02::/112" in readme


@pytest.mark.parametrize("minor", [12, 19, 24])
def test_cni_disabled_on_openshift_drops_the_openshift_profile(minor: int) -> None:
    # The profile's Multus annotation / CNI provider would break pods without istio-cni.
    mesh = with_istio(f"1.{minor}.0", cni={"enabled": False})
    spec = render_istio_operator(mesh, mesh.spec.clusters[0])["spec"]
    assert "profile" not in spec
    assert "components" not in spec
    assert "cni" not in spec["values"]


def test_destination_port_is_rendered() -> None:
    data = seed_data()
    data["spec"]["services"][0]["routes"] = [{"destinations": [{"subset": "v2", "port": 5000}]}]
    out = files_by_path(render(mesh_from(data)).files)
    route = out["cluster1/traffic/sample/rules.yaml"][1]["spec"]["http"][0]["route"][0]
    assert route["destination"]["port"] == {"number": 5000}
