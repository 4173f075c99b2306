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

from typing import Any

from meshgen.render.istio import render_istio_operator
from meshgen.render.objects import Manifest
from meshgen.revisions import ControlPlane, control_planes, tags_of
from meshgen.spec import Cluster, Mesh
from meshgen.versions import HELM_PILOT_CNI_VALUE, release

# The tag that also serves `istio-injection=enabled`, validation and leader election
# (https://istio.io/latest/docs/setup/upgrade/canary/#default-tag).
DEFAULT_TAG = "default"


def named_control_planes(mesh: Mesh) -> bool:
    """Whether the mesh declares `istio.revisions` (then every control plane has a name)."""
    return bool(mesh.spec.istio.revisions)


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
    return control_planes(mesh)[-1]


def default_tag_target(mesh: Mesh, cluster: Cluster) -> str | None:
    """The revision the `default` tag points at in `cluster`, if the tag exists."""
    return tags_of(mesh, cluster).get(DEFAULT_TAG)


# --- istioctl / operator ---------------------------------------------------------------------


def operator_file(revision: str) -> str:
    return f"istio/istio-operator-{revision}.yaml"


def render_istio_operators(mesh: Mesh, cluster: Cluster) -> list[tuple[str, Manifest]]:
    """(file, IstioOperator) per revision, oldest first: each with `spec.revision` and its own
    name (render/istio.py operator_name). Only the newest installs base (the CRDs) and
    istio-cni: an install renders every enabled component, revisioned or not (istioctl's
    operator/pkg/controlplane), so the older ones turn both off, or re-running them would
    downgrade the CRDs and take over the one `istio-cni-node` DaemonSet. As istio.io says for
    the CNI next to revisioned control planes
    (https://istio.io/latest/docs/setup/additional-setup/cni/#upgrading), they keep the
    injector from adding istio-init: `values.istio_cni.enabled` up to 1.21,
    `values.pilot.cni.enabled` from 1.22 (versions.HELM_PILOT_CNI_VALUE, the key of the
    injection template). istioctl up to 1.23 keeps these values; from 1.24 it overwrites them
    from components.cni (versions.ISTIOCTL_CNI_FOLLOWS_COMPONENT), which is why MG309 refuses
    istioctl canaries from 1.24."""
    newest_plane = newest(mesh)
    operators: list[tuple[str, Manifest]] = []
    for plane in control_planes(mesh):
        operator = render_istio_operator(for_revision(mesh, plane), cluster)
        if plane != newest_plane:
            _without_shared_components(operator, mesh, plane)
        operators.append((operator_file(plane.name), operator))
    return operators


def _without_shared_components(operator: Manifest, mesh: Mesh, plane: ControlPlane) -> None:
    spec: dict[str, Any] = operator["spec"]
    components: dict[str, Any] = spec.setdefault("components", {})
    components["base"] = {"enabled": False}
    if not mesh.spec.istio.cni.enabled:
        return
    components["cni"] = {"enabled": False}
    # values.cni stays: istioctl derives the injector's istio_cni settings (chained) from it.
    values: dict[str, Any] = spec["values"]
    if release(plane.version).has(HELM_PILOT_CNI_VALUE):
        values.setdefault("pilot", {}).setdefault("cni", {})["enabled"] = True
    else:
        values.setdefault("istio_cni", {})["enabled"] = True
