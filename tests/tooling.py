"""The pinned external tools (installed by scripts/install-tools) and helpers around them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from meshgen import write
from meshgen.pipeline import compile_spec
from meshgen.spec import Mesh
from tests.helpers import ROOT

TOOLS = ROOT / ".tools"
SCHEMAS = TOOLS / "schemas"
# The real Istio and Sail releases (charts, profiles, CRDs, sources; see docs/development.md,
# "Where the releases come from", for the official downloads that replace this folder
# elsewhere).
SHARED = Path(os.environ.get("MESHGEN_SHARED", ROOT.parent / "shared"))
# The istioctl the minor-independent checks use: the newest released one that
# scripts/install-istioctl-releases builds from its tagged source (tests/tools/test_istioctl.py).
NEWEST_ISTIOCTL = "istioctl-1.30.3"


def tools_path() -> str:
    """PATH with the pinned tools (.tools/bin) first."""
    return f"{TOOLS / 'bin'}{os.pathsep}{os.environ['PATH']}"


def tool(name: str) -> str:
    if name == "istioctl":
        name = NEWEST_ISTIOCTL
    pinned = TOOLS / "bin" / name
    if pinned.exists():
        return str(pinned)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/install-tools (scripts/test does)")
    return found


def shared(*parts: str) -> Path:
    """A path inside the real-release folder; CI must have it, elsewhere its tests skip."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = (
            f"{path} is missing: set MESHGEN_SHARED to the folder with the real Istio "
            "releases (docs/development.md, Release fidelity)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def schemas() -> Path:
    if not (SCHEMAS / ".stamp").exists():
        pytest.fail("offline schemas missing: run scripts/install-tools (scripts/test does)")
    return SCHEMAS


def build(spec: Path, out: Path) -> Mesh:
    result = compile_spec(spec, out)
    assert result.files is not None, result.diagnostics
    assert result.mesh is not None
    write.write_output(out, result.files)
    return result.mesh


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def services_for(mesh: Mesh) -> list[dict[str, Any]]:
    """Kubernetes Services matching the spec's services, for `istioctl analyze`, which needs
    them to resolve VirtualService and DestinationRule hosts (IST0101 "Referenced host not
    found": https://istio.io/latest/docs/reference/config/analysis/ist0101/)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": s.name,
                "namespace": s.namespace,
                "labels": {"app": s.name, "service": s.name},
            },
            "spec": {
                "selector": {"app": s.name},
                "ports": [{"name": p.name, "port": p.number} for p in s.ports]
                or [{"name": "http", "port": 80}],
            },
        }
        for s in mesh.spec.services
    ]


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False)


# The released istioctl builds of scripts/install-istioctl-releases: .tools/bin/istioctl-<tag>.
RELEASES_SCRIPT = ROOT / "scripts" / "install-istioctl-releases"


def istioctl_release_tags() -> list[str]:
    """The Istio tags scripts/install-istioctl-releases builds (its TAGS line)."""
    import re

    match = re.search(r"^TAGS=\(([^)]*)\)", RELEASES_SCRIPT.read_text(), re.MULTILINE)
    assert match is not None, f"no TAGS=(...) line in {RELEASES_SCRIPT}"
    return match.group(1).split()


def release_istioctl(tag: str) -> str:
    """The released istioctl of an Istio tag, built from its source in the real-release folder
    (without that folder its tests skip, as with shared()); CI must have built it."""
    shared("istio-src", f"istio-{tag}.tar.xz")
    path = TOOLS / "bin" / f"istioctl-{tag}"
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run scripts/install-istioctl-releases (scripts/install-tools does)"
        )
    return str(path)


def istio_release(minor: int) -> Path:
    """The real-release folder of Istio 1.<minor>'s last patch (charts/, profiles/)."""
    releases = shared("istio-releases")
    found = sorted(releases.glob(f"1.{minor}.*"), key=lambda p: int(p.name.split(".")[2]))
    if not found:
        pytest.fail(f"no Istio 1.{minor} release in {releases}")
    return found[-1]


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_make_schemas() -> ModuleType:
    """scripts/make_schemas.py as a module (its CRD list and converter)."""
    return load_script("make_schemas")


# The real pre-commit of the test environment (pip install .[test]).
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


def pre_commit(
    home: Path, repo: Path, *args: str, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """The real pre-commit in `repo`, with its own cache `home`, no colour, first on PATH,
    and none of the GIT_ variables of a hook this test run may have been started from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.pop("MESHGEN_DEBUG", None)
    env.update(
        PRE_COMMIT_HOME=str(home),
        NO_COLOR="1",
        PATH=f"{PRE_COMMIT.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return subprocess.run(
        [str(PRE_COMMIT), *args],
        cwd=repo,
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=timeout,
    )
