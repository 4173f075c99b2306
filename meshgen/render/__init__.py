"""Stage 4, render: a checked Mesh -> per-cluster files of Kubernetes objects.

Pure: no I/O. The emit stage turns the objects into bytes; write puts them on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshgen.layout import (
    CLIENT_SERVICES_FILE,
    REMOTE_SECRETS_DIR,
    RULES_FILE,
    TRAFFIC_DIR,
    helm_values_file,
)
from meshgen.placement import namespaces_in, services_in, workload_namespaces_in
from meshgen.render.cni import render_nads
from meshgen.render.control_planes import named_control_planes, render_istio_operators
from meshgen.render.external_secrets import (
    render_external_secrets,
    render_submariner_external_secrets,
)
from meshgen.render.gitops import render_gitops
from meshgen.render.helm import helm_values
from meshgen.render.istio import render_istio_operator
from meshgen.render.kustomization import render_kustomization
from meshgen.render.namespaces import render_namespaces
from meshgen.render.objects import Manifest
from meshgen.render.runbook.document import build_runbook
from meshgen.render.runbook.markdown import render_markdown
from meshgen.render.runbook.model import Runbook
from meshgen.render.sail import render_sail
from meshgen.render.secrets import (
    READER_TOKEN_FILE,
    needs_reader_token,
    reader_token_in_kustomization,
    remote_secret_name,
    render_cacerts,
    render_reader_token,
    render_remote_secret,
)
from meshgen.render.security import render_security
from meshgen.render.submariner import (
    render_service_exports,
    render_submariner,
    render_submariner_placeholders,
)
from meshgen.render.traffic import client_service, render_service_rules
from meshgen.render.units import TrafficUnits
from meshgen.render.verify import VerifyManifests
from meshgen.spec import Cluster, Mesh

__all__ = ["OutputFile", "Rendered", "render", "services_in"]


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output directory, POSIX
    documents: tuple[Manifest, ...]


@dataclass(frozen=True)
class Rendered:
    files: tuple[OutputFile, ...]
    readme: str  # out/README.md: the Markdown of `runbook`
    runbook: Runbook | None = None


@dataclass(frozen=True)
class TrafficUnit:
    """One kustomize unit of a cluster's traffic: its files (name, documents) in apply order."""

    name: str
    files: tuple[tuple[str, tuple[Manifest, ...]], ...]


