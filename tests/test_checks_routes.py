"""MG4xx route, traffic-policy and security checks (MG401 mirror, MG410 ports, MG412, MG414-MG419):
each bad spec -> exact codes, severities and line:col (see SEED in tests/test_checks.py)."""

from __future__ import annotations

import pytest

from meshgen.checks import CODES
from tests.helpers import SEED, Edit, diagnose, edit, summary

ROUTE = "        - destinations:\n            - {subset: v2, weight: 100}\n"  # SEED lines 29-30
DEST = "            - {subset: v2, weight: 100}"
# Both clusters get a region: every line from 20 on moves down by two.
REGIONS: list[Edit] = [
    ("    - name: cluster1\n", "    - name: cluster1\n      region: us-east\n"),
    ("    - name: cluster2\n", "    - name: cluster2\n      region: us-west\n"),
]
OUTLIER = "outlierDetection: {consecutive5xxErrors: 3}"
# failoverPriority exists from Istio 1.12 (MG420 before: tests/test_checks_availability.py).
ISTIO_1_12: Edit = ('version: "1.10.0"', 'version: "1.12.0"')


def routes(*flows: str) -> Edit:
    """One flow-mapping route per line, from line 29 on; each route is at column 11."""
    return ROUTE, "".join(f"        - {flow}\n" for flow in flows)


def to(subset: str, match: str = "") -> str:
    return f"{{{match}destinations: [{{subset: {subset}}}]}}"


def service_policy(flow: str) -> Edit:
    """The service's trafficPolicy, one flow mapping on line 31 (33 with REGIONS)."""
    return DEST, f"{DEST}\n      trafficPolicy: {flow}"


def failover(pairs: str, extra: str = "") -> str:
    return f"{{{extra}loadBalancer: {{localityLbSetting: {{failover: [{pairs}]}}}}}}"


def security(*lines: str) -> Edit:
    """spec.security from line 31 on."""
    return DEST, DEST + "\n  security:\n" + "".join(f"    {line}\n" for line in lines)[:-1]


NO_SUBSETS = (
    "      subsets:\n        - {name: v1, labels: {version: v1}}\n"
    "        - {name: v2, labels: {version: v2}}\n",
    "",
)
SERVICE_IN_CLUSTER1 = (
    "      namespace: sample\n",
    "      namespace: sample\n      clusters: [cluster1]\n",
)

