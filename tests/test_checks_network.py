"""MG2xx network checks: each bad spec -> exact codes, severities and line:col (see SEED)."""

from __future__ import annotations

import pytest

from tests.helpers import Edit, diagnose, edit, summary

# Removes SEED lines 8-9: every later line moves up by two.
NO_SUBMARINER = ("  submariner:\n    broker: cluster1\n", "")
C1_POD = ("podCIDR: 10.128.0.0/14", "podCIDR: {}")
C1_SVC = ("serviceCIDR: 172.30.0.0/16", "serviceCIDR: {}")
C2_POD = ("podCIDR: 10.132.0.0/14", "podCIDR: {}")
C2_SVC = ("serviceCIDR: 172.31.0.0/16", "serviceCIDR: {}")


def to(field: Edit, value: str) -> Edit:
    return field[0], field[1].format(value)


def dual_stack(c1_pod6: str = "fd00:10::/56", c2_pod6: str = "fd00:20::/56") -> list[Edit]:
    return [
        to(C1_POD, f"[10.128.0.0/14, '{c1_pod6}']"),
        to(C1_SVC, "[172.30.0.0/16, 'fd00:30::/112']"),
        to(C2_POD, f"[10.132.0.0/14, '{c2_pod6}']"),
        to(C2_SVC, "[172.31.0.0/16, 'fd00:31::/112']"),
    ]


CLUSTER3 = (
    "serviceCIDR: 172.31.0.0/16",
    "serviceCIDR: 172.31.0.0/16\n"
    "    - name: cluster3\n"  # line 19
    "      podCIDR: 10.128.0.0/13\n"  # line 20: covers both other pod CIDRs
    "      serviceCIDR: 172.29.0.0/16",
)

