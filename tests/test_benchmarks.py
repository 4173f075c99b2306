"""The benchmark harness: its specs are valid meshes, the Helm peer renders the objects
meshgen writes, units are found and counted in any layout, and the smoke run works end to end.

No timing is asserted anywhere: the numbers are for people (benchmarks/README.md). What needs
helm or kustomize (the pinned .tools/bin binaries from scripts/install-tools) is skipped
without them.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from benchmarks.generate import make_deep_spec, make_spec
from benchmarks.helm_peer import render as helm_render
from benchmarks.helm_peer import write_values
from benchmarks.run import COLUMNS, PEER_COLUMNS, Peer, Size, _peer_cells, parse_size
from benchmarks.units import count_documents, find_units, largest_unit, units_of
from meshgen.checks import run_checks
from meshgen.diagnostics import Diagnostic, has_errors
from meshgen.load import load_text
from meshgen.spec import Mesh
from meshgen.validate import validate
from tests.helpers import ROOT, run_meshgen

HELM = ROOT / ".tools" / "bin" / "helm"
KUSTOMIZE = ROOT / ".tools" / "bin" / "kustomize"
F = TypeVar("F", bound=Callable[..., None])


def _needs(tool: Path) -> Callable[[F], F]:
    """Marked `tools`, and skipped without the pinned binary."""

    def mark(test: F) -> F:
        skip = pytest.mark.skipif(
            not tool.exists(), reason=f"no .tools/bin/{tool.name} (scripts/install-tools builds it)"
        )
        marked: F = pytest.mark.tools(skip(test))
        return marked

    return mark


needs_helm = _needs(HELM)
needs_kustomize = _needs(KUSTOMIZE)


def check(text: str) -> tuple[Mesh, list[Diagnostic]]:
    loaded, diags = load_text(text, "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    return mesh, run_checks(mesh, loaded.positions)


@pytest.mark.parametrize(
    ("clusters", "services"), [(2, 10), (1000, 10), (3, 120)], ids=["2x10", "1000x10", "3x120"]
)
def test_wide_specs_are_valid(clusters: int, services: int) -> None:
    mesh, diags = check(make_spec(clusters, services))
    assert not has_errors(diags), diags
    assert [c.name for c in mesh.spec.clusters] == [f"c{i}" for i in range(clusters)]
    assert len(mesh.spec.services) == services
    assert len(mesh.spec.namespaces) == max(1, services // 50)
    service = mesh.spec.services[-1]
    assert [s.name for s in service.subsets] == ["v1", "v2"]
    assert [d.weight for d in service.routes[0].destinations] == [90, 10]


def test_every_cidr_of_1000_clusters_is_disjoint() -> None:
    data = yaml.safe_load(make_spec(1000, 10))
    nets = sorted(
        (
            ipaddress.IPv4Network(c[key])
            for c in data["spec"]["clusters"]
            for key in ("podCIDR", "serviceCIDR")
        ),
        key=lambda n: n.network_address,
    )
    assert len(nets) == 2000
    for lower, upper in itertools.pairwise(nets):
        assert lower.broadcast_address < upper.network_address, (lower, upper)


def test_deep_spec_is_valid() -> None:
    mesh, diags = check(make_deep_spec())
    assert not has_errors(diags), diags
    assert len(mesh.spec.clusters) == 2
    assert len(mesh.spec.services) == 2000
    assert {s.namespace for s in mesh.spec.services} == {"ns0"}
    service = mesh.spec.services[0]
    assert len(service.subsets) == 3
    assert len(service.routes) == 3
    assert all(route.retries is not None for route in service.routes)
    assert [bool(route.match) for route in service.routes] == [True, True, False]


def test_namespaces_can_be_chosen() -> None:
    mesh, _ = check(make_spec(2, 10, namespaces=3))
    assert [ns.name for ns in mesh.spec.namespaces] == ["ns0", "ns1", "ns2"]
    assert {s.namespace for s in mesh.spec.services} == {"ns0", "ns1", "ns2"}


def test_generate_cli_writes_the_spec(tmp_path: Path) -> None:
    target = tmp_path / "mesh.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.generate", "3", "7", "-o", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == make_spec(3, 7)


# --- the Helm peer --------------------------------------------------------------------------

# Every field the chart covers: uri/headers/port/sourceLabels matches, destination ports,
# weight 0, timeouts, retries without optional fields, fault delay/abort with and without a
# percentage (0 too), mirrors with and without subset/port/percentage, multi-key labels, a
# service placed in one cluster, one without routes and one without subsets.
RICH_SPEC = """\
apiVersion: meshgen.dev/v1alpha1
kind: Mesh
metadata:
  name: rich
