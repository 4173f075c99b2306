"""Stage 4, render: a checked Mesh -> per-cluster files of Kubernetes objects.

Pure: no I/O. The emit stage turns the objects into bytes; write puts them on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.render.cni import render_nads
from meshgen.render.istio import render_istio_operator
from meshgen.render.kustomization import render_kustomization
from meshgen.render.namespaces import render_namespaces
from meshgen.render.objects import Manifest
from meshgen.render.readme import render_readme
from meshgen.render.secrets import (
    needs_reader_token,
    remote_secret_name,
    render_cacerts,
    render_reader_token,
    render_remote_secret,
)
from meshgen.render.traffic import render_service_rules
from meshgen.spec import Cluster, Mesh, Namespace, Service


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output directory, POSIX
    documents: tuple[Manifest, ...]


@dataclass(frozen=True)
class Rendered:
    files: tuple[OutputFile, ...]
    readme: str


def namespaces_in(mesh: Mesh, cluster: Cluster) -> list[Namespace]:
    return [ns for ns in mesh.spec.namespaces if not ns.clusters or cluster.name in ns.clusters]


def services_in(mesh: Mesh, cluster: Cluster) -> list[Service]:
    return [s for s in mesh.spec.services if not s.clusters or cluster.name in s.clusters]


def render(mesh: Mesh) -> Rendered:
    # Identical rules for every cluster: render each service once, share the objects.
    rules = {(s.namespace, s.name): render_service_rules(mesh, s) for s in mesh.spec.services}
    files: list[OutputFile] = []
    for cluster in mesh.spec.clusters:
        files.extend(_cluster_files(mesh, cluster, rules))
    return Rendered(tuple(files), render_readme(mesh))


def _cluster_files(
    mesh: Mesh, cluster: Cluster, rules: dict[tuple[str, str], tuple[Manifest, ...]]
) -> list[OutputFile]:
    root = cluster.name
    app_namespaces = namespaces_in(mesh, cluster)
    applied: list[OutputFile] = [
        OutputFile("namespaces.yaml", tuple(render_namespaces(mesh, app_namespaces)))
    ]
    nads = render_nads(mesh, cluster, app_namespaces)
    if nads:
        applied.append(OutputFile("cni/network-attachment-definitions.yaml", tuple(nads)))

    operator = OutputFile("istio/istio-operator.yaml", (render_istio_operator(mesh, cluster),))
    # istioctl reads the IstioOperator as an install file (`istioctl install -f`); only the
    # in-cluster operator (<= 1.23) reconciles it as a resource (reference/istio.md §1.5).
    unlisted: list[OutputFile] = []
    if mesh.spec.istio.installer == "operator":
        applied.append(operator)
    else:
        unlisted.append(operator)

    if needs_reader_token(mesh, cluster):
        applied.append(OutputFile("istio/reader-token-secret.yaml", (render_reader_token(),)))

    by_namespace: dict[str, list[Manifest]] = {}
    for service in services_in(mesh, cluster):
        docs = rules[(service.namespace, service.name)]
        if docs:
            by_namespace.setdefault(service.namespace, []).extend(docs)
    applied.extend(
        OutputFile(f"traffic/{namespace}.yaml", tuple(docs))
        for namespace, docs in by_namespace.items()
    )

    unlisted.append(OutputFile("secrets/cacerts.yaml", (render_cacerts(),)))
    unlisted.extend(
        OutputFile(f"secrets/{remote_secret_name(peer.name)}.yaml", (render_remote_secret(peer),))
        for peer in mesh.spec.clusters
        if peer.name != cluster.name
    )
    kustomization = OutputFile(
        "kustomization.yaml", (render_kustomization([f.path for f in applied]),)
    )
    return [
        OutputFile(f"{root}/{f.path}", f.documents) for f in [kustomization, *applied, *unlisted]
    ]
