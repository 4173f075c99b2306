#!/usr/bin/env python3
"""Build the offline JSON schemas that kubeconform validates meshgen's output against.

Nothing is fetched at test time and nothing is committed: this script assembles

  OUT/k8s/v1.X.0-local-strict/<kind>-<group>-<version>.json
      core Kubernetes schemas shipped by the PyPI package `kubernetes-validate` (made
      self-contained: their `$ref`s point at a web URL otherwise);
  OUT/crds/istio-1.M/<group>/<kind>_<version>.json
      the CRDs of Istio 1.M exactly as released, from the last patch of every minor in
      SHARED/istio-releases/<1.M.P>/charts/base/crds/crd-all.gen.yaml (from 1.24:
      charts/base/files/crd-all.gen.yaml). A minor without a release there falls back to the
      CRDs of the Go module istio.io/api at ISTIO_API below (served from 1.19 only); a minor
      with neither gets no folder, and `meshgen check-output` says so for its objects;
  OUT/crds/sail-<release>/sailoperator.io/<kind>_<version>.json
      the Sail Operator's CRDs (Istio, IstioCNI, IstioRevision, IstioRevisionTag, ZTunnel) of
      every release in SHARED/sail-operator/<release>/crds/ (the module proxy serves no
      github.com/istio-ecosystem/sail-operator version: 403, checked 2026-11);
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
      and IstioOperator (ISTIO_OPERATOR_SCHEMA below: the real CRD validates nothing),

in the layout kubeconform's `-schema-location` templates expect.

SHARED is $MESHGEN_SHARED, by default the folder `shared` next to this repository. Elsewhere,
make it from the official downloads (Apache-2.0):
  istio-releases/<1.M.P>/charts/   `manifests/charts` of the Istio release 1.M.P: the release
      tarball (github.com/istio/istio/releases/download/1.M.P/istio-1.M.P-linux-amd64.tar.gz,
      folder istio-1.M.P/manifests/charts) or the git tag (github.com/istio/istio/tree/1.M.P/
      manifests/charts); only charts/base/crds/crd-all.gen.yaml (1.10-1.23) or
      charts/base/files/crd-all.gen.yaml (1.24+) is read here. The Helm chart
      istio-release.storage.googleapis.com/charts/base-1.M.P.tgz holds the same file;
  sail-operator/<release>/crds/    `chart/crds/*.yaml` of the Sail Operator git tag
      (github.com/istio-ecosystem/sail-operator/tree/<release>/chart/crds).

Conversion (`strict`): CRD schemas are made strict the way kubeconform's openapi2jsonschema.py
does it, `additionalProperties: false` on every object that lists properties unless it
preserves unknown fields, with what the API server does that a plain JSON schema does not:
int-or-string (`format: int-or-string`, `x-kubernetes-int-or-string`) accepts both; `nullable`
accepts null; a required field with a `default` may be left out (defaulting runs before
validation); the branches of `oneOf`/`anyOf`/`allOf`/`not` stay as written (in a structural
schema they only constrain, they declare no fields). CEL rules (`x-kubernetes-validations`)
cannot be checked by kubeconform; the one form `self.metadata.name == '<name>'` (Sail's
IstioCNI and ZTunnel) becomes an enum on metadata.name, the others are counted and skipped.

Usage: make_schemas.py OUT   (idempotent; a stamp file makes a second run free)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MESHGEN_SHARED", ROOT.parent / "shared"))
# Where each release keeps its CRDs, relative to SHARED/istio-releases/<version>.
ISTIO_CRD_FILES = ("charts/base/crds/crd-all.gen.yaml", "charts/base/files/crd-all.gen.yaml")
# The fallback for a minor that SHARED lacks: istio.io/api tags the Go module proxy serves,
# one per Istio minor (checked 2026-11; 1.19 is the oldest served).
ISTIO_API = {
    19: "v1.19.0",
    20: "v1.20.0",
    21: "v1.21.0",
    22: "v1.22.0",
    23: "v1.23.0",
    24: "v1.24.0",
    25: "v1.25.0",
    26: "v1.26.0",
    27: "v1.27.0",
    28: "v1.28.0",
    29: "v1.29.0",
    30: "v1.30.1",
}
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
# Bump when the conversion changes; the stamp also carries a digest of the SHARED inputs.
CONVERSION = "v6"

# IstioOperator (install.istio.io/v1alpha1) has no CRD with a structural schema: the
# crd-operator.yaml of every release 1.10-1.23 (charts/base/crds and charts/istio-operator/
# crds) is `type: object, x-kubernetes-preserve-unknown-fields: true` (istio/istio#33535).
# This schema checks the envelope and the top-level spec fields of
# https://github.com/istio/istio/blob/1.30.3/operator/pkg/apis/types.go; `istioctl manifest
# generate`, run by the tests, validates everything below them.
_COMPONENT = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "namespace": {"type": "string"},
        "hub": {"type": "string"},
        "tag": {},
        "k8s": {"type": "object"},
    },
    "additionalProperties": False,
}
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
                            ("base", "pilot", "cni", "ztunnel", "istiodRemote"), _COMPONENT
                        ),
                        **{
                            name: {"type": "array", "items": {"type": "object"}}
                            for name in ("ingressGateways", "egressGateways")
                        },
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
    out = subprocess.run(
        ["go", "mod", "download", "-json", module],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    info = json.loads(out.stdout or "{}")
    if "Dir" not in info:
        sys.exit(f"make_schemas: cannot download {module}: {info.get('Error', out.stderr)}")
    return Path(info["Dir"])


# libyaml when PyYAML has it: 5 s instead of 40 s for the 21 Istio releases.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NAME_RULE = re.compile(r"^\s*self\.metadata\.name\s*==\s*'([^']*)'\s*$")


class Converter:
    """CRD openAPIV3Schema -> the strict draft-4 JSON schema kubeconform applies."""

    def __init__(self) -> None:
        self.cel_skipped = 0

    def convert(self, schema: dict[str, Any]) -> dict[str, Any]:
        # CRD root schemas often list only spec/status.
        props = schema.setdefault("properties", {})
        for name, kind in (("apiVersion", "string"), ("kind", "string"), ("metadata", "object")):
            props.setdefault(name, {"type": kind})
        self._node(schema)
        for rule in schema.get("x-kubernetes-validations", []):
            match = _NAME_RULE.match(rule.get("rule", ""))
            if match is not None:
                # metadata stays open (the API server checks ObjectMeta); its name is pinned.
                props["metadata"].setdefault("properties", {})["name"] = {
                    "type": "string",
                    "enum": [match.group(1)],
                }
                self.cel_skipped -= 1
        return schema

    def _node(self, node: dict[str, Any]) -> None:
        self.cel_skipped += len(node.get("x-kubernetes-validations", []))
        if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
            node.pop("type", None)
            node.pop("format", None)
            if "anyOf" not in node and "oneOf" not in node:
                node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if node.get("nullable") and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        properties: dict[str, Any] = node.get("properties") or {}
        if (
            properties
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        if "required" in node:
            node["required"] = [
                name for name in node["required"] if "default" not in properties.get(name, {})
            ]
            if not node["required"]:
                del node["required"]
        children = list(properties.values())
        if isinstance(node.get("additionalProperties"), dict):
            children.append(node["additionalProperties"])
        items = node.get("items")
        children += items if isinstance(items, list) else [items] if items else []
        for child in children:
            if isinstance(child, dict):
                self._node(child)


def convert_crds(crd_file: Path, out: Path, converter: Converter) -> int:
    count = 0
    for doc in yaml.load_all(crd_file.read_text(encoding="utf-8"), Loader=_LOADER):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        group, kind = spec["group"].lower(), spec["names"]["kind"].lower()
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is None or not version.get("served", True):
                continue
            target = out / group / f"{kind}_{version['name'].lower()}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(converter.convert(schema)), encoding="utf-8")
            count += 1
    return count


def _localize(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                v.replace("/api/_definitions.json#", "_definitions.json#")
                if k == "$ref" and isinstance(v, str)
                else _localize(v)
            )
            for k, v in node.items()
            if k != "$id"
        }
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


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split("."))


def istio_sources() -> dict[int, tuple[str, Path | None]]:
    """Istio minor -> (what, CRD file): the newest release of each minor in SHARED, else the
    istio.io/api tag (file None: downloaded later, only when the stamp is stale)."""
    sources: dict[int, tuple[str, Path | None]] = {
        minor: (f"istio.io/api@{tag}", None) for minor, tag in ISTIO_API.items()
    }
    releases = SHARED / "istio-releases"
    found = sorted(
        (p for p in releases.glob("1.*.*") if re.fullmatch(r"1\.[0-9]+\.[0-9]+", p.name)),
        key=lambda p: _version_key(p.name),
    )
    for release in found:
        crd_file = next((release / f for f in ISTIO_CRD_FILES if (release / f).exists()), None)
        if crd_file is None:
            sys.exit(f"make_schemas: no {' or '.join(ISTIO_CRD_FILES)} in {release}")
        sources[_version_key(release.name)[1]] = (release.name, crd_file)
    return dict(sorted(sources.items()))


def sail_sources() -> dict[str, list[Path]]:
    releases = SHARED / "sail-operator"
    found = sorted(
        (p for p in releases.glob("*") if re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", p.name)),
        key=lambda p: _version_key(p.name),
    )
    sources = {}
    for release in found:
        files = sorted((release / "crds").glob("*.yaml"))
        if not files:
            sys.exit(f"make_schemas: no crds/*.yaml in {release}")
        sources[release.name] = files
    return sources


def stamp_text(istio: dict[int, tuple[str, Path | None]], sail: dict[str, list[Path]]) -> str:
    digest = hashlib.sha256()
    for path in [f for _, f in istio.values() if f] + [f for fs in sail.values() for f in fs]:
        digest.update(path.relative_to(SHARED).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return (
        f"istio={','.join(f'1.{m}:{what}' for m, (what, _) in istio.items())};"
        f"sail={','.join(sail)};shared={digest.hexdigest()[:16]};"
        f"crds={','.join(CRD_MODULES)};kv={KUBERNETES_VALIDATE};{CONVERSION}"
    )


def main(out: Path) -> None:
    istio, sail = istio_sources(), sail_sources()
    stamp_file = out / ".stamp"
    stamp = stamp_text(istio, sail)
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    if not any(f for _, f in istio.values()):
        print(
            f"make_schemas: warning: no Istio releases in {SHARED}/istio-releases: only "
            f"1.{min(ISTIO_API)}-1.{max(ISTIO_API)} from istio.io/api (set MESHGEN_SHARED)",
            file=sys.stderr,
        )
    if not sail:
        print(
            f"make_schemas: warning: no Sail Operator releases in {SHARED}/sail-operator: "
            "Sail objects will have no schema (set MESHGEN_SHARED)",
            file=sys.stderr,
        )
    if out.exists():
        shutil.rmtree(out)
    versions = core_schemas(out)
    converter = Converter()
    crds = 0
    for minor, (what, crd_file) in istio.items():
        if crd_file is None:
            crd_file = go_module_dir(what) / "kubernetes" / "customresourcedefinitions.gen.yaml"
        crds += convert_crds(crd_file, out / "crds" / f"istio-1.{minor}", converter)
    for release, files in sail.items():
        for crd_file in files:
            crds += convert_crds(crd_file, out / "crds" / f"sail-{release}", converter)
    common = out / "crds" / "common"
    for module, patterns in CRD_MODULES.items():
        root = go_module_dir(module)
        for pattern in patterns:
            files = sorted(root.glob(pattern))
            if not files:
                sys.exit(f"make_schemas: no {pattern} in {module}")
            for crd_file in files:
                crds += convert_crds(crd_file, common, converter)
    iop = common / "install.istio.io" / "istiooperator_v1alpha1.json"
    iop.parent.mkdir(parents=True, exist_ok=True)
    iop.write_text(json.dumps(ISTIO_OPERATOR_SCHEMA, indent=1), encoding="utf-8")
    stamp_file.write_text(stamp)
    print(
        f"make_schemas: {versions} Kubernetes versions, {crds} CRD schemas (Istio "
        f"{', '.join(f'1.{m} from {what}' for m, (what, _) in istio.items())}; Sail "
        f"{', '.join(sail) or 'none'}) in {out}; {converter.cel_skipped} CEL rules "
        "not checkable offline",
        file=sys.stderr,
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
