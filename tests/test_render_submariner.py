"""Submariner resources for the submariner-operator (its CRDs: config/crd/bases of
https://github.com/submariner-io/submariner-operator)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshgen.emit import emit
from meshgen.render import render, services_in
from meshgen.render.runbook.markdown import render_markdown
from meshgen.render.runbook.model import Runbook
from meshgen.render.runbook.submariner_operator import submariner_manual_steps
from meshgen.render.secrets import render_cacerts
from meshgen.render.submariner import (
    render_service_exports,
    render_submariner,
    render_submariner_placeholders,
)
from meshgen.spec import Mesh
from tests.helpers import mesh_from, seed_data

MANAGED = {"app.kubernetes.io/managed-by": "meshgen"}


def operator_data(**submariner: Any) -> dict[str, Any]:
    """The seed example with `deploy: operator` and an API server on the broker cluster."""
    data = copy.deepcopy(seed_data())
    data["spec"]["submariner"].update(deploy="operator", **submariner)
    data["spec"]["clusters"][0]["apiServer"] = "https://api.cluster1.example.com:6443"
    return data


def operator_mesh(**submariner: Any) -> Mesh:
    return mesh_from(operator_data(**submariner))


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


OPERATOR_NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {
        "name": "submariner-operator",
        "labels": {
            **MANAGED,
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/audit": "privileged",
            "pod-security.kubernetes.io/warn": "privileged",
        },
    },
}


def submariner(cluster: str, pods: str, services: str) -> dict[str, Any]:
    return {
        "apiVersion": "submariner.io/v1alpha1",
        "kind": "Submariner",
        "metadata": {"name": "submariner", "namespace": "submariner-operator", "labels": MANAGED},
        "spec": {
            "broker": "k8s",
            "brokerK8sApiServer": "api.cluster1.example.com:6443",
            "brokerK8sRemoteNamespace": "submariner-k8s-broker",
            "brokerK8sSecret": "submariner-broker-secret",
            "ceIPSecPSKSecret": "submariner-ipsec-psk",
            "ceIPSecDebug": False,
            "cableDriver": "libreswan",
            "clusterID": cluster,
            "clusterCIDR": pods,
            "serviceCIDR": services,
            "globalCIDR": "",
            "namespace": "submariner-operator",
            "natEnabled": True,
            "serviceDiscoveryEnabled": True,
            "debug": False,
        },
    }


def test_seed_example_exact_objects() -> None:
    mesh = operator_mesh()
    cluster1, cluster2 = mesh.spec.clusters
    assert render_submariner(mesh, cluster1) == [
        OPERATOR_NAMESPACE,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "submariner-k8s-broker", "labels": MANAGED},
        },
        {
            "apiVersion": "submariner.io/v1alpha1",
            "kind": "Broker",
            "metadata": {
                "name": "submariner-broker",
                "namespace": "submariner-k8s-broker",
                "labels": MANAGED,
            },
            "spec": {
                "components": ["service-discovery", "connectivity"],
                "globalnetEnabled": False,
                "globalnetCIDRRange": "242.0.0.0/8",
                "defaultGlobalnetClusterSize": 65536,
            },
        },
        submariner("cluster1", "10.128.0.0/14", "172.30.0.0/16"),
    ]
    assert render_submariner(mesh, cluster2) == [
        OPERATOR_NAMESPACE,
        submariner("cluster2", "10.132.0.0/14", "172.31.0.0/16"),
    ]


def test_cidrs_are_the_checked_spec_fields() -> None:
    data = operator_data()
    data["spec"]["clusters"][1].update(
        podCIDR=["10.132.0.0/14", "fd00:10:132::/56"],
        serviceCIDR=["172.31.0.0/16", "fd00:10:96::/112"],
    )
    mesh = mesh_from(data)
    for cluster in mesh.spec.clusters:
        (sub,) = by_kind(render_submariner(mesh, cluster), "Submariner")
        # The CRD's clusterCIDR/serviceCIDR are strings; the operator splits them on ",".
        assert sub["spec"]["clusterCIDR"].split(",") == [str(n) for n in cluster.pod_cidr]
        assert sub["spec"]["serviceCIDR"].split(",") == [str(n) for n in cluster.service_cidr]
        assert sub["spec"]["clusterID"] == cluster.name
    (sub,) = by_kind(render_submariner(mesh, mesh.spec.clusters[1]), "Submariner")
    assert sub["spec"]["clusterCIDR"] == "10.132.0.0/14,fd00:10:132::/56"


def test_broker_only_on_the_broker_cluster() -> None:
    data = operator_data(broker="cluster2")
    data["spec"]["clusters"][1]["apiServer"] = "https://[2001:db8::1]:6443/"
    mesh = mesh_from(data)
    kinds = {c.name: [d["kind"] for d in render_submariner(mesh, c)] for c in mesh.spec.clusters}
    assert kinds == {
        "cluster1": ["Namespace", "Submariner"],
        "cluster2": ["Namespace", "Namespace", "Broker", "Submariner"],
    }
    for cluster in mesh.spec.clusters:
        (sub,) = by_kind(render_submariner(mesh, cluster), "Submariner")
        # No scheme, no trailing slash (subctl pkg/deploy/submariner.go removeSchemaPrefix).
        assert sub["spec"]["brokerK8sApiServer"] == "[2001:db8::1]:6443"


def test_spec_switches_reach_the_resources() -> None:
    mesh = operator_mesh(
        cableDriver="wireguard", natTraversal=False, serviceDiscovery=False, version="0.21.0"
    )
    docs = render_submariner(mesh, mesh.spec.clusters[0])
    (sub,) = by_kind(docs, "Submariner")
    assert sub["spec"]["cableDriver"] == "wireguard"
    assert sub["spec"]["natEnabled"] is False
    assert sub["spec"]["serviceDiscoveryEnabled"] is False
    assert sub["spec"]["version"] == "0.21.0"
    (broker,) = by_kind(docs, "Broker")
    assert broker["spec"]["components"] == ["connectivity"]
    assert (
        "version"
        not in by_kind(render_submariner(operator_mesh(), mesh.spec.clusters[0]), "Submariner")[0][
            "spec"
        ]
    )


def _manual_steps(mesh: Mesh) -> str:
    """The runbook text submariner_manual_steps writes into a step of its own."""
    rb = Runbook()
    rb.step("Submariner")
    submariner_manual_steps(mesh, rb)
    return render_markdown(rb).partition("\n")[2].strip()


def test_subctl_deploy_renders_no_operator_resources() -> None:
    data = operator_data()
    data["spec"]["submariner"]["deploy"] = "subctl"
    mesh = mesh_from(data)
    for cluster in mesh.spec.clusters:
        assert render_submariner(mesh, cluster) == []
        assert render_submariner_placeholders(mesh, cluster) == []
    assert _manual_steps(mesh) == ""
    plain = mesh_from(seed_data())
    assert render_submariner(plain, plain.spec.clusters[0]) == []


@pytest.mark.parametrize("deploy", ["subctl", "operator"])
@pytest.mark.parametrize("nat", [True, False])
def test_every_subctl_join_follows_nat_traversal(deploy: str, nat: bool) -> None:
    """`natTraversal: false` is `--natt=false` on every `subctl join` the output prints
    (subctl: the README's Submariner step; operator: the manual steps), and nothing else."""
    data = operator_data(natTraversal=nat)
    data["spec"]["submariner"]["deploy"] = deploy
    mesh = mesh_from(data)
    files = emit(render(mesh), "mesh.yaml")
    joins = [
        line
        for blob in files.values()
        for line in blob.decode().splitlines()
        if "subctl join " in line and "`subctl join`" not in line
    ]
    sub = mesh.spec.submariner
    assert sub is not None
    joined = [c.name for c in mesh.spec.clusters if deploy == "subctl" or c.name != sub.broker]
    assert [line.split()[4] for line in joins] == joined  # `subctl join <file> --context <c>`
    for line in joins:
        assert line.startswith("subctl join broker-info.subm --context ")
        assert line.endswith(" --natt=false") is not nat
        assert "--natt=true" not in line  # true is subctl's default


def export_mesh(submariner: dict[str, Any] | None) -> Mesh:
    data = operator_data()
    data["spec"]["services"][0]["export"] = True
    data["spec"]["services"].append(
        {"name": "ratings", "namespace": "sample", "clusters": ["cluster2"], "export": True}
    )
    data["spec"]["services"].append({"name": "internal", "namespace": "sample"})
    if submariner is None:
        del data["spec"]["submariner"]
    else:
        data["spec"]["submariner"].update(submariner)
    return mesh_from(data)


def export(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceExport",
        "metadata": {"name": name, "namespace": "sample", "labels": MANAGED},
    }


@pytest.mark.parametrize("deploy", ["operator", "subctl"])
def test_exports_only_where_placed(deploy: str) -> None:
    mesh = export_mesh({"deploy": deploy})
    cluster1, cluster2 = mesh.spec.clusters
    assert render_service_exports(mesh, cluster1, services_in(mesh, cluster1)) == [
        export("helloworld")
    ]
    assert render_service_exports(mesh, cluster2, services_in(mesh, cluster2)) == [
        export("helloworld"),
        export("ratings"),
    ]


def test_no_exports_without_service_discovery() -> None:
    mesh = export_mesh(None)
    cluster = mesh.spec.clusters[0]
    assert render_service_exports(mesh, cluster, list(mesh.spec.services)) == []


def test_placeholders_match_what_the_submariner_resource_references() -> None:
    mesh = operator_mesh()
    for cluster in mesh.spec.clusters:
        (sub,) = by_kind(render_submariner(mesh, cluster), "Submariner")
        placeholders = render_submariner_placeholders(mesh, cluster)
        assert placeholders == [
            (
                "secrets/submariner-broker-secret.yaml",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": "submariner-broker-secret",
                        "namespace": "submariner-operator",
                    },
                    "type": "Opaque",
                    "stringData": {"ca.crt": "", "namespace": "", "token": ""},
                },
            ),
            (
                "secrets/submariner-ipsec-psk.yaml",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": "submariner-ipsec-psk",
                        "namespace": "submariner-operator",
                    },
                    "type": "Opaque",
                    "stringData": {"psk": ""},
                },
            ),
        ]
        names = [doc["metadata"]["name"] for _, doc in placeholders]
        assert names == [sub["spec"]["brokerK8sSecret"], sub["spec"]["ceIPSecPSKSecret"]]
        # Same shape as the other placeholders: empty values only (never applied).
        for _, doc in placeholders:
            assert set(doc) == set(render_cacerts())
            assert set(doc["stringData"].values()) == {""}


