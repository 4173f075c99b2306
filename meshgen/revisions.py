"""Control-plane revisions and revision tags: which control planes a cluster runs, and which
one injects each namespace. Shared by the checks and the render stage.

Without `istio.revisions` a mesh has one control plane: `istio.version`, revision
`istio.revision` ("" for none), as before. With them, every cluster runs each revision side
by side (a canary upgrade, https://istio.io/latest/docs/setup/upgrade/canary/); the CRDs and
the one istio-cni per cluster come from the newest, and the traffic rules are written for
the oldest, so that every control plane reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.spec import Cluster, Mesh, Namespace
from meshgen.versions import minor_of, parse


@dataclass(frozen=True)
class ControlPlane:
    name: str  # the revision; "" for a control plane without one
    version: str

    @property
    def minor(self) -> int:
        return minor_of(self.version)


def control_planes(mesh: Mesh) -> list[ControlPlane]:
    """The control planes of every cluster, oldest first."""
    istio = mesh.spec.istio
    if not istio.revisions:
        return [ControlPlane(istio.revision, istio.version)]
    planes = [ControlPlane(r.name, r.version) for r in istio.revisions]
    return sorted(planes, key=lambda plane: parse(plane.version))


def several_control_planes(mesh: Mesh) -> bool:
    """Whether the mesh runs several control planes side by side."""
    return len(mesh.spec.istio.revisions) > 1


def oldest_version(mesh: Mesh) -> str:
    """The Istio version every control plane can read: what the traffic rules are written
    for, and what the traffic checks judge."""
    return control_planes(mesh)[0].version


def tags_of(mesh: Mesh, cluster: Cluster) -> dict[str, str]:
    """The revision tags in `cluster`: `istio.tags`, overridden by the cluster's own."""
    return {**mesh.spec.istio.tags, **cluster.tags}


def tags_for(mesh: Mesh, cluster: Cluster, revision: str) -> list[str]:
    """The tags that point at `revision` in `cluster`, sorted."""
    return sorted(tag for tag, target in tags_of(mesh, cluster).items() if target == revision)


def injection_labels(mesh: Mesh, namespace: Namespace) -> dict[str, str]:
    """The namespace's injection label: `istio.io/rev=<tag>` when it follows a tag, else
    `istio.io/rev=<revision>` with one revisioned control plane, else `istio-injection`.
    Never both: `istio-injection` wins over `istio.io/rev`
    (https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/#controlling-the-injection-policy)."""
    if not namespace.injection:
        return {"istio-injection": "disabled"}
    if namespace.revision_tag is not None:
        return {"istio.io/rev": namespace.revision_tag}
    planes = control_planes(mesh)
    if len(planes) == 1 and planes[0].name:
        return {"istio.io/rev": planes[0].name}
    return {"istio-injection": "enabled"}
