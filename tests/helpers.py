"""Shared test helpers: compile spec text through the real stages."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from meshgen.load import load_text
from meshgen.spec import Mesh
from meshgen.validate import validate

ROOT = Path(__file__).resolve().parent.parent
SEED_EXAMPLE = ROOT / "examples" / "openshift-submariner" / "mesh.yaml"
K8S_EXAMPLE = ROOT / "examples" / "kubernetes-three-clusters" / "mesh.yaml"
EXAMPLES = {p.parent.name: p for p in sorted((ROOT / "examples").glob("*/mesh.yaml"))}


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
