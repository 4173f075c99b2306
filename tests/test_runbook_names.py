"""Every name the runbook cites is in the output (issue 21): for every example with each of the
four installers and each GitOps engine (argocd, flux, none), the kube contexts its commands
use are the spec's clusters, the files and directories its commands and prose name are in
the output directory, and the Argo CD Applications and Flux objects its prose names are
rendered objects. The runbook is read as a person reads it: out/README.md."""

from __future__ import annotations

import copy
import fnmatch
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.pipeline import compile_spec
from tests.helpers import EXAMPLES, ROOT

INSTALLERS = ("istioctl", "operator", "helm", "sail")
ENGINES = ("argocd", "flux", "none")
# A release each installer supports, for an example whose own it does not: the in-cluster
# operator ends with 1.23, Sail starts with its 1.24-era releases.
FALLBACK_VERSION = {"operator": "1.23.6", "sail": "1.26.2"}
# Options whose value is a file or directory in the output.
PATH_OPTIONS = {"-f", "-k", "--filename", "--kustomize", "--patch-file", "--values"}
# Files the runbook's commands make or take from elsewhere: the Istio release's tools/certs
# and the CA files they make, the user's kubeconfigs.
EXTERNAL = re.compile(r"^(tools/certs/|certs/|[^/]*/?(ca|root)-[a-z-]+\.pem$|~|/)")
_FENCE = re.compile(r"^(`{3,})sh\n(.*?)^\1$", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")


def _spec(example: str, installer: str, engine: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLES[example].read_text(encoding="utf-8"))
    spec = data["spec"]
    spec["istio"]["installer"] = installer
    if engine == "none":
        spec.pop("gitops", None)
    else:
        spec["gitops"] = copy.deepcopy(_gitops(engine))
    return data


@cache
def _gitops(engine: str) -> dict[str, Any]:
    example = yaml.safe_load(EXAMPLES[f"kubernetes-helm-{engine}"].read_text(encoding="utf-8"))
    gitops: dict[str, Any] = example["spec"]["gitops"]
    return gitops


def _compile(data: dict[str, Any], tmp_path: Path, installer: str) -> dict[str, bytes] | None:
    spec = tmp_path / "mesh.yaml"
    for version in (None, FALLBACK_VERSION.get(installer)):
        if version is not None:
            if data["spec"]["istio"].get("revisions"):
                return None  # revisions pin their own versions
            data["spec"]["istio"]["version"] = version
        spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        result = compile_spec(spec, tmp_path / "out")
        if result.files is not None:
            return result.files
    return None


def _exists(path: str, files: dict[str, bytes], repo_path: str) -> bool:
    """A file or directory of the output, by its path from the output directory or from the
    repository's root (gitops.path); `<...>` placeholders match any one name."""
    path = path.removeprefix("./")
    if repo_path and f"{path.rstrip('/')}/".startswith(f"{repo_path}/"):
        path = path[len(repo_path) + 1 :]
    if not path:
        return True  # the output directory itself
    pattern = re.sub(r"<[^>/]+>", "*", path.rstrip("/"))
    return any(
        fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, f"{pattern}/*")
        for rel in files
    )


def _commands(readme: str) -> list[list[str]]:
    out = []
    for _, body in _FENCE.findall(readme):
        for line in body.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.commenters = "#"
            lexer.whitespace_split = True
            try:
                out.append(list(lexer))
            except ValueError:  # an unfinished quote: a heredoc's body
                continue
    return out


def _docs(files: dict[str, bytes], prefix: str) -> list[dict[str, Any]]:
    return [
        doc
        for rel, data in files.items()
        if rel.startswith(prefix) and rel.endswith(".yaml")
        for doc in yaml.safe_load_all(data)
        if isinstance(doc, dict)
    ]


def _argocd_apps(files: dict[str, bytes]) -> set[str]:
    names = set()
    for doc in _docs(files, "gitops/argocd/"):
        if doc.get("kind") == "Application":
            names.add(doc["metadata"]["name"])
        elif doc.get("kind") == "ApplicationSet":
            for generator in doc["spec"]["generators"]:
                names.update(e["name"] for e in generator["list"]["elements"])
    return names


def _flux_names(files: dict[str, bytes]) -> set[str]:
    names = set()
    for doc in _docs(files, "gitops/flux/"):
        if doc.get("kind") in ("Kustomization", "HelmRelease") and "toolkit.fluxcd.io" in str(
            doc.get("apiVersion")
        ):
            names.add(doc["metadata"]["name"])
    return names


COMBOS = [
    (example, installer, engine)
    for example in sorted(EXAMPLES)
    for installer in INSTALLERS
    for engine in ENGINES
]