CASES: list[tuple[str, list[Edit], list[str]]] = [
    # MG412: a catch-all (no match, or a match without conditions) must come last (IST0130).
    (
        "catch-all-first",
        [routes(to("v2"), to("v1", "match: [{uri: {prefix: /a}}], "))],
        ["MG412 warning 30:11"],
    ),
    (
        "empty-match-is-catch-all",
        [routes(to("v2", "match: [{}], "), to("v1", "match: [{uri: {prefix: /a}}], "))],
        ["MG412 warning 30:11"],
    ),
    (
        "one-empty-match-of-two",
        [routes(to("v1", "match: [{uri: {prefix: /a}}, {}], "), to("v2"))],
        ["MG412 warning 30:11"],
    ),
    (
        "every-route-after",
        [routes(to("v2"), to("v1"), to("v1", "match: [{port: 5000}], "))],
        ["MG412 warning 30:11", "MG412 warning 31:11"],
    ),
    ("catch-all-last", [routes(to("v1", "match: [{uri: {prefix: /a}}], "), to("v2"))], []),
    # MG414: a match equal to an earlier route's (IST0131; all of them: IST0130).
    (
        "same-match",
        [
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v2", "match: [{uri: {prefix: /a}}], "),
                to("v2"),
            )
        ],
        ["MG414 warning 30:11"],
    ),
    (
        "each-match-seen",
        [
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v1", "match: [{uri: {exact: /b}}], "),
                to("v2", "match: [{uri: {exact: /b}}, {uri: {prefix: /a}}], "),
            )
        ],
        ["MG414 warning 31:11"],
    ),
    (
        "one-match-seen",
        [
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v2", "match: [{uri: {prefix: /b}}, {uri: {prefix: /a}}], "),
            )
        ],
        ["MG414 warning 30:41"],
    ),
    (
        "header-order-is-ignored",
        [
            routes(
                to("v1", "match: [{headers: {a: {exact: x}, b: {exact: y}}}], "),
                to("v2", "match: [{headers: {b: {exact: y}, a: {exact: x}}}], "),
            )
        ],
        ["MG414 warning 30:11"],
    ),
    (
        "exact-is-not-prefix",
        [
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v2", "match: [{uri: {exact: /a}}], "),
            )
        ],
        [],
    ),
    (
        "prefix-overlap-is-not-checked",
        [
            routes(
                to("v1", "match: [{uri: {prefix: /}}], "),
                to("v2", "match: [{uri: {prefix: /a}}], "),
            )
        ],
        [],
    ),
    (
        "port-makes-a-difference",
        [
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v2", "match: [{uri: {prefix: /a}, port: 5000}], "),
            )
        ],
        [],
    ),
    # MG410: ports of matches and mirrors, too.
    (
        "unknown-match-port",
        [routes(to("v2", "match: [{port: 8080}], "), to("v1"))],
        ["MG410 error 29:27"],
    ),
    (
        "unknown-mirror-port",
        [routes("{destinations: [{subset: v2}], mirror: {port: 9090}}")],
        ["MG410 error 29:57"],
    ),
    (
        "known-ports",
        [
            routes(
                "{match: [{port: 5000}], destinations: [{subset: v2, port: 5000}], "
                "mirror: {subset: v1, port: 5000}}"
            )
        ],
        [],
    ),
    # MG401: a mirror's subset (IST0101).
    (
        "unknown-mirror-subset",
        [routes("{destinations: [{subset: v2}], mirror: {subset: v3}}")],
        ["MG401 error 29:59"],
    ),
    (
        "mirror-without-subsets",
        [
            NO_SUBSETS,
            ("{subset: v2, weight: 100}", "{weight: 100}\n          mirror: {subset: v1}"),
        ],
        ["MG401 error 28:28"],
    ),
    ("mirror-all-pods", [routes("{destinations: [{subset: v2}], mirror: {percentage: 10}}")], []),
    # MG416: empty labels select every pod.
    (
        "empty-labels",
        [("{name: v1, labels: {version: v1}}", "{name: v1, labels: {}}")],
        ["MG416 error 26:30"],
    ),
    # MG417: a pinned destination.
    (
        "pinned-unknown-cluster",
        [("{subset: v2, weight: 100}", "{subset: v2, cluster: clustr2}")],
        ["MG417 error 30:37"],
    ),
    (
        "pinned-where-not-placed",
        [SERVICE_IN_CLUSTER1, ("{subset: v2, weight: 100}", "{subset: v2, cluster: cluster2}")],
        ["MG417 error 31:37"],
    ),
    (
        "pinned-where-placed",
        [SERVICE_IN_CLUSTER1, ("{subset: v2, weight: 100}", "{subset: v2, cluster: cluster1}")],
        [],
    ),
    (
        "pinned-default-everywhere",
        [("{subset: v2, weight: 100}", "{subset: v2, cluster: cluster2}")],
        [],
    ),
    # MG415: failover regions must be cluster regions.
    (
        "failover-without-regions",
        [service_policy(failover("{from: us-east, to: us-west}", OUTLIER + ", "))],
        ["MG415 error 31:113"],
    ),
    (
        "failover-unknown-region",
        [*REGIONS, service_policy(failover("{from: us-east, to: eu-west}", OUTLIER + ", "))],
        ["MG415 error 33:134"],
    ),
    (
        "failover-both-unknown",
        [*REGIONS, service_policy(failover("{from: us-eats, to: eu-west}", OUTLIER + ", "))],
        ["MG415 error 33:121", "MG415 error 33:134"],
    ),
    (
        "failover-zone-of-a-region",
        [
            *REGIONS,
            service_policy(failover("{from: us-east/us-east-1a, to: us-west}", OUTLIER + ", ")),
        ],
        [],
    ),
    (
        "priority-without-regions",
        [
            ISTIO_1_12,
            service_policy(
                "{" + OUTLIER + ", loadBalancer: {localityLbSetting: {failoverPriority: "
                "[topology.istio.io/cluster]}}}"
            ),
        ],
        [],
    ),
    # MG418: failover without outlierDetection gets meshgen's default.
    (
        "failover-no-outlier",
        [*REGIONS, service_policy(failover("{from: us-east, to: us-west}"))],
        ["MG418 warning 33:57"],
    ),
    (
        "priority-no-outlier",
        [
            ISTIO_1_12,
            service_policy(
                "{loadBalancer: {localityLbSetting: "
                "{failoverPriority: [topology.istio.io/cluster]}}}"
            ),
        ],
        ["MG418 warning 31:57"],
    ),
    (
        "failover-disabled",
        [
            ISTIO_1_12,
            service_policy(
                "{loadBalancer: {localityLbSetting: {enabled: false, failoverPriority: [a]}}}"
            ),
        ],
        [],
    ),
    (
        "subset-no-outlier",
        [
            ISTIO_1_12,
            (
                "{name: v1, labels: {version: v1}}",
                "{name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: "
                "{localityLbSetting: {failoverPriority: [a]}}}}",
            ),
        ],
        ["MG418 warning 26:95"],
    ),
    (
        "subset-inherits-outlier",
        [
            ISTIO_1_12,
            (
                "{name: v1, labels: {version: v1}}",
                "{name: v1, labels: {version: v1}, trafficPolicy: "
                "{loadBalancer: {localityLbSetting: {failoverPriority: [a]}}}}",
            ),
            service_policy("{" + OUTLIER + "}"),
        ],
        [],
    ),
    # MG419: security policies name declared namespaces.
    (
        "peer-auth-namespace",
        [security("peerAuthentication: {namespaces: [sample, smaple]}")],
        ["MG419 error 32:47"],
    ),
    (
        "authz-namespace",
        [security("authorizationPolicies:", "  - {name: allow, namespace: other, allow: {}}")],
        ["MG419 error 33:34"],
    ),
    (
        "authz-allow-namespace",
        [
            security(
                "authorizationPolicies:",
                "  - {name: allow, namespace: sample, allow: {namespaces: [istio-system, other]}}",
            )
        ],
        ["MG419 error 33:77"],
    ),
    (
        "authz-service-account",
        [
            security(
                "authorizationPolicies:",
                "  - name: allow",
                "    namespace: sample",
                "    allow:",
                "      serviceAccounts: [sample/a, istio-system/istio-ingressgateway, other/b]",
            )
        ],
        ["MG419 warning 36:74"],
    ),
    (
        "security-clean",
        [
            security(
                "peerAuthentication: {mode: STRICT}",
                "authorizationPolicies:",
                "  - {name: a, namespace: sample, allow: {namespaces: [sample], "
                "serviceAccounts: [sample/x]}}",
            )
        ],
        [],
    ),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_routes(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


def test_new_codes_are_registered() -> None:
    assert {"MG412", "MG414", "MG415", "MG416", "MG417", "MG418", "MG419"} <= set(CODES)
    assert CODES["MG412"].startswith("warning")
    assert CODES["MG414"].startswith("warning")
    assert CODES["MG418"].startswith("warning")


def test_catch_all_message() -> None:
    [diag] = diagnose(edit(routes(to("v2"), to("v1", "match: [{uri: {prefix: /a}}], "))))
    assert diag.message == (
        'route 1 of service "sample/helloworld" is unreachable: route 0 '
        "already matches every request (has no match)"
    )
    assert diag.hint == "move this route before route 0: a route without conditions must come last"
    assert [(str(r.location), r.message) for r in diag.related] == [
        ("mesh.yaml:29:11", "the catch-all route")
    ]


def test_empty_match_message() -> None:
    [diag] = diagnose(edit(routes(to("v2", "match: [{}], "), to("v1"))))
    assert "(its match[0] has no conditions)" in diag.message
    assert diag.hint is not None
    assert diag.hint.startswith("only the last route may match")


def test_shadowed_route_message() -> None:
    [diag] = diagnose(
        edit(
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v2", "match: [{uri: {prefix: /a}}], "),
            )
        )
    )
    assert diag.message == (
        'route 1 of service "sample/helloworld" is shadowed: each of its '
        "matches repeats a match of an earlier route (match[0] = route 0 "
        "match[0]), so it never applies"
    )
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:29:11"]


