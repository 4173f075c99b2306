"""Namespaces: istio-system, and each app namespace with its injection label."""

from __future__ import annotations

from meshgen.render.objects import ISTIO_NAMESPACE, MANAGED_BY, Manifest, metadata
from meshgen.revisions import injection_labels
from meshgen.spec import Mesh, Namespace


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
