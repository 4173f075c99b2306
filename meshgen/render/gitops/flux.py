"""Flux (runs in every cluster, bootstrapped with
`flux bootstrap … --path=<gitops.path>/gitops/flux/clusters/<cluster>`), `gitops/flux/`:
  clusters/<cluster>/sources.yaml          GitRepository `meshgen` (+ HelmRepository `istio`)
  clusters/<cluster>/kustomizations.yaml   Kustomizations `istio` (helm), `mesh` after it,
                                           `istiod` (helm) after `mesh` (its root of trust,
                                           as for Argo CD), and one `traffic-<unit>` per
                                           traffic unit after `mesh`
  istio/<cluster>/kustomization.yaml       (helm) the HelmReleases istio-base, istio-cni
  istio/<cluster>/helmreleases.yaml
  istiod/<cluster>/kustomization.yaml      (helm) the HelmRelease istiod (or istiod-<revision>
  istiod/<cluster>/helmreleases.yaml       per revision, each after base, cni and the older
                                           revisions, chained with dependsOn)
  The bootstrap directory deliberately has no kustomization.yaml: Flux then generates one
  that also takes in the `flux-system/` directory bootstrap commits next to these files (a
  kustomization.yaml of ours would leave Flux unable to update itself from Git). Flux's
  generated kustomization also takes in every subdirectory that has a kustomization.yaml,
  which is why the HelmReleases live outside it, in `istio/<cluster>/` and
  `istiod/<cluster>/`, applied only by the `istio` and `istiod` Kustomizations.
"""

from __future__ import annotations

import re
from typing import Any

from meshgen.layout import GITOPS_DIR
from meshgen.render.gitops.common import Files, Units, bounded_name, helm_installer
from meshgen.render.helm import HELM_REPOSITORY, charts, helm_values
from meshgen.render.kustomization import render_kustomization
from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.render.units import unit_dir
from meshgen.spec import Cluster, GitOps, Mesh

FLUX_DIR = f"{GITOPS_DIR}/flux"


FLUX_SOURCE_API = "source.toolkit.fluxcd.io/v1"

FLUX_KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"

FLUX_HELM_API = "helm.toolkit.fluxcd.io/v2"


FLUX_GIT_SOURCE = "meshgen"

FLUX_HELM_SOURCE = "istio"

FLUX_ISTIO = "istio"

FLUX_ISTIOD = "istiod"

FLUX_MESH = "mesh"

# The Secret `flux bootstrap` creates with its credentials for the repository (deploy key or
# token); the bootstrap path is in the same repository, so they are the ones to read it with.
FLUX_BOOTSTRAP_SECRET = "flux-system"


def flux_bootstrap_path(mesh: Mesh, cluster: Cluster) -> str:
    """The repository path to bootstrap `cluster`'s Flux with (`--path`), for the README."""
    gitops = mesh.spec.gitops
    prefix = gitops.path if gitops is not None else "out"
    return f"{prefix}/{FLUX_DIR}/clusters/{cluster.name}"


def flux_files(mesh: Mesh, gitops: GitOps, units: Units) -> Files:
    files: Files = []
    for cluster in mesh.spec.clusters:
        root = f"{FLUX_DIR}/clusters/{cluster.name}"
        files.append((f"{root}/sources.yaml", tuple(_flux_sources(mesh, gitops))))
        files.append(
            (
                f"{root}/kustomizations.yaml",
                tuple(_flux_kustomizations(mesh, gitops, cluster, units[cluster.name])),
            )
        )
        if helm_installer(mesh):
            releases = _flux_helm_releases(mesh, gitops, cluster)
            istiod = [r for r in releases if r["spec"]["chart"]["spec"]["chart"] == "istiod"]
            for name, part in (
                (FLUX_ISTIO, [r for r in releases if r not in istiod]),
                (FLUX_ISTIOD, istiod),
            ):
                directory = f"{FLUX_DIR}/{name}/{cluster.name}"
                files.append(
                    (
                        f"{directory}/kustomization.yaml",
                        (render_kustomization(["helmreleases.yaml"]),),
                    )
                )
                files.append((f"{directory}/helmreleases.yaml", tuple(part)))
    return files


def flux_git_url(url: str) -> str:
    """Flux reads only http(s):// and ssh:// URLs; scp-like `git@host:path` becomes
    `ssh://git@host/path` (the form of Flux's docs)."""
    scp = re.match(r"^([A-Za-z0-9._-]+@[^:/]+):(.*)$", url)
    if scp is None:
        return url
    return f"ssh://{scp.group(1)}/{scp.group(2).lstrip('/')}"


def _flux_meta(name: str, gitops: GitOps) -> dict[str, Any]:
    return metadata(name, gitops.flux.namespace, labels=dict(MANAGED_BY))