def test_ineffective_match_message() -> None:
    [diag] = diagnose(
        edit(
            routes(
                to("v1", "match: [{uri: {prefix: /a}}], "),
                to("v2", "match: [{uri: {prefix: /b}}, {uri: {prefix: /a}}], "),
            )
        )
    )
    assert diag.message == (
        'match[1] of route 1 of service "sample/helloworld" repeats '
        "match[0] of route 0, so it never applies"
    )
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:29:20"]


def test_port_messages() -> None:
    diags = diagnose(
        edit(routes("{match: [{port: 8080}], destinations: [{subset: v2}], mirror: {port: 9090}}"))
    )
    assert [d.message for d in diags] == [
        'match[0] port 8080 is not a port of service "sample/helloworld"',
        'mirror port 9090 is not a port of service "sample/helloworld"',
    ]
    assert all(d.hint == 'declared ports: "5000"' for d in diags)


def test_mirror_subset_message() -> None:
    [diag] = diagnose(edit(routes("{destinations: [{subset: v2}], mirror: {subset: v22}}")))
    assert diag.message == (
        'route mirror names subset "v22", which service "sample/helloworld" does not define'
    )
    assert diag.hint == 'did you mean "v2"? (defined subsets: "v1", "v2")'


def test_empty_labels_message() -> None:
    [diag] = diagnose(edit(("{name: v1, labels: {version: v1}}", "{name: v1, labels: {}}")))
    assert diag.message == (
        'subset "v1" of service "sample/helloworld" has no labels, so it '
        "selects every pod of the service"
    )
    assert diag.hint == (
        "give it the pod labels of one version, e.g. labels: {version: v1}; to "
        "route to every pod, leave subset out of the destination"
    )


