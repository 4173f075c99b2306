"""DestinationRule / VirtualService rendering: every route and policy field, exact dicts."""

from __future__ import annotations

from typing import Any

import pytest

from meshgen.failover import DEFAULT_OUTLIER_DETECTION, needs_default_outlier_detection
from meshgen.render.objects import Manifest
from meshgen.render.traffic import render_service_rules
from meshgen.spec import Mesh
from meshgen.spec_traffic import TrafficPolicy
from tests.helpers import east_west, mesh_from, spec_data

HOST = "web.shop.svc.cluster.local"
META = {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/managed-by": "meshgen"}}
SUBSETS: list[dict[str, Any]] = [
    {"name": "v1", "labels": {"version": "v1"}},
    {"name": "v2", "labels": {"version": "v2"}},
]


def mesh_with(service: dict[str, Any], version: str = "1.30.0") -> Mesh:
    return mesh_from(
        spec_data(
            *east_west(),
            name="shop",
            version=version,
            namespaces=[{"name": "shop"}],
            services=[
                {
                    "name": "web",
                    "namespace": "shop",
                    "ports": [{"name": "http", "number": 8080}],
                    **service,
                }
            ],
        )
    )


def rules(service: dict[str, Any], version: str = "1.30.0") -> dict[str, Manifest]:
    mesh = mesh_with(service, version)
    return {d["kind"]: d for d in render_service_rules(mesh, mesh.spec.services[0])}


def http(route: dict[str, Any]) -> dict[str, Any]:
    """The single VirtualService http route rendered from `route` (with v1/v2 subsets)."""
    route = {"destinations": [{"subset": "v1"}], **route}
    vs = rules({"subsets": SUBSETS, "routes": [route]})["VirtualService"]
    assert vs["spec"]["hosts"] == [HOST]
    routes: list[dict[str, Any]] = vs["spec"]["http"]
    assert len(routes) == 1
    return routes[0]


V1 = [{"destination": {"host": HOST, "subset": "v1"}}]

ROUTE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {"route": V1}),
    (
        "weights-and-port",
        {
            "destinations": [
                {"subset": "v1", "weight": 90, "port": 8080},
                {"subset": "v2", "weight": 10, "port": 8080},
            ]
        },
        {
            "route": [
                {
                    "destination": {"host": HOST, "subset": "v1", "port": {"number": 8080}},
                    "weight": 90,
                },
                {
                    "destination": {"host": HOST, "subset": "v2", "port": {"number": 8080}},
                    "weight": 10,
                },
            ]
        },
    ),
    ("no-subset", {"destinations": [{}]}, {"route": [{"destination": {"host": HOST}}]}),
    (
        "header-exact",
        {"match": [{"headers": {"x-user": {"exact": "jason"}}}]},
        {"match": [{"headers": {"x-user": {"exact": "jason"}}}], "route": V1},
    ),
    (
        "header-prefix-regex",
        {"match": [{"headers": {"x-a": {"prefix": "beta"}, "x-b": {"regex": "^v[0-9]+$"}}}]},
        {
            "match": [{"headers": {"x-a": {"prefix": "beta"}, "x-b": {"regex": "^v[0-9]+$"}}}],
            "route": V1,
        },
    ),
    (
        "uri-exact",
        {"match": [{"uri": {"exact": "/login"}}]},
        {"match": [{"uri": {"exact": "/login"}}], "route": V1},
    ),
    (
        "uri-prefix",
        {"match": [{"uri": {"prefix": "/api/"}}]},
        {"match": [{"uri": {"prefix": "/api/"}}], "route": V1},
    ),
    (
        "uri-regex",
        {"match": [{"uri": {"regex": "/v[12]/.*"}}]},
        {"match": [{"uri": {"regex": "/v[12]/.*"}}], "route": V1},
    ),
    (
        "source-labels",
        {"match": [{"sourceLabels": {"topology.istio.io/cluster": "east"}}]},
        {"match": [{"sourceLabels": {"topology.istio.io/cluster": "east"}}], "route": V1},
    ),
    ("port", {"match": [{"port": 8080}]}, {"match": [{"port": 8080}], "route": V1}),
    (
        "match-field-order",
        {
            "match": [
                {
                    "sourceLabels": {"app": "x"},
                    "port": 8080,
                    "headers": {"h": {"exact": "1"}},
                    "uri": {"prefix": "/"},
                }
            ]
        },
        {
            "match": [
                {
                    "uri": {"prefix": "/"},
                    "headers": {"h": {"exact": "1"}},
                    "port": 8080,
                    "sourceLabels": {"app": "x"},
                }
            ],
            "route": V1,
        },
    ),
    (
        "two-matches-ored",
        {"match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}]},
        {"match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}], "route": V1},
    ),
    ("timeout", {"timeout": "1.5s"}, {"route": V1, "timeout": "1.5s"}),
    (
        "retries-full",
        {"retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,connect-failure"}},
        {
            "route": V1,
            "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,connect-failure"},
        },
    ),
    (
        "retries-attempts-only",
        {"retries": {"attempts": 0}},
        {"route": V1, "retries": {"attempts": 0}},
    ),
    (
        "fault-delay-default-percentage",
        {"fault": {"delay": {"fixedDelay": "5s"}}},
        {"route": V1, "fault": {"delay": {"fixedDelay": "5s", "percentage": {"value": 100}}}},
    ),
    (
        "fault-abort-float",
        {"fault": {"abort": {"httpStatus": 503, "percentage": 0.5}}},
        {"route": V1, "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 0.5}}}},
    ),
    (
        "fault-both",
        {
            "fault": {
                "delay": {"fixedDelay": "100ms", "percentage": 10},
                "abort": {"httpStatus": 500, "percentage": 1},
            }
        },
        {
            "route": V1,
            "fault": {
                "delay": {"fixedDelay": "100ms", "percentage": {"value": 10}},
                "abort": {"httpStatus": 500, "percentage": {"value": 1}},
            },
        },
    ),
    (
        "mirror-subset",
        {"mirror": {"subset": "v2", "percentage": 25}},
        {"route": V1, "mirror": {"host": HOST, "subset": "v2"}, "mirrorPercentage": {"value": 25}},
    ),
    (
        "mirror-default-port",
        {"mirror": {"port": 8080}},
        {
            "route": V1,
            "mirror": {"host": HOST, "port": {"number": 8080}},
            "mirrorPercentage": {"value": 100},
        },
    ),
    (
        "everything-in-order",
        {
            "mirror": {"subset": "v2", "percentage": 12.5},
            "fault": {"abort": {"httpStatus": 503}},
            "retries": {"attempts": 2},
            "timeout": "3s",
            "match": [{"uri": {"exact": "/"}}],
        },
        {
            "match": [{"uri": {"exact": "/"}}],
            "route": V1,
            "timeout": "3s",
            "retries": {"attempts": 2},
            "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 100}}},
            "mirror": {"host": HOST, "subset": "v2"},
            "mirrorPercentage": {"value": 12.5},
        },
    ),
]


