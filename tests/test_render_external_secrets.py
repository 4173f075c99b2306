"""ExternalSecrets that render exactly the Secrets of the placeholder provider."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from meshgen.render.external_secrets import (
    render_external_secrets,
    render_submariner_external_secrets,
)
from meshgen.render.secrets import render_cacerts, render_remote_secret
from meshgen.render.submariner import render_submariner_placeholders
from meshgen.spec import Mesh
from tests.helpers import K8S_EXAMPLE, mesh_from, seed_data

MANAGED = {"app.kubernetes.io/managed-by": "meshgen"}


def es_data(data: dict[str, Any] | None = None, **secrets: Any) -> dict[str, Any]:
    data = copy.deepcopy(data or seed_data())
    data["spec"]["secrets"] = {
        "provider": "external-secrets",
        "store": {"kind": "ClusterSecretStore", "name": "vault"},
        **secrets,
    }
    return data


def es_mesh(data: dict[str, Any] | None = None, **secrets: Any) -> Mesh:
    return mesh_from(es_data(data, **secrets))


def k8s_data() -> dict[str, Any]:
    loaded = yaml.safe_load(K8S_EXAMPLE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def produced_secret(es: dict[str, Any]) -> dict[str, Any]:
    """What external-secrets v0.16.2 makes of an ExternalSecret whose template has only
    metadata and a type (applyTemplate: every fetched key is copied; type, labels and
    annotations from the template), reduced to what a placeholder fixes."""
    spec = es["spec"]
    assert spec["target"]["creationPolicy"] == "Owner"
    template = spec["target"]["template"]
    assert "data" not in template
    assert "templateFrom" not in template
    meta = template.get("metadata", {})
    return {
        "name": spec["target"]["name"],
        "namespace": es["metadata"]["namespace"],
        "labels": meta.get("labels", {}),
        "annotations": meta.get("annotations", {}),
        "type": template.get("type", "Opaque"),
        "keys": [d["secretKey"] for d in spec["data"]],
    }


def placeholder_secret(secret: dict[str, Any]) -> dict[str, Any]:
    meta = secret["metadata"]
    return {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": meta.get("labels", {}),
        "annotations": meta.get("annotations", {}),
        "type": secret.get("type", "Opaque"),  # the API server's default
        "keys": list(secret["stringData"]),
    }


def test_seed_example_exact_objects() -> None:
    mesh = es_mesh()
    cluster1 = mesh.spec.clusters[0]
    cacerts_ref = "meshgen/mesh1/cluster1/cacerts"
    assert render_external_secrets(mesh, cluster1) == [
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "cacerts", "namespace": "istio-system", "labels": MANAGED},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
                "target": {
                    "name": "cacerts",
                    "creationPolicy": "Owner",
                    "template": {"type": "Opaque"},
                },
                "data": [
                    {"secretKey": key, "remoteRef": {"key": cacerts_ref, "property": key}}
                    for key in ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")
                ],
            },
        },
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {
                "name": "istio-remote-secret-cluster2",
                "namespace": "istio-system",
                "labels": MANAGED,
            },
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
                "target": {
                    "name": "istio-remote-secret-cluster2",
                    "creationPolicy": "Owner",
                    "template": {
                        "type": "Opaque",
                        "metadata": {
                            "labels": {"istio/multiCluster": "true"},
                            "annotations": {"networking.istio.io/cluster": "cluster2"},
                        },
                    },
                },
                "data": [
                    {
                        "secretKey": "cluster2",
                        "remoteRef": {"key": "meshgen/mesh1/cluster2/remote-kubeconfig"},
                    }
                ],
            },
        },
    ]


@pytest.mark.parametrize("example", ["seed", "kubernetes"])
def test_each_external_secret_renders_its_placeholder_exactly(example: str) -> None:
    mesh = es_mesh(None if example == "seed" else k8s_data())
    for cluster in mesh.spec.clusters:
        expected = [render_cacerts()] + [
            render_remote_secret(peer) for peer in mesh.spec.clusters if peer is not cluster
        ]
        rendered = render_external_secrets(mesh, cluster)
        assert [produced_secret(es) for es in rendered] == [placeholder_secret(p) for p in expected]
        # Each ExternalSecret is named after the Secret it renders.
        assert [es["metadata"]["name"] for es in rendered] == [
            p["metadata"]["name"] for p in expected
        ]


def test_store_and_key_prefix_come_from_the_spec() -> None:
    data = es_data(keyPrefix="team/prod")
    data["spec"]["secrets"]["store"] = {"kind": "SecretStore", "name": "vault-istio"}
    data["metadata"]["name"] = "payments"
    mesh = mesh_from(data)
    cluster2 = mesh.spec.clusters[1]
    cacerts, remote = render_external_secrets(mesh, cluster2)
    for es in (cacerts, remote):
        assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "vault-istio"}
    assert {d["remoteRef"]["key"] for d in cacerts["spec"]["data"]} == {
        "team/prod/payments/cluster2/cacerts"
    }
    assert remote["spec"]["data"] == [
        {
            "secretKey": "cluster1",
            "remoteRef": {"key": "team/prod/payments/cluster1/remote-kubeconfig"},
        }
    ]


def test_placeholder_provider_renders_none() -> None:
    mesh = mesh_from(seed_data())
    for cluster in mesh.spec.clusters:
        assert render_external_secrets(mesh, cluster) == []
        assert render_submariner_external_secrets(mesh, cluster) == []


def test_single_cluster_has_only_cacerts() -> None:
    data = es_data()
    del data["spec"]["clusters"][1]
    del data["spec"]["submariner"]
    mesh = mesh_from(data)
    assert [
        es["metadata"]["name"] for es in render_external_secrets(mesh, mesh.spec.clusters[0])
    ] == ["cacerts"]


def test_submariner_secrets_render_their_placeholders_exactly() -> None:
    data = es_data()
    data["spec"]["submariner"]["deploy"] = "operator"
    data["spec"]["clusters"][0]["apiServer"] = "https://api.cluster1.example.com:6443"
    mesh = mesh_from(data)
    psk_keys = set()
    for cluster in mesh.spec.clusters:
        rendered = render_submariner_external_secrets(mesh, cluster)
        placeholders = [doc for _, doc in render_submariner_placeholders(mesh, cluster)]
        assert [produced_secret(es) for es in rendered] == [
            placeholder_secret(p) for p in placeholders
        ]
        broker, psk = rendered
        assert {d["remoteRef"]["key"] for d in broker["spec"]["data"]} == {
            f"meshgen/mesh1/{cluster.name}/submariner-broker"
        }
        psk_keys |= {d["remoteRef"]["key"] for d in psk["spec"]["data"]}
    # One PSK for every gateway of the mesh.
    assert psk_keys == {"meshgen/mesh1/submariner-ipsec-psk"}
    # Not with subctl: subctl join creates those Secrets itself.
    data["spec"]["submariner"]["deploy"] = "subctl"
    mesh = mesh_from(data)
    assert render_submariner_external_secrets(mesh, mesh.spec.clusters[0]) == []


@pytest.mark.parametrize("gitops", [None, "flux", "argocd"])
def test_remote_kubeconfigs_are_made_after_istio_is_installed(gitops: str | None) -> None:
    """`istioctl create-remote-secret` reads the istio-reader service account and its token
    Secret, which the base chart and the cluster directory create: the runbook asks for the
    remote kubeconfigs only after those steps (the mesh box ran them before: they failed)."""
    from meshgen.render import render

    data = es_data(k8s_data())
    data["spec"]["istio"]["installer"] = "helm"
    if gitops is not None:
        data["spec"]["gitops"] = {"engine": gitops, "repoURL": "https://git.example/m.git"}
    runbook = render(es_mesh(data)).runbook
    assert runbook is not None

    def first_step(program: str) -> int:
        return next(
            i
            for i, step in enumerate(runbook.steps)
            for block in step.commands()
            for line in block.lines
            if any(program in str(c) for c in line.commands())
        )

    remote = first_step("create-remote-secret")
    installs = first_step("flux bootstrap" if gitops == "flux" else "argocd" if gitops else "helm")
    assert installs < remote
    assert runbook.steps[remote].title.startswith("Remote secrets")