@pytest.mark.parametrize(
    ("cluster", "edits", "message", "hint"),
    [
        (
            "clustr2",
            [],
            'destination is pinned to unknown cluster "clustr2"',
            'did you mean "cluster2"? (the clusters are "cluster1", "cluster2")',
        ),
        (
            "cluster2",
            [SERVICE_IN_CLUSTER1],
            'destination is pinned to cluster "cluster2", where service "sample/helloworld" is not '
            "placed, so it has no endpoints there",
            'pin to one of "cluster1", or add "cluster2" to the service\'s clusters',
        ),
    ],
)
def test_pinned_cluster_messages(cluster: str, edits: list[Edit], message: str, hint: str) -> None:
    [diag] = diagnose(
        edit(*edits, ("{subset: v2, weight: 100}", f"{{subset: v2, cluster: {cluster}}}"))
    )
    assert (diag.message, diag.hint) == (message, hint)


def test_failover_messages() -> None:
    [diag] = diagnose(
        edit(*REGIONS, service_policy(failover("{from: us-east, to: us-wset}", OUTLIER + ", ")))
    )
    assert diag.message == (
        'failover to region "us-wset" of service "sample/helloworld" is not '
        "the region of any cluster"
    )
    assert diag.hint == 'did you mean "us-west"? (cluster regions: "us-east", "us-west")'
    [diag] = diagnose(edit(service_policy(failover("{from: a, to: b}", OUTLIER + ", "))))
    assert diag.hint == ("add region: to the clusters (their nodes' topology.kubernetes.io/region)")


def test_default_outlier_detection_is_named() -> None:
    [diag] = diagnose(edit(*REGIONS, service_policy(failover("{from: us-east, to: us-west}"))))
    assert diag.message == (
        'locality failover of service "sample/helloworld" has no outlierDetection, without '
        "which it never fails over; meshgen adds the default outlierDetection "
        "(consecutive5xxErrors 5, interval 10s, baseEjectionTime 30s)"
    )


def test_security_messages() -> None:
    diags = diagnose(
        edit(
            security(
                "authorizationPolicies:",
                "  - name: allow",
                "    namespace: smaple",
                "    allow: {serviceAccounts: [other/b]}",
            )
        )
    )
    assert [(d.severity, d.message, d.hint) for d in diags] == [
        (
            "error",
            'authorization policy "allow" names namespace "smaple", which is not '
            "declared under spec.namespaces",
            'did you mean "sample"? Otherwise declare `- name: smaple` under spec.namespaces, or '
            "put the policy in an application namespace",
        ),
        (
            "warning",
            'authorization policy "allow" allows service account "other/b", whose '
            'namespace "other" is not declared under spec.namespaces',
            "check the <namespace>/<name> spelling; a workload outside the mesh has no Istio "
            "identity to match",
        ),
    ]


def test_seed_has_no_route_findings() -> None:
    assert diagnose(SEED) == []


# --- MG422, MG423: the generated subsets of pinned destinations -----------------------------

V2_SUBSET = "        - {name: v2, labels: {version: v2}}\n"  # SEED line 27


def subset(name: str) -> Edit:
    """One more subset, on line 28: the route moves to line 30, its destination to 31."""
    return V2_SUBSET, f"{V2_SUBSET}        - {{name: {name}, labels: {{version: v3}}}}\n"


