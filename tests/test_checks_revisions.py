"""MG308-MG311: control-plane revisions side by side and revision tags (canary upgrades)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from meshgen.render import render
from meshgen.revisions import control_planes, oldest_version, tags_of
from tests.helpers import diagnose, mesh_from, seed_data


def canary_data(
    old: str = "1.21.6", new: str = "1.22.8", installer: str = "istioctl", **istio: Any
) -> dict[str, Any]:
    """The seed mesh running two control planes, its namespace following tag `prod`."""
    data = copy.deepcopy(seed_data())
    revisions = [
        {"name": old.replace(".", "-"), "version": old},
        {"name": new.replace(".", "-"), "version": new},
    ]
    data["spec"]["istio"] = {
        "version": new,
        "installer": installer,
        "revisions": revisions,
        "tags": {"prod": revisions[0]["name"]},
        **istio,
    }
    data["spec"]["namespaces"][0]["revisionTag"] = "prod"
    return data


def codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    diags = diagnose(yaml.safe_dump(data, sort_keys=False))
    return [(d.code, d.message) for d in diags if d.code in ("MG308", "MG309", "MG310", "MG311")]


def test_a_canary_one_minor_apart_is_clean() -> None:
    data = canary_data()
    assert codes(data) == []
    mesh = mesh_from(data)
    assert [p.version for p in control_planes(mesh)] == ["1.21.6", "1.22.8"]
    assert oldest_version(mesh) == "1.21.6"


def test_revisions_more_than_one_minor_apart_are_refused() -> None:
    found = codes(canary_data("1.21.6", "1.23.6"))
    assert (
        "MG308",
        "revisions 1-21-6 (1.21.6) and 1-23-6 (1.23.6) are 2 minors apart",
    ) in found


def test_istio_version_must_be_the_newest_revision() -> None:
    data = canary_data()
    data["spec"]["istio"]["version"] = "1.21.6"
    assert (
        "MG308",
        "istio.version 1.21.6 is not the newest revision's version 1.22.8",
    ) in codes(data)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"revision": "x"}, "istio.revision and istio.revisions are both set"),
        (
            {"revisions": [{"name": "default", "version": "1.22.8"}]},
            'a revision named "default"',
        ),
        (
            {
                "revisions": [
                    {"name": "a", "version": "1.22.8"},
                    {"name": "a", "version": "1.22.8"},
                ]
            },
            'revision "a" is declared twice',
        ),
    ],
)
def test_inconsistent_revisions(edit: dict[str, Any], expected: str) -> None:
    data = canary_data()
    data["spec"]["istio"].update(edit)
    data["spec"]["istio"]["tags"] = {}
    data["spec"]["namespaces"][0].pop("revisionTag")
    assert ("MG308", expected) in codes(data)


def test_operator_cannot_run_a_1_24_revision() -> None:
    data = canary_data("1.23.6", "1.24.6", installer="operator")
    assert (
        "MG309",
        "revision 1-24-6: the in-cluster operator is gone in Istio 1.24.6",
    ) in codes(data)


def test_sail_needs_versions_a_sail_release_accepts() -> None:
    found = codes(canary_data("1.22.8", "1.23.6", installer="sail"))
    # Sail 1.0.0 lists 1.23.5, not 1.23.6 (its versions.yaml).
    assert ("MG309", "revision 1-23-6: no Sail Operator release accepts Istio 1.23.6") in found


def test_tags_point_at_declared_revisions() -> None:
    data = canary_data()
    data["spec"]["istio"]["tags"]["canary"] = "1-99-0"
    data["spec"]["clusters"][1]["tags"] = {"prod": "nope", "other": "1-22-8"}
    data["spec"]["namespaces"][0]["revisionTag"] = "missing"
    found = codes(data)
    assert ("MG310", 'tag "canary" points at an undeclared revision "1-99-0"') in found
    assert (
        "MG310",
        'tag "prod" of cluster cluster2 points at an undeclared revision "nope"',
    ) in found
    assert (
        "MG310",
        'cluster cluster2 sets tag "other", which istio.tags does not declare',
    ) in found
    assert (
        "MG310",
        'namespace sample follows tag "missing", which istio.tags does not declare',
    ) in found


def test_tags_need_a_revision() -> None:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"]["tags"] = {"prod": "1-10-0"}
    assert codes(data) == [("MG310", "revision tags without a revision")]


def test_an_injected_namespace_needs_a_tag_with_several_revisions() -> None:
    data = canary_data()
    data["spec"]["namespaces"][0].pop("revisionTag")
    assert codes(data) == [
        (
            "MG311",
            "namespace sample is injected, but with several revisions no control plane "
            "serves `istio-injection=enabled`",
        )
    ]
    data["spec"]["istio"]["tags"]["default"] = "1-22-8"
    assert codes(data) == []


def test_a_cluster_moves_a_tag_and_namespaces_follow_it() -> None:
    data = canary_data()
    data["spec"]["clusters"][0]["tags"] = {"prod": "1-22-8"}
    mesh = mesh_from(data)
    assert tags_of(mesh, mesh.spec.clusters[0]) == {"prod": "1-22-8"}
    assert tags_of(mesh, mesh.spec.clusters[1]) == {"prod": "1-21-6"}
    out = {f.path: f.documents for f in render(mesh).files}
    for cluster in ("cluster1", "cluster2"):
        sample = next(
            d for d in out[f"{cluster}/namespaces.yaml"] if d["metadata"]["name"] == "sample"
        )
        assert sample["metadata"]["labels"]["istio.io/rev"] == "prod"
        assert "istio-injection" not in sample["metadata"]["labels"]


def test_rules_are_written_for_the_oldest_control_plane() -> None:
    """1.21 reads networking.istio.io/v1beta1 only; v1 comes with 1.22."""
    out = {f.path: f.documents for f in render(mesh_from(canary_data())).files}
    assert {d["apiVersion"] for d in out["cluster1/traffic/sample/rules.yaml"]} == {
        "networking.istio.io/v1beta1"
    }


def test_istioctl_cannot_keep_istio_init_out_of_an_older_revision_from_1_24() -> None:
    found = codes(canary_data("1.24.6", "1.25.5"))
    assert (
        "MG309",
        "revision 1-24-6: istioctl 1.24.6 would give its pods istio-init (it sets "
        "values.pilot.cni.enabled from components.cni.enabled, and only the newest revision "
        "installs istio-cni)",
    ) in found
    assert codes(canary_data("1.24.6", "1.25.5", installer="helm")) == []


def test_helm_before_1_17_renders_one_tag_per_revision() -> None:
    data = canary_data("1.15.7", "1.16.7", installer="helm")
    data["spec"]["istio"]["tags"]["canary"] = "1-15-7"
    assert codes(data) == [
        (
            "MG309",
            "revision 1-15-7: the istiod chart of 1.15.7 renders only the last of its tags "
            '"canary", "prod" in cluster cluster1',
        )
    ]


def test_sail_warns_of_a_default_tag_next_to_an_in_place_revision() -> None:
    data = canary_data("1.27.9", "1.28.10", installer="sail")
    assert not [c for c in codes(data) if c[0] == "MG312"]
    data["spec"]["istio"]["tags"] = {"default": "1-27-9"}
    data["spec"]["namespaces"][0].pop("revisionTag")
    diags = diagnose(yaml.safe_dump(data, sort_keys=False))
    assert [d.code for d in diags if d.code == "MG312"] == ["MG312"]
