"""out/README.md's runbook, picture and address map, checked against the spec.

The `sh` blocks are parsed into argv lists (tests/test_injection.py's lexer, then shlex), so
every command is checked for the names, contexts and CIDRs of the spec; the verify
manifests are checked as YAML, against the spec's subsets, and for staying out of every
kustomization.yaml; the Mermaid block structurally (a subgraph per cluster, an edge per
tunnel pair...).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import cast

import pytest
import yaml

from benchmarks.generate import make_spec
from meshgen.address_map import address_map
from meshgen.load import load_text
from meshgen.overview import (
    MAX_CLUSTERS,
    SHOWN_CLUSTERS,
    label,
    mermaid,
    mesh_summary,
)
from meshgen.pipeline import compile_spec
from meshgen.render import render
from meshgen.render.answers import expected
from meshgen.render.runbook.commands import LOOP_ABOVE
from meshgen.render.verify import MAX_VERIFIED_SERVICES, VERIFY_DIR, backends, client_namespace
from meshgen.spec import Mesh
from meshgen.validate import validate
from tests.helpers import EXAMPLES, ROOT, mesh_from, seed_data
from tests.test_injection import (
    _MD,
    _swap,
    hostile,
    readme_of,
    sh_blocks,
    shell_commands,
    tame_data,
)


def example(name: str) -> Mesh:
    return mesh_from(yaml.safe_load(EXAMPLES[name].read_text()))


def commands(readme: str) -> list[list[str]]:
    return [argv for block in sh_blocks(readme) for argv in shell_commands(block)]


def fenced(readme: str, info: str) -> list[str]:
    return [t.content for t in _MD.parse(readme) if t.type == "fence" and t.info == info]


def big_mesh(clusters: int, services: int = 3, *, broker: str | None = None) -> Mesh:
    text = make_spec(clusters, services)
    if broker is not None:
        text = text.replace(
            "  clusters:\n", f"  submariner:\n    broker: {broker}\n  clusters:\n", 1
        )
    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return mesh


# --- the seed blog's check ---------------------------------------------------------------


def test_seed_runbook_calls_helloworld_from_every_cluster() -> None:
    mesh = mesh_from(seed_data())
    argvs = commands(readme_of(mesh))
    for cluster in ("cluster1", "cluster2"):
        assert [
            "kubectl",
            "--context",
            cluster,
            "exec",
            "deploy/sleep",
            "-c",
            "sleep",
            "-n",
            "sample",
            "--",
            "curl",
            "-sS",
            "helloworld.sample:5000/hello",
        ] in argvs
        assert ["kubectl", "--context", cluster, "apply", "-f", f"{cluster}/{VERIFY_DIR}/"] in argvs
        proxy = [
            a
            for a in argvs
            if a[:5] == ["istioctl", "--context", cluster, "proxy-config", "endpoints"]
        ]
        assert proxy
        assert proxy[0][-2:] == ["--cluster", "outbound|5000||helloworld.sample.svc.cluster.local"]
        assert ["kubectl", "config", "rename-context", "$CURRENT", cluster] in argvs
        assert [
            "kubectl",
            "--context",
            cluster,
            "label",
            "node",
            "<node>",
            "submariner.io/gateway=true",
        ] in argvs


def test_seed_expects_only_v2_as_the_route_says() -> None:
    mesh = mesh_from(seed_data())
    service = mesh.spec.services[0]
    for caller in ("cluster1", "cluster2"):
        answer = expected(mesh, service, caller)
        assert answer.versions == (("v2", 100),)
        assert answer.status is None
    assert "From every cluster: only `Hello version: v2` (100%)." in readme_of(mesh)


def test_seed_places_v1_in_cluster1_and_v2_in_cluster2_like_the_blog() -> None:
    mesh = mesh_from(seed_data())
    placed = [(b.name, b.cluster) for b in backends(mesh, mesh.spec.services[0])]
    assert placed == [("helloworld-v1", "cluster1"), ("helloworld-v2", "cluster2")]


def test_subctl_verify_runs_again_after_istio_is_installed() -> None:
    argvs = commands(readme_of(mesh_from(seed_data())))
    verifies = [i for i, a in enumerate(argvs) if a[:2] == ["subctl", "verify"]]
    install = max(i for i, a in enumerate(argvs) if a[:2] == ["istioctl", "install"])
    assert len(verifies) == 2
    assert verifies[-1] > install


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("openshift-submariner", ["4500/UDP", "4490/UDP", "500/UDP", "ESP"], []),
        ("kubernetes-three-clusters", ["4500/UDP", "4490/UDP"], ["500/UDP", "ESP"]),
    ],
)
def test_gateway_ports_follow_the_cable_driver(
    name: str, present: list[str], absent: list[str]
) -> None:
    readme = readme_of(example(name))
    line = next(x for x in readme.splitlines() if x.startswith("Open these"))
    assert all(p in line for p in present)
    assert not any(re.search(rf"(?<![0-9]){re.escape(p)}", line) for p in absent)


def test_expected_answers_follow_routes_pins_and_matches() -> None:
    mesh = example("canary-split")
    service = mesh.spec.services[0]
    # Route 1 needs a header curl does not send; route 2 splits 90/10, v2 pinned to prod-b.
    answer = expected(mesh, service, "prod-a")
    assert answer.versions == (("v1", 90), ("v2", 10))
    assert any(b.subset == "v2" and b.cluster == "prod-b" for b in backends(mesh, service))


def test_sleep_calls_from_a_namespace_the_authorization_policy_allows() -> None:
    mesh = example("locality-failover")
    checkout = mesh.spec.services[0]
    assert client_namespace(mesh, checkout) == "shop"  # the policy allows only shop
    argvs = commands(readme_of(mesh))
    assert [
        "kubectl",
        "--context",
        "east",
        "exec",
        "deploy/sleep",
        "-c",
        "sleep",
        "-n",
        "shop",
        "--",
        "curl",
        "-sS",
        "checkout.payments:8080/hello",
    ] in argvs
    # Locality load balancing: each caller's own region answers while it is healthy.
    assert expected(mesh, checkout, "east").versions == (("east", 100),)
    assert expected(mesh, checkout, "west").versions == (("west", 100),)


def test_authorization_policy_that_admits_no_sleep_expects_403() -> None:
    data = yaml.safe_load(EXAMPLES["locality-failover"].read_text())
    data["spec"]["security"]["authorizationPolicies"][0]["allow"] = {
        "serviceAccounts": ["shop/frontend"]
    }
    mesh = mesh_from(data)
    checkout = mesh.spec.services[0]
    assert client_namespace(mesh, checkout) == "payments"
    assert expected(mesh, checkout, "east").status == 403


def test_service_without_subsets_answers_with_the_cluster_name() -> None:
    data = copy.deepcopy(seed_data())
    data["spec"]["services"][0].pop("subsets")
    data["spec"]["services"][0].pop("routes")
    mesh = mesh_from(data)
    answer = expected(mesh, mesh.spec.services[0], "cluster1")
    assert answer.versions == (("cluster1", None), ("cluster2", None))


# --- the verify manifests ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_verify_manifests_are_yaml_and_never_listed(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = compile_spec(EXAMPLES[name].relative_to(ROOT), tmp_path / "out")
    assert result.files is not None
    assert result.mesh is not None
    mesh = result.mesh
    verify = {p: b for p, b in result.files.items() if f"/{VERIFY_DIR}/" in p}
    assert verify
    listed: set[str] = set()
    for path, blob in result.files.items():
        if path.endswith("kustomization.yaml"):
            base = path.rpartition("/")[0]
            for doc in yaml.safe_load_all(blob):
                for res in (doc or {}).get("resources", []):
                    listed.add(f"{base}/{res}".lstrip("/"))
                    listed.add(res)
    for path in verify:
        assert path not in listed
        assert not any(res.rstrip("/").endswith(VERIFY_DIR) for res in listed)
    for cluster in mesh.spec.clusters:
        docs = [
            d
            for p, b in verify.items()
            if p.startswith(f"{cluster.name}/")
            for d in yaml.safe_load_all(b)
            if d
        ]
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert ("Deployment", "sleep") in kinds
        for service in mesh.spec.services[:MAX_VERIFIED_SERVICES]:
            for b in backends(mesh, service):
                if b.cluster != cluster.name:
                    continue
                [dep] = [
                    d
                    for d in docs
                    if d["kind"] == "Deployment"
                    and d["metadata"]["name"] == b.name
                    and d["metadata"]["namespace"] == service.namespace
                ]
                labels = dep["spec"]["template"]["metadata"]["labels"]
                subset = next((s for s in service.subsets if s.name == b.subset), None)
                if subset is not None:
                    assert subset.labels.items() <= labels.items()
                selector = dep["spec"]["selector"]["matchLabels"]
                assert selector.items() <= labels.items()


def test_every_subset_runs_somewhere_and_every_cluster_gets_some() -> None:
    mesh = example("kubernetes-three-clusters")
    for service in mesh.spec.services:
        placed = backends(mesh, service)
        assert {b.subset for b in placed} == {s.name for s in service.subsets}
        clusters = service.clusters or [c.name for c in mesh.spec.clusters]
        assert {b.cluster for b in placed} == set(clusters)


# --- big meshes: loops, bounded size ----------------------------------------------------


def test_fifty_clusters_use_loops_and_stay_small() -> None:
    mesh = big_mesh(50, 100)
    readme = readme_of(mesh)
    # Before: 15,106 lines (693,812 bytes), one block per cluster pair.
    assert len(readme.splitlines()) < 1500
    argvs = commands(readme)
    names = [c.name for c in mesh.spec.clusters]
    loops = [a for a in argvs if a[:1] == ["for"]]
    assert ["for", "PEER", "in", *names] in loops
    assert ["for", "CLUSTER", "in", *names] in loops
    assert not [
        a
        for a in argvs
        if a[:1] == ["kubectl"]
        and "apply" in a
        and any(f"--context={n}" == w for n in names for w in a)
    ]


def test_loops_carry_hostile_values_only_as_data() -> None:
    """test_injection.py's check on a mesh big enough for loops: two more clusters whose
    names contain the markers of the first two, so the hostile twin has four hostile names."""
    data = tame_data(**{"submariner.natTraversal": False})
    extra = [
        ("zqa1c", "10.136.0.0/14", "172.29.0.0/16"),
        ("zqb2d", "10.140.0.0/14", "172.28.0.0/16"),
    ]
    for name, pods, services in extra:
        data["spec"]["clusters"].append(
            {"name": name, "platform": "openshift", "podCIDR": pods, "serviceCIDR": services}
        )
    tame = mesh_from(data)
    assert len(tame.spec.clusters) > LOOP_ABOVE
    evil = cast(Mesh, _swap(tame))
    tame_blocks, evil_blocks = sh_blocks(readme_of(tame)), sh_blocks(readme_of(evil))
    assert len(tame_blocks) == len(evil_blocks)
    assert any(block.startswith("for ") for block in tame_blocks)
    for tame_block, evil_block in zip(tame_blocks, evil_blocks, strict=True):
        expected_argv = [[hostile(arg) for arg in argv] for argv in shell_commands(tame_block)]
        assert shell_commands(evil_block) == expected_argv


# --- the picture ----------------------------------------------------------------------


def test_mermaid_draws_submariner_as_gateways_joined_to_the_broker() -> None:
    mesh = example("kubernetes-three-clusters")
    [block] = fenced(readme_of(mesh), "mermaid")
    lines = block.splitlines()
    assert lines[0] == "flowchart LR"
    subgraphs = [x for x in lines if x.strip().startswith("subgraph ")]
    assert len(subgraphs) == 3
    for cluster, line in zip(mesh.spec.clusters, subgraphs, strict=True):
        assert f'"{cluster.name} ({cluster.platform})"' in line
    # Submariner as deployed (issue 21): each gateway joins the broker; the 3 tunnels between
    # the gateways are counted in the broker's label, not drawn pair by pair.
    assert not [x for x in lines if "<==>" in x]
    assert sum('<-.->|"joins"| broker' in x for x in lines) == 3
    [broker] = [x for x in lines if x.strip().startswith("broker{{")]
    cable = mesh.spec.submariner.cable_driver if mesh.spec.submariner else ""
    assert f"3 {cable} tunnels, gateway to gateway" in broker
    watches = [x for x in lines if "-.->|watches|" in x]
    assert len(watches) == 6  # every istiod, every peer
    assert sum(x.strip().startswith("s") and "([" in x for x in lines) == 3
    # Route edges: one per destination.
    dests = sum(len(r.destinations) for s in mesh.spec.services for r in s.routes)
    assert sum("-->|" in x and x.strip().startswith("s") for x in lines) == dests


def test_mermaid_collapses_big_meshes() -> None:
    mesh = big_mesh(50, 40, broker="c0")
    lines = mermaid(mesh)
    assert sum(x.strip().startswith("subgraph ") for x in lines) == SHOWN_CLUSTERS
    assert any("44 more clusters" in x for x in lines)
    assert any("1225 libreswan tunnels" in x for x in lines)
    assert sum("broker" in x for x in lines) == SHOWN_CLUSTERS + 2  # node, gateways, the rest
    assert any("more services" in x for x in lines)
    assert len(lines) < 120
    assert len(mermaid(big_mesh(MAX_CLUSTERS))) < 120


def test_mermaid_grows_with_clusters_not_their_pairs() -> None:
    sizes = [len(mermaid(big_mesh(n))) for n in (2, 4, 8)]
    assert sizes[2] - sizes[1] <= 2 * (sizes[1] - sizes[0]) + 8


def test_mermaid_shows_mirrors_and_control_planes_per_revision() -> None:
    data = seed_data()
    route = data["spec"]["services"][0]["routes"][0]
    route["mirror"] = {"subset": "v1", "percentage": 5}
    lines = mermaid(mesh_from(data))
    assert any('-.->|"r1 mirror 5%"|' in x for x in lines)
    canary = example("canary-upgrade")
    revisions = [f"istiod {r.name} ({r.version})" for r in canary.spec.istio.revisions]
    assert len(revisions) == 2
    istiod = next(x for x in mermaid(canary) if "c0istiod[" in x)
    assert all(label(r) in istiod for r in revisions)


def test_mermaid_labels_escape_hostile_values() -> None:
    evil = cast(Mesh, _swap(mesh_from(seed_data())))
    evil = evil.model_copy(
        update={
            "spec": evil.spec.model_copy(
                update={
                    "clusters": [
                        c.model_copy(update={"name": c.name + '"]\n```\n<b>'})
                        for c in evil.spec.clusters
                    ]
                }
            )
        }
    )
    for line in mermaid(evil):
        assert "\n" not in line
        assert "`" not in line
        assert "<b>" not in line
        inner = re.findall(r'"([^"]*)"', line)
        assert all('"' not in x for x in inner)


def test_address_map_draws_every_range_and_the_reserved_ones() -> None:
    mesh = mesh_from(seed_data())
    lines = address_map(mesh)
    assert [x for x in lines if x.startswith("IPv")] == [lines[0]]  # IPv4 only
    assert "AAAABBBB" in lines[0]
    assert "aaaabbbb" in lines[0]
    text = "\n".join(lines)
    for cidr in (
        "10.128.0.0/14",
        "10.132.0.0/14",
        "172.30.0.0/16",
        "172.31.0.0/16",
        "240.0.0.0/8",
        "100.64.0.0/16",
    ):
        assert cidr in text
    assert fenced(readme_of(mesh), "text") == ["\n".join(lines) + "\n"]


def test_mesh_summary_is_the_same_text_with_or_without_colour() -> None:
    mesh = example("canary-split")
    plain = mesh_summary(mesh, color=False)
    colour = mesh_summary(mesh, color=True)
    assert "\033" not in plain
    assert "\033[" in colour
    assert re.sub(r"\033\[[0-9;]*m", "", colour) == plain
    assert "route 2: 90% v1, 10% v2 in prod-b" in plain
    assert "10.30.0.0/16" in plain


def test_render_lists_verify_files_only_outside_kustomizations() -> None:
    mesh = mesh_from(seed_data())
    files = {f.path: f.documents for f in render(mesh).files}
    assert {"cluster1/verify/sample.yaml", "cluster2/verify/sample.yaml"} <= files.keys()


@pytest.mark.tools
def test_verify_manifests_pass_kubeconform_for_a_big_mesh(tmp_path: Path) -> None:
    from meshgen import write
    from meshgen.conform import run_kubeconform
    from meshgen.versions import KUBERNETES_SUPPORT, release
    from tests.tooling import schemas, tool

    spec = tmp_path / "mesh.yaml"
    spec.write_text(make_spec(5, 12))
    result = compile_spec(spec, tmp_path / "out")
    assert result.files is not None
    assert result.mesh is not None
    write.write_output(tmp_path / "out", result.files)
    files = sorted((tmp_path / "out").glob(f"*/{VERIFY_DIR}/*.yaml"))
    assert len(files) == 5  # 5 clusters, one namespace
    version = result.mesh.spec.istio.version
    summary = run_kubeconform(
        files,
        binary=tool("kubeconform"),
        schema_dir=schemas(),
        istio_version=version,
        kubernetes_minor=KUBERNETES_SUPPORT[release(version).minor][0],
    )
    assert summary.diagnostics == []
    assert (summary.invalid, summary.errors, summary.skipped) == (0, 0, 0)
    assert summary.valid > 0
