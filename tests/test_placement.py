"""Where a service's objects go (meshgen/placement.py): its rules to every cluster, since each
istiod reads rules from its own cluster but serves every cluster's endpoints; where it does
not run, a Service without selector for its clients; its workloads, ServiceExport and
server-side policy where it runs. The mesh box (tests/meshbox/) shows it with the releases'
own istiod: a client in every cluster gets the subsets and routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meshgen.emit import emit
from meshgen.render import render
from meshgen.render.objects import Manifest
from tests.helpers import K8S_EXAMPLE, cluster, diagnose, mesh_from, run_meshgen, spec_data


def _files(data: dict[str, Any]) -> dict[str, tuple[Manifest, ...]]:
    return {f.path: f.documents for f in render(mesh_from(data)).files}


def _three_clusters() -> dict[str, tuple[Manifest, ...]]:
    return _files(yaml.safe_load(K8S_EXAMPLE.read_text()))


def test_a_client_cluster_gets_the_rules_of_a_service_it_does_not_run() -> None:
    """examples/kubernetes-three-clusters: payments runs in east and west; central's clients
    call it too, so central gets its DestinationRule and VirtualService (the same objects),
    its namespace and its Service without selector, with the spec's ports."""
    out = _three_clusters()
    rules = "traffic/payments/rules.yaml"
    assert out[f"central/{rules}"] == out[f"east/{rules}"] == out[f"west/{rules}"]
    assert [d["kind"] for d in out[f"central/{rules}"]] == ["DestinationRule", "VirtualService"]
    assert "payments" in [d["metadata"]["name"] for d in out["central/namespaces.yaml"]]
    (service,) = out["central/traffic/payments/services.yaml"]
    assert service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "payments",
            "namespace": "payments",
            "labels": {"app.kubernetes.io/managed-by": "meshgen"},
        },
        "spec": {"ports": [{"name": "grpc", "port": 7070}]},
    }
    assert out["central/traffic/payments/kustomization.yaml"][0]["resources"] == [
        "services.yaml",
        "rules.yaml",
    ]
    for running in ("east", "west"):
        assert f"{running}/traffic/payments/services.yaml" not in out
        assert out[f"{running}/traffic/payments/kustomization.yaml"][0]["resources"] == [
            "rules.yaml"
        ]


def test_workloads_and_server_side_policy_stay_where_the_service_runs() -> None:
    data = spec_data(
        cluster("a", "10.16.0.0/16", "10.116.0.0/20"),
        cluster("b", "10.17.0.0/16", "10.117.0.0/20"),
        namespaces=[{"name": "pay", "clusters": ["a"]}, {"name": "web"}],
        services=[
            {
                "name": "api",
                "namespace": "pay",
                "clusters": ["a"],
                "export": True,
                "ports": [{"name": "http", "number": 8080}],
                "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
            }
        ],
        submariner={"broker": "a"},
        security={
            "peerAuthentication": {"mode": "STRICT", "namespaces": ["pay"]},
            "authorizationPolicies": [
                {
                    "name": "api",
                    "namespace": "pay",
                    "selector": {"app": "api"},
                    "allow": {"namespaces": ["web"]},
                }
            ],
        },
    )
    out = _files(data)
    assert "a/security/policies.yaml" in out
    assert "b/security/policies.yaml" not in out
    assert "a/submariner/service-exports.yaml" in out
    assert "b/submariner/service-exports.yaml" not in out
    kinds_b = {d["kind"] for path, docs in out.items() if path.startswith("b/") for d in docs}
    assert "ServiceExport" not in kinds_b
    assert "AuthorizationPolicy" not in kinds_b
    # b's clients (the verify client runs in web, which the policy admits) get the rules.
    assert out["b/traffic/pay/rules.yaml"] == out["a/traffic/pay/rules.yaml"]
    assert [d["kind"] for d in out["b/verify/web.yaml"]] == ["ServiceAccount", "Deployment"]
    assert not any(
        d["kind"] == "Deployment" and d["metadata"]["name"] == "api"
        for d in out["b/verify/web.yaml"]
    )


def test_mg424_a_service_run_in_some_clusters_needs_its_ports() -> None:
    def codes(**service: Any) -> list[str]:
        data = spec_data(
            cluster("a", "10.16.0.0/16", "10.116.0.0/20"),
            cluster("b", "10.17.0.0/16", "10.117.0.0/20"),
            namespaces=[{"name": "pay"}],
            services=[{"name": "api", "namespace": "pay", **service}],
        )
        return [d.code for d in diagnose(yaml.safe_dump(data, sort_keys=False))]

    assert "MG424" in codes(clusters=["a"])
    assert "MG424" not in codes(clusters=["a"], ports=[{"name": "http", "number": 80}])
    assert "MG424" not in codes(clusters=["a", "b"])  # runs everywhere: no client Service
    assert "MG424" not in codes()


def test_mg424_names_the_clusters_and_points_at_clusters(tmp_path: Path) -> None:
    data = spec_data(
        cluster("a", "10.16.0.0/16", "10.116.0.0/20"),
        cluster("b", "10.17.0.0/16", "10.117.0.0/20"),
        namespaces=[{"name": "pay"}],
        services=[{"name": "api", "namespace": "pay", "clusters": ["a"]}],
    )
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = run_meshgen("validate", spec)
    assert proc.returncode == 1
    line = next(x for x in proc.stderr.splitlines() if "MG424" in x)
    text = spec.read_text().splitlines()
    row = int(line.split(":")[1])
    assert text[row - 2].strip() == "clusters:"  # the list under it
    assert text[row - 1].strip() == "- a"
    assert 'runs only in "a"' in line
    assert 'clients in "b"' in line


def test_the_runbook_calls_each_service_from_every_cluster() -> None:
    mesh = mesh_from(yaml.safe_load(K8S_EXAMPLE.read_text()))
    readme = emit(render(mesh), "mesh.yaml")["README.md"].decode()
    for context in ("east", "west", "central"):
        assert (
            f"kubectl --context {context} exec deploy/sleep -c sleep -n payments -- curl -sS "
            "payments.payments:7070/hello" in readme
        )
        assert f"kubectl --context {context} apply -k {context}/traffic/payments/" in readme


def test_plan_says_why_a_cluster_gets_a_service_it_does_not_run(tmp_path: Path) -> None:
    data = yaml.safe_load(K8S_EXAMPLE.read_text())
    before = tmp_path / "before.yaml"
    del data["spec"]["services"][2]  # payments, added by the spec compared
    before.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    assert run_meshgen("build", before, "-o", out).returncode == 0
    proc = run_meshgen("plan", K8S_EXAMPLE, "-o", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    added = [x for x in proc.stdout.splitlines() if "added Service payments/payments" in x]
    # east and west run it and change alike: one section for both, with <cluster> in paths.
    assert "clusters east, west (2 clusters, the same changes in each)" in proc.stdout
    assert [x.split("(")[1].split(")")[0] for x in added] == [
        "<cluster>/verify/payments.yaml",  # the test workloads' Service, where it runs
        "central/traffic/payments/services.yaml",
    ]
    added = added[1:]
    assert "does not run the service" in added[0]
    assert "each istiod reads rules only from its own cluster" in added[0]