def destinations(*flows: str) -> Edit:
    return DEST, "\n".join(f"            - {flow}" for flow in flows)


LONG = "s" * 55  # + "-cluster2": 64 characters


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # {subset: v1, cluster: cluster2} routes to the generated "v1-cluster2": a declared one.
        (
            [subset("v1-cluster2"), destinations("{subset: v1, cluster: cluster2}")],
            ["MG422 error 31:15"],
        ),
        # {cluster: cluster2} routes to "all-cluster2", and so does the subset named "all".
        (
            [
                subset("all"),
                destinations(
                    "{cluster: cluster2, weight: 50}",
                    "{subset: all, cluster: cluster2, weight: 50}",
                ),
            ],
            ["MG422 error 32:15"],
        ),
        # Reported once per pin, however often it is used.
        (
            [
                subset("v1-cluster2"),
                routes(
                    "{match: [{port: 5000}], destinations: [{subset: v1, cluster: cluster2}]}",
                    "{destinations: [{subset: v1, cluster: cluster2}]}",
                ),
            ],
            ["MG422 error 30:50"],
        ),
        (
            [subset(LONG), destinations(f"{{subset: {LONG}, cluster: cluster2}}")],
            ["MG423 error 31:15"],
        ),
        # No collision: pins of their own, and the same pin twice.
        (
            [
                destinations(
                    "{subset: v1, cluster: cluster2, weight: 50}",
                    "{subset: v1, cluster: cluster1, weight: 50}",
                )
            ],
            [],
        ),
        (
            [
                routes(
                    "{match: [{port: 5000}], destinations: [{subset: v1, cluster: cluster2}]}",
                    "{destinations: [{subset: v1, cluster: cluster2}]}",
                )
            ],
            [],
        ),
    ],
    ids=["declared", "all-and-subset-all", "once-per-pin", "too-long", "distinct", "repeated"],
)
def test_generated_subsets(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


def test_generated_subset_messages() -> None:
    [diag] = diagnose(edit(subset("v1-cluster2"), destinations("{subset: v1, cluster: cluster2}")))
    assert diag.message == (
        "destination {subset: v1, cluster: cluster2} routes to the generated "
        'subset "v1-cluster2", but service "sample/helloworld" declares a '
        "subset of that name too"
    )
    assert (diag.hint or "").startswith('rename subset "v1-cluster2": a pinned destination')
    assert [(str(r.location), r.message) for r in diag.related] == [
        ("mesh.yaml:28:18", "the declared subset")
    ]
    [diag] = diagnose(
        edit(
            subset("all"),
            destinations(
                "{cluster: cluster2, weight: 50}", "{subset: all, cluster: cluster2, weight: 50}"
            ),
        )
    )
    assert diag.message == (
        "destinations {cluster: cluster2} and {subset: all, cluster: "
        'cluster2} of service "sample/helloworld" both route to the '
        'generated subset "all-cluster2", for different endpoints'
    )
    assert [(str(r.location), r.message) for r in diag.related] == [
        ("mesh.yaml:31:15", "the other destination")
    ]
    [diag] = diagnose(edit(subset(LONG), destinations(f"{{subset: {LONG}, cluster: cluster2}}")))
    assert "64 characters: Istio rejects subset names longer than 63" in diag.message
    assert diag.hint == (
        f'shorten subset "{LONG}" or cluster "cluster2" (together at most 62 characters)'
    )


def test_check_and_render_name_pinned_subsets_alike() -> None:
    from meshgen.checks.routes import pinned_subset_name as checked
    from meshgen.render.traffic import pinned_subset_name as rendered

    for pin in [("v1", "b"), (None, "b"), ("v1-b", "c-d"), ("all", "x")]:
        assert checked(*pin) == rendered(*pin)


def test_what_mg422_prevents() -> None:
    """Without the check, the DestinationRule would name two subsets alike."""
    from meshgen.load import load_text
    from meshgen.render.traffic import render_service_rules
    from meshgen.validate import validate

    text = edit(subset("v1-cluster2"), destinations("{subset: v1, cluster: cluster2}"))
    loaded, _ = load_text(text, "mesh.yaml")
    assert loaded is not None
    mesh, _ = validate(loaded)
    assert mesh is not None
    [rule, _] = render_service_rules(mesh, mesh.spec.services[0])
    names = [s["name"] for s in rule["spec"]["subsets"]]
    assert names.count("v1-cluster2") == 2