def _flux_sources(mesh: Mesh, gitops: GitOps) -> list[Manifest]:
    sources: list[Manifest] = [
        {
            "apiVersion": FLUX_SOURCE_API,
            "kind": "GitRepository",
            "metadata": _flux_meta(FLUX_GIT_SOURCE, gitops),
            "spec": {
                "url": flux_git_url(gitops.repo_url),
                "ref": {"branch": gitops.revision},
                "interval": gitops.flux.interval,
                "secretRef": {"name": FLUX_BOOTSTRAP_SECRET},
            },
        }
    ]
    if helm_installer(mesh):
        sources.append(
            {
                "apiVersion": FLUX_SOURCE_API,
                "kind": "HelmRepository",
                "metadata": _flux_meta(FLUX_HELM_SOURCE, gitops),
                "spec": {"url": HELM_REPOSITORY, "interval": gitops.flux.interval},
            }
        )
    return sources


def _flux_kustomization(gitops: GitOps, name: str, path: str, **spec: Any) -> Manifest:
    return {
        "apiVersion": FLUX_KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": _flux_meta(name, gitops),
        "spec": {
            "interval": gitops.flux.interval,
            "sourceRef": {"kind": "GitRepository", "name": FLUX_GIT_SOURCE},
            "path": f"./{gitops.path}/{path}",
            "prune": True,
            **spec,
        },
    }


def _flux_kustomizations(
    mesh: Mesh,
    gitops: GitOps,
    cluster: Cluster,
    units: list[str],
) -> list[Manifest]:
    if not helm_installer(mesh):
        # istioctl, operator and sail: the cluster directory, then the traffic units.
        kustomizations = [_flux_kustomization(gitops, FLUX_MESH, cluster.name)]
    else:
        kustomizations = [
            # wait: Ready only once every HelmRelease is, so `mesh` finds the CRDs; `mesh`
            # (wait: its ExternalSecrets rendered) before `istiod`, which reads the root of
            # trust once, when it starts (module docstring).
            _flux_kustomization(gitops, FLUX_ISTIO, f"{FLUX_DIR}/istio/{cluster.name}", wait=True),
            _flux_kustomization(
                gitops, FLUX_MESH, cluster.name, dependsOn=[{"name": FLUX_ISTIO}], wait=True
            ),
            _flux_kustomization(
                gitops,
                FLUX_ISTIOD,
                f"{FLUX_DIR}/istiod/{cluster.name}",
                dependsOn=[{"name": FLUX_MESH}],
                wait=True,
            ),
        ]
    # One Kustomization per unit, each after `mesh` (its namespaces); pruned when the unit
    # is gone from Git, like any Flux Kustomization of a bootstrap path.
    kustomizations.extend(
        _flux_kustomization(
            gitops,
            bounded_name(f"traffic-{unit}"),
            unit_dir(cluster.name, unit),
            dependsOn=[{"name": FLUX_MESH}],
        )
        for unit in units
    )
    return kustomizations


def _flux_helm_releases(mesh: Mesh, gitops: GitOps, cluster: Cluster) -> list[Manifest]:
    values = helm_values(mesh, cluster)
    releases: list[Manifest] = []
    installed: list[str] = []
    for chart in charts(mesh):
        install: dict[str, Any] = {"createNamespace": True}
        spec: dict[str, Any] = {
            "interval": gitops.flux.interval,
            # Without it the release would be named <targetNamespace>-<name>.
            "releaseName": chart.release,
            "targetNamespace": chart.namespace,
            "chart": {
                "spec": {
                    "chart": chart.chart,
                    "version": chart.version,
                    "sourceRef": {
                        "kind": "HelmRepository",
                        "name": FLUX_HELM_SOURCE,
                        "namespace": gitops.flux.namespace,
                    },
                }
            },
            "install": install,
        }
        if chart.chart == "base":
            # Charts before 1.24 ship the CRDs in crds/, which Helm never upgrades by itself.
            install["crds"] = "CreateReplace"
            spec["upgrade"] = {"crds": "CreateReplace"}
        if installed:
            spec["dependsOn"] = [{"name": name} for name in installed]
        spec["values"] = values[chart.key]
        releases.append(
            {
                "apiVersion": FLUX_HELM_API,
                "kind": "HelmRelease",
                "metadata": _flux_meta(chart.release, gitops),
                "spec": spec,
            }
        )
        # Each istiod release (one per revision with istio.revisions, oldest first) also
        # waits for the older ones: the release that loses a moving tag must drop the tag's
        # webhook before the one that gains it creates it (Helm will not take over an object
        # another release owns; _waves).
        installed.append(chart.release)
    return releases
