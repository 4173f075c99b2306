"""Shared test helpers: specs to start from (as data or as text), and compiling them through
the real stages."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from meshgen.checks import run_checks
from meshgen.diagnostics import Diagnostic
from meshgen.load import YamlPath, load_text
from meshgen.spec import Mesh
from meshgen.validate import validate

ROOT = Path(__file__).resolve().parent.parent
SEED_EXAMPLE = ROOT / "examples" / "openshift-submariner" / "mesh.yaml"
K8S_EXAMPLE = ROOT / "examples" / "kubernetes-three-clusters" / "mesh.yaml"
EXAMPLES = {p.parent.name: p for p in sorted((ROOT / "examples").glob("*/mesh.yaml"))}


API_VERSION = "meshgen.dev/v1alpha1"


def run_meshgen(
    *args: str | Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    path: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m meshgen ARGS` in `cwd`, output captured as text, never raising on the exit
    code. `env`: variables set over the inherited environment; `path`: the whole of PATH."""
    environ = None
    if env is not None or path is not None:
        environ = {**os.environ, **(env or {})}
        if path is not None:
            environ["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "meshgen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        input=stdin,
        timeout=timeout,
        check=False,
    )


def spec_data(
    *clusters: dict[str, Any], name: str = "m", version: str = "1.30.0", **spec: Any
) -> dict[str, Any]:
    """A Mesh spec as data: the header every spec starts with, `istio.version`, the clusters
    (see `cluster`), then any other `spec` fields (namespaces=..., services=...)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Mesh",
        "metadata": {"name": name},
        "spec": {"istio": {"version": version}, "clusters": list(clusters), **spec},
    }


def cluster(name: str, pod_cidr: str, service_cidr: str, **fields: Any) -> dict[str, Any]:
    """A `clusters[]` entry: name, podCIDR, serviceCIDR, then any other fields."""
    return {"name": name, "podCIDR": pod_cidr, "serviceCIDR": service_cidr, **fields}


def east_west() -> list[dict[str, Any]]:
    """Two Kubernetes clusters in two regions, `east` and `west`."""
    return [
        cluster("east", "10.16.0.0/16", "10.116.0.0/20", platform="kubernetes", region="us-east"),
        cluster("west", "10.17.0.0/16", "10.117.0.0/20", platform="kubernetes", region="us-west"),
    ]


def seed_data() -> dict[str, Any]:
    data = yaml.safe_load(SEED_EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def mesh_from(data: dict[str, Any]) -> Mesh:
    loaded, diags = load_text(yaml.safe_dump(data, sort_keys=False), "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return mesh


def seed_mesh(**spec_overrides: Any) -> Mesh:
    data = copy.deepcopy(seed_data())
    data["spec"].update(spec_overrides)
    return mesh_from(data)


def with_istio(version: str, platform: str = "openshift", **istio: Any) -> Mesh:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version=version, **istio)
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    return mesh_from(data)


def seed_variant_file(directory: Path, minor: int, platform: str) -> Path:
    """The seed spec on Istio 1.<minor>.0 with every cluster on `platform`, as a file."""
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"]["version"] = f"1.{minor}.0"
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    spec = directory / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


# --- the seed as text, for the checks' tables of exact line:col locations -----------------

# The seed example (examples/openshift-submariner/mesh.yaml), compacted, in
# tests/data/seed-compact.yaml. Line numbers, for the expected locations in every table:
#  7 version "1.10.0" (value at col 14)    9 broker
# 11-14 cluster1: name, platform, podCIDR (col 16), serviceCIDR (col 20)
# 15-18 cluster2: the same                 20 namespace sample (col 13)
# 22 service helloworld (col 13)  23 namespace  24 ports  26-27 subsets v1, v2
# 29 its only route (col 11)      30 the route's destination, subset v2 at col 24
SEED = (ROOT / "tests" / "data" / "seed-compact.yaml").read_text(encoding="utf-8")

Edit = tuple[str, str]


def edit(*edits: Edit, text: str = SEED) -> str:
    """Apply (old, new) replacements; each `old` must occur exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def diagnose(text: str) -> list[Diagnostic]:
    """The checks' diagnostics of a spec that loads and validates."""
    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return run_checks(mesh, loaded.positions)


def summary(diags: list[Diagnostic]) -> list[str]:
    """`CODE severity line:col` per diagnostic: exact code and location in one comparable list."""
    return [f"{d.code} {d.severity} {d.location.line}:{d.location.column}" for d in diags]


def paths(data: Any, path: YamlPath = ()) -> Iterator[YamlPath]:
    """Every path into `data` (mappings and lists), the empty path first."""
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*path, index))


# Output files for the writer's tests: a README and two small cluster directories.
WRITER_FILES = {
    "README.md": b"# mesh\n",
    "cluster1/kustomization.yaml": b"resources:\n- istio.yaml\n",
    "cluster1/istio.yaml": b"kind: IstioOperator\n",
    "cluster2/kustomization.yaml": b"resources: []\n",
}
