"""Generated names: once the checks pass, no two things map to one output path, one object in a
cluster directory, one Argo CD Application, or one subset of a DestinationRule.

Names are picked to collide: cluster, namespace and subset names that are file stems meshgen
writes (`kustomization`, `secrets`, `gitops`), and ones that join at a `-` into each other
(`a` + `-b` = `a-b`).
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshgen.checks import run_checks
from meshgen.diagnostics import has_errors
from meshgen.load import load_text
from meshgen.render import Rendered, render
from meshgen.render.objects import Manifest
from meshgen.spec import Mesh
from meshgen.validate import validate
from tests.helpers import EXAMPLES, seed_data

NAMES = [
    "a",
    "b",
    "a-b",
    "b-a",
    "all",
    "all-a",
    "v1",
    "v1-a",
    "v1-a-b",
    "kustomization",
    "secrets",
    "traffic",
    "istio",
    "mesh",
    "cacerts",
]
CLUSTERS = ["a", "b", "a-b", "kustomization", "secrets", "mesh"]
# With CLUSTERS, pins make every one of these too: "v1" pinned to "a-b" and "v1-a" pinned to
# "b" are both "v1-a-b"; a pin without subset to "a" is "all-a", like "all" pinned to "a".
SUBSETS = ["all", "all-a", "v1", "v1-a", "v1-a-b", "v1-b"]


def checked(data: dict[str, Any]) -> Mesh | None:
    """The mesh, if it passes validation and the checks without errors."""
    loaded, _ = load_text(yaml.safe_dump(data, sort_keys=False), "mesh.yaml")
    if loaded is None:
        return None
    mesh, _ = validate(loaded)
    if mesh is None or has_errors(run_checks(mesh, loaded.positions)):
        return None
    return mesh


def _identity(doc: Manifest) -> tuple[str, str, str, str]:
    meta = doc.get("metadata", {})
    group = str(doc.get("apiVersion", "")).rpartition("/")[0]
    return group, str(doc.get("kind")), str(meta.get("namespace", "")), str(meta.get("name"))


def assert_names_unique(rendered: Rendered, mesh: Mesh) -> None:
    paths = [f.path for f in rendered.files]
    assert not [p for p, n in Counter(paths).items() if n > 1]
    # Case-insensitive file systems (macOS, Windows checkouts) must not fold two into one.
    assert len({p.lower() for p in paths}) == len(paths)
    assert "README.md" not in paths
    files = {f.path: f.documents for f in rendered.files}
    for cluster in mesh.spec.clusters:
        [listing] = files[f"{cluster.name}/kustomization.yaml"]
        applied = [
            doc for resource in listing["resources"] for doc in files[f"{cluster.name}/{resource}"]
        ]
        ids = Counter(_identity(doc) for doc in applied)
        assert not [i for i, n in ids.items() if n > 1], cluster.name
        for doc in applied:
            if doc["kind"] == "DestinationRule":
                subsets = Counter(s["name"] for s in doc["spec"].get("subsets", []))
                assert not [s for s, n in subsets.items() if n > 1], doc["metadata"]
    gitops = [
        doc
        for path, docs in files.items()
        if path.startswith("gitops/")
        for doc in docs
        if doc.get("kind") == "Application"
    ]
    assert len({_identity(doc) for doc in gitops}) == len(gitops)


def test_examples() -> None:
    for path in EXAMPLES.values():
        data = yaml.safe_load(path.read_text())
        mesh = checked(data)
        assert mesh is not None, path
        assert_names_unique(render(mesh), mesh)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(seed_data())
    spec = data["spec"]
    clusters = draw(st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=3, unique=True))
    template = spec["clusters"][0]
    spec["clusters"] = [
        {
            **template,
            "name": name,
            "podCIDR": f"10.{16 + 4 * i}.0.0/14",
            "serviceCIDR": f"172.{16 + i}.0.0/16",
            "apiServer": f"https://api.{name}:6443",
        }
        for i, name in enumerate(clusters)
    ]
    spec["submariner"] = {
        "broker": clusters[0],
        "deploy": draw(st.sampled_from(["subctl", "operator"])),
    }
    engine = draw(st.sampled_from([None, "argocd", "flux"]))
    if engine is not None:
        spec["gitops"] = {"engine": engine, "repoURL": "https://git.example.com/m.git"}
    if draw(st.booleans()):
        spec["secrets"] = {"provider": "external-secrets", "store": {"name": "vault"}}
    namespaces = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    spec["namespaces"] = [{"name": ns} for ns in namespaces]
    subsets = draw(st.lists(st.sampled_from(SUBSETS), min_size=1, max_size=3, unique=True))
    pins = draw(
        st.lists(
            st.tuples(st.sampled_from([None, *subsets]), st.sampled_from(clusters)),
            min_size=1,
            max_size=4,
        )
    )
    weights = [100 // len(pins)] * len(pins)
    weights[0] += 100 - sum(weights)
    spec["services"] = [
        {
            "name": "web",
            "namespace": namespaces[-1],
            "ports": [{"name": "http", "number": 80}],
            "subsets": [{"name": s, "labels": {"version": s}} for s in subsets],
            "routes": [
                {
                    "destinations": [
                        {**({"subset": s} if s else {}), "cluster": c, "weight": w}
                        for (s, c), w in zip(pins, weights, strict=True)
                    ]
                }
            ],
        }
    ]
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_checked_specs_render_unique_names(data: dict[str, Any]) -> None:
    mesh = checked(data)
    if mesh is not None:
        assert_names_unique(render(mesh), mesh)
