"""MG3xx: the Istio install: version, installer, owned values, CNI, revision."""

from __future__ import annotations

from collections.abc import Iterator

from meshgen import versions
from meshgen.checks._common import ISTIO, cluster_path, error, warning
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Related
from meshgen.load import Positions
from meshgen.spec import Mesh

CODES = summaries("MG301", "MG302", "MG303", "MG304", "MG305", "MG306", "MG307")


def check_version(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG301: the Istio version is outside versions.SUPPORTED."""
    version = mesh.spec.istio.version
    if versions.is_supported(version):
        return
    newest = f"1.{versions.NEWEST_MINOR}.0"
    yield error(
        "MG301",
        f"Istio {version} is not supported by this meshgen version",
        positions.at((*ISTIO, "version")),
        f"meshgen supports Istio {versions.SUPPORTED}; pick a release in that range, "
        f'e.g. "{newest}"',
    )


def check_installer(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG302: `operator` on Istio >= 1.24; MG303: `sail` on a version no Sail release
    accepts (the operator would refuse the Istio resource)."""
    istio = mesh.spec.istio
    where = positions.at((*ISTIO, "installer"))
    if (
        istio.installer == "sail"
        and versions.is_supported(istio.version)
        and not versions.sail_releases_for(istio.version)
    ):
        nearest = versions.nearest_sail_version(istio.version)
        accepted_by = ", ".join(versions.sail_releases_for(nearest))
        yield error(
            "MG303",
            f"no Sail Operator release accepts Istio {istio.version} "
            f"(Sail {', '.join(versions.SAIL_RELEASES)} list "
            f"{versions.sail_version_range()} in their versions.yaml)",
            positions.at((*ISTIO, "version")),
            f'use version "{nearest}" (accepted by Sail {accepted_by}), or installer: '
            "istioctl or helm",
            [Related(where, "installer sail is chosen here")],
        )
    elif (
        istio.installer == "operator"
        and versions.is_supported(istio.version)
        and not versions.release(istio.version).has_in_cluster_operator
    ):
        gone = versions.IN_CLUSTER_OPERATOR
        yield error(
            "MG302",
            f'installer "operator" needs the in-cluster Istio operator, which Istio removed '
            f"in {gone.end} (this mesh uses {istio.version})",
            where,
            f"use installer: istioctl or helm (or Istio {gone.last_minor} or older to keep "
            "the operator)",
        )


# values paths meshgen sets itself; overriding them splits the mesh (every cluster has the same
# meshID and network and its own clusterName:
# https://istio.io/latest/docs/setup/install/multicluster/multi-primary/).
_OWNED = (
    (("global", "meshID"), "set spec.meshID instead"),
    (("global", "network"), "set spec.network instead"),
    (
        ("global", "multiCluster", "clusterName"),
        "remove it: meshgen always sets clusterName to the cluster's name (clusters[].name)",
    ),
)


def check_owned_values(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG304: istio.values sets values.global.meshID, .network or .multiCluster.clusterName."""
    for keys, hint in _OWNED:
        if not _has_path(mesh.spec.istio.values, keys):
            continue
        dotted = "values." + ".".join(keys)
        yield error(
            "MG304",
            f"istio.{dotted} overrides a value meshgen sets for the mesh to work",
            positions.key_at((*ISTIO, "values", *keys)),
            hint,
        )


def _has_path(values: object, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return True


def check_openshift_cni(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG305: istio-cni disabled while a cluster runs OpenShift."""
    if mesh.spec.istio.cni.enabled:
        return
    openshift = [i for i, c in enumerate(mesh.spec.clusters) if c.platform == "openshift"]
    if not openshift:
        return
    first = mesh.spec.clusters[openshift[0]].name
    more = f" (and {len(openshift) - 1} more)" if len(openshift) > 1 else ""
    # The OpenShift profile relies on istio-cni via Multus
    # (https://github.com/istio/istio/blob/1.18.7/manifests/profiles/openshift.yaml); without it
    # istio-init needs NET_ADMIN/NET_RAW (https://istio.io/latest/docs/setup/additional-setup/cni/),
    # and before 1.20 pods also needed the anyuid SCC
    # (https://istio.io/v1.19/docs/setup/platform-setup/openshift/).
    yield warning(
        "MG305",
        f'istio-cni is disabled but cluster "{first}"{more} runs OpenShift, where injected pods '
        "then need the NET_ADMIN and NET_RAW capabilities (and, before Istio 1.20, the anyuid "
        "SCC)",
        positions.at((*ISTIO, "cni", "enabled")),
        "set istio.cni.enabled: true (the default)",
        [
            Related(
                positions.at((*cluster_path(openshift[0]), "platform")),
                f"{first} is an OpenShift cluster",
            )
        ],
    )


def check_revision(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG306: `revision: default` names the default revision Istio reserves."""
    if mesh.spec.istio.revision != "default":
        return
    minor = versions.minor_of(mesh.spec.istio.version)
    yield warning(
        "MG306",
        'revision "default" is the name Istio reserves for the default revision (and its '
        "revision tag)",
        positions.at((*ISTIO, "revision")),
        f"leave revision empty to install the default revision, or name it after the release, "
        f'e.g. "1-{minor}"',
    )


def check_old_istioctl(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG307: istioctl < 1.14 cannot create remote secrets on Kubernetes >= 1.24, which no
    longer makes service-account token Secrets (istio/istio#38246; fixed in 1.14 by
    istio/istio#39003)."""
    fixed = versions.REMOTE_SECRET_WITHOUT_TOKEN_SECRETS
    if versions.release(mesh.spec.istio.version).has(fixed):
        return
    for ci, cluster in enumerate(mesh.spec.clusters):
        version = cluster.kubernetes_version
        if version is not None and not versions.kubernetes_makes_token_secrets(version):
            yield warning(
                "MG307",
                f'cluster "{cluster.name}" runs Kubernetes {version}, but istioctl before '
                f"{fixed.first} cannot create remote secrets there (no service-account token "
                "Secrets)",
                positions.at(("spec", "clusters", ci, "kubernetesVersion")),
                f"use istioctl {fixed.first} or later for create-remote-secret (with "
                "--secret-name), or a newer Istio",
            )


CHECKS = (
    check_version,
    check_installer,
    check_owned_values,
    check_openshift_cni,
    check_revision,
    check_old_istioctl,
)
