"""`meshgen plan`: object and field changes per cluster, the disruptive ones marked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.facts import ClusterFacts, cluster_facts
from meshgen.pipeline import compile_spec
from meshgen.plan import format as formats
from meshgen.plan.assemble import make_plan
from meshgen.plan.classify import (
    CNI,
    CONTROL_PLANE,
    LEAVING,
    MTLS_STRICT,
    POD_CIDR,
    REMOTE_SECRET,
    ROUTE_GONE,
    SUBSET_GONE,
    WEIGHT_ZERO,
)
from meshgen.plan.collect import DiskOutput
from meshgen.plan.model import MISSING, Change, FieldChange, Group, Plan
from meshgen.report import EXIT_DISRUPTIVE
from meshgen.write import write_output
from tests.helpers import EXAMPLES, ROOT, cluster, east_west, run_meshgen, spec_data


def base() -> dict[str, Any]:
    port = [{"name": "http", "number": 8080}]
    return spec_data(
        *east_west(),
        namespaces=[{"name": "shop"}],
        services=[
            {
                "name": "cart",
                "namespace": "shop",
                "ports": port,
                "subsets": [
                    {"name": "v1", "labels": {"version": "v1"}},
                    {"name": "v2", "labels": {"version": "v2"}},
                ],
                "routes": [
                    {
                        "destinations": [
                            {"subset": "v1", "weight": 90},
                            {"subset": "v2", "weight": 10},
                        ]
                    }
                ],
            },
            {"name": "web", "namespace": "shop", "ports": port},
        ],
        security={"peerAuthentication": {"mode": "PERMISSIVE"}},
    )


def build(spec: Path, out: Path) -> None:
    result = compile_spec(spec, out)
    assert result.files is not None, result.diagnostics
    write_output(out, result.files, identity=result.record())


def plan_for(spec: Path, out: Path) -> Plan:
    result = compile_spec(spec, out)
    assert result.files is not None, result.diagnostics
    assert result.mesh is not None
    return make_plan(result.files, DiskOutput(out, result.files), cluster_facts(result.mesh))


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def edited(tmp_path: Path, edit: Any, data: dict[str, Any] | None = None) -> Plan:
    """Build the base spec (or `data`), apply `edit` to a copy, plan it."""
    data = data or base()
    spec = write_spec(tmp_path / "mesh.yaml", data)
    build(spec, tmp_path / "out")
    changed = copy.deepcopy(data)
    edit(changed["spec"])
    write_spec(spec, changed)
    return plan_for(spec, tmp_path / "out")


def find(plan: Plan, group: str, kind: str, name: str | None = None) -> Change:
    for g in plan.groups:
        if g.name == group:
            for c in g.changes:
                if c.kind == kind and (name is None or c.name == name):
                    return c
    raise AssertionError(f"no {kind} {name} in {group}: {formats.text(plan)}")


def fields(change: Change) -> dict[str, tuple[object, object]]:
    return {formats.path_text(f.path): (f.old, f.new) for f in change.fields}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_a_fresh_build_plans_nothing(example: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(EXAMPLES[example], out)
    plan = plan_for(EXAMPLES[example], out)
    assert plan.groups == []
    assert formats.text(plan).startswith("No changes")


def test_committed_out_plans_nothing() -> None:
    plan = plan_for(ROOT / "examples" / "openshift-submariner" / "mesh.yaml", ROOT / "out")
    assert plan.groups == []


def test_weight_change_is_a_field_change_not_disruptive(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["services"][0]["routes"][0]["destinations"][0]["weight"] = 70
        spec["services"][0]["routes"][0]["destinations"][1]["weight"] = 30

    plan = edited(tmp_path, edit)
    assert [g.name for g in plan.groups][:2] == ["east", "west"]
    vs = find(plan, "east", "VirtualService", "cart")
    assert (vs.action, vs.namespace, vs.api_group) == ("changed", "shop", "networking.istio.io")
    assert fields(vs) == {
        "spec.http[0].route[0].weight": (90, 70),
        "spec.http[0].route[1].weight": (10, 30),
    }
    assert not plan.disruptive
    assert "spec.http[0].route[0].weight: 90 -> 70" in formats.text(plan)


def test_weight_to_zero_is_disruptive(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["services"][0]["routes"][0]["destinations"][0]["weight"] = 100
        spec["services"][0]["routes"][0]["destinations"][1]["weight"] = 0

    plan = edited(tmp_path, edit)
    vs = find(plan, "west", "VirtualService", "cart")
    assert vs.reasons == [WEIGHT_ZERO]


def test_subset_removed_is_disruptive(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        cart = spec["services"][0]
        cart["subsets"] = cart["subsets"][:1]
        cart["routes"] = [{"destinations": [{"subset": "v1"}]}]

    plan = edited(tmp_path, edit)
    dr = find(plan, "east", "DestinationRule", "cart")
    assert SUBSET_GONE in dr.reasons
    assert fields(dr)["spec.subsets[name=v2]"][1] is MISSING
    assert plan.disruptive


def test_service_removed(tmp_path: Path) -> None:
    plan = edited(tmp_path, lambda spec: spec["services"].pop(0))
    for kind in ("DestinationRule", "VirtualService"):
        change = find(plan, "east", kind, "cart")
        assert change.action == "removed"
        assert change.reasons == [ROUTE_GONE]


def test_cluster_added(tmp_path: Path) -> None:
    north = cluster("north", "10.18.0.0/16", "10.118.0.0/20", platform="kubernetes", region="n")
    plan = edited(tmp_path, lambda spec: spec["clusters"].append(north))
    names = [g.name for g in plan.groups]
    assert names[0] == "north"
    assert "remote-secrets" in names
    assert plan.groups[0].status == "added"
    assert find(plan, "north", "VirtualService", "cart").action == "added"
    secret = find(plan, "remote-secrets", "Secret", "istio-remote-secret-north")
    assert secret.action == "added"
    assert not plan.disruptive  # a cluster joining disrupts nothing


def test_cluster_removed_is_leaving(tmp_path: Path) -> None:
    plan = edited(tmp_path, lambda spec: spec["clusters"].pop())
    west = next(g for g in plan.groups if g.name == "west")
    assert west.status == "removed"
    assert find(plan, "west", "Cluster").reasons == [LEAVING]
    secret = find(plan, "remote-secrets", "Secret", "istio-remote-secret-west")
    assert secret.reasons == [REMOTE_SECRET]
    # East stays: it loses its only peer (no reader token, no remote secret of its own needed).
    assert not any(c.disruptive for g in plan.groups if g.name == "east" for c in g.changes)
    assert [c.name for c in plan.changes if c.kind == "Secret" and c.disruptive] == [
        "istio-remote-secret-west"
    ]


def test_cidr_change_is_disruptive(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["clusters"][1]["podCIDR"] = "10.27.0.0/16"

    plan = edited(tmp_path, edit)
    west = find(plan, "west", "Cluster", "west")
    assert west.reasons == [POD_CIDR]
    assert fields(west) == {"podCIDR": ("10.17.0.0/16", "10.27.0.0/16")}
    assert not any(c.kind == "Cluster" for g in plan.groups if g.name == "east" for c in g.changes)


def test_istio_version_change_is_disruptive(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["istio"]["version"] = "1.29.0"

    plan = edited(tmp_path, edit)
    assert CONTROL_PLANE in find(plan, "east", "Cluster", "east").reasons


def test_sail_version_change_is_marked_on_the_istio_object(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLES["openshift-sail"].read_text())
    old = data["spec"]["istio"]["version"]

    def edit(spec: dict[str, Any]) -> None:
        spec["istio"]["version"] = "1.27.0" if not str(old).startswith("1.27") else "1.26.0"

    plan = edited(tmp_path, edit, data)
    group = plan.groups[0].name
    istio = find(plan, group, "Istio", "default")
    assert CONTROL_PLANE in istio.reasons
    assert "spec.version" in fields(istio)


def test_mtls_strict_is_disruptive(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["security"]["peerAuthentication"]["mode"] = "STRICT"

    plan = edited(tmp_path, edit)
    pa = find(plan, "east", "PeerAuthentication", "default")
    assert pa.reasons == [MTLS_STRICT]
    assert fields(pa) == {"spec.mtls.mode": ("PERMISSIVE", "STRICT")}


def test_authorization_policy_added_is_disruptive(tmp_path: Path) -> None:
    policy = {"name": "cart-from-shop", "namespace": "shop", "allow": {"namespaces": ["shop"]}}

    def edit(spec: dict[str, Any]) -> None:
        spec["security"]["authorizationPolicies"] = [policy]

    plan = edited(tmp_path, edit)
    assert find(plan, "east", "AuthorizationPolicy", "cart-from-shop").disruptive


def test_readme_only_change_is_one_line(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "mesh.yaml", base())
    out = tmp_path / "out"
    build(spec, out)
    # An output whose runbook says one more thing (as an older meshgen might have written it).
    files = compile_spec(spec, out).files
    assert files is not None
    write_output(out, {**files, "README.md": files["README.md"] + b"\nA note.\n"})
    plan = plan_for(spec, out)
    assert [g.name for g in plan.groups] == ["README.md"]
    assert [c.summary for c in plan.changes] == ["runbook changed"]
    assert not plan.disruptive


def test_apply_order_within_a_cluster(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["security"]["peerAuthentication"]["mode"] = "STRICT"
        spec["services"][0]["routes"][0]["destinations"][0]["weight"] = 80
        spec["services"][0]["routes"][0]["destinations"][1]["weight"] = 20
        spec["namespaces"].append({"name": "zoo"})

    plan = edited(tmp_path, edit)
    east = plan.groups[0]
    kinds = [c.kind for c in east.changes]
    # Disruptive first, then apply order: namespaces (listed first), then the traffic units.
    assert kinds[0] == "PeerAuthentication"
    assert kinds.index("Namespace") < kinds.index("VirtualService")


def hostile_plan() -> Plan:
    evil = "`x` | <img src=x onerror=alert(1)> *b* [l](http://e) \n# h"
    change = Change(
        "changed",
        "DestinationRule",
        evil,
        namespace="ns|`",
        fields=[FieldChange(("spec", "host", evil), "a`b|c", evil)],
        reasons=["a subset removed while routes may still send traffic to it"],
    )
    return Plan([Group("c|`<b>", "cluster", changes=[change])], "out")


def test_markdown_escapes_every_value() -> None:
    from markdown_it import MarkdownIt

    text = formats.markdown(hostile_plan())
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or ()}
    # No value adds HTML, a link, emphasis or a heading of its own.
    assert not kinds & {"html_inline", "html_block", "link_open", "em_open", "image"}
    headings = [t for t in tokens if t.type == "heading_open"]
    assert [h.tag for h in headings] == ["h3", "h4"]
    spans = [c.content for t in tokens for c in t.children or () if c.type == "code_inline"]
    assert "c|`<b>" in spans  # the group's name, verbatim inside its code span
    assert '"a`b|c"' in spans
    assert text.startswith("### \u26a0\ufe0f meshgen plan: 1 disruptive change\n")


def test_markdown_value_spans_round_trip() -> None:
    from meshgen.render.markdown import code

    text = formats.markdown(hostile_plan())
    assert code(formats.value_text("a`b|c")) in text


def test_json_schema_is_stable(tmp_path: Path) -> None:
    plan = edited(tmp_path, lambda spec: spec["clusters"].pop())
    doc = json.loads(formats.as_json(plan))
    assert set(doc) == {"schemaVersion", "against", "summary", "disruptive", "clusters"}
    assert doc["schemaVersion"] == 1
    assert doc["disruptive"] is True
    assert set(doc["summary"]) == {"added", "removed", "changed", "disruptive"}
    group = next(g for g in doc["clusters"] if g["name"] == "west")
    assert set(group) == {"name", "kind", "status", "changes"}
    assert group["status"] == "removed"
    change = group["changes"][0]
    assert set(change) == {
        "action",
        "apiGroup",
        "kind",
        "namespace",
        "name",
        "file",
        "summary",
        "fields",
        "disruptive",
        "reasons",
    }


def test_json_fields_say_added_removed_changed(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["security"]["peerAuthentication"]["mode"] = "STRICT"

    doc = json.loads(formats.as_json(edited(tmp_path, edit)))
    change = doc["clusters"][0]["changes"][0]
    assert change["fields"] == [
        {"path": "spec.mtls.mode", "action": "changed", "old": "PERMISSIVE", "new": "STRICT"}
    ]


def test_exit_codes(tmp_path: Path) -> None:
    data = base()
    spec = write_spec(tmp_path / "mesh.yaml", data)
    build(spec, tmp_path / "out")
    same = run_meshgen("plan", "mesh.yaml", "-o", "out", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith("No changes")
    data["spec"]["security"]["peerAuthentication"]["mode"] = "STRICT"
    write_spec(spec, data)
    for fmt in ("text", "markdown", "json"):
        proc = run_meshgen("plan", "mesh.yaml", "-o", "out", "--format", fmt, cwd=tmp_path)
        assert proc.returncode == EXIT_DISRUPTIVE == 4, proc.stderr
    assert json.loads(proc.stdout)["disruptive"] is True
    data["spec"]["clusters"][1]["podCIDR"] = data["spec"]["clusters"][0]["podCIDR"]
    write_spec(spec, data)
    bad = run_meshgen("plan", "mesh.yaml", "-o", "out", cwd=tmp_path)
    assert bad.returncode == 1
    assert "error[" in bad.stderr
    assert "no plan" in bad.stderr
    assert bad.stdout == ""
    assert run_meshgen("plan", "mesh.yaml", "--format", "xml", cwd=tmp_path).returncode == 2


def test_no_output_yet_plans_everything_added(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "mesh.yaml", base())
    plan = plan_for(spec, tmp_path / "out")
    assert plan.counts()["removed"] == plan.counts()["changed"] == 0
    assert not plan.disruptive


CANARY_STEPS = ROOT / "examples" / "canary-upgrade" / "steps"


@pytest.mark.skipif(not CANARY_STEPS.is_dir(), reason="no canary-upgrade example")
def test_revision_steps_canary_then_tag_move(tmp_path: Path) -> None:
    out = tmp_path / "out"
    steps = sorted(CANARY_STEPS.glob("*.yaml"))
    build(steps[0], out)
    canary = plan_for(steps[1], out)  # a second control plane next to the first
    assert canary.counts()["added"] > 0
    # Only the CRDs and istio-cni moving to the canary's version disrupt (once per cluster).
    disruptive = [c for c in canary.changes if c.disruptive]
    assert [c.reasons for c in disruptive] == [[CNI], [CNI]], formats.text(canary)
    build(steps[1], out)
    moved = plan_for(steps[2], out)  # the tag moves: workloads restart into the canary
    assert moved.disruptive
    assert all(CONTROL_PLANE in c.reasons for c in moved.changes if c.disruptive)


def test_a_plan_parses_each_changed_document_once_and_nothing_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mesh-wide change writes the same rule into every cluster: its old and new texts are
    parsed once each (not once per cluster), and no document whose text is the same on both
    sides is parsed at all (issue 20: parsing the previous output was 18 of 25 s)."""
    from meshgen.plan import diff

    data = base()
    spec = write_spec(tmp_path / "mesh.yaml", data)
    out = tmp_path / "out"
    build(spec, out)
    old_files = compile_spec(spec, out).files
    changed = copy.deepcopy(data)
    route = changed["spec"]["services"][0]["routes"][0]
    route["destinations"][0]["weight"], route["destinations"][1]["weight"] = 70, 30
    write_spec(spec, changed)
    parses: list[bytes] = []
    real = diff.load_documents

    def counted(data: bytes) -> list[Any]:
        parses.append(data)
        return real(data)

    monkeypatch.setattr(diff, "load_documents", counted)
    plan = plan_for(spec, out)
    monkeypatch.undo()
    virtual_services = [c for g in plan.groups for c in g.changes if c.kind == "VirtualService"]
    assert len(virtual_services) == len(data["spec"]["clusters"]) >= 2
    rules = [p for p in parses if b"kind: VirtualService" in p]
    assert len(rules) == len(set(rules)) == 2  # the old text and the new one, once each
    assert old_files is not None
    unchanged = {
        chunk
        for rel, content in old_files.items()
        for chunk in content.split(b"\n---\n")
        if rel.endswith(".yaml") and "kustomization" not in rel
    }
    new_files = compile_spec(spec, out).files
    assert new_files is not None
    new_chunks = {c for content in new_files.values() for c in content.split(b"\n---\n")}
    assert not [p for p in parses if p in unchanged and p in new_chunks]


