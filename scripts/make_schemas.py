#!/usr/bin/env python3
"""Build the offline JSON schemas that kubeconform validates meshgen's output against.

Nothing is fetched at test time and nothing is committed: this script assembles, from
packages of the registries this project may use,

  OUT/k8s/v1.X.0-local-strict/<kind>-<group>-<version>.json
      core Kubernetes schemas shipped by the PyPI package `kubernetes-validate` (made
      self-contained: their `$ref`s point at a web URL otherwise);
  OUT/crds/istio-1.M/<group>/<kind>_<version>.json
      Istio's CRDs from the Go module istio.io/api at minor M (1.19 is the oldest the module
      proxy serves; older minors use it, the networking schemas did not change);
  OUT/crds/common/<group>/<kind>_<version>.json
      the CRDs of these Go modules, at these versions:
        github.com/k8snetworkplumbingwg/network-attachment-definition-client v1.7.6
            (artifacts/networks-crd.yaml: NetworkAttachmentDefinition),
        github.com/submariner-io/submariner-operator v0.21.0
            (config/crd/bases: Broker, ServiceDiscovery, Submariner),
        sigs.k8s.io/mcs-api v0.5.2
            (config/crd: ServiceExport, ServiceImport),
        github.com/external-secrets/external-secrets v0.16.2
            (config/crds/bases: ExternalSecret, SecretStore, ClusterSecretStore),
        github.com/argoproj/argo-cd/v3 v3.5.7
            (manifests/crds: Application, ApplicationSet, AppProject),
        github.com/fluxcd/helm-controller v1.6.4 (config/crd/bases: HelmRelease),
        github.com/fluxcd/source-controller v1.9.6 (config/crd/bases: GitRepository,
            HelmRepository, HelmChart, OCIRepository, Bucket, ExternalArtifact),
        github.com/fluxcd/kustomize-controller v1.9.6 (config/crd/bases: Kustomization);
      and IstioOperator (no CRD with a schema exists, see below). The Sail Operator's CRDs
      are not here: the module proxy serves no github.com/istio-ecosystem/sail-operator
      version (403 for every one, checked 2026-11),

in the layout kubeconform's `-schema-location` templates expect. CRD schemas are made
strict the way kubeconform's openapi2jsonschema.py does it: `additionalProperties: false` on
every object that lists properties, unless it preserves unknown fields.

Sail Operator schemas are the exception: the module proxy refuses every version of
github.com/istio-ecosystem/sail-operator, so `SAIL_SCHEMAS` below is written from the
reference (envelope, spec fields, enums) and says so.

Usage: make_schemas.py OUT   (idempotent; a stamp file makes a second run free)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

# istio.io/api tags the Go module proxy serves, one per Istio minor (checked 2026-11).
ISTIO_API = {
    19: "v1.19.0", 20: "v1.20.0", 21: "v1.21.0", 22: "v1.22.0", 23: "v1.23.0",
    24: "v1.24.0", 25: "v1.25.0", 26: "v1.26.0", 27: "v1.27.0", 28: "v1.28.0",
    29: "v1.29.0", 30: "v1.30.1",
}
OLDEST_SERVED_MINOR = min(ISTIO_API)
NAD_MODULE = "github.com/k8snetworkplumbingwg/network-attachment-definition-client@v1.7.6"
# Go module -> CRD files in it (globs); all land in OUT/crds/common (checked 2026-11).
CRD_MODULES: dict[str, tuple[str, ...]] = {
    NAD_MODULE: ("artifacts/networks-crd.yaml",),
    "github.com/submariner-io/submariner-operator@v0.21.0": (
        "config/crd/bases/submariner.io_brokers.yaml",
        "config/crd/bases/submariner.io_servicediscoveries.yaml",
        "config/crd/bases/submariner.io_submariners.yaml",
    ),
    "sigs.k8s.io/mcs-api@v0.5.2": (
        "config/crd/multicluster.x-k8s.io_serviceexports.yaml",
        "config/crd/multicluster.x-k8s.io_serviceimports.yaml",
    ),
    "github.com/external-secrets/external-secrets@v0.16.2": (
        "config/crds/bases/external-secrets.io_externalsecrets.yaml",
        "config/crds/bases/external-secrets.io_secretstores.yaml",
        "config/crds/bases/external-secrets.io_clustersecretstores.yaml",
    ),
    "github.com/argoproj/argo-cd/v3@v3.5.7": (
        "manifests/crds/application-crd.yaml",
        "manifests/crds/applicationset-crd.yaml",
        "manifests/crds/appproject-crd.yaml",
    ),
    "github.com/fluxcd/helm-controller@v1.6.4": ("config/crd/bases/*.yaml",),
    "github.com/fluxcd/source-controller@v1.9.6": ("config/crd/bases/*.yaml",),
    "github.com/fluxcd/kustomize-controller@v1.9.6": ("config/crd/bases/*.yaml",),
}
# The checksum database answers 404 for submariner-io modules: skip it for those alone.
MODULE_ENV = {"github.com/submariner-io/": {"GONOSUMDB": "github.com/submariner-io"}}
KUBERNETES_VALIDATE = "1.37.0"
STAMP = (f"istio-api={','.join(ISTIO_API.values())};crds={','.join(CRD_MODULES)};"
         f"kv={KUBERNETES_VALIDATE};v5")

# IstioOperator (install.istio.io/v1alpha1) has no CRD with a structural schema (the
# operator chart's CRD preserves unknown fields; reference/istio.md §1.5, istio/istio#33535).
# This schema checks the envelope and the top-level spec fields of
# istio@HEAD:operator/pkg/apis/types.go (reference/istio.md §1.1); `istioctl manifest
# generate`, run by the tests, validates everything below them.
_COMPONENT = {"type": "object", "properties": {
    "enabled": {"type": "boolean"}, "namespace": {"type": "string"},
    "hub": {"type": "string"}, "tag": {}, "k8s": {"type": "object"},
}, "additionalProperties": False}
ISTIO_OPERATOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind"],
    "properties": {
        "apiVersion": {"enum": ["install.istio.io/v1alpha1"]},
        "kind": {"enum": ["IstioOperator"]},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "profile": {"type": "string"},
                "installPackagePath": {"type": "string"},
                "hub": {"type": "string"},
                "tag": {},
                "namespace": {"type": "string"},
                "revision": {"type": "string"},
                "compatibilityVersion": {"type": "string"},
                "meshConfig": {"type": "object"},
                "components": {
                    "type": "object",
                    "properties": {
                        **dict.fromkeys(
                            ("base", "pilot", "cni", "ztunnel", "istiodRemote"), _COMPONENT),
                        **{name: {"type": "array", "items": {"type": "object"}}
                           for name in ("ingressGateways", "egressGateways")},
                    },
                    "additionalProperties": False,
                },
                "values": {"type": "object"},
                "unvalidatedValues": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "status": {"type": "object"},
    },
    "additionalProperties": False,
}


def go_module_dir(module: str) -> Path:
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    for prefix, extra in MODULE_ENV.items():
        if module.startswith(prefix):
            env.update(extra)
    out = subprocess.run(["go", "mod", "download", "-json", module], capture_output=True,
                         text=True, check=False, env=env)
    info = json.loads(out.stdout or "{}")
    if "Dir" not in info:
        sys.exit(f"make_schemas: cannot download {module}: {info.get('Error', out.stderr)}")
    return Path(info["Dir"])


def strict(node: Any, root: bool = False) -> Any:
    if isinstance(node, dict):
        if root:  # CRD root schemas often list only spec/status
            props = node.setdefault("properties", {})
            for name, kind in (("apiVersion", "string"), ("kind", "string"),
                               ("metadata", "object")):
                props.setdefault(name, {"type": kind})
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for key, value in list(node.items()):
            if isinstance(value, dict) and value.get("format") == "int-or-string":
                node[key] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
            else:
                strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def convert_crds(crd_file: Path, out: Path) -> int:
    count = 0
    for doc in yaml.safe_load_all(crd_file.read_text(encoding="utf-8")):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        group, kind = spec["group"].lower(), spec["names"]["kind"].lower()
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                continue
            target = out / group / f"{kind}_{version['name'].lower()}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(strict(schema, root=True)), encoding="utf-8")
            count += 1
    return count


def _localize(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("/api/_definitions.json#", "_definitions.json#")
                    if k == "$ref" and isinstance(v, str) else _localize(v))
                for k, v in node.items() if k != "$id"}
    if isinstance(node, list):
        return [_localize(v) for v in node]
    return node


def core_schemas(out: Path) -> int:
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    count = 0
    for source in sorted(base.glob("v*-local-strict")):
        target = out / "k8s" / source.name
        target.mkdir(parents=True, exist_ok=True)
        for schema in source.glob("*.json"):
            data = json.loads(schema.read_text(encoding="utf-8"))
            (target / schema.name).write_text(json.dumps(_localize(data)), encoding="utf-8")
        count += 1
    return count


# Sail Operator (sailoperator.io/v1): the Go module proxy refuses every version of
# github.com/istio-ecosystem/sail-operator ("403 Forbidden ... This module version is not
# available"), so its real CRDs cannot be had here. These schemas are written from
# reference/istio.md §2.2 and §2.4 (sail@HEAD:api/v1/istio_types.go, istiocni_types.go),
# in draft-04 terms (kubeconform compiles schemas as draft 4: no `const`):
# the envelope, the spec fields and their enums; the chart values below them are open.
_SAIL_PROFILES = ["ambient", "default", "demo", "empty", "external", "openshift",
                  "openshift-ambient", "preview", "remote", "stable"]


def _sail_schema(kind: str, spec: dict[str, Any], name: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"enum": ["sailoperator.io/v1"]},
            "kind": {"enum": [kind]},
            # Cluster-scoped: no namespace (§2.1).
            "metadata": {"type": "object", "properties": {
                "name": name, "labels": {"type": "object"}, "annotations": {"type": "object"},
            }, "additionalProperties": False},
            "spec": {"type": "object", "required": ["version"], "properties": spec,
                     "additionalProperties": False},
            "status": {"type": "object"},
        },
        "additionalProperties": False,
    }


SAIL_SCHEMAS = {
    "istio_v1.json": _sail_schema("Istio", {
        "version": {"type": "string", "pattern": r"^(v[0-9]+\.[0-9]+\.[0-9]+.*|master)$"},
        "namespace": {"type": "string"},
        "profile": {"enum": _SAIL_PROFILES},
        "updateStrategy": {"type": "object", "properties": {
            "type": {"enum": ["InPlace", "RevisionBased"]},
            "inactiveRevisionDeletionGracePeriodSeconds": {"type": "integer", "minimum": 0},
            "updateWorkloads": {"type": "boolean"},
        }, "additionalProperties": False},
        "values": {"type": "object"},
    }, {"type": "string"}),
    # §2.4: the IstioCNI must be named `default` (CEL rule).
    "istiocni_v1.json": _sail_schema("IstioCNI", {
        "version": {"type": "string", "pattern": r"^(v[0-9]+\.[0-9]+\.[0-9]+.*|master)$"},
        "namespace": {"type": "string"},
        "profile": {"enum": _SAIL_PROFILES},
        "values": {"type": "object", "properties": {
            "cni": {"type": "object"}, "global": {"type": "object"},
        }, "additionalProperties": False},
    }, {"enum": ["default"]}),
}


def main(out: Path) -> None:
    stamp = out / ".stamp"
    if stamp.exists() and stamp.read_text() == STAMP:
        return
    if out.exists():
        shutil.rmtree(out)
    versions = core_schemas(out)
    crds = 0
    for minor, tag in ISTIO_API.items():
        api = go_module_dir(f"istio.io/api@{tag}")
        crd_file = api / "kubernetes" / "customresourcedefinitions.gen.yaml"
        crds += convert_crds(crd_file, out / "crds" / f"istio-1.{minor}")
    common = out / "crds" / "common"
    for module, patterns in CRD_MODULES.items():
        root = go_module_dir(module)
        for pattern in patterns:
            files = sorted(root.glob(pattern))
            if not files:
                sys.exit(f"make_schemas: no {pattern} in {module}")
            for crd_file in files:
                crds += convert_crds(crd_file, common)
    iop = common / "install.istio.io" / "istiooperator_v1alpha1.json"
    iop.parent.mkdir(parents=True, exist_ok=True)
    iop.write_text(json.dumps(ISTIO_OPERATOR_SCHEMA, indent=1), encoding="utf-8")
    sail = common / "sailoperator.io"
    sail.mkdir(parents=True, exist_ok=True)
    for name, schema in SAIL_SCHEMAS.items():
        (sail / name).write_text(json.dumps(schema, indent=1), encoding="utf-8")
    stamp.write_text(STAMP)
    print(f"make_schemas: {versions} Kubernetes versions, {crds} CRD schemas in {out}",
          file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