CASES: list[tuple[str, list[Edit], list[str]]] = [
    # MG201: reported at the later cluster's CIDR, once per pair.
    ("pod-vs-pod", [to(C2_POD, "10.128.0.0/15")], ["MG201 error 17:16"]),
    ("svc-vs-svc", [to(C2_SVC, "172.30.0.0/16")], ["MG201 error 18:20"]),
    ("pod-vs-earlier-svc", [to(C2_POD, "172.30.0.0/16")], ["MG201 error 17:16"]),
    ("svc-vs-earlier-pod", [to(C2_SVC, "10.128.0.0/16")], ["MG201 error 18:20"]),
    ("ipv6-list-item", [NO_SUBMARINER, *dual_stack(c2_pod6="fd00:10::/64")], ["MG201 error 15:32"]),
    (
        "block-list-item",
        [to(C2_POD, "\n        - 10.132.0.0/14\n        - 10.128.0.0/16")],
        ["MG201 error 19:11", "MG205 error 19:11"],
    ),
    ("every-pair", [CLUSTER3], ["MG201 error 20:16", "MG201 error 20:16"]),
    ("dual-stack-clean", [NO_SUBMARINER, *dual_stack()], []),
    # MG202: inside one cluster, at whichever of the two is written later.
    ("pod-vs-own-svc", [to(C1_SVC, "10.128.0.0/16")], ["MG202 error 14:20"]),
    (
        "own-pods",
        [to(C1_POD, "[10.128.0.0/14, 10.130.0.0/16]")],
        ["MG202 error 13:32", "MG205 error 13:32"],
    ),
    (
        "svc-written-first",
        [
            (
                "      podCIDR: 10.128.0.0/14\n      serviceCIDR: 172.30.0.0/16",
                "      serviceCIDR: 10.128.0.0/16\n      podCIDR: 10.128.0.0/14",
            )
        ],
        ["MG202 error 14:16"],
    ),
    # MG203: Submariner ranges (only with spec.submariner) ...
    ("route-agent-vtep", [to(C1_POD, "240.0.0.0/14")], ["MG203 error 13:16"]),
    ("vxlan-cable-vtep", [to(C1_SVC, "241.0.0.0/16")], ["MG203 error 14:20"]),
    ("globalnet-supernet", [to(C1_SVC, "242.0.0.0/16")], ["MG203 warning 14:20"]),
    ("clusterset-supernet", [to(C1_SVC, "243.7.0.0/16")], ["MG203 warning 14:20"]),
    ("vtep-and-vxlan", [to(C1_POD, "240.0.0.0/7")], ["MG203 error 13:16", "MG203 error 13:16"]),
    ("no-submariner", [NO_SUBMARINER, to(C1_POD, "240.0.0.0/14")], []),
    # ... and OVN-Kubernetes ranges on OpenShift clusters only.
    ("ovn-join", [to(C1_SVC, "100.64.0.0/16")], ["MG203 error 14:20"]),
    (
        "ovn-join-kubernetes",
        [
            (
                "platform: openshift\n      podCIDR: 10.128",
                "platform: kubernetes\n      podCIDR: 10.128",
            ),
            to(C1_SVC, "100.64.0.0/16"),
        ],
        [],
    ),
    ("ovn-transit", [to(C2_POD, "100.88.0.0/14")], ["MG203 error 17:16"]),
    # 169.254/16 itself is link-local and rejected by the schema (MG104); a supernet that
    # covers both masquerade ranges is reported once (and once for covering link-local).
    ("masquerade-once", [to(C1_POD, "169.0.0.0/8")], ["MG203 error 13:16", "MG203 error 13:16"]),
    # ... and the IP standards' special ranges, on every platform, with or without Submariner:
    # a CIDR inside one is MG104 (the schema); one that is, covers or straddles one is MG203.
    ("limited-broadcast", [NO_SUBMARINER, to(C1_POD, "255.255.255.255/32")], ["MG203 error 11:16"]),
    ("covers-loopback", [NO_SUBMARINER, to(C2_SVC, "120.0.0.0/5")], ["MG203 error 16:20"]),
    (
        "covers-multicast-and-broadcast",
        [NO_SUBMARINER, to(C1_SVC, "224.0.0.0/3")],
        ["MG203 error 12:20", "MG203 error 12:20"],
    ),
    ("covers-this-network", [NO_SUBMARINER, to(C1_SVC, "0.128.0.0/9")], ["MG203 error 12:20"]),
    (
        "covers-ipv6-link-local",
        [NO_SUBMARINER, *dual_stack(c1_pod6="fe00::/7")],
        ["MG203 error 11:32", "MG203 error 11:32"],
    ),  # fe80::/10 and ff00::/8
    (
        "kubernetes-too",
        [
            NO_SUBMARINER,
            (
                "platform: openshift\n      podCIDR: 10.128",
                "platform: kubernetes\n      podCIDR: 10.128",
            ),
            to(C1_POD, "169.0.0.0/8"),
        ],
        ["MG203 error 11:16"],
    ),
    ("ovn-join-ipv6", [NO_SUBMARINER, *dual_stack(c1_pod6="fd98::/48")], ["MG203 error 11:32"]),
    ("masquerade-ipv6", [NO_SUBMARINER, *dual_stack(c2_pod6="fd69::/120")], ["MG203 error 15:32"]),
    # MG204
    (
        "globalnet",
        [("broker: cluster1", "broker: cluster1\n    globalnet: true")],
        ["MG204 error 10:16"],
    ),
    ("globalnet-off", [("broker: cluster1", "broker: cluster1\n    globalnet: false")], []),
    # MG205: per cluster (errors), across clusters and with Submariner (warnings).
    (
        "ipv6-pods-ipv4-services",
        [to(C1_POD, "fd00:10::/56")],
        ["MG205 warning 13:16", "MG205 error 14:20", "MG205 warning 17:16"],
    ),
    ("two-ipv4-services", [to(C1_SVC, "[172.30.0.0/16, 172.29.0.0/16]")], ["MG205 error 14:36"]),
    ("mixed-mesh", [NO_SUBMARINER, *dual_stack()[2:]], ["MG205 warning 15:16"]),
    ("ipv6-over-submariner", dual_stack(), ["MG205 warning 13:32", "MG205 warning 17:32"]),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_network(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


def test_reserved_range_message_names_range_and_purpose() -> None:
    [diag] = diagnose(edit(to(C1_SVC, "100.64.0.0/16")))
    assert diag.message == (
        'service CIDR 100.64.0.0/16 of cluster "cluster1" overlaps '
        "100.64.0.0/16, which OVN-Kubernetes reserves for its join switch"
    )
    assert (diag.hint or "").startswith(
        "OVN-Kubernetes uses 100.64.0.0/16 for its join switch; pick a service CIDR outside it"
    )
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:12:17"]  # its platform


def test_special_range_message_names_the_range_and_the_standard() -> None:
    [diag] = diagnose(edit(NO_SUBMARINER, to(C1_POD, "255.255.255.255/32")))
    assert diag.message == (
        'pod CIDR 255.255.255.255/32 of cluster "cluster1" overlaps '
        "255.255.255.255/32, which the IP standards reserve for the limited "
        "broadcast address (RFC 919)"
    )
    assert (diag.hint or "").endswith(
        "pick a pod CIDR outside it, from a private range such as 10.0.0.0/8, 172.16.0.0/12 "
        "or 192.168.0.0/16"
    )
    assert diag.related == ()


def test_same_cluster_overlap_points_at_the_other_cidr() -> None:
    [diag] = diagnose(edit(to(C1_SVC, "10.128.0.0/16")))
    assert diag.message == (
        'service CIDR 10.128.0.0/16 of cluster "cluster1" overlaps its own pod CIDR 10.128.0.0/14'
    )
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:13:16"]
    assert diag.hint is not None
    assert "10.136.0.0/16" in diag.hint


def test_globalnet_explains_why() -> None:
    [diag] = diagnose(edit(("broker: cluster1", "broker: cluster1\n    globalnet: true")))
    assert "pod IPs are not routable between clusters" in diag.message
    assert diag.hint is not None
    assert "globalnet: false" in diag.hint


def test_no_free_range_gives_a_generic_hint() -> None:
    # Pods of both clusters take all of 10/8; nothing of that size is left anywhere private.
    [diag] = diagnose(edit(to(C1_POD, "10.0.0.0/8"), to(C2_POD, "10.0.0.0/8")))
    assert diag.hint == "Submariner routes pod IPs directly; give each cluster a disjoint range"


@pytest.mark.parametrize(
    ("submariner", "expected"),
    [
        ("cableDriver: vxlan", ["MG206 warning"]),
        ("cableDriver: vxlan\n    natTraversal: false", []),
        ("cableDriver: wireguard", []),
    ],
)
def test_vxlan_needs_no_nat(submariner: str, expected: list[str]) -> None:
    codes = [
        f"{d.code} {d.severity}"
        for d in diagnose(edit(("broker: cluster1", f"broker: cluster1\n    {submariner}")))
    ]
    assert codes == expected