spec:
  istio:
    version: "1.30.0"
  clusters:
    - {name: c0, podCIDR: 10.0.0.0/20, serviceCIDR: 172.16.0.0/24}
    - {name: c1, podCIDR: 10.0.16.0/20, serviceCIDR: 172.16.1.0/24}
  namespaces:
    - name: shop
    - name: pay
  services:
    - name: web
      namespace: shop
      ports: [{name: http, number: 8080}, {name: http-admin, number: 9090}]
      subsets:
        - {name: v1, labels: {version: v1, app.kubernetes.io/name: web}}
        - {name: v2, labels: {version: v2, app.kubernetes.io/name: web}}
      routes:
        - match:
            - uri: {prefix: /api/}
              headers: {x-user: {regex: "^beta-.*$"}, x-canary: {exact: "true"}}
              port: 8080
              sourceLabels: {app: frontend, topology.istio.io/cluster: c1}
            - uri: {exact: /health}
          destinations:
            - {subset: v2, port: 8080}
          timeout: 3s
          fault:
            delay: {fixedDelay: 2s, percentage: 12.5}
            abort: {httpStatus: 503}
          mirror: {subset: v1, port: 8080, percentage: 5}
        - match:
            - sourceLabels: {app: batch}
          destinations:
            - {port: 9090}
          mirror: {subset: v2}
          retries: {attempts: 5}
        - destinations:
            - {subset: v1, weight: 0, port: 8080}
            - {subset: v2, weight: 100, port: 8080}
    - name: ledger
      namespace: pay
      clusters: [c1]
      ports: [{name: http, number: 80}]
      subsets:
        - {name: stable, labels: {track: stable}}
    - name: cart
      namespace: shop
      ports: [{name: http, number: 80}]
      routes:
        - destinations: [{port: 80}]
          fault: {abort: {httpStatus: 500, percentage: 0}}
