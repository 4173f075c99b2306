"""The pinned external tools (installed by scripts/install-tools) and helpers around them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen import write
from meshgen.pipeline import compile_spec
from meshgen.spec import Mesh
from tests.helpers import ROOT

TOOLS = ROOT / ".tools"
SCHEMAS = TOOLS / "schemas"
# The istioctl scripts/install-tools builds: Istio master of 2026-08-27 (1.31-dev).
ISTIOCTL_MINOR = 31


def tool(name: str) -> str:
    pinned = TOOLS / "bin" / name
    if pinned.exists():
        return str(pinned)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/install-tools (scripts/test does)")
    return found


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
    them to resolve VirtualService and DestinationRule hosts (reference/istio.md §6)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": s.name, "namespace": s.namespace,
                         "labels": {"app": s.name, "service": s.name}},
            "spec": {
                "selector": {"app": s.name},
                "ports": [{"name": p.name, "port": p.number} for p in s.ports]
                or [{"name": "http", "port": 80}],
            },
        }
        for s in mesh.spec.services
    ]


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          check=False)
