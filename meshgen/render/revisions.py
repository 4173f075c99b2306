"""Control planes side by side (`istio.revisions`, a canary upgrade): what each installer
renders per revision.

Each revision is rendered by the installer's own renderer from a derived mesh whose
`istio.version` / `istio.revision` are that revision's (`for_revision`), so no
version-dependent logic is repeated here. What is shared by all revisions comes from the
newest, `istio.version`: the CRDs (base) and the one istio-cni per cluster (the CNI plugin
works with control planes one minor either side of it,
https://istio.io/latest/docs/setup/additional-setup/cni/#upgrading). Sources of every rule
below: https://istio.io/latest/docs/setup/upgrade/canary/ and
https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended.
"""

from __future__ import annotations

from meshgen.revisions import ControlPlane, control_planes, tags_of
from meshgen.spec import Cluster, Mesh

# The tag that also serves `istio-injection=enabled`, validation and leader election
# (https://istio.io/latest/docs/setup/upgrade/canary/#default-tag).
DEFAULT_TAG = "default"


def revisioned(mesh: Mesh) -> bool:
    """Whether the mesh declares `istio.revisions` (then every control plane has a name)."""
    return bool(mesh.spec.istio.revisions)


def planes(mesh: Mesh) -> list[ControlPlane]:
    """The control planes, oldest first; the last one is `istio.version`."""
    return control_planes(mesh)


def for_revision(mesh: Mesh, plane: ControlPlane) -> Mesh:
    """`mesh` as if it ran only `plane`: `istio.version` and `istio.revision` are the
    plane's, `istio.revisions` is empty. The models are frozen: `model_copy(update=...)`
    replaces the fields without validation (they come from a validated mesh), one level
    at a time."""
    istio = mesh.spec.istio.model_copy(
        update={"version": plane.version, "revision": plane.name, "revisions": []}
    )
    return mesh.model_copy(update={"spec": mesh.spec.model_copy(update={"istio": istio})})


def newest(mesh: Mesh) -> ControlPlane:
    return planes(mesh)[-1]


def tags_for(mesh: Mesh, cluster: Cluster, revision: str) -> list[str]:
    """The tags that point at `revision` in `cluster`, sorted."""
    return sorted(tag for tag, target in tags_of(mesh, cluster).items() if target == revision)


def default_tag_target(mesh: Mesh, cluster: Cluster) -> str | None:
    """The revision the `default` tag points at in `cluster`, if the tag exists."""
    return tags_of(mesh, cluster).get(DEFAULT_TAG)