@pytest.mark.parametrize(
    ("route", "expected"), [c[1:] for c in ROUTE_CASES], ids=[c[0] for c in ROUTE_CASES]
)
def test_http_route(route: dict[str, Any], expected: dict[str, Any]) -> None:
    rendered = http(route)
    assert rendered == expected
    assert list(rendered) == list(expected)  # field order is part of the output


def test_float_percentages_stay_floats_and_ints_stay_ints() -> None:
    rendered = http(
        {
            "fault": {
                "delay": {"fixedDelay": "1s", "percentage": 10},
                "abort": {"httpStatus": 503, "percentage": 0.1},
            }
        }
    )
    assert type(rendered["fault"]["delay"]["percentage"]["value"]) is int
    assert type(rendered["fault"]["abort"]["percentage"]["value"]) is float


POOL = {
    "tcp": {"maxConnections": 100, "connectTimeout": "30ms"},
    "http": {
        "http1MaxPendingRequests": 10,
        "http2MaxRequests": 1000,
        "maxRequestsPerConnection": 1,
        "maxRetries": 3,
        "idleTimeout": "1h",
    },
}
OUTLIER = {
    "consecutive5xxErrors": 7,
    "interval": "5m",
    "baseEjectionTime": "15m",
    "maxEjectionPercent": 50,
}
FAILOVER = {"enabled": True, "failover": [{"from": "us-east", "to": "us-west"}]}
DEFAULT_OD = {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}