"""

RULE_KINDS = ("DestinationRule", "VirtualService")
Key = tuple[str, str, str]


def _rules(docs: list[Any], where: str) -> dict[Key, dict[str, Any]]:
    """DestinationRules and VirtualServices by (kind, namespace, name), each once."""
    out: dict[Key, dict[str, Any]] = {}
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") in RULE_KINDS:
            key = (doc["kind"], doc["metadata"]["namespace"], doc["metadata"]["name"])
            assert key not in out, f"{where}: {key} twice"
            out[key] = doc
    return out


def meshgen_rules(out: Path, cluster: str) -> tuple[dict[Key, dict[str, Any]], list[Key]]:
    """What meshgen wrote for one cluster, whatever the layout: every YAML file under its
    directory; and the order the rules come in (files in path order)."""
    docs: list[Any] = []
    for path in sorted((out / cluster).rglob("*.yaml")):
        docs.extend(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))
    rules = _rules(docs, f"meshgen {cluster}")
    return rules, list(rules)


@needs_helm
@pytest.mark.parametrize("name", ["wide 3x12", "deep 2x5", "rich"])
def test_helm_peer_renders_what_meshgen_writes(tmp_path: Path, name: str) -> None:
    """Object for object, field order included, for every cluster; only the order of the
    documents differs (meshgen groups them by namespace, helm sorts manifests by kind)."""
    text = {
        "wide 3x12": lambda: make_spec(3, 12, namespaces=3),
        "deep 2x5": lambda: make_deep_spec(2, 5),
        "rich": lambda: RICH_SPEC,
    }[name]()
    check_clean(text)
    spec, out, values = tmp_path / "mesh.yaml", tmp_path / "out", tmp_path / "values.yaml"
    spec.write_text(text, encoding="utf-8")
    proc = run_meshgen("build", spec, "-o", out)
    assert proc.returncode == 0, proc.stderr
    write_values(text, values)
    clusters = [c["name"] for c in yaml.safe_load(text)["spec"]["clusters"]]
    for cluster in clusters:
        ours, _ = meshgen_rules(out, cluster)
        assert ours, f"meshgen wrote no rules for {cluster}"
        theirs = _rules(
            list(
                yaml.load_all(
                    helm_render(HELM, values, cluster, tmp_path / "h"), Loader=yaml.CSafeLoader
                )
            ),
            f"helm {cluster}",
        )
        assert sorted(theirs) == sorted(ours), cluster
        for key, doc in ours.items():
            # json.dumps keeps key order: the fields come in the same order too.
            assert json.dumps(theirs[key]) == json.dumps(doc), (cluster, key)
    if name == "rich":
        # ledger runs in c1 only; its rules go to both (c0's clients call it too), and c0
        # gets its Service, in both renderings.
        assert ("DestinationRule", "pay", "ledger") in meshgen_rules(out, "c0")[0]
        assert ("DestinationRule", "pay", "ledger") in meshgen_rules(out, "c1")[0]
        assert (out / "c0" / "traffic" / "pay" / "services.yaml").exists()
        peer = helm_render(HELM, values, "c0", tmp_path / "h")
        assert "kind: Service\nmetadata:\n  name: ledger\n" in peer


@needs_helm
@pytest.mark.parametrize(
    ("field", "where"),
    [("trafficPolicy", "service"), ("trafficPolicy", "subset"), ("cluster", "destination")],
)
def test_helm_peer_refuses_what_it_does_not_cover(tmp_path: Path, field: str, where: str) -> None:
    data = yaml.safe_load(make_spec(2, 1))
    service = data["spec"]["services"][0]
    target = {
        "service": service,
        "subset": service["subsets"][0],
        "destination": service["routes"][0]["destinations"][0],
    }[where]
    target[field] = "c1" if field == "cluster" else {"tls": {"mode": "ISTIO_MUTUAL"}}
    values = tmp_path / "values.yaml"
    write_values(yaml.safe_dump(data, sort_keys=False), values)
    with pytest.raises(RuntimeError, match="not covered by this chart"):
        helm_render(HELM, values, "c0", tmp_path / "helm-home")


def check_clean(text: str) -> None:
    _, diags = check(text)
    assert not has_errors(diags), diags


# --- units -----------------------------------------------------------------------------


def test_count_documents() -> None:
    assert count_documents(b"") == 0
    assert count_documents(b"# only a comment\n---\n# and another\n---\n") == 0
    assert count_documents(b"a: 1\n---\nb: 2\n...\n---\n\n") == 2
    assert count_documents(b"--- {a: 1}\n--- # empty\n---\nx: |\n  ---\n  text\n") == 2
    assert count_documents(b"- a\n----\n") == 1


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_units_in_any_layout(tmp_path: Path) -> None:
    """One unit per cluster, small units under traffic/, nested units, .yml and
    `Kustomization`, a remote resource and a directory that is not a unit."""
    doc = "kind: ConfigMap\n"
    _write(
        tmp_path / "c0" / "kustomization.yaml",
        "resources:\n- namespaces.yaml\n- traffic/a\n- https://example.com/x.yaml\n",
    )
    _write(tmp_path / "c0" / "namespaces.yaml", f"# header\n{doc}---\n{doc}")
    _write(tmp_path / "c0" / "traffic" / "a" / "kustomization.yml", "resources: [rules.yaml]\n")
    _write(tmp_path / "c0" / "traffic" / "a" / "rules.yaml", "---\n".join([doc] * 3))
    _write(
        tmp_path / "c0" / "traffic" / "b" / "Kustomization",
        "resources:\n- rules.yaml\ncomponents:\n- ../a\n",
    )
    _write(tmp_path / "c0" / "traffic" / "b" / "rules.yaml", "---\n".join([doc] * 4))
    _write(tmp_path / "c0" / "secrets" / "cacerts.yaml", doc)  # no kustomization: no unit
    assert [p.relative_to(tmp_path).as_posix() for p in find_units(tmp_path)] == [
        "c0",
        "c0/traffic/a",
        "c0/traffic/b",
    ]
    counts = {u.path.relative_to(tmp_path).as_posix(): u.documents for u in units_of(tmp_path)}
    assert counts == {"c0": 5, "c0/traffic/a": 3, "c0/traffic/b": 7}
    largest = largest_unit(tmp_path)
    assert largest is not None
    assert largest.path == tmp_path / "c0/traffic/b"
    assert largest_unit(tmp_path / "c0" / "secrets") is None


@needs_kustomize
def test_unit_counts_are_what_kustomize_builds(tmp_path: Path) -> None:
    """On meshgen's own output, whatever its layout: each unit's count is the number of
    documents `kustomize build` prints for it."""
    spec, out = tmp_path / "mesh.yaml", tmp_path / "out"
    spec.write_text(make_spec(2, 60), encoding="utf-8")
    proc = run_meshgen("build", spec, "-o", out)
    assert proc.returncode == 0, proc.stderr
    units = units_of(out)
    assert units
    for unit in units:
        built = subprocess.run(
            [str(KUSTOMIZE), "build", str(unit.path)], capture_output=True, check=False
        )
        assert built.returncode == 0, built.stderr
        docs = [d for d in yaml.safe_load_all(built.stdout) if d is not None]
        assert len(docs) == unit.documents, unit.path


# --- the run ---------------------------------------------------------------------------


def test_peer_cells_say_why_a_peer_did_not_run(tmp_path: Path) -> None:
    size = parse_size("2x10")
    missing = Peer("helm", tmp_path / "helm", enabled=True)
    assert missing.plan(size, None) == (None, f"n/a (tool missing: {tmp_path / 'helm'})")
    assert missing.plan(size, {"20x1000"}) == (None, "-")
    assert Peer("kustomize", KUSTOMIZE, enabled=False).plan(size, None) == (
        None,
        "skipped (--no-kustomize)",
    )
    row = {
        "size": "2x10",
        "clusters": 2,
        "services": 10,
        "total": 0.1,
        "helm_note": "n/a (tool missing: .tools/bin/helm)",
        "kustomize_note": "n/a (tool missing: .tools/bin/kustomize)",
    }
    cells = list(_peer_cells(row))
    assert len(cells) == len(PEER_COLUMNS)
    assert cells[2] == "n/a (tool missing: .tools/bin/helm)"
    assert cells[-1] == "n/a (tool missing: .tools/bin/kustomize)"
    failed = {key: value for key, value in row.items() if key != "helm_note"}
    failed["helm_error"] = "RuntimeError: boom | bang\nmore"
    assert list(_peer_cells(failed))[2] == "failed: RuntimeError: boom / bang"


def test_default_sizes_cover_the_issue() -> None:
    from benchmarks.run import DEFAULT_SIZES, PEER_SIZES

    default = DEFAULT_SIZES.split(",")
    for name in ("20x1000", "20x4000", "100x5000", "300x20", "1000x10"):
        assert name in default
    assert set(PEER_SIZES.split(",")) == {"20x1000", "20x4000", "100x5000"}
    assert Size("x", 1, 1).spec() == make_spec(1, 1)


def _table(stdout: str, first: str) -> tuple[list[str], list[list[str]]]:
    """The markdown table whose header starts with `first`: its columns and rows."""
    lines = stdout.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("| size |") and line.split("|")[2].strip() == first
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return [cell.strip() for cell in lines[start].strip().strip("|").split("|")], rows


def test_smoke_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    """Every code path on the tiny sizes: the build, the Helm peer and the largest unit's
    `kustomize build` when the pinned tools exist, "n/a (tool missing: ...)" when not."""
    report = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--json", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    columns, rows = _table(proc.stdout, COLUMNS[1])
    assert columns == list(COLUMNS)
    assert [row[0] for row in rows] == ["2x10", "deep 2x20"], proc.stdout
    assert "start-up" in proc.stdout
    assert report.exists()

    columns, rows = _table(proc.stdout, PEER_COLUMNS[1])
    assert columns == list(PEER_COLUMNS)
    assert [row[0] for row in rows] == ["2x10", "deep 2x20"], proc.stdout
    numbers = json.loads(report.read_text())["sizes"]
    for row, size in zip(rows, numbers, strict=True):
        cell = dict(zip(columns, row, strict=True))
        if HELM.exists():
            assert cell["helm peer (all clusters)"].endswith(("ms", " s")), row
            assert size["helm_runs"] == 2
            # The chart's documents for one cluster: a DR and a VS per service.
            assert size["helm_docs"] == 2 * size["services"]
        else:
            assert cell["helm peer (all clusters)"].startswith("n/a (tool missing: "), row
        if KUSTOMIZE.exists():
            assert cell["kustomize build (largest unit)"].endswith(("ms", " s")), row
            assert int(cell["its docs"].replace(",", "")) >= size["services"], row
            assert size["kustomize_docs"] == size["largest_unit_docs"]
        else:
            assert cell["kustomize build (largest unit)"].startswith("n/a (tool missing: ")


def test_missing_tools_are_reported_not_fatal(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--smoke",
            "--sizes",
            "2x10",
            "--helm",
            str(tmp_path / "helm"),
            "--kustomize",
            str(tmp_path / "kustomize"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    columns, rows = _table(proc.stdout, PEER_COLUMNS[1])
    cell = dict(zip(columns, rows[0], strict=True))
    assert cell["helm peer (all clusters)"] == f"n/a (tool missing: {tmp_path / 'helm'})"
    assert cell["kustomize build (largest unit)"] == (
        f"n/a (tool missing: {tmp_path / 'kustomize'})"
    )


def test_plan_benchmark_changes_one_service_or_every_route() -> None:
    from benchmarks.generate import make_spec
    from benchmarks.plans import goal_lines, variants

    text = make_spec(2, 10)
    changed = variants(text)
    assert changed["one service"].count("weight: 70}") == 1
    assert changed["mesh-wide"].count("weight: 80}") == text.count("weight: 90}") > 1
    run = {"code": 0, "wall": 1.0, "rss": 100.0}
    row = {"size": "2x10", "build": run, "changes": {"mesh-wide": {"plan": {**run, "wall": 1.6}}}}
    assert goal_lines(row) == [
        "plan at 2x10, mesh-wide: 1.60 s (1.6x the build's 1.00 s), 100 MB (1.0x): "
        "within 1.5x: open"
    ]


def test_busy_benchmark_builds_beside_dd() -> None:
    """The busy-disk goal's harness, tiny: two builds and a 10 MB dd (the real one: 3 GB)."""
    from benchmarks.busy import busy_line, measure_busy

    row = measure_busy(2, 10, runs=1, megabytes=10)
    assert row["size"] == "2x10"
    assert len(row["quiet_samples"]) == len(row["busy_samples"]) == 1
    assert row["busy"] > 0
    assert row["quiet"] > 0
    assert busy_line(row).startswith("build at 2x10 beside a 10 MB dd: ")
