"""What both GitOps engines' objects share: bounded names, the file list type, the engines'
names in the runbook."""

from __future__ import annotations

import hashlib

from meshgen.render.objects import Manifest
from meshgen.spec import Mesh

# How the runbook names each engine.
ENGINE_TITLES = {"argocd": "Argo CD", "flux": "Flux"}


# Argo CD label tracking puts an Application's name in a label value, and Flux labels what a
# Kustomization applies with its name: both at most 63 characters.
NAME_MAX = 63


Files = list[tuple[str, tuple[Manifest, ...]]]
Units = dict[str, list[str]]  # cluster name -> its traffic units, in apply order


def bounded_name(name: str) -> str:
    """`name` if it fits in a label value, else its first 54 characters and 8 hex digits of
    its hash: deterministic, distinct and still readable."""
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: NAME_MAX - 9].rstrip('-.')}-{digest}"


def helm_installer(mesh: Mesh) -> bool:
    return mesh.spec.istio.installer == "helm"
