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
      NetworkAttachmentDefinition (github.com/k8snetworkplumbingwg/
      network-attachment-definition-client) and IstioOperator (no CRD with a schema exists,
      see below),

in the layout kubeconform's `-schema-location` templates expect. CRD schemas are made
strict the way kubeconform's openapi2jsonschema.py does it: `additionalProperties: false` on
every object that lists properties, unless it preserves unknown fields.

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
KUBERNETES_VALIDATE = "1.37.0"
STAMP = f"istio-api={','.join(ISTIO_API.values())};nad={NAD_MODULE};kv={KUBERNETES_VALIDATE};v2"

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
        "apiVersion": {"const": "install.istio.io/v1alpha1"},
        "kind": {"const": "IstioOperator"},
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
    out = subprocess.run(["go", "mod", "download", "-json", module], capture_output=True,
                         text=True, check=False, env={**os.environ, "GOFLAGS": "-mod=mod"})
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
    crds += convert_crds(go_module_dir(NAD_MODULE) / "artifacts" / "networks-crd.yaml", common)
    iop = common / "install.istio.io" / "istiooperator_v1alpha1.json"
    iop.parent.mkdir(parents=True, exist_ok=True)
    iop.write_text(json.dumps(ISTIO_OPERATOR_SCHEMA, indent=1), encoding="utf-8")
    stamp.write_text(STAMP)
    print(f"make_schemas: {versions} Kubernetes versions, {crds} CRD schemas in {out}",
          file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
