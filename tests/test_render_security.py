"""PeerAuthentication / AuthorizationPolicy rendering, and a rich traffic + security spec
judged by kubeconform -strict, `istioctl validate` and `istioctl analyze` (tools tests)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen import yamlemit
from meshgen.conform import manifest_files, run_kubeconform
from meshgen.placement import workload_namespaces_in as namespaces_in
from meshgen.render.objects import Manifest
from meshgen.render.security import principal, render_security, security_api_version
from meshgen.spec import Mesh
from tests.helpers import mesh_from
from tests.tooling import build, documents, run, schemas, services_for, tool

MANAGED = {"app.kubernetes.io/managed-by": "meshgen"}

BASE: dict[str, Any] = {
    "apiVersion": "meshgen.dev/v1alpha1",
    "kind": "Mesh",
    "metadata": {"name": "shop"},
    "spec": {
        "istio": {"version": "1.30.0"},
        "clusters": [
            {
                "name": "east",
                "platform": "kubernetes",
                "podCIDR": "10.16.0.0/16",
                "serviceCIDR": "10.116.0.0/20",
                "region": "us-east",
                "zone": "us-east-1a",
            },
            {
                "name": "west",
                "platform": "kubernetes",
                "podCIDR": "10.17.0.0/16",
                "serviceCIDR": "10.117.0.0/20",
                "region": "us-west",
                "zone": "us-west-1a",
            },
        ],
        "namespaces": [{"name": "shop"}, {"name": "payments", "clusters": ["east"]}],
    },
}


def mesh(
    security: dict[str, Any] | None, version: str = "1.30.0", trust_domain: str | None = None
) -> Mesh:
    data = copy.deepcopy(BASE)
    data["spec"]["istio"]["version"] = version
    if security is not None:
        data["spec"]["security"] = security
    if trust_domain is not None:
        data["spec"]["trustDomain"] = trust_domain
    return mesh_from(data)


def render_in(m: Mesh, cluster: str) -> list[Manifest]:
    target = next(c for c in m.spec.clusters if c.name == cluster)
    return render_security(m, target, namespaces_in(m, target))


def peer(namespace: str, mode: str = "STRICT", api: str = "security.istio.io/v1") -> Manifest:
    return {
        "apiVersion": api,
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": namespace, "labels": MANAGED},
        "spec": {"mtls": {"mode": mode}},
    }


def test_no_security_renders_nothing() -> None:
    assert render_in(mesh(None), "east") == []
    assert render_in(mesh({}), "east") == []


def test_mesh_wide_peer_authentication_defaults_to_strict() -> None:
    m = mesh({"peerAuthentication": {}})
    assert render_in(m, "east") == [peer("istio-system")]
    assert render_in(m, "west") == [peer("istio-system")]


def test_per_namespace_peer_authentication_follows_placement() -> None:
    m = mesh({"peerAuthentication": {"mode": "PERMISSIVE", "namespaces": ["shop", "payments"]}})
    assert render_in(m, "east") == [peer("shop", "PERMISSIVE"), peer("payments", "PERMISSIVE")]
    assert render_in(m, "west") == [peer("shop", "PERMISSIVE")]


def test_app_namespaces_may_be_names() -> None:
    m = mesh({"peerAuthentication": {"mode": "DISABLE", "namespaces": ["payments"]}})
    assert render_security(m, m.spec.clusters[1], ["payments"]) == [peer("payments", "DISABLE")]
    assert render_security(m, m.spec.clusters[1], []) == []


AP_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "namespaces",
        {"allow": {"namespaces": ["shop"]}},
        {"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["shop"]}}]}]},
    ),
    (
        "service-accounts",
        {"allow": {"serviceAccounts": ["shop/frontend", "shop/web.v2"]}},
        {
            "action": "ALLOW",
            "rules": [
                {
                    "from": [
                        {
                            "source": {
                                "principals": [
                                    "cluster.local/ns/shop/sa/frontend",
                                    "cluster.local/ns/shop/sa/web.v2",
                                ]
                            }
                        }
                    ]
                }
            ],
        },
    ),
    (
        "both-with-selector",
        {
            "selector": {"app": "ledger"},
            "allow": {"namespaces": ["shop", "payments"], "serviceAccounts": ["shop/frontend"]},
        },
        {
            "selector": {"matchLabels": {"app": "ledger"}},
            "action": "ALLOW",
            "rules": [
                {
                    "from": [
                        {"source": {"namespaces": ["shop", "payments"]}},
                        {"source": {"principals": ["cluster.local/ns/shop/sa/frontend"]}},
                    ]
                }
            ],
        },
    ),
    ("nobody", {"allow": {}}, {"action": "ALLOW"}),
]


@pytest.mark.parametrize(
    ("policy", "expected"), [c[1:] for c in AP_CASES], ids=[c[0] for c in AP_CASES]
)
def test_authorization_policy(policy: dict[str, Any], expected: dict[str, Any]) -> None:
    m = mesh({"authorizationPolicies": [{"name": "ledger", "namespace": "payments", **policy}]})
    assert render_in(m, "east") == [
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "ledger", "namespace": "payments", "labels": MANAGED},
            "spec": expected,
        }
    ]
    assert list(render_in(m, "east")[0]["spec"]) == list(expected)
    assert render_in(m, "west") == []  # payments is not placed in west


def test_principals_use_the_trust_domain() -> None:
    m = mesh(
        {
            "authorizationPolicies": [
                {"name": "a", "namespace": "shop", "allow": {"serviceAccounts": ["default/sleep"]}}
            ]
        },
        trust_domain="corp.example",
    )
    rule = render_in(m, "west")[0]["spec"]["rules"][0]
    assert rule == {"from": [{"source": {"principals": ["corp.example/ns/default/sa/sleep"]}}]}
    assert principal("cluster.local", "default/sleep") == "cluster.local/ns/default/sa/sleep"


def test_peer_authentication_before_authorization_policies() -> None:
    m = mesh(
        {
            "peerAuthentication": {},
            "authorizationPolicies": [
                {"name": "a", "namespace": "shop", "allow": {"namespaces": ["shop"]}}
            ],
        }
    )
    assert [d["kind"] for d in render_in(m, "east")] == [
        "PeerAuthentication",
        "AuthorizationPolicy",
    ]


@pytest.mark.parametrize(
    ("version", "api"),
    [
        ("1.10.0", "security.istio.io/v1beta1"),
        ("1.21.6", "security.istio.io/v1beta1"),
        ("1.22.0", "security.istio.io/v1"),
        ("1.30.0", "security.istio.io/v1"),
    ],
)
def test_security_api_version_boundary(version: str, api: str) -> None:
    assert security_api_version(version) == api
    m = mesh(
        {
            "peerAuthentication": {},
            "authorizationPolicies": [
                {"name": "a", "namespace": "shop", "allow": {"namespaces": ["shop"]}}
            ],
        },
        version,
    )
    assert {d["apiVersion"] for d in render_in(m, "east")} == {api}


# --- The rich spec through the real tools -------------------------------------------------

RICH_SERVICES: list[dict[str, Any]] = [
    {
        "name": "web",
        "namespace": "shop",
        "ports": [{"name": "http", "number": 8080}, {"name": "http-admin", "number": 9090}],
        "trafficPolicy": {
            "loadBalancer": {
                "simple": "LEAST_REQUEST",
                "localityLbSetting": {
                    "failover": [
                        {"from": "us-east", "to": "us-west"},
                        {"from": "us-west", "to": "us-east"},
                    ]
                },
            },
            "connectionPool": {
                "tcp": {"maxConnections": 100, "connectTimeout": "30ms"},
                "http": {
                    "http1MaxPendingRequests": 10,
                    "http2MaxRequests": 1000,
                    "maxRequestsPerConnection": 10,
                    "maxRetries": 3,
                    "idleTimeout": "1h",
                },
            },
            "tls": {"mode": "ISTIO_MUTUAL"},
        },
        "subsets": [
            {
                "name": "v1",
                "labels": {"version": "v1"},
                "trafficPolicy": {
                    "outlierDetection": {
                        "consecutive5xxErrors": 3,
                        "interval": "5s",
                        "baseEjectionTime": "1m",
                        "maxEjectionPercent": 50,
                    }
                },
            },
            {
                "name": "v2",
                "labels": {"version": "v2"},
                "trafficPolicy": {
                    "loadBalancer": {
                        "localityLbSetting": {
                            "failoverPriority": [
                                "topology.kubernetes.io/region",
                                "topology.kubernetes.io/zone",
                            ]
                        }
                    }
                },
            },
        ],
        "routes": [
            {
                "match": [
                    {"headers": {"x-canary": {"exact": "true"}}},
                    {"uri": {"prefix": "/beta/"}, "port": 8080},
                ],
                "destinations": [{"subset": "v2", "port": 8080}],
                "timeout": "2s",
                "fault": {
                    "delay": {"fixedDelay": "100ms", "percentage": 0.5},
                    "abort": {"httpStatus": 503, "percentage": 1},
                },
            },
            {
                "match": [
                    {
                        "sourceLabels": {"topology.istio.io/cluster": "east"},
                        "uri": {"regex": "^/api/v[0-9]+/.*"},
                    }
                ],
                "destinations": [
                    {"subset": "v1", "cluster": "east", "weight": 80, "port": 8080},
                    {"subset": "v1", "cluster": "west", "weight": 20, "port": 8080},
                ],
                "retries": {
                    "attempts": 3,
                    "perTryTimeout": "500ms",
                    "retryOn": "5xx,connect-failure",
                },
            },
            {
                "destinations": [
                    {"subset": "v1", "weight": 90, "port": 8080},
                    {"subset": "v2", "weight": 10, "port": 8080},
                ],
                "mirror": {"subset": "v2", "port": 8080, "percentage": 12.5},
            },
        ],
    },
    {
        "name": "ledger",
        "namespace": "payments",
        "clusters": ["east"],
        "ports": [{"name": "grpc", "number": 7070}],
        "subsets": [{"name": "stable", "labels": {"version": "v1"}}],
        "routes": [{"destinations": [{"cluster": "east"}]}],
    },
]
RICH_SECURITY: dict[str, Any] = {
    "peerAuthentication": {},
    "authorizationPolicies": [
        {
            "name": "ledger",
            "namespace": "payments",
            "selector": {"app": "ledger"},
            "allow": {"namespaces": ["shop"], "serviceAccounts": ["shop/web"]},
        },
        {"name": "web", "namespace": "shop", "allow": {"namespaces": ["shop"]}},
    ],
}


SECURITY_KINDS = {"PeerAuthentication", "AuthorizationPolicy"}


def rendered_security(out: Path, cluster: str) -> list[dict[str, Any]]:
    return [
        d
        for f in manifest_files(out / cluster)
        for d in documents(f)
        if d.get("kind") in SECURITY_KINDS
    ]


def rich_output(minor: int, tmp_path: Path) -> tuple[Mesh, Path, Path]:
    """Build the rich spec. Where render does not (yet) write render_security's objects,
    write them to a file per cluster next to the output; where it does, they must be the
    same objects. -> (mesh, output dir, security dir)."""
    data = copy.deepcopy(BASE)
    data["spec"]["istio"]["version"] = f"1.{minor}.0"
    data["spec"]["services"] = RICH_SERVICES
    data["spec"]["security"] = RICH_SECURITY
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    m = build(spec, out)
    security = tmp_path / "security"
    for cluster in m.spec.clusters:
        docs = render_security(m, cluster, namespaces_in(m, cluster))
        assert docs
        (security / cluster.name).mkdir(parents=True)
        already = rendered_security(out, cluster.name)
        if already:
            assert already == docs
        else:
            (security / cluster.name / "security.yaml").write_text(yamlemit.dump_all(docs))
    return m, out, security


def cluster_files(out: Path, security: Path, cluster: str) -> list[Path]:
    return [*manifest_files(out / cluster), *manifest_files(security / cluster)]


@pytest.mark.tools
@pytest.mark.parametrize("minor", [30, 21])
def test_rich_spec_passes_kubeconform_and_istioctl(minor: int, tmp_path: Path) -> None:
    m, out, security = rich_output(minor, tmp_path)
    services = tmp_path / "services.yaml"
    services.write_text(yaml.safe_dump_all(services_for(m), sort_keys=False))
    web = yaml.safe_load_all((out / "east" / "traffic" / "shop" / "rules.yaml").read_text())
    kinds = [d["kind"] for d in web if d]
    assert kinds == ["DestinationRule", "VirtualService"]
    for cluster in ("east", "west"):
        files = cluster_files(out, security, cluster)
        summary = run_kubeconform(
            files, binary=tool("kubeconform"), schema_dir=schemas(), istio_minor=minor
        )
        assert (summary.invalid, summary.errors, summary.skipped) == (0, 0, 0), summary.diagnostics
        assert summary.valid > 0
        for file in files:
            proc = run(tool("istioctl"), "validate", "-f", file)
            assert proc.returncode == 0, (file, proc.stdout, proc.stderr)
        proc = run(
            tool("istioctl"), "analyze", "-A", "--use-kube=false", "-o", "json", *files, services
        )
        assert proc.returncode == 0, proc.stderr
        messages: list[dict[str, Any]] = json.loads(proc.stdout)
        assert [msg for msg in messages if msg["level"] == "Error"] == []