POLICY_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("connection-pool", {"connectionPool": POOL}, {"connectionPool": POOL}),
    (
        "tcp-only",
        {"connectionPool": {"tcp": {"maxConnections": 1}}},
        {"connectionPool": {"tcp": {"maxConnections": 1}}},
    ),
    ("outlier-detection", {"outlierDetection": OUTLIER}, {"outlierDetection": OUTLIER}),
    (
        "simple-lb",
        {"loadBalancer": {"simple": "LEAST_REQUEST"}},
        {"loadBalancer": {"simple": "LEAST_REQUEST"}},
    ),
    ("tls", {"tls": {"mode": "ISTIO_MUTUAL"}}, {"tls": {"mode": "ISTIO_MUTUAL"}}),
    (
        "locality-enabled-only",
        {"loadBalancer": {"localityLbSetting": {}}},
        {"loadBalancer": {"localityLbSetting": {"enabled": True}}},
    ),
    (
        "empty-failover-lists-left-out",
        {"loadBalancer": {"localityLbSetting": {"failover": [], "failoverPriority": []}}},
        {"loadBalancer": {"localityLbSetting": {"enabled": True}}},
    ),
    (
        "failover-with-outlier",
        {"loadBalancer": {"localityLbSetting": FAILOVER}, "outlierDetection": OUTLIER},
        {"loadBalancer": {"localityLbSetting": FAILOVER}, "outlierDetection": OUTLIER},
    ),
    (
        "failover-adds-default-outlier",
        {"loadBalancer": {"localityLbSetting": FAILOVER}},
        {"loadBalancer": {"localityLbSetting": FAILOVER}, "outlierDetection": DEFAULT_OD},
    ),
    (
        "failover-priority-adds-default-outlier",
        {
            "loadBalancer": {
                "simple": "ROUND_ROBIN",
                "localityLbSetting": {
                    "failoverPriority": [
                        "topology.istio.io/network",
                        "topology.kubernetes.io/region",
                    ]
                },
            }
        },
        {
            "loadBalancer": {
                "simple": "ROUND_ROBIN",
                "localityLbSetting": {
                    "enabled": True,
                    "failoverPriority": [
                        "topology.istio.io/network",
                        "topology.kubernetes.io/region",
                    ],
                },
            },
            "outlierDetection": DEFAULT_OD,
        },
    ),
    (
        "disabled-locality-no-default",
        {"loadBalancer": {"localityLbSetting": {**FAILOVER, "enabled": False}}},
        {"loadBalancer": {"localityLbSetting": {**FAILOVER, "enabled": False}}},
    ),
    (
        "all-in-istio-order",
        {
            "tls": {"mode": "DISABLE"},
            "outlierDetection": OUTLIER,
            "connectionPool": POOL,
            "loadBalancer": {"simple": "RANDOM"},
        },
        {
            "loadBalancer": {"simple": "RANDOM"},
            "connectionPool": POOL,
            "outlierDetection": OUTLIER,
            "tls": {"mode": "DISABLE"},
        },
    ),
]


@pytest.mark.parametrize(
    ("policy", "expected"), [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES]
)
def test_service_traffic_policy(policy: dict[str, Any], expected: dict[str, Any]) -> None:
    found = rules({"trafficPolicy": policy})
    assert set(found) == {"DestinationRule"}  # a policy alone needs a DR, and no VS
    spec = found["DestinationRule"]["spec"]
    assert spec == {"host": HOST, "trafficPolicy": expected}
    assert list(spec["trafficPolicy"]) == list(expected)


def test_subset_traffic_policy_and_field_order() -> None:
    dr = rules(
        {
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
            "subsets": [
                {
                    "name": "v1",
                    "labels": {"version": "v1"},
                    "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 5}}},
                },
                {"name": "v2", "labels": {"version": "v2"}},
            ],
        }
    )["DestinationRule"]
    assert dr == {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": META,
        "spec": {
            "host": HOST,
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
            "subsets": [
                {
                    "name": "v1",
                    "labels": {"version": "v1"},
                    "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 5}}},
                },
                {"name": "v2", "labels": {"version": "v2"}},
            ],
        },
    }
    assert list(dr["spec"]) == ["host", "trafficPolicy", "subsets"]


def subset_policy(subset: dict[str, Any], service: dict[str, Any] | None = None) -> Any:
    found = rules(
        {
            "subsets": [{"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": subset}],
            **({"trafficPolicy": service} if service else {}),
        }
    )
    return found["DestinationRule"]["spec"]["subsets"][0]["trafficPolicy"]


def test_subset_failover_gets_the_default_outlier_detection() -> None:
    assert subset_policy({"loadBalancer": {"localityLbSetting": FAILOVER}}) == {
        "loadBalancer": {"localityLbSetting": FAILOVER},
        "outlierDetection": DEFAULT_OD,
    }


def test_subset_failover_inherits_the_service_outlier_detection() -> None:
    # Istio merges a subset's policy over the service's field by field.
    assert subset_policy(
        {"loadBalancer": {"localityLbSetting": FAILOVER}}, {"outlierDetection": OUTLIER}
    ) == {"loadBalancer": {"localityLbSetting": FAILOVER}}


def test_subset_failover_inherits_the_service_default_outlier_detection() -> None:
    found = rules(
        {
            "trafficPolicy": {"loadBalancer": {"localityLbSetting": FAILOVER}},
            "subsets": [
                {
                    "name": "v1",
                    "labels": {"version": "v1"},
                    "trafficPolicy": {
                        "loadBalancer": {"localityLbSetting": {"failoverPriority": ["a"]}}
                    },
                }
            ],
        }
    )
    spec = found["DestinationRule"]["spec"]
    assert spec["trafficPolicy"]["outlierDetection"] == DEFAULT_OD
    assert "outlierDetection" not in spec["subsets"][0]["trafficPolicy"]