class _Shared:
    """What is the same in many clusters, rendered once: the objects (and the emitted bytes,
    which emit caches per object) are shared, so cost grows with services + clusters."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.rules = {
            (s.namespace, s.name): render_service_rules(mesh, s) for s in mesh.spec.services
        }
        self.restricted = [i for i, s in enumerate(mesh.spec.services) if s.clusters]
        self.client_services = {i: client_service(mesh.spec.services[i]) for i in self.restricted}
        self.traffic: dict[tuple[int, ...], list[TrafficUnit]] = {}
        self.units = TrafficUnits(mesh.spec.services)
        rules: dict[str, list[Manifest]] = {}
        for service in mesh.spec.services:
            rules.setdefault(self.units.unit_of(service), []).extend(
                self.rules[(service.namespace, service.name)]
            )
        self.unit_rules = {unit: tuple(docs) for unit, docs in rules.items()}
        # One kustomization per shape of unit: the same object, so emit serializes it once.
        self.unit_kustomization: dict[tuple[str, ...], tuple[Manifest, ...]] = {
            files: (render_kustomization(list(files)),)
            for files in ((RULES_FILE,), (CLIENT_SERVICES_FILE, RULES_FILE))
        }
        self.exported = [s for s in mesh.spec.services if s.export]
        self.cacerts = render_cacerts()
        self.verify = VerifyManifests(mesh)

    def traffic_units(self, cluster: Cluster) -> list[TrafficUnit]:
        """The traffic units of `cluster`, in order of first appearance in the spec: every
        service's rules (the same objects, and file contents, in every cluster), and the
        client Services of those that do not run there; one list per distinct set of
        services not running there, reused by every cluster with it."""
        services = self.mesh.spec.services
        absent = tuple(i for i in self.restricted if cluster.name not in services[i].clusters)
        cached = self.traffic.get(absent)
        if cached is None:
            stubs: dict[str, list[Manifest]] = {}
            for i in absent:
                stubs.setdefault(self.units.unit_of(services[i]), []).append(
                    self.client_services[i]
                )
            cached = self.traffic[absent] = [
                TrafficUnit(unit, self._unit_files(tuple(stubs.get(unit, ())), rules))
                for unit, rules in self.unit_rules.items()
                if rules or unit in stubs
            ]
        return cached

    def _unit_files(
        self, stubs: tuple[Manifest, ...], rules: tuple[Manifest, ...]
    ) -> tuple[tuple[str, tuple[Manifest, ...]], ...]:
        files: tuple[tuple[str, tuple[Manifest, ...]], ...] = (
            ((CLIENT_SERVICES_FILE, stubs),) if stubs else ()
        )
        files += ((RULES_FILE, rules),)
        names = tuple(name for name, _ in files)
        return (("kustomization.yaml", self.unit_kustomization[names]), *files)


def render(mesh: Mesh) -> Rendered:
    shared = _Shared(mesh)
    files: list[OutputFile] = []
    units: dict[str, list[str]] = {}
    for cluster in mesh.spec.clusters:
        files.extend(_cluster_files(mesh, cluster, shared))
        units[cluster.name] = [unit.name for unit in shared.traffic_units(cluster)]
    files.extend(_remote_secret_placeholders(mesh))
    files.extend(OutputFile(path, docs) for path, docs in render_gitops(mesh, units))
    runbook = build_runbook(mesh, units)
    return Rendered(tuple(files), render_markdown(runbook), runbook)


def _remote_secret_placeholders(mesh: Mesh) -> list[OutputFile]:
    """One placeholder per cluster, for every peer of it: the same object in each peer, so
    written once (files grow with the clusters, not with their square)."""
    clusters = mesh.spec.clusters
    if len(clusters) < 2 or mesh.spec.secrets.provider == "external-secrets":
        return []
    return [
        OutputFile(
            f"{REMOTE_SECRETS_DIR}/{remote_secret_name(c.name)}.yaml", (render_remote_secret(c),)
        )
        for c in clusters
    ]


def _cluster_files(mesh: Mesh, cluster: Cluster, shared: _Shared) -> list[OutputFile]:
    """Every file of the cluster directory: what its kustomization.yaml lists (`applied`, in
    apply order), then what it does not (install inputs, traffic units, placeholders, test
    workloads)."""
    app_namespaces = namespaces_in(mesh, cluster)
    applied: list[OutputFile] = [
        OutputFile("namespaces.yaml", tuple(render_namespaces(mesh, app_namespaces)))
    ]
    unlisted: list[OutputFile] = []
    nads = render_nads(mesh, cluster, app_namespaces)
    if nads:
        applied.append(OutputFile("cni/network-attachment-definitions.yaml", tuple(nads)))
    _install_files(mesh, cluster, applied, unlisted)
    if needs_reader_token(mesh, cluster):
        token = OutputFile(READER_TOKEN_FILE, (render_reader_token(),))
        (applied if reader_token_in_kustomization(mesh) else unlisted).append(token)
    submariner = render_submariner(mesh, cluster)
    if submariner:
        applied.append(OutputFile("submariner/submariner.yaml", tuple(submariner)))
    exported = [s for s in shared.exported if s.placed_in(cluster.name)]
    exports = render_service_exports(mesh, cluster, exported)
    if exports:
        applied.append(OutputFile("submariner/service-exports.yaml", tuple(exports)))
    # The rules are applied unit by unit, never with the rest (meshgen/render/units.py).
    for unit in shared.traffic_units(cluster):
        unlisted.extend(
            OutputFile(f"{TRAFFIC_DIR}/{unit.name}/{name}", docs) for name, docs in unit.files
        )
    policies = render_security(mesh, cluster, workload_namespaces_in(mesh, cluster))
    if policies:
        applied.append(OutputFile("security/policies.yaml", tuple(policies)))
    _secret_files(mesh, cluster, shared, applied, unlisted)
    # Test workloads for out/README.md's last step; never applied by GitOps.
    unlisted.extend(OutputFile(path, docs) for path, docs in shared.verify.files(cluster))
    kustomization = OutputFile(
        "kustomization.yaml", (render_kustomization([f.path for f in applied]),)
    )
    return [
        OutputFile(f"{cluster.name}/{f.path}", f.documents)
        for f in [kustomization, *applied, *unlisted]
    ]


def _install_files(
    mesh: Mesh, cluster: Cluster, applied: list[OutputFile], unlisted: list[OutputFile]
) -> None:
    """How Istio gets installed (the in-cluster operator is gone from 1.24:
    versions.IN_CLUSTER_OPERATOR): istioctl reads the IstioOperator as an install file; only
    the in-cluster operator (<= 1.23) reconciles it as a resource; Sail's resources are
    applied; Helm values go to the GitOps releases (and to values files for
    `helm upgrade --install -f`)."""
    installer = mesh.spec.istio.installer
    if installer in ("istioctl", "operator"):
        # With istio.revisions one IstioOperator per revision (render/control_planes.py).
        operators = (
            [OutputFile(path, (doc,)) for path, doc in render_istio_operators(mesh, cluster)]
            if named_control_planes(mesh)
            else [OutputFile("istio/istio-operator.yaml", (render_istio_operator(mesh, cluster),))]
        )
        (applied if installer == "operator" else unlisted).extend(operators)
    elif installer == "sail":
        applied.append(OutputFile("istio/sail.yaml", tuple(render_sail(mesh, cluster))))
    else:
        unlisted.extend(
            OutputFile(helm_values_file(chart), (values,))
            for chart, values in helm_values(mesh, cluster).items()
        )


def _secret_files(
    mesh: Mesh,
    cluster: Cluster,
    shared: _Shared,
    applied: list[OutputFile],
    unlisted: list[OutputFile],
) -> None:
    """ExternalSecrets render the Secrets from the store, so they are applied like anything
    else; placeholders never are."""
    if mesh.spec.secrets.provider == "external-secrets":
        secrets = (
            *render_external_secrets(mesh, cluster),
            *render_submariner_external_secrets(mesh, cluster),
        )
        applied.append(OutputFile("external-secrets/external-secrets.yaml", secrets))
        return
    unlisted.append(OutputFile("secrets/cacerts.yaml", (shared.cacerts,)))
    unlisted.extend(
        OutputFile(path, (doc,)) for path, doc in render_submariner_placeholders(mesh, cluster)
    )
