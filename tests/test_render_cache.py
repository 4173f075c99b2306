"""render() renders each service's rules once and shares the objects between clusters.

meshgen/render/__init__.py's `_Shared` keeps one list of traffic files per distinct
placement (the set of clusters-restricted services a cluster gets), and emit caches the
serialized text per object and per documents tuple, so the cost grows with services +
clusters, not services x clusters. These tests check the sharing itself with `is`, through
what render() returns: documents found by kind under each cluster's directory, whatever the
files holding them are called.
"""

from __future__ import annotations

from typing import Any

from meshgen.render import OutputFile, Rendered, render
from meshgen.render.objects import Manifest
from tests.helpers import cluster, mesh_from, spec_data

RULE_KINDS = ("DestinationRule", "VirtualService")


def _service(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "shop",
        "ports": [{"name": "http", "number": 8080}],
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"}},
        ],
        "routes": [
            {"destinations": [{"subset": "v1", "weight": 90}, {"subset": "v2", "weight": 10}]}
        ],
        **fields,
    }


def _rendered() -> Rendered:
    """Clusters a and b get both services; c gets only `web` (`api` is placed in a and b):
    a and b share a placement, c has another one. Both services are in one namespace, so
    the rules of c differ from those of a and b in every layout of the traffic files."""
    return render(
        mesh_from(
            spec_data(
                cluster("a", "10.16.0.0/16", "10.116.0.0/20", platform="kubernetes"),
                cluster("b", "10.17.0.0/16", "10.117.0.0/20", platform="kubernetes"),
                cluster("c", "10.18.0.0/16", "10.118.0.0/20", platform="kubernetes"),
                namespaces=[{"name": "shop"}],
                services=[_service("web"), _service("api", clusters=["a", "b"])],
            )
        )
    )


def _traffic_files(rendered: Rendered, name: str) -> list[OutputFile]:
    """The files of cluster `name` that hold DestinationRules or VirtualServices."""
    return [
        f
        for f in rendered.files
        if f.path.startswith(f"{name}/") and any(d.get("kind") in RULE_KINDS for d in f.documents)
    ]


def _rules(rendered: Rendered, name: str) -> list[Manifest]:
    return [
        d
        for f in _traffic_files(rendered, name)
        for d in f.documents
        if d.get("kind") in RULE_KINDS
    ]


def _key(doc: Manifest) -> tuple[str, str]:
    return (doc["kind"], doc["metadata"]["name"])


def test_clusters_with_the_same_placement_share_the_rule_objects() -> None:
    rendered = _rendered()
    a, b = _rules(rendered, "a"), _rules(rendered, "b")
    assert sorted(map(_key, a)) == [
        ("DestinationRule", "api"),
        ("DestinationRule", "web"),
        ("VirtualService", "api"),
        ("VirtualService", "web"),
    ]
    assert len(a) == len(b)
    assert all(x is y for x, y in zip(a, b, strict=True))
    # The documents of each file too: emit serializes and encodes a shared tuple once.
    files_a, files_b = _traffic_files(rendered, "a"), _traffic_files(rendered, "b")
    assert len(files_a) == len(files_b) > 0
    assert all(x.documents is y.documents for x, y in zip(files_a, files_b, strict=True))


def test_a_cluster_that_does_not_run_a_service_gets_the_same_rules_and_its_service() -> None:
    """c does not run `api`: it still gets the very rule objects (and files) of a, plus a
    client Service of `api` in a file of its own (meshgen/render/traffic.py)."""
    rendered = _rendered()
    a, c = _rules(rendered, "a"), _rules(rendered, "c")
    assert len(a) == len(c) == 4
    assert all(x is y for x, y in zip(a, c, strict=True))
    files_a, files_c = _traffic_files(rendered, "a"), _traffic_files(rendered, "c")
    assert all(x.documents is y.documents for x, y in zip(files_a, files_c, strict=True))
    stubs = {f.path: f.documents for f in rendered.files if f.path.endswith("/services.yaml")}
    assert list(stubs) == ["c/traffic/shop/services.yaml"]
    assert [(d["kind"], d["metadata"]["name"]) for d in stubs["c/traffic/shop/services.yaml"]] == [
        ("Service", "api")
    ]