def test_clusters_with_the_same_changes_are_shown_once(tmp_path: Path) -> None:
    """A mesh-wide change (the same rules in every cluster) reads as one section naming the
    clusters, in text and Markdown; JSON keeps every cluster (issue 20)."""

    def edit(spec: dict[str, Any]) -> None:
        route = spec["services"][0]["routes"][0]
        route["destinations"][0]["weight"], route["destinations"][1]["weight"] = 70, 30

    plan = edited(tmp_path, edit)
    names = [g.name for g in plan.groups if g.kind == "cluster"]
    assert len(names) >= 2
    folded = formats.folded(plan)
    assert [len(clusters) for _, clusters in folded if _.kind == "cluster"] == [len(names)]
    text = formats.text(plan)
    assert text.count("VirtualService") == 1
    assert f"({len(names)} clusters, the same changes in each)" in text
    assert "(<cluster>/traffic/" in text
    markdown = formats.markdown(plan)
    assert markdown.count("VirtualService") == 1
    assert all(f"`{name}`" in markdown for name in names)
    doc = json.loads(formats.as_json(plan))
    assert [c["name"] for c in doc["clusters"] if c["kind"] == "cluster"] == names


def test_clusters_with_different_changes_are_not_folded(tmp_path: Path) -> None:
    # The service now runs in east only: west gets a Service without selector, east does not.
    plan = edited(tmp_path, lambda spec: spec["services"][0].update(clusters=["east"]))
    clusters = [g for g in plan.groups if g.kind == "cluster"]
    assert clusters
    assert all(len(names) == 1 for _, names in formats.folded(plan))
    assert "the same changes" not in formats.text(plan)


