"""The commands that show a plan's changes against the live clusters, for the GitOps engine in
use: `argocd app diff NAME --local PATH` per Argo CD application, `flux diff kustomization
NAME --path PATH` per Flux Kustomization, for the applications whose paths hold a changed
file. Names and paths are read from the rendered GitOps objects, so they are the objects
the output has (https://argo-cd.readthedocs.io/en/stable/user-guide/commands/argocd_app_diff/,
https://fluxcd.io/flux/cmd/flux_diff_kustomization/)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from meshgen.layout import GITOPS_DIR
from meshgen.plan.diff import load_documents
from meshgen.plan.model import Plan

MAX_COMMANDS = 10  # listed in a plan; the rest are counted


@dataclass(frozen=True)
class App:
    engine: str  # "argocd" or "flux"
    name: str
    path: str  # in the repository, without "./"
    namespace: str = ""  # a Flux Kustomization's
    context: str = ""  # the cluster a Flux Kustomization runs in (its kubectl context)

    def argv(self) -> tuple[str, ...]:
        if self.engine == "argocd":
            return ("argocd", "app", "diff", self.name, "--local", self.path)
        argv = ["flux", "diff", "kustomization", self.name, "--path", f"./{self.path}"]
        if self.namespace:
            argv += ["--namespace", self.namespace]
        if self.context:
            argv += ["--context", self.context]
        return tuple(argv)


def applications(files: Mapping[str, bytes]) -> list[App]:
    """Every Argo CD Application (and ApplicationSet list element) and Flux Kustomization
    with a path in the repository, as rendered under gitops/."""
    out: list[App] = []
    for rel, data in sorted(files.items()):
        if not rel.startswith(f"{GITOPS_DIR}/") or not rel.endswith(".yaml"):
            continue
        try:
            docs = load_documents(data)
        except ValueError:
            continue
        for doc in docs:
            if isinstance(doc, dict):
                out.extend(_apps(doc, rel))
    return out


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _apps(doc: dict[str, Any], rel: str) -> Iterator[App]:
    api, kind = _text(doc.get("apiVersion")), doc.get("kind")
    meta, spec = _mapping(doc.get("metadata")), _mapping(doc.get("spec"))
    name = _text(meta.get("name"))
    if api.startswith("argoproj.io/") and kind == "Application":
        path = _text(_mapping(spec.get("source")).get("path"))
        if name and path:
            yield App("argocd", name, path.removeprefix("./"))
    elif api.startswith("argoproj.io/") and kind == "ApplicationSet":
        generators = spec.get("generators")
        for generator in generators if isinstance(generators, list) else ():
            elements = _mapping(_mapping(generator).get("list")).get("elements")
            for element in elements if isinstance(elements, list) else ():
                app, path = (
                    _text(_mapping(element).get("name")),
                    _text(_mapping(element).get("path")),
                )
                if app and path:
                    yield App("argocd", app, path.removeprefix("./"))
    elif api.startswith("kustomize.toolkit.fluxcd.io/") and kind == "Kustomization":
        path = _text(spec.get("path"))
        if name and path:
            # gitops/flux/clusters/<cluster>/kustomizations.yaml: what that cluster's Flux runs
            parts = rel.split("/")
            context = parts[3] if len(parts) > 4 and parts[2] == "clusters" else ""
            namespace = _text(meta.get("namespace"))
            yield App("flux", name, path.removeprefix("./"), namespace, context)


def live_diff_commands(plan: Plan, files: Mapping[str, bytes], repo_path: str) -> list[App]:
    """The applications holding a changed file, in plan order, each once. `repo_path`: where
    the output directory is in the repository (the spec's gitops.path)."""
    by_path: dict[str, list[App]] = {}
    for app in applications(files):
        by_path.setdefault(app.path.rstrip("/"), []).append(app)
    found: dict[App, None] = {}
    seen: set[str] = set()  # a mesh-wide change: 500,000 changes in 10,000 files
    for group in plan.groups:
        for change in group.changes:
            rel = group.path(change)
            if rel and rel not in seen:
                seen.add(rel)
                holder = _holder(f"{repo_path}/{rel}", rel, by_path)
                if holder is not None:
                    found[holder] = None
    return list(found)


def _holder(path: str, rel: str, by_path: Mapping[str, list[App]]) -> App | None:
    """The deepest application whose directory holds `path`; a Flux one only from the cluster
    the file is for."""
    directory = path.rpartition("/")[0]
    while directory:
        for app in by_path.get(directory, ()):
            if not app.context or rel.startswith(f"{app.context}/"):
                return app
        directory = directory.rpartition("/")[0]
    return None