def test_needs_default_outlier_detection() -> None:
    def policy(**fields: Any) -> TrafficPolicy:
        return TrafficPolicy.model_validate(fields, strict=False)

    failover = policy(loadBalancer={"localityLbSetting": FAILOVER})
    assert needs_default_outlier_detection(failover)
    assert needs_default_outlier_detection(
        policy(loadBalancer={"localityLbSetting": {"failoverPriority": ["a"]}})
    )
    assert not needs_default_outlier_detection(None)
    assert not needs_default_outlier_detection(policy())
    assert not needs_default_outlier_detection(policy(loadBalancer={"simple": "RANDOM"}))
    assert not needs_default_outlier_detection(policy(loadBalancer={"localityLbSetting": {}}))
    assert not needs_default_outlier_detection(
        policy(loadBalancer={"localityLbSetting": {**FAILOVER, "enabled": False}})
    )
    assert not needs_default_outlier_detection(
        policy(loadBalancer={"localityLbSetting": FAILOVER}, outlierDetection={})
    )
    assert not needs_default_outlier_detection(failover, policy(outlierDetection=OUTLIER))
    assert needs_default_outlier_detection(failover, policy(tls={"mode": "DISABLE"}))
    assert not needs_default_outlier_detection(failover, failover)  # the service gets it
    assert DEFAULT_OUTLIER_DETECTION == DEFAULT_OD


def test_default_outlier_detection_is_not_shared_state() -> None:
    dr = rules({"trafficPolicy": {"loadBalancer": {"localityLbSetting": FAILOVER}}})
    dr["DestinationRule"]["spec"]["trafficPolicy"]["outlierDetection"]["interval"] = "1s"
    assert DEFAULT_OUTLIER_DETECTION["interval"] == "10s"


def test_cluster_pinning_generates_subsets() -> None:
    found = rules(
        {
            "subsets": SUBSETS,
            "routes": [
                {
                    "match": [{"sourceLabels": {"topology.istio.io/cluster": "east"}}],
                    "destinations": [
                        {"subset": "v1", "cluster": "east", "weight": 80},
                        {"subset": "v1", "cluster": "west", "weight": 20},
                    ],
                },
                {
                    "destinations": [
                        {"cluster": "west", "weight": 50},
                        {"subset": "v1", "cluster": "east", "weight": 50},
                    ]
                },
            ],
        }
    )
    assert found["DestinationRule"]["spec"]["subsets"] == [
        *SUBSETS,
        {"name": "v1-east", "labels": {"version": "v1", "topology.istio.io/cluster": "east"}},
        {"name": "v1-west", "labels": {"version": "v1", "topology.istio.io/cluster": "west"}},
        {"name": "all-west", "labels": {"topology.istio.io/cluster": "west"}},
    ]
    assert found["VirtualService"]["spec"]["http"] == [
        {
            "match": [{"sourceLabels": {"topology.istio.io/cluster": "east"}}],
            "route": [
                {"destination": {"host": HOST, "subset": "v1-east"}, "weight": 80},
                {"destination": {"host": HOST, "subset": "v1-west"}, "weight": 20},
            ],
        },
        {
            "route": [
                {"destination": {"host": HOST, "subset": "all-west"}, "weight": 50},
                {"destination": {"host": HOST, "subset": "v1-east"}, "weight": 50},
            ]
        },
    ]


def test_pinning_alone_needs_a_destination_rule() -> None:
    found = rules({"routes": [{"destinations": [{"cluster": "east"}]}]})
    assert found["DestinationRule"]["spec"] == {
        "host": HOST,
        "subsets": [{"name": "all-east", "labels": {"topology.istio.io/cluster": "east"}}],
    }


def test_pinned_subset_keeps_the_subset_policy() -> None:
    policy = {"loadBalancer": {"simple": "LEAST_REQUEST"}}
    subsets = rules(
        {
            "subsets": [{"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": policy}],
            "routes": [{"destinations": [{"subset": "v1", "cluster": "west"}]}],
        }
    )["DestinationRule"]["spec"]["subsets"]
    assert subsets[1] == {
        "name": "v1-west",
        "labels": {"version": "v1", "topology.istio.io/cluster": "west"},
        "trafficPolicy": policy,
    }
    assert len(subsets) == 2


def test_nothing_to_render() -> None:
    assert rules({}) == {}


def test_routes_without_subsets_render_no_destination_rule() -> None:
    assert set(rules({"routes": [{"destinations": [{}]}]})) == {"VirtualService"}


@pytest.mark.parametrize(
    ("version", "api"),
    [("1.21.6", "networking.istio.io/v1beta1"), ("1.22.0", "networking.istio.io/v1")],
)
def test_api_version_boundary(version: str, api: str) -> None:
    found = rules(
        {
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
            "routes": [{"destinations": [{"cluster": "east"}]}],
        },
        version,
    )
    assert {d["apiVersion"] for d in found.values()} == {api}
