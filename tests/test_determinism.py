"""Builds are byte-identical across runs and across hash seeds (hypothesis-generated specs)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshgen.pipeline import compile_spec
from tests.helpers import run_meshgen

NAMES = st.text(alphabet="abcdefghij", min_size=1, max_size=6)


@st.composite
def meshes(draw: st.DrawFn) -> dict[str, Any]:
    n_clusters = draw(st.integers(1, 4))
    clusters = [
        {
            "name": f"c{i}",
            "platform": draw(st.sampled_from(["kubernetes", "openshift"])),
            "podCIDR": f"10.{i}.0.0/16",
            "serviceCIDR": f"10.{100 + i}.0.0/20",
        }
        for i in range(n_clusters)
    ]
    namespaces = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    services = []
    for index in range(draw(st.integers(0, 5))):
        subsets = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
        weights = [100 // len(subsets)] * len(subsets)
        weights[0] += 100 - sum(weights)
        services.append(
            {
                "name": f"svc{index}",
                "namespace": draw(st.sampled_from(namespaces)),
                "subsets": [{"name": s, "labels": {"version": s}} for s in subsets],
                "routes": [
                    {
                        "destinations": [
                            {"subset": s, "weight": w}
                            for s, w in zip(subsets, weights, strict=True)
                        ]
                    }
                ],
            }
        )
    minor = draw(st.integers(10, 30))
    return {
        "apiVersion": "meshgen.dev/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "m"},
        "spec": {
            "istio": {"version": f"1.{minor}.0", "revision": draw(st.sampled_from(["", "r1"]))},
            "clusters": clusters,
            "namespaces": [{"name": n} for n in namespaces],
            "services": services,
        },
    }


def write_spec(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / "mesh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meshes())
def test_same_spec_same_bytes(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec = write_spec(Path(tmp), data)
        first, second = compile_spec(spec), compile_spec(spec)
    assert first.ok, first.diagnostics
    assert first.files == second.files


def build_with_seed(spec: Path, out: Path, seed: str) -> dict[str, bytes]:
    proc = run_meshgen("build", spec, "-o", out, env={"PYTHONHASHSEED": seed})
    assert proc.returncode == 0, proc.stderr
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meshes())
def test_same_bytes_across_hash_seeds(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec = write_spec(Path(tmp), data)
        a = build_with_seed(spec, Path(tmp) / "a", "1")
        b = build_with_seed(spec, Path(tmp) / "b", "4242")
    assert a == b
