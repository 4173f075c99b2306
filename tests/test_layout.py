"""The output's layout at scale: traffic units no GitOps engine chokes on, files that grow
with the clusters (not their square), and the names a cluster must not take."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from benchmarks.generate import make_deep_spec, make_spec
from meshgen.checks import run_checks
from meshgen.load import load_text
from meshgen.render import render
from meshgen.render.units import UNIT_SERVICES, TrafficUnits
from meshgen.spec import Mesh
from meshgen.validate import validate
from tests.helpers import cluster, diagnose, mesh_from, spec_data

# An Argo CD Application / Flux Kustomization name, and a path segment: a DNS subdomain.
UNIT_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def mesh_of(text: str) -> Mesh:
    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return mesh


def unit_sizes(mesh: Mesh, cluster_name: str) -> Counter[str]:
    """Documents per traffic unit of one cluster."""
    sizes: Counter[str] = Counter()
    for output in render(mesh).files:
        parts = output.path.split("/")
        if parts[0] == cluster_name and parts[1] == "traffic" and parts[3] == "rules.yaml":
            sizes[parts[2]] += len(output.documents)
    return sizes


def test_one_unit_per_namespace_when_namespaces_are_small() -> None:
    sizes = unit_sizes(mesh_of(make_spec(2, 400)), "c0")
    # 400 services over 8 namespaces, a DestinationRule and a VirtualService each.
    assert sizes == {f"ns{i}": 100 for i in range(8)}


def test_a_large_namespace_is_cut_into_parts_of_bounded_size() -> None:
    sizes = unit_sizes(mesh_of(make_deep_spec(2, 1000)), "c1")
    assert sorted(sizes) == ["ns0.0", "ns0.1", "ns0.2", "ns0.3"]
    assert sum(sizes.values()) == 2000
    # A hash, not a count, decides: parts are near, not exactly, UNIT_SERVICES services.
    assert max(sizes.values()) <= 2 * 1.3 * UNIT_SERVICES
    assert all(UNIT_NAME.fullmatch(name) for name in sizes)


def test_services_stay_in_their_unit_as_others_come_and_go() -> None:
    """Rules move between units (Argo CD Applications) only when the parts double."""

    def units(count: int) -> dict[str, str]:
        mesh = mesh_of(make_deep_spec(1, count))
        split = TrafficUnits(mesh.spec.services)
        return {s.name: split.unit_of(s) for s in mesh.spec.services}

    before, after = units(600), units(700)  # 3 parts would not do: 4 both times
    assert all(after[name] == unit for name, unit in before.items())
    assert units(250) == dict.fromkeys(units(250), "ns0")
    assert set(units(251).values()) == {"ns0.0", "ns0.1"}


@pytest.mark.parametrize(("clusters", "services"), [(300, 20), (40, 10)])
def test_files_per_cluster_stay_bounded(clusters: int, services: int) -> None:
    files = [f.path for f in render(mesh_of(make_spec(clusters, services))).files]
    per_cluster = Counter(path.split("/")[0] for path in files)
    remote = per_cluster.pop("remote-secrets")
    assert remote == clusters  # one placeholder per cluster, for all its peers
    per_cluster.pop("gitops", None)
    assert len(per_cluster) == clusters
    assert max(per_cluster.values()) <= 30


def test_remote_secret_placeholders_are_shared_by_every_peer() -> None:
    out = {f.path: f.documents for f in render(mesh_of(make_spec(3, 1))).files}
    assert not [p for p in out if "/secrets/istio-remote-secret" in p]
    assert [p for p in out if p.startswith("remote-secrets/")] == [
        f"remote-secrets/istio-remote-secret-c{i}.yaml" for i in range(3)
    ]


def test_a_single_cluster_has_no_remote_secrets() -> None:
    out = [f.path for f in render(mesh_of(make_spec(1, 1))).files]
    assert not [p for p in out if "remote-secret" in p]


@pytest.mark.parametrize("name", ["gitops", "remote-secrets"])
def test_a_cluster_named_like_a_top_level_directory_is_refused(name: str) -> None:
    data = spec_data(
        cluster(name, "10.0.0.0/16", "10.100.0.0/16"), cluster("b", "10.1.0.0/16", "10.101.0.0/16")
    )
    codes = [(d.code, d.message) for d in diagnose(yaml.safe_dump(data, sort_keys=False))]
    assert ("MG506", f'cluster name "{name}" collides with the out/{name} directory') in codes


def test_more_clusters_than_practical_is_a_warning() -> None:
    def mg507(clusters: int) -> list[str]:
        mesh = mesh_of(make_spec(clusters, 1))
        loaded, _ = load_text(make_spec(clusters, 1), "mesh.yaml")
        assert loaded is not None
        return [d.message for d in run_checks(mesh, loaded.positions) if d.code == "MG507"]

    assert mg507(20) == []
    assert mg507(21) == [
        "21 clusters in one multi-primary mesh: every istiod watches 20 API "
        "servers (420 remote secrets in all)"
    ]


def test_units_do_not_depend_on_which_cluster_renders_first() -> None:
    data = spec_data(
        cluster("a", "10.0.0.0/16", "10.100.0.0/16"),
        cluster("b", "10.1.0.0/16", "10.101.0.0/16"),
        namespaces=[{"name": "shop"}],
        services=[
            {
                "name": f"s{i}",
                "namespace": "shop",
                "ports": [{"name": "http", "number": 80}],
                "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
                **({"clusters": ["a"]} if i % 2 else {}),
            }
            for i in range(300)
        ],
    )
    mesh = mesh_from(data)
    a, b = unit_sizes(mesh, "a"), unit_sizes(mesh, "b")
    # The number of parts comes from the namespace in the whole spec: the same in a and b.
    assert sorted(a) == sorted(b) == ["shop.0", "shop.1"]
    # Every service's rules go to every cluster (b also gets those of the services run in a
    # only), so both hold all 300 DestinationRules.
    assert sum(a.values()) == sum(b.values()) == 300
