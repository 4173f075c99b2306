"""Namespaces: istio-system, and each app namespace with its injection label."""

from __future__ import annotations

from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, metadata
from meshgen.spec import Mesh, Namespace


def injection_labels(mesh: Mesh, namespace: Namespace) -> dict[str, str]:
    # istio.io/rev selects a revision and must not be combined with istio-injection
    # (IST0123: https://istio.io/latest/docs/reference/config/analysis/ist0123/).
    if not namespace.injection:
        return {"istio-injection": "disabled"}
    revision = mesh.spec.istio.revision
    if revision:
        return {"istio.io/rev": revision}
    return {"istio-injection": "enabled"}


def render_namespaces(mesh: Mesh, app_namespaces: list[Namespace]) -> list[Manifest]:
    docs: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": metadata(ISTIO_NAMESPACE, labels=dict(MANAGED_BY)),
        }
    ]
    for ns in app_namespaces:
        labels = {**MANAGED_BY, **injection_labels(mesh, ns)}
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(ns.name, labels=labels)}
        )
    return docs
