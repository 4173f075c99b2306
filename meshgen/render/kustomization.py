"""kustomization.yaml: what GitOps applies, in apply order."""

from __future__ import annotations

from meshgen.render.objects import Manifest


def render_kustomization(resources: list[str]) -> Manifest:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
    }