def _command_problems(
    readme: str, clusters: set[str], files: dict[str, bytes], repo_path: str
) -> list[str]:
    """Contexts that are not clusters, files and directories that are not in the output."""
    problems = []
    for argv in _commands(readme):
        for i, word in enumerate(argv):
            value = argv[i + 1] if i + 1 < len(argv) else ""
            if word.startswith("--context="):
                value = word.partition("=")[2]
            if word.startswith("--context") and "$" not in value and value not in clusters:
                problems.append(f"context {value!r}: {shlex.join(argv)}")
            if word not in PATH_OPTIONS or argv[0] not in ("kubectl", "oc", "helm"):
                continue
            if "$" in value or value == "-" or "://" in value or EXTERNAL.match(value):
                continue
            if not _exists(value, files, repo_path):
                problems.append(f"path {value!r}: {shlex.join(argv)}")
    return problems


def _prose_problems(prose: str, files: dict[str, bytes], repo_path: str) -> list[str]:
    """Paths in code spans that are in the output neither from the output directory nor from
    a cluster's directory (the "What is in each cluster directory" list)."""
    problems = []
    for span in _CODE.findall(prose):
        if "/" not in span or " " in span or "://" in span or EXTERNAL.match(span):
            continue
        if not re.search(r"(/|\.ya?ml|\.json)$", span):
            continue
        if not (_exists(span, files, repo_path) or _exists(f"<cluster>/{span}", files, repo_path)):
            problems.append(f"path {span!r} in the prose")
    return problems


def _gitops_problems(
    prose: str, engine: str, clusters: set[str], files: dict[str, bytes]
) -> list[str]:
    """The Argo CD Applications (`<cluster>-<name>`, by sync wave) and the Flux objects the
    prose names, against the rendered ones; no such paragraph without that engine."""
    problems = []
    waves = re.search(r"Applications named `<cluster>-…`, ordered by sync waves: (.*?)\. ", prose)
    flux = re.search(r"Flux in each cluster applies (.*?)\n", prose)
    if (waves is not None) != (engine == "argocd") or (flux is not None) != (engine == "flux"):
        return [f"the GitOps paragraph does not match the engine {engine}"]
    if waves is not None:
        apps = _argocd_apps(files)
        for name in re.findall(r"`([^`]+)` \(\d+\)", waves.group(1)):
            for cluster in clusters:
                if not fnmatch.filter(apps, re.sub(r"<[^>]+>", "*", f"{cluster}-{name}")):
                    problems.append(f"Application {cluster}-{name} (of {sorted(apps)})")
    if flux is not None:
        names = _flux_names(files)
        for span in re.findall(r"(?:applies|then) `([^`]+)`", flux.group(1)):
            if span not in names:
                problems.append(f"Flux object {span!r} (of {sorted(names)})")
    return problems


@pytest.mark.parametrize(("example", "installer", "engine"), COMBOS)
def test_every_name_the_runbook_cites_is_in_the_output(
    tmp_path: Path, example: str, installer: str, engine: str
) -> None:
    data = _spec(example, installer, engine)
    files = _compile(data, tmp_path, installer)
    if files is None:
        pytest.skip(f"{example} does not take installer {installer} (its revisions)")
    clusters = {c["name"] for c in data["spec"]["clusters"]}
    repo_path = data["spec"].get("gitops", {}).get("path", "")
    readme = files["README.md"].decode()
    prose = _FENCE.sub("", readme)
    problems = [
        *_command_problems(readme, clusters, files, repo_path),
        *_prose_problems(prose, files, repo_path),
        *_gitops_problems(prose, engine, clusters, files),
    ]
    assert not problems, "\n".join(problems)


def test_the_checks_see_what_a_stale_runbook_would_say(tmp_path: Path) -> None:
    """The test above fails on a runbook that names what the output does not have."""
    data = _spec("openshift-sail", "sail", "argocd")
    files = _compile(data, tmp_path, "sail")
    assert files is not None
    assert _argocd_apps(files) >= {"hub-mesh", "hub-traffic-bookinfo"}
    assert "hub-istiod" not in _argocd_apps(files)  # Sail installs istiod itself
    assert _exists("hub/traffic/bookinfo/", files, "")
    assert not _exists("hub/istio/helm/", files, "")
    assert _exists("examples/x/hub/traffic/<unit>/", files, "examples/x")


def test_the_runbook_is_read_from_its_fences() -> None:
    readme = (ROOT / "out" / "README.md").read_text(encoding="utf-8")
    commands = _commands(readme)
    assert ["kubectl", "--context", "cluster1", "apply", "-k", "cluster1/"] in commands
