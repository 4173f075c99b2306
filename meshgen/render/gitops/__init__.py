"""GitOps wiring under `gitops/`: what Argo CD or Flux needs to apply the cluster directories.

`spec.gitops.path` is where meshgen's output directory sits in the Git repository
(`repoURL`), so every path written into these objects starts with it.

Argo CD's objects are made in argocd.py, Flux's in flux.py; what they share in common.py.
"""

from __future__ import annotations

from meshgen.render.gitops.argocd import (
    APPLICATION_HEALTH_KEY,
    APPLICATION_HEALTH_LUA,
    ARGOCD_DIR,
    ARGOCD_HEALTH_FILE,
    ARGOCD_ROOT_FILE,
    OPENSHIFT_GITOPS_NAMESPACE,
    argocd_files,
    argocd_namespace,
    argocd_root_name,
    argocd_waves,
)
from meshgen.render.gitops.common import ENGINE_TITLES, Files, Units, bounded_name
from meshgen.render.gitops.flux import flux_bootstrap_path, flux_files, flux_git_url
from meshgen.spec import Mesh

__all__ = [
    "APPLICATION_HEALTH_KEY",
    "APPLICATION_HEALTH_LUA",
    "ARGOCD_DIR",
    "ARGOCD_HEALTH_FILE",
    "ARGOCD_ROOT_FILE",
    "ENGINE_TITLES",
    "OPENSHIFT_GITOPS_NAMESPACE",
    "argocd_namespace",
    "argocd_root_name",
    "argocd_waves",
    "bounded_name",
    "flux_bootstrap_path",
    "flux_git_url",
    "render_gitops",
]


def render_gitops(mesh: Mesh, units: Units) -> Files:
    """(path relative to the output directory, documents) of every file under `gitops/`."""
    gitops = mesh.spec.gitops
    if gitops is None:
        return []
    if gitops.engine == "argocd":
        return argocd_files(mesh, gitops, units)
    return flux_files(mesh, gitops, units)