def test_clusters_that_change_alike_share_their_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mesh-wide change is assembled once, not once per cluster (issue 20: 500,000 Change
    objects at 100 clusters x 5,000 services); each cluster still names its own files."""
    from meshgen.plan import assemble

    calls: list[list[str]] = []
    real = assemble._object_changes

    def counted(files: list[str], *args: Any) -> list[Change]:
        calls.append(files)
        return real(files, *args)

    monkeypatch.setattr(assemble, "_object_changes", counted)

    def edit(spec: dict[str, Any]) -> None:
        route = spec["services"][0]["routes"][0]
        route["destinations"][0]["weight"], route["destinations"][1]["weight"] = 70, 30

    plan = edited(tmp_path, edit)
    clusters = [g for g in plan.groups if g.kind == "cluster"]
    assert len(clusters) >= 2
    assert len(calls) == 1
    assert calls[0] == ["traffic/shop/rules.yaml"]
    assert all(g.changes[0] is clusters[0].changes[0] for g in clusters)
    doc = json.loads(formats.as_json(plan))
    files = {c["name"]: [x["file"] for x in c["changes"]] for c in doc["clusters"]}
    assert {name: files[name] for name in ("east", "west")} == {
        "east": ["east/traffic/shop/rules.yaml"],
        "west": ["west/traffic/shop/rules.yaml"],
    }


def test_clusters_with_other_resources_are_assembled_apart(tmp_path: Path) -> None:
    """The apply order comes from each cluster's kustomization.yaml: clusters that touch the
    same files alike but list their resources differently do not share (nor fold)."""
    old = {
        "east/kustomization.yaml": b"resources:\n- a.yaml\n- b.yaml\n",
        "west/kustomization.yaml": b"resources:\n- b.yaml\n- a.yaml\n",
    }
    for name in ("east", "west"):
        old[f"{name}/a.yaml"] = b"kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: '1'\n"
        old[f"{name}/b.yaml"] = b"kind: ConfigMap\nmetadata:\n  name: b\ndata:\n  x: '1'\n"
    new = {rel: data.replace(b"'1'", b"'2'") for rel, data in old.items()}
    new.update({rel: old[rel] for rel in old if rel.endswith("kustomization.yaml")})
    out = tmp_path / "out"
    write_output(out, old)
    facts: ClusterFacts = {
        "podCIDR": "",
        "serviceCIDR": "",
        "istioVersion": "",
        "revisioned": False,
    }
    plan = make_plan(new, DiskOutput(out, new), dict.fromkeys(("east", "west"), facts))
    order = {g.name: [c.name for c in g.changes] for g in plan.groups}
    assert order == {"east": ["a", "b"], "west": ["b", "a"]}
    assert [names for _, names in formats.folded(plan)] == [["east"], ["west"]]


def test_a_mesh_wide_markdown_plan_fits_a_pull_request_comment() -> None:
    """100 clusters x 5,000 changed routes (issue 20): one folded section, under GitHub's
    65,536 characters per comment, pointing at the JSON for the rest."""
    changes = [
        Change(
            "changed",
            "VirtualService",
            f"svc{i}",
            f"ns{i % 100}",
            "networking.istio.io",
            f"traffic/ns{i % 100}/rules.yaml",
            fields=[FieldChange(("spec", "http", 0, "route", 0, "weight"), 90, 80)],
        )
        for i in range(5000)
    ]
    groups = [Group(f"c{n}", "cluster", changes=list(changes)) for n in range(100)]
    plan = Plan(groups, "out")
    markdown = formats.markdown(plan)
    assert len(markdown) <= 65_536
    assert "(100 clusters, the same changes in each)" in markdown
    assert "and 4950 more changes (`meshgen plan --format json` lists every one)" in markdown
    assert formats.text(plan).count("VirtualService ns0/svc0 ") == 1


def test_the_manifest_records_what_a_plan_compares_of_each_cluster(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "mesh.yaml", base())
    assert run_meshgen("build", spec, "-o", tmp_path / "out", "-q").returncode == 0
    manifest = json.loads((tmp_path / "out" / ".meshgen-manifest.json").read_text())
    assert [c["name"] for c in manifest["clusters"]] == ["east", "west"]  # spec order
    assert manifest["clusters"][1] == {
        "name": "west",
        "podCIDR": "10.17.0.0/16",
        "serviceCIDR": "10.117.0.0/20",
        "istioVersion": base()["spec"]["istio"]["version"],
        "revisioned": False,
    }


@pytest.mark.parametrize(
    "facts", [None, {"west": {"podCIDR": "10.17.0.0/16"}}, [{"name": "west", "podCIDR": 7}]]
)
def test_an_output_without_facts_is_planned_without_them(tmp_path: Path, facts: Any) -> None:
    """An output built before manifests recorded cluster facts (or with facts edited into
    something meshgen never writes): the plan compares the objects, says what it could not
    compare, and never reads the runbook instead."""
    spec = write_spec(tmp_path / "mesh.yaml", base())
    out = tmp_path / "out"
    build(spec, out)
    path = out / ".meshgen-manifest.json"
    manifest = json.loads(path.read_text())
    if facts is None:
        del manifest["clusters"]
    else:
        manifest["clusters"] = facts
    path.write_text(json.dumps(manifest))
    data = base()
    data["spec"]["clusters"][1]["podCIDR"] = "10.27.0.0/16"
    north = cluster("north", "10.18.0.0/16", "10.118.0.0/20", platform="kubernetes", region="n")
    data["spec"]["clusters"].append(north)
    write_spec(spec, data)
    proc = run_meshgen("plan", spec, "-o", out, "-f", "json")
    assert proc.returncode in (0, EXIT_DISRUPTIVE), proc.stderr
    assert "does not compare them" in proc.stderr
    doc = json.loads(proc.stdout)
    # The cluster joining is seen (from the directories); west's new podCIDR is not.
    clusters = [(g["name"], c["action"]) for g in doc["clusters"] for c in g["changes"]]
    assert [x for x in clusters if x[0] in ("west", "north") and x[1] != "added"] == []
    assert next(g for g in doc["clusters"] if g["name"] == "north")["status"] == "added"


def test_named_list_items_are_compared_by_name(tmp_path: Path) -> None:
    """Subsets reordered: one change naming the new order, not a diff of every position; a
    subset inserted first: that subset added, nothing shifted (issue 21)."""

    def reorder(spec: dict[str, Any]) -> None:
        cart = spec["services"][0]
        cart["subsets"].append({"name": "v3", "labels": {"version": "v3"}})

    data = base()
    reorder(data["spec"])
    spec = write_spec(tmp_path / "mesh.yaml", data)
    build(spec, tmp_path / "out")
    changed = copy.deepcopy(data)
    subsets = changed["spec"]["services"][0]["subsets"]
    subsets[:] = [subsets[2], subsets[0], subsets[1]]
    write_spec(spec, changed)
    dr = find(plan_for(spec, tmp_path / "out"), "east", "DestinationRule", "cart")
    assert fields(dr) == {"spec.subsets": (["v1", "v2", "v3"], ["v3", "v1", "v2"])}
    assert not dr.disruptive

    changed["spec"]["services"][0]["subsets"] = [
        {"name": "v0", "labels": {"version": "v0"}},
        *data["spec"]["services"][0]["subsets"],
    ]
    write_spec(spec, changed)
    dr = find(plan_for(spec, tmp_path / "out"), "east", "DestinationRule", "cart")
    assert list(fields(dr)) == ["spec.subsets[name=v0]"]
    assert fields(dr)["spec.subsets[name=v0]"][0] is MISSING


def test_a_named_item_path_quotes_what_is_not_a_plain_word() -> None:
    from meshgen.plan.model import Named

    assert formats.path_text(("spec", "subsets", Named("v1"), "labels")) == (
        "spec.subsets[name=v1].labels"
    )
    assert formats.path_text(("spec", "ports", Named("a b]"))) == 'spec.ports[name="a b]"]'


def test_detailed_exitcode_says_whether_anything_changes(tmp_path: Path) -> None:
    """--detailed-exitcode (issue 21, as terraform plan): 0 no change, 2 changes none of which
    is disruptive, 4 disruptive, 1 an error."""
    data = base()
    spec = write_spec(tmp_path / "mesh.yaml", data)
    build(spec, tmp_path / "out")

    def plan_code() -> int:
        args = ("plan", "mesh.yaml", "-o", "out", "--detailed-exitcode")
        return run_meshgen(*args, cwd=tmp_path).returncode

    assert plan_code() == 0
    route = data["spec"]["services"][0]["routes"][0]
    route["destinations"][0]["weight"], route["destinations"][1]["weight"] = 70, 30
    write_spec(spec, data)
    assert plan_code() == 2
    assert run_meshgen("plan", "mesh.yaml", "-o", "out", cwd=tmp_path).returncode == 0
    data["spec"]["security"]["peerAuthentication"]["mode"] = "STRICT"
    write_spec(spec, data)
    assert plan_code() == EXIT_DISRUPTIVE
    data["spec"]["clusters"][1]["podCIDR"] = data["spec"]["clusters"][0]["podCIDR"]
    write_spec(spec, data)
    assert plan_code() == 1


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        (
            "kubernetes-helm-argocd",
            "argocd app diff east-traffic-shop --local clusters/mesh/east/traffic/shop",
        ),
        (
            "kubernetes-helm-flux",
            "flux diff kustomization traffic-shop --path ./clusters/mesh/east/traffic/shop "
            "--namespace flux-system --context east",
        ),
    ],
)
def test_markdown_plan_ends_with_the_live_diff_of_the_changed_applications(
    tmp_path: Path, example: str, expected: str
) -> None:
    """The commands name applications the output has (from its rendered GitOps objects), only
    those holding a changed file (issue 21)."""
    data = yaml.safe_load(EXAMPLES[example].read_text())
    spec = write_spec(tmp_path / "mesh.yaml", data)
    build(spec, tmp_path / "out")
    service = next(s for s in data["spec"]["services"] if s.get("routes"))
    route = service["routes"][0]["destinations"]
    route[0]["weight"], route[1]["weight"] = route[1]["weight"], route[0]["weight"]
    write_spec(spec, data)
    proc = run_meshgen("plan", spec, "-o", tmp_path / "out", "-f", "markdown")
    assert proc.returncode == 0, proc.stderr
    live = proc.stdout.split("#### Against the live clusters", 1)[1]
    commands = [line for line in live.splitlines() if line.startswith(("argocd ", "flux "))]
    assert expected in commands
    assert len(commands) == len(data["spec"]["clusters"])  # one traffic unit, in each cluster
    rendered = (tmp_path / "out" / "gitops").rglob("*.yaml")
    text = "\n".join(path.read_text() for path in rendered)
    for command in commands:
        assert f"name: {command.split()[3]}\n" in text
