"""MG5xx topology checks: each bad spec -> exact codes, severities and line:col (see SEED)."""

from __future__ import annotations

import pytest

from tests.helpers import Edit, diagnose, edit, summary


def namespace_clusters(value: str) -> Edit:
    """`clusters:` of namespace sample, on line 21."""
    return "    - name: sample\n", f"    - name: sample\n      clusters: {value}\n"


def service_clusters(value: str) -> Edit:
    """`clusters:` of service helloworld, on line 24."""
    return "      namespace: sample\n", f"      namespace: sample\n      clusters: {value}\n"


def service_export() -> Edit:
    return "      namespace: sample\n", "      namespace: sample\n      export: true\n"


CASES: list[tuple[str, list[Edit], list[str]]] = [
    (
        "duplicate-cluster",
        [("    - name: cluster2", "    - name: cluster1")],
        ["MG501 error 15:13"],
    ),
    ("broker-unknown", [("broker: cluster1", "broker: cluster3")], ["MG502 error 9:13"]),
    ("broker-typo", [("broker: cluster1", "broker: clustr1")], ["MG502 error 9:13"]),
    (
        "namespace-unknown-cluster",
        [namespace_clusters("[cluster1, clutser2]")],
        ["MG503 error 21:28"],
    ),
    (
        "namespace-block-list",
        [namespace_clusters("\n        - cluster2\n        - east")],
        ["MG503 error 23:11"],
    ),
    ("service-unknown-cluster", [service_clusters("[cluster9]")], ["MG503 error 24:18"]),
    (
        "both-lists",
        [namespace_clusters("[x1]"), service_clusters("[x2]")],
        ["MG503 error 21:18", "MG503 error 25:18"],
    ),
    (
        "known-clusters",
        [namespace_clusters("[cluster1, cluster2]"), service_clusters("[cluster2]")],
        [],
    ),
    # MG504: the operator-deployed Submariner resources name the broker's API server.
    (
        "operator-broker-no-api",
        [("broker: cluster1", "broker: cluster1\n    deploy: operator")],
        ["MG504 error 12:13"],
    ),
    (
        "operator-broker-api",
        [
            ("broker: cluster1", "broker: cluster1\n    deploy: operator"),
            (
                "serviceCIDR: 172.30.0.0/16",
                "serviceCIDR: 172.30.0.0/16\n      apiServer: https://api.c1:6443",
            ),
        ],
        [],
    ),
    # MG505: exports need Lighthouse.
    (
        "export-without-discovery",
        [("broker: cluster1", "broker: cluster1\n    serviceDiscovery: false"), service_export()],
        ["MG505 error 25:15"],
    ),
    ("export-with-discovery", [service_export()], []),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_topology(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


def test_duplicate_cluster_points_at_the_first() -> None:
    [diag] = diagnose(edit(("    - name: cluster2", "    - name: cluster1")))
    assert diag.message == 'cluster "cluster1" is declared twice'
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:11:13"]


@pytest.mark.parametrize(
    ("broker", "hint"),
    [
        ("clustr1", 'did you mean "cluster1"? (the clusters are "cluster1", "cluster2")'),
        ("hub", 'the clusters are "cluster1", "cluster2"'),
    ],
)
def test_broker_hint(broker: str, hint: str) -> None:
    [diag] = diagnose(edit(("broker: cluster1", f"broker: {broker}")))
    assert diag.message == f'Submariner broker "{broker}" is not one of the clusters'
    assert diag.hint == hint


def test_unknown_cluster_did_you_mean() -> None:
    [diag] = diagnose(edit(service_clusters("[clutser2]")))
    assert diag.message == 'service "helloworld" names unknown cluster "clutser2"'
    assert (diag.hint or "").startswith('did you mean "cluster2"?')


OUTPUT_NAME_CASES = [
    ("gitops-cluster", [("name: cluster2", "name: gitops")], ["MG506 error 15:13"]),
    ("long-name-without-argocd", [("name: cluster2", "name: " + "c" * 60)], []),
]


@pytest.mark.parametrize(
    ("edits", "expected"), [c[1:] for c in OUTPUT_NAME_CASES], ids=[c[0] for c in OUTPUT_NAME_CASES]
)
def test_output_names(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


ARGOCD = (
    "broker: cluster1",
    'broker: cluster1\n  gitops: {engine: argocd, repoURL: "https://g/r"}',
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("kustomization", ["MG506 error 16:13"]),
        ("c" * 53, ["MG506 error 16:13"]),
        ("c" * 52, []),
    ],
)
def test_argocd_names(name: str, expected: list[str]) -> None:
    assert summary(diagnose(edit(ARGOCD, ("name: cluster2", f"name: {name}")))) == expected