def test_manual_steps_name_every_cluster_and_secret() -> None:
    mesh = operator_mesh(natTraversal=False)
    text = _manual_steps(mesh)
    for cluster in ("cluster1", "cluster2"):
        assert f"kubectl --context {cluster} label node '<node>' submariner.io/gateway=true" in text
        assert (
            f"kubectl --context {cluster} -n submariner-operator create secret generic "
            "submariner-broker-secret --from-file=ca.crt=broker-ca.crt "
            "--from-file=token=broker-token "
            "--from-literal=namespace=submariner-k8s-broker"
        ) in text
        assert (
            f"kubectl --context {cluster} -n submariner-operator create secret generic "
            "submariner-ipsec-psk --from-file=psk=ipsec-psk"
        ) in text
    assert "subctl deploy-broker --context cluster1" in text
    assert "submariner-latest/submariner-k8s-broker" in text
    assert "tr -- -_ +/ < broker-info.subm | base64 -d" in text
    # Only the non-broker cluster is joined; the flags carry the spec's values.
    assert (
        "subctl join broker-info.subm --context cluster2 --clusterid cluster2 "
        "--clustercidr 10.132.0.0/14 --servicecidr 172.31.0.0/16 "
        "--cable-driver libreswan --natt=false"
    ) in text
    assert "--context cluster1 --clusterid" not in text
    # Markdown: every code fence is closed.
    assert text.count("```") % 2 == 0
