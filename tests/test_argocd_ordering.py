"""Argo CD ordering that really happens: the written tree read back the way Argo CD reads it.

Argo CD orders Applications by their sync waves only inside the sync of a parent Application
(app of apps), and waits for a child to be healthy before the next wave only with the
Application health check restored in argocd-cm
(https://argo-cd.readthedocs.io/en/stable/operator-manual/health/#argocd-app). So this test
starts from the root Application meshgen writes, resolves its source path in a simulated Git
checkout (the output directory at `gitops.path`), builds that directory as Argo CD would
(kustomize: the files its kustomization.yaml lists), and computes the waves of the children
(annotation `argocd.argoproj.io/sync-wave`, default 0) as Argo CD sorts them: every Istio
CRD (istio-base) before any istio-cni, before any istiod, before any mesh configuration.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from meshgen.pipeline import compile_spec
from meshgen.render.gitops import APPLICATION_HEALTH_LUA
from meshgen.write import write_output
from tests.helpers import EXAMPLES, ROOT, mesh_from, seed_data

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
# What the children install, in the order the waves must give: the cluster directory (with
# external-secrets, the root of trust) before istiod, which reads ./etc/cacerts only when it
# starts (istio/istio pilot/pkg/bootstrap/istio_ca.go, createIstioCA; the mesh box saw a
# self-signed root in every cluster with the old order).
PHASES = ("base", "cni", "mesh", "istiod", "traffic")
HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
# The SHA-256 of the health check in Argo CD's docs
# (https://argo-cd.readthedocs.io/en/stable/operator-manual/health/#argocd-app, the Lua of
# `resource.customizations.health.argoproj.io_Application`, with its final newline): a
# change of meshgen's copy shows up as a test failure.
DOCUMENTED_LUA_SHA256 = "14fb8e4defc7760715c56e273c7aa844a0f5ed1c01e433248e6c18769dcd8a5d"
REPO = "https://git.example.com/platform/mesh.git"


def _spec(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


ARGOCD_EXAMPLES = sorted(
    name
    for name, path in EXAMPLES.items()
    if (_spec(path)["spec"].get("gitops") or {}).get("engine") == "argocd"
)


def _checkout(spec: Path, repo: Path) -> tuple[dict[str, Any], Path]:
    """Compile `spec` and write the output where the Git repository holds it: `gitops.path`."""
    data = _spec(spec)
    out = repo / data["spec"]["gitops"].get("path", "out")
    result = compile_spec(spec, out)
    assert result.ok, result.diagnostics
    assert result.files is not None
    write_output(out, result.files)
    return data, out


def _load(path: Path) -> list[dict[str, Any]]:
    # go-yaml (Argo CD, kustomize) reads YAML 1.1, as PyYAML does.
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _build(directory: Path) -> list[dict[str, Any]]:
    """What Argo CD syncs from a directory with a kustomization.yaml: the objects of the
    files (and directories) it lists. Anything beyond `resources` would need real kustomize."""
    kustomization = _load(directory / "kustomization.yaml")[0]
    assert set(kustomization) <= {"apiVersion", "kind", "resources"}, kustomization
    objects: list[dict[str, Any]] = []
    for entry in kustomization["resources"]:
        target = directory / entry
        objects.extend(_build(target) if target.is_dir() else _load(target))
    return objects


def _wave(app: dict[str, Any]) -> int:
    return int((app["metadata"].get("annotations") or {}).get(SYNC_WAVE, "0"))


def _phase(app: dict[str, Any], gitops_path: str) -> tuple[str, str]:
    """(cluster, phase) of a child, from its source as Argo CD would fetch it."""
    source = app["spec"]["source"]
    cluster = app["spec"]["destination"]["name"]
    if "chart" in source:
        assert source["chart"] in ("base", "cni", "istiod"), source
        return cluster, source["chart"]
    if source["path"] == f"{gitops_path}/{cluster}":
        return cluster, "mesh"
    assert re.fullmatch(
        rf"{re.escape(gitops_path)}/{cluster}/traffic/[a-z0-9.-]+", source["path"]
    ), source
    return cluster, "traffic"


def _generate(appset: dict[str, Any]) -> list[dict[str, Any]]:
    """The Applications an ApplicationSet with list generators makes, as the ApplicationSet
    controller's default (fasttemplate) rendering does: `{{key}}` replaced by the element's
    value in every string of the template. They carry the ApplicationSet's wave: the root
    creates the set in that wave, and the set creates them."""
    apps: list[dict[str, Any]] = []
    template = json.dumps(appset["spec"]["template"])
    assert set(appset["spec"]) == {"generators", "template"}, appset["spec"]
    for generator in appset["spec"]["generators"]:
        assert set(generator) == {"list"}, generator
        for element in generator["list"]["elements"]:
            text = template
            for key, value in element.items():
                text = text.replace("{{" + key + "}}", value)
            assert "{{" not in text, text
            app = json.loads(text)
            app = {"apiVersion": appset["apiVersion"], "kind": "Application", **app}
            app["metadata"] = {
                **app["metadata"],
                "namespace": appset["metadata"]["namespace"],
                "annotations": {SYNC_WAVE: str(_wave(appset))},
            }
            apps.append(app)
    return apps


def _root(out: Path) -> dict[str, Any]:
    (root,) = _load(out / "gitops" / "argocd" / "bootstrap" / "root-application.yaml")
    return root


def check_ordering(data: dict[str, Any], repo: Path, out: Path) -> None:
    gitops = data["spec"]["gitops"]
    gitops_path = gitops.get("path", "out")
    clusters = [c["name"] for c in data["spec"]["clusters"]]
    root = _root(out)
    assert (root["apiVersion"], root["kind"]) == ("argoproj.io/v1alpha1", "Application")
    namespace = root["metadata"]["namespace"]
    assert root["spec"]["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": namespace,
    }
    source = root["spec"]["source"]
    assert source["repoURL"] == gitops["repoURL"]
    assert source["targetRevision"] == gitops.get("revision", "main")

    # The root's source path, resolved in the checkout, is the directory of the children.
    synced = repo / source["path"]
    assert synced.resolve() == (out / "gitops" / "argocd").resolve()
    built = _build(synced)
    assert built
    assert all(child["kind"] in ("Application", "ApplicationSet") for child in built)
    children = [
        app
        for child in built
        for app in (_generate(child) if child["kind"] == "ApplicationSet" else [child])
    ]
    names = [child["metadata"]["name"] for child in children]
    assert len(names) == len(set(names))
    assert root["metadata"]["name"] not in names  # the root does not manage itself
    for child in children:
        # Argo CD reconciles only the Applications in its own namespace.
        assert child["metadata"]["namespace"] == namespace
        assert child["spec"]["destination"]["name"] in clusters

    # Every Application meshgen wrote (outside bootstrap/) is reachable from the root.
    written = {
        doc["metadata"]["name"]
        for path in (out / "gitops" / "argocd").glob("*.yaml")
        for doc in _load(path)
        if doc.get("kind") == "Application"
    }
    assert written <= set(names)
    # ... and every traffic unit in the checkout is one Application's path.
    units = {
        str(path.parent.relative_to(repo)) for path in out.glob("*/traffic/*/kustomization.yaml")
    }
    assert units == {
        child["spec"]["source"]["path"]
        for child in children
        if "/traffic/" in child["spec"]["source"].get("path", "")
    }

    # The mesh Applications' paths exist in the checkout and are kustomize directories.
    for child in children:
        if "path" in child["spec"]["source"]:
            assert child["spec"]["source"]["repoURL"] == gitops["repoURL"]
            assert (repo / child["spec"]["source"]["path"] / "kustomization.yaml").is_file()

    # The waves, as the root's sync runs them: ascending, one phase finished before the next.
    by_phase: dict[str, list[int]] = {}
    per_cluster: dict[str, dict[str, int]] = {c: {} for c in clusters}
    istiods: dict[str, list[tuple[int, tuple[int, ...]]]] = {c: [] for c in clusters}
    for child in children:
        cluster, phase = _phase(child, gitops_path)
        by_phase.setdefault(phase, []).append(_wave(child))
        if phase == "istiod":
            # One istiod release per revision (istio.revisions), each in its own wave.
            version = tuple(int(p) for p in child["spec"]["source"]["targetRevision"].split("."))
            istiods[cluster].append((_wave(child), version))
            per_cluster[cluster][phase] = min(w for w, _ in istiods[cluster])
            continue
        assert phase not in per_cluster[cluster]
        per_cluster[cluster][phase] = _wave(child)
    for releases in istiods.values():
        # Oldest revision first: a tag moves from the release that drops it to the one that
        # takes it (Helm refuses an object another release owns).
        assert [v for _, v in sorted(releases)] == sorted(v for _, v in releases)
        assert len({w for w, _ in releases}) == len(releases)
    present = [phase for phase in PHASES if phase in by_phase]
    assert "mesh" in present
    for earlier, later in itertools.pairwise(present):
        assert max(by_phase[earlier]) < min(by_phase[later]), (earlier, later, by_phase)
    for cluster, waves in per_cluster.items():
        assert "mesh" in waves, cluster
        ordered = sorted(waves, key=lambda p: waves[p])
        assert ordered == [p for p in PHASES if p in waves], (cluster, waves)
    order = [
        _phase(child, gitops_path)[1]
        for child in sorted(children, key=lambda c: (_wave(c), c["metadata"]["name"]))
    ]
    assert [PHASES.index(p) for p in order] == sorted(PHASES.index(p) for p in order)

    check_health_patch(out, namespace)
    # The README no longer has the children applied with `kubectl apply -k`, waves unseen.
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert f"kubectl apply -k {gitops_path}/gitops/argocd" not in readme
    assert f"kubectl apply -f {gitops_path}/gitops/argocd/bootstrap/root-application.yaml" in readme


def lua_problems(code: str) -> list[str]:
    """A structural check of Lua (no interpreter here): blocks, `then`s and brackets balance."""
    code = re.sub(r"--[^\n]*", "", code)
    code = re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', '""', code)
    problems: list[str] = []
    depth = 0
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code):
        if word in ("if", "function", "do", "repeat"):
            depth += 1
        elif word in ("end", "until"):
            depth -= 1
            if depth < 0:
                problems.append(f"unmatched {word}")
    if depth:
        problems.append(f"{depth} unclosed block(s)")
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code)
    if words.count("if") + words.count("elseif") != words.count("then"):
        problems.append("an if without then")
    for opening, closing in ("()", "{}", "[]"):
        if code.count(opening) != code.count(closing):
            problems.append(f"unbalanced {opening}{closing}")
    if not re.search(r"\breturn\s+hs\s*$", code.strip()):
        problems.append("does not end by returning hs")
    return problems


def check_health_patch(out: Path, namespace: str) -> None:
    path = out / "gitops" / "argocd" / "bootstrap" / "argocd-cm.patch.yaml"
    (patch,) = _load(path)
    # YAML 1.2 (ruamel) reads the same value as YAML 1.1.
    (patch12,) = [d for d in YAML(typ="safe", pure=True).load_all(path.read_text()) if d]
    assert patch12 == patch
    assert (patch["apiVersion"], patch["kind"]) == ("v1", "ConfigMap")
    # A merge patch of the install's argocd-cm: its name and namespace, no labels, one key.
    assert patch["metadata"] == {"name": "argocd-cm", "namespace": namespace}
    assert set(patch) == {"apiVersion", "kind", "metadata", "data"}
    assert list(patch["data"]) == [HEALTH_KEY]
    lua = patch["data"][HEALTH_KEY]
    assert isinstance(lua, str)
    assert hashlib.sha256(lua.encode()).hexdigest() == DOCUMENTED_LUA_SHA256
    assert lua_problems(lua) == []


def test_lua_check_finds_broken_code() -> None:
    assert hashlib.sha256(APPLICATION_HEALTH_LUA.encode()).hexdigest() == DOCUMENTED_LUA_SHA256
    assert lua_problems(APPLICATION_HEALTH_LUA) == []
    assert lua_problems(APPLICATION_HEALTH_LUA.replace("  end\nend", "end", 1))
    assert lua_problems(APPLICATION_HEALTH_LUA.replace(" then\n", "\n", 1))
    assert lua_problems(APPLICATION_HEALTH_LUA.replace("return hs", "return"))
    assert lua_problems('hs = {}\nhs.message = "end"\nreturn hs\n') == []


@pytest.mark.parametrize("name", ARGOCD_EXAMPLES)
def test_example_waves_order_the_install(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    data, out = _checkout(EXAMPLES[name].relative_to(ROOT), tmp_path)
    check_ordering(data, tmp_path, out)


@pytest.mark.parametrize(
    ("installer", "version", "cni"),
    [
        ("helm", "1.30.0", True),
        ("helm", "1.22.3", True),
        ("helm", "1.30.0", False),
        ("istioctl", "1.30.0", True),
        ("sail", "1.30.0", True),
        ("helm-revisions", "1.23.6", True),
    ],
)
@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
def test_waves_order_the_install(
    installer: str, version: str, cni: bool, platform: str, tmp_path: Path
) -> None:
    data = copy.deepcopy(seed_data())
    if installer == "helm-revisions":
        # A canary: two istiod releases side by side, the namespace following tag prod.
        installer = "helm"
        data["spec"]["istio"]["revisions"] = [
            {"name": "1-22-8", "version": "1.22.8"},
            {"name": "1-23-6", "version": "1.23.6"},
        ]
        data["spec"]["istio"]["tags"] = {"prod": "1-22-8"}
        data["spec"]["namespaces"][0]["revisionTag"] = "prod"
    data["spec"]["istio"].update(version=version, installer=installer, cni={"enabled": cni})
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    data["spec"]["gitops"] = {"engine": "argocd", "repoURL": REPO, "path": "deploy/mesh"}
    mesh_from(data)  # a valid spec
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    repo = tmp_path / "repo"
    data, out = _checkout(spec, repo)
    check_ordering(data, repo, out)
    expected = "openshift-gitops" if platform == "openshift" else "argocd"
    assert _root(out)["metadata"]["namespace"] == expected


def test_a_child_without_a_wave_breaks_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check itself: a child that loses its annotation syncs in wave 0, with the CRDs."""
    monkeypatch.chdir(ROOT)
    name = ARGOCD_EXAMPLES[0]
    data, out = _checkout(EXAMPLES[name].relative_to(ROOT), tmp_path)
    cluster = data["spec"]["clusters"][0]["name"]
    path = out / "gitops" / "argocd" / f"{cluster}.yaml"
    path.write_text(path.read_text().replace(f'{SYNC_WAVE}: "3"', "x: y"), encoding="utf-8")
    with pytest.raises(AssertionError):
        check_ordering(data, tmp_path, out)
