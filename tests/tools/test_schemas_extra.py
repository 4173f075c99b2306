"""kubeconform -strict against the real CRDs of Submariner, the MCS API, External Secrets,
Argo CD and Flux (scripts/make_schemas.py pins their versions).

Every object the Submariner and External Secrets renderers emit must validate, nothing may be
skipped, and for each new kind one deliberately broken object must be rejected, so that a
missing or permissive schema cannot pass vacuously.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from meshgen.conform import Summary, run_kubeconform
from meshgen.render import services_in
from meshgen.render.external_secrets import (
    render_external_secrets,
    render_submariner_external_secrets,
)
from meshgen.render.objects import Manifest
from meshgen.render.submariner import (
    render_service_exports,
    render_submariner,
    render_submariner_placeholders,
)
from meshgen.yamlemit import dump_all
from tests.helpers import mesh_from, seed_data
from tests.tooling import schemas, tool

pytestmark = pytest.mark.tools

KUBERNETES_MINOR = 30


def conform(docs: list[Manifest], path: Path) -> Summary:
    path.write_text(dump_all(docs), encoding="utf-8")
    return run_kubeconform(
        [path], binary=tool("kubeconform"), schema_dir=schemas(), kubernetes_minor=KUBERNETES_MINOR
    )


def rendered_objects() -> list[Manifest]:
    data = copy.deepcopy(seed_data())
    data["spec"]["submariner"].update(deploy="operator", version="0.21.0", cableDriver="wireguard")
    data["spec"]["clusters"][0]["apiServer"] = "https://api.cluster1.example.com:6443"
    data["spec"]["clusters"][1].update(
        podCIDR=["10.132.0.0/14", "fd00:10:132::/56"],
        serviceCIDR=["172.31.0.0/16", "fd00:10:96::/112"],
    )
    data["spec"]["services"][0]["export"] = True
    data["spec"]["secrets"] = {
        "provider": "external-secrets",
        "store": {"kind": "SecretStore", "name": "vault"},
    }
    mesh = mesh_from(data)
    docs: list[Manifest] = []
    for cluster in mesh.spec.clusters:
        docs += render_submariner(mesh, cluster)
        docs += render_service_exports(mesh, cluster, services_in(mesh, cluster))
        docs += [doc for _, doc in render_submariner_placeholders(mesh, cluster)]
        docs += render_external_secrets(mesh, cluster)
        docs += render_submariner_external_secrets(mesh, cluster)
    return docs


def test_rendered_objects_are_valid(tmp_path: Path) -> None:
    docs = rendered_objects()
    kinds = {d["kind"] for d in docs}
    assert kinds == {
        "Namespace",
        "Broker",
        "Submariner",
        "ServiceExport",
        "Secret",
        "ExternalSecret",
    }
    summary = conform(docs, tmp_path / "rendered.yaml")
    assert summary.diagnostics == [], summary.diagnostics
    assert (summary.valid, summary.invalid, summary.errors, summary.skipped) == (len(docs), 0, 0, 0)


# Hand-written minimal objects of the GitOps kinds the lead's renderers emit.
GITOPS_VALID: dict[str, Manifest] = {
    "Application": {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "cluster1", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://git.example.com/mesh.git",
                "targetRevision": "main",
                "path": "out/cluster1",
            },
            "destination": {"name": "cluster1", "namespace": "istio-system"},
            "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
        },
    },
    "HelmRelease": {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "istiod", "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "targetNamespace": "istio-system",
            "chart": {
                "spec": {
                    "chart": "istiod",
                    "version": "1.30.0",
                    "sourceRef": {"kind": "HelmRepository", "name": "istio"},
                }
            },
            "dependsOn": [{"name": "istio-base"}],
            "values": {"global": {"meshID": "mesh1"}},
        },
    },
    "HelmRepository": {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "istio", "namespace": "flux-system"},
        "spec": {"interval": "10m", "url": "https://istio-release.storage.googleapis.com/charts"},
    },
    "GitRepository": {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "mesh", "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "url": "https://git.example.com/mesh.git",
            "ref": {"branch": "main"},
        },
    },
    "Kustomization": {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "cluster1", "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": "./out/cluster1",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "mesh"},
            "dependsOn": [{"name": "istio"}],
        },
    },
}


def test_handwritten_gitops_objects_are_valid(tmp_path: Path) -> None:
    docs = list(GITOPS_VALID.values())
    summary = conform(docs, tmp_path / "gitops.yaml")
    assert summary.diagnostics == [], summary.diagnostics
    assert (summary.valid, summary.invalid, summary.errors, summary.skipped) == (len(docs), 0, 0, 0)


def _rendered(kind: str) -> Manifest:
    return copy.deepcopy(next(d for d in rendered_objects() if d["kind"] == kind))


def _broken(kind: str, mutate: str) -> Manifest:
    doc = _rendered(kind) if kind not in GITOPS_VALID else copy.deepcopy(GITOPS_VALID[kind])
    spec: dict[str, Any] = doc.setdefault("spec", {})
    if mutate == "submariner-cidr-list":
        spec["clusterCIDR"] = [spec["clusterCIDR"]]  # the CRD field is one string
    elif mutate == "submariner-missing-clusterid":
        del spec["clusterID"]
    elif mutate == "broker-unknown-field":
        spec["globalnet"] = False
    elif mutate == "serviceexport-unknown-field":
        spec["ports"] = [{"port": 5000}]
    elif mutate == "externalsecret-bad-policy":
        spec["target"]["creationPolicy"] = "Owned"
    elif mutate == "externalsecret-missing-remote-key":
        del spec["data"][0]["remoteRef"]["key"]
    elif mutate == "application-missing-project":
        del spec["project"]
    elif mutate == "helmrelease-interval-type":
        spec["interval"] = 10
    elif mutate == "helmrepository-missing-url":
        del spec["url"]
    elif mutate == "gitrepository-unknown-ref":
        spec["ref"] = {"branchh": "main"}
    elif mutate == "kustomization-missing-prune":
        del spec["prune"]
    else:  # pragma: no cover
        raise AssertionError(mutate)
    return doc


BROKEN = [
    ("Submariner", "submariner-cidr-list"),
    ("Submariner", "submariner-missing-clusterid"),
    ("Broker", "broker-unknown-field"),
    ("ServiceExport", "serviceexport-unknown-field"),
    ("ExternalSecret", "externalsecret-bad-policy"),
    ("ExternalSecret", "externalsecret-missing-remote-key"),
    ("Application", "application-missing-project"),
    ("HelmRelease", "helmrelease-interval-type"),
    ("HelmRepository", "helmrepository-missing-url"),
    ("GitRepository", "gitrepository-unknown-ref"),
    ("Kustomization", "kustomization-missing-prune"),
]


@pytest.mark.parametrize(("kind", "mutate"), BROKEN, ids=[b[1] for b in BROKEN])
def test_kubeconform_rejects_broken_objects(kind: str, mutate: str, tmp_path: Path) -> None:
    summary = conform([_broken(kind, mutate)], tmp_path / "broken.yaml")
    assert (summary.valid, summary.invalid, summary.errors, summary.skipped) == (0, 1, 0, 0), (
        mutate,
        summary,
    )
    assert summary.diagnostics[0].code == "MG902"
    assert kind in summary.diagnostics[0].message


# ---------------------------------------------------------------------------------------
# scripts/make_schemas.py's conversion of real CRD schemas (Istio 1.10-1.30, Sail), on the
# constructs they use.


def test_conversion_follows_the_api_server() -> None:
    from tests.tooling import load_make_schemas

    converter = load_make_schemas().Converter()
    schema = converter.convert(
        {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.metadata.name == 'default'", "message": "name must be default"},
                {"rule": "has(self.spec)", "message": "spec"},
            ],
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["version", "namespace"],
                    "properties": {
                        "version": {"type": "string", "enum": ["v1.30.3"]},
                        "namespace": {"type": "string", "default": "istio-system"},
                        "port": {"format": "int-or-string", "type": "string"},
                        "target": {
                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                            "x-kubernetes-int-or-string": True,
                        },
                        "maybe": {"type": "string", "enum": ["A"], "nullable": True},
                        "status": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                            "properties": {"x": {"type": "string"}},
                        },
                        "labels": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {"v": {"type": "string"}},
                            },
                        },
                        "items": {
                            "type": "array",
                            "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
                        },
                        "lb": {
                            "type": "object",
                            "properties": {
                                "simple": {"type": "string"},
                                "hash": {"type": "object", "properties": {}},
                            },
                            "oneOf": [
                                {"not": {"anyOf": [{"required": ["simple"]}]}},
                                {"required": ["simple"], "properties": {"simple": {}}},
                            ],
                        },
                    },
                }
            },
        }
    )
    spec = schema["properties"]["spec"]
    props = spec["properties"]
    # The root gets the envelope; the name rule becomes an enum on an open metadata.
    assert schema["properties"]["metadata"] == {
        "type": "object",
        "properties": {"name": {"type": "string", "enum": ["default"]}},
    }
    assert schema["properties"]["apiVersion"] == {"type": "string"}
    assert schema["additionalProperties"] is False
    assert converter.cel_skipped == 1
    # Defaulted fields may be left out: the API server fills them in before validating.
    assert spec["required"] == ["version"]
    assert spec["additionalProperties"] is False
    assert props["port"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert "type" not in props["target"]
    assert props["maybe"]["type"] == ["string", "null"]
    assert props["maybe"]["enum"] == ["A", None]
    assert "additionalProperties" not in props["status"]
    assert props["labels"]["additionalProperties"]["additionalProperties"] is False
    assert props["items"]["items"]["additionalProperties"] is False
    # Structure is strict; the oneOf branches only constrain and stay as written.
    assert props["lb"]["additionalProperties"] is False
    assert "additionalProperties" not in props["lb"]["oneOf"][1]
    assert "additionalProperties" not in props["lb"]["properties"]["hash"]


DESTINATION_RULE: Manifest = {
    "apiVersion": "networking.istio.io/v1beta1",
    "kind": "DestinationRule",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "host": "web.shop.svc.cluster.local",
        "trafficPolicy": {"loadBalancer": {"localityLbSetting": {"enabled": True}}},
    },
}


@pytest.mark.parametrize("minor", [10, 19, 30])
@pytest.mark.parametrize(
    ("load_balancer", "valid"),
    [
        ({"simple": "ROUND_ROBIN"}, True),
        ({"consistentHash": {"httpHeaderName": "x-user"}}, True),
        # Istio's oneof: simple or consistentHash, not both.
        ({"simple": "ROUND_ROBIN", "consistentHash": {"useSourceIp": True}}, False),
        ({"simple": "ROUND_ROBIN", "hash": {}}, False),
    ],
    ids=["simple", "hash", "simple-and-hash", "unknown-field"],
)
def test_istio_oneofs_hold_in_every_minor(
    minor: int, load_balancer: dict[str, Any], valid: bool, tmp_path: Path
) -> None:
    doc = copy.deepcopy(DESTINATION_RULE)
    doc["spec"]["trafficPolicy"]["loadBalancer"].update(load_balancer)
    path = tmp_path / "dr.yaml"
    path.write_text(dump_all([doc]), encoding="utf-8")
    summary = run_kubeconform(
        [path],
        binary=tool("kubeconform"),
        schema_dir=schemas(),
        istio_minor=minor,
        kubernetes_minor=KUBERNETES_MINOR,
    )
    assert (summary.valid, summary.invalid, summary.errors) == (
        (1, 0, 0) if valid else (0, 1, 0)
    ), summary
