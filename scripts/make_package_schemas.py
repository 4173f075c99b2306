#!/usr/bin/env python3
"""Pack the kubeconform schemas meshgen's output needs into the package, so that a pip-installed
`meshgen check-output out/` works with no network and no clone (issue 21).

From the offline schema folder scripts/make_schemas.py builds out of the real releases
(default .tools/schemas, made by scripts/install-tools), keep the schemas of the kinds meshgen
writes, for every Kubernetes minor, Istio minor and Sail release there, and every schema of
crds/common (Argo CD, Flux, Submariner, MCS, External Secrets, the NAD, IstioOperator); write
them as one lzma-compressed JSON object {path: schema text} to meshgen/data/ (about 130 KB
for 14 MB of schemas: the versions repeat each other). meshgen unpacks it once into its cache
folder (meshgen/packaged_schemas.py).

The archive is committed, like the golden outputs, and tests/tools/test_packaged_schemas.py
fails when it differs from what this script makes of the current .tools/schemas.

Usage: make_package_schemas.py [SCHEMAS]   (rewrites meshgen/data/kubeconform-schemas.json.xz)
"""

from __future__ import annotations

import json
import lzma
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshgen.packaged_schemas import ARCHIVE  # noqa: E402

# The core kinds meshgen writes (<kind>-<group>-<version>.json in k8s/v1.X.0-local-strict/).
CORE = {
    "_definitions.json",  # what they $ref
    "configmap-v1.json",
    "deployment-apps-v1.json",
    "namespace-v1.json",
    "secret-v1.json",
    "service-v1.json",
    "serviceaccount-v1.json",
}
# The Istio and Sail kinds meshgen writes, every version of their CRDs.
ISTIO = re.compile(r"(destinationrule|virtualservice|authorizationpolicy|peerauthentication)_")
SAIL = re.compile(r"(istio|istiocni|istiorevision|istiorevisiontag)_")


def wanted(rel: str) -> bool:
    parts = rel.split("/")
    if parts[0] == "k8s":
        return parts[-1] in CORE
    if parts[:2] == ["crds", "common"]:
        return True
    if parts[0] == "crds" and parts[1].startswith("istio-1."):
        return bool(ISTIO.match(parts[-1]))
    if parts[0] == "crds" and parts[1].startswith("sail-"):
        return bool(SAIL.match(parts[-1]))
    return False


def collect(schemas: Path) -> dict[str, str]:
    """{path relative to the schema folder: its text} of every schema to pack, sorted; each
    k8s/<version>/_definitions.json cut to the definitions the kept kinds refer to."""
    found = {
        p.relative_to(schemas).as_posix(): p.read_text(encoding="utf-8")
        for p in schemas.rglob("*.json")
        if p.is_file()
    }
    out = {rel: found[rel] for rel in sorted(found) if wanted(rel)}
    for rel in [r for r in out if r.endswith("/_definitions.json")]:
        folder = rel.rsplit("/", 1)[0]
        kinds = [
            json.loads(text) for r, text in out.items() if r.startswith(f"{folder}/") and r != rel
        ]
        out[rel] = _closure(json.loads(out[rel]), kinds)
    return out


_REF = "_definitions.json#/$defs/"


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {n for v in node.values() for n in _refs(v)}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            found.add(ref[len(_REF) :])
        elif isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref[len("#/$defs/") :])
        return found
    if isinstance(node, list):
        return {n for v in node for n in _refs(v)}
    return set()


def _closure(definitions: dict[str, Any], kinds: list[Any]) -> str:
    """_definitions.json with only the definitions reachable from `kinds`."""
    defs = definitions["$defs"]
    todo, kept = {n for k in kinds for n in _refs(k)}, set()
    while todo:
        name = todo.pop()
        if name in kept or name not in defs:
            continue
        kept.add(name)
        todo |= _refs(defs[name])
    cut = {**definitions, "$defs": {n: defs[n] for n in sorted(kept)}}
    return json.dumps(cut, indent=2, sort_keys=True) + "\n"


def pack(files: dict[str, str]) -> bytes:
    text = json.dumps(files, sort_keys=True, separators=(",", ":"))
    return lzma.compress(text.encode(), preset=9 | lzma.PRESET_EXTREME)


def main(argv: list[str]) -> int:
    schemas = Path(argv[0]) if argv else ROOT / ".tools" / "schemas"
    if not (schemas / "k8s").is_dir():
        print(f"{schemas}: no schema folder (run scripts/install-tools)", file=sys.stderr)
        return 1
    files = collect(schemas)
    data = pack(files)
    ARCHIVE.write_bytes(data)
    size = sum(len(t) for t in files.values())
    print(f"{ARCHIVE.relative_to(ROOT)}: {len(files)} schemas, {size:,} bytes in {len(data):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
