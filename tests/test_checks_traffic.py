"""MG4xx traffic checks: each bad spec -> exact codes, severities and line:col (see SEED)."""

from __future__ import annotations

import pytest

from tests.helpers import Edit, diagnose, edit, summary

DEST = "            - {subset: v2, weight: 100}"  # SEED line 30; its route starts at 29:11


def dests(*items: str) -> Edit:
    return DEST, "\n".join(f"            - {{{item}}}" for item in items)


NO_SUBSETS = (
    "      subsets:\n        - {name: v1, labels: {version: v1}}\n"
    "        - {name: v2, labels: {version: v2}}\n",
    "",
)
NS_IN_CLUSTER1 = ("    - name: sample\n", "    - name: sample\n      clusters: [cluster1]\n")


def another_service(namespace: str) -> Edit:
    """A second `helloworld` after the first (lines 31-32)."""
    return DEST, f"{DEST}\n    - name: helloworld\n      namespace: {namespace}"


def extra_namespace(name: str) -> Edit:
    return "    - name: sample\n", f"    - name: sample\n    - name: {name}\n"


def service_clusters(value: str) -> Edit:
    return "      namespace: sample\n", f"      namespace: sample\n      clusters: {value}\n"


CASES: list[tuple[str, list[Edit], list[str]]] = [
    ("unknown-subset", [dests("subset: v3, weight: 100")], ["MG401 error 30:24"]),
    ("no-subsets", [NO_SUBSETS], ["MG401 error 27:24"]),
    ("no-subset-named", [dests("weight: 100")], []),
    (
        "weights-sum-110",
        [dests("subset: v1, weight: 90", "subset: v2, weight: 20")],
        ["MG402 error 29:11"],
    ),
    ("weight-missing", [dests("subset: v1, weight: 100", "subset: v2")], ["MG402 error 29:11"]),
    ("single-weight-50", [dests("subset: v2, weight: 50")], ["MG402 error 29:11"]),
    ("single-no-weight", [dests("subset: v2")], []),
    ("three-way", [dests("subset: v1, weight: 50", "subset: v2, weight: 25", "weight: 25")], []),
    (
        "second-route",
        [(DEST, DEST + "\n        - destinations:\n            - {subset: v1, weight: 0}")],
        ["MG402 error 31:11", "MG412 warning 31:11"],
    ),
    (
        "duplicate-subset",
        [("{name: v2, labels: {version: v2}}", "{name: v1, labels: {version: v2}}")],
        ["MG403 error 27:18", "MG401 error 30:24"],
    ),
    ("unknown-namespace", [("namespace: sample", "namespace: smaple")], ["MG404 error 23:18"]),
    ("duplicate-service", [another_service("sample")], ["MG405 error 31:13"]),
    ("same-name-other-namespace", [another_service("other")], ["MG404 error 32:18"]),
    (
        "duplicate-namespace",
        [("    - name: sample\n", "    - name: sample\n    - name: sample\n")],
        ["MG406 error 21:13"],
    ),
    (
        "duplicate-port-name",
        [("5000}]", "5000}, {name: http, number: 5001}]")],
        ["MG407 error 24:50", "MG411 error 30:15"],
    ),
    (
        "duplicate-port-number",
        [("5000}]", "5000}, {name: grpc, number: 5000}]")],
        ["MG407 error 24:64", "MG411 error 30:15"],
    ),
    ("namespace-not-everywhere", [NS_IN_CLUSTER1], ["MG408 error 23:13"]),
    (
        "service-in-other-cluster",
        [NS_IN_CLUSTER1, service_clusters("[cluster1, cluster2]")],
        ["MG408 error 25:28"],
    ),
    ("service-follows-namespace", [NS_IN_CLUSTER1, service_clusters("[cluster1]")], []),
    (
        "unknown-is-not-mg408",
        [NS_IN_CLUSTER1, service_clusters("[cluster9]")],
        ["MG503 error 25:18"],
    ),
    # MG409: platform namespaces are not application namespaces.
    ("istio-system-as-app", [extra_namespace("istio-system")], ["MG409 error 21:13"]),
    ("openshift-namespace", [extra_namespace("openshift-dns")], ["MG409 error 21:13"]),
    # MG410/MG411: destination ports (IST0112 in istioctl analyze).
    ("known-port", [dests("subset: v2, weight: 100, port: 5000")], []),
    ("unknown-port", [dests("subset: v2, weight: 100, port: 5001")], ["MG410 error 30:47"]),
    (
        "two-ports-no-port",
        [("5000}]", "5000}, {name: grpc, number: 5001}]")],
        ["MG411 error 30:15"],
    ),
    (
        "two-ports-with-port",
        [
            ("5000}]", "5000}, {name: grpc, number: 5001}]"),
            dests("subset: v2, weight: 100, port: 5001"),
        ],
        [],
    ),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_traffic(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


@pytest.mark.parametrize(
    ("subset", "hint"),
    [
        ("v22", 'did you mean "v2"? (defined subsets: "v1", "v2")'),
        ("canary", 'defined subsets: "v1", "v2"'),
    ],
)
def test_unknown_subset_hint(subset: str, hint: str) -> None:
    [diag] = diagnose(edit(dests(f"subset: {subset}")))
    assert diag.message == (
        f'route destination names subset "{subset}", which service '
        '"sample/helloworld" does not define'
    )
    assert diag.hint == hint
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:26:9"]


def test_no_subsets_says_so() -> None:
    [diag] = diagnose(edit(NO_SUBSETS))
    assert "defines no subsets" in (diag.hint or "")


@pytest.mark.parametrize(
    ("items", "hint"),
    [
        (
            ("subset: v1, weight: 90", "subset: v2, weight: 20"),
            "make the weights add up to 100 (now 90 + 20 = 110), e.g. set the last one to 10",
        ),
        (
            ("subset: v1, weight: 100", "subset: v2"),
            "give every destination a weight; together they must add up to 100",
        ),
        (("subset: v2, weight: 50",), "set weight: 100 or leave the weight out"),
    ],
)
def test_weight_hints(items: tuple[str, ...], hint: str) -> None:
    [diag] = diagnose(edit(dests(*items)))
    assert diag.hint == hint


def test_unknown_namespace_did_you_mean() -> None:
    [diag] = diagnose(edit(("namespace: sample", "namespace: smaple")))
    assert diag.hint == (
        'did you mean "sample"? Otherwise add `- name: smaple` under spec.namespaces'
    )


def test_placement_note_points_at_namespace_clusters() -> None:
    [diag] = diagnose(edit(NS_IN_CLUSTER1))
    assert diag.message == (
        'service "sample/helloworld" goes to every cluster, but in "cluster2" '
        'its namespace "sample" is not'
    )
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:21:17"]
