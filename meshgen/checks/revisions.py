"""MG308-MG311: control-plane revisions and revision tags (canary upgrades).

Where the limits come from:
- istio-cni runs once per cluster, from the newest revision, and "the CNI plugin at version
  1.x is compatible with control plane at version 1.x-1, 1.x, and 1.x+1"
  (https://istio.io/latest/docs/setup/additional-setup/cni/#upgrading): so revisions side by
  side are at most one minor apart. (A canary may skip a minor, 1.N -> 1.N+2, without
  istio-cni: https://istio.io/latest/docs/setup/upgrade/canary/.)
- istio.io states no version skew between the clusters of one mesh (istio/istio.io#12971); with
  every cluster running the same revisions, meshgen keeps any two clusters within that minor.
- `istio-injection=enabled` is served only by a control plane without revision or a tag named
  `default` (https://istio.io/latest/docs/setup/upgrade/canary/#default-tag).
"""

from __future__ import annotations

from collections.abc import Iterator

from meshgen import versions
from meshgen.checks._common import ISTIO, cluster_path, error, quoted_list, warning
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Location
from meshgen.load import Positions
from meshgen.revisions import control_planes, tags_for
from meshgen.spec import Mesh, Revision

CODES = summaries("MG308", "MG309", "MG310", "MG311", "MG312")
REVISIONS = (*ISTIO, "revisions")


def check_revisions(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG308: the revisions side by side are consistent and at most one minor apart."""
    istio = mesh.spec.istio
    if not istio.revisions:
        return
    if istio.revision:
        yield error(
            "MG308",
            "istio.revision and istio.revisions are both set",
            positions.at((*ISTIO, "revision")),
            "with revisions, each control plane has its name there; remove istio.revision",
        )
    yield from _revision_names(mesh, positions)
    yield from _revision_span(mesh, positions)


def _revision_names(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """Each revision: its own name, not `default`, on a supported version."""
    seen: set[str] = set()
    for ri, revision in enumerate(mesh.spec.istio.revisions):
        at = positions.at((*REVISIONS, ri, "name"))
        if revision.name in seen:
            yield error(
                "MG308",
                f'revision "{revision.name}" is declared twice',
                at,
                "give every control plane its own name",
            )
        seen.add(revision.name)
        if revision.name == "default":
            yield error(
                "MG308",
                'a revision named "default"',
                at,
                "`default` is the tag that takes over `istio-injection=enabled` "
                "namespaces; name revisions after their version, e.g. 1-23-6",
            )
        if not versions.is_supported(revision.version):
            yield error(
                "MG308",
                f"Istio {revision.version} is not supported by this meshgen version",
                positions.at((*REVISIONS, ri, "version")),
                f"meshgen supports Istio {versions.SUPPORTED}",
            )


def _revision_span(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """istio.version is the newest revision's, and the oldest is at most one minor behind."""
    istio = mesh.spec.istio
    planes = [p for p in control_planes(mesh) if versions.is_supported(p.version)]
    if not planes:
        return
    newest = planes[-1]
    if istio.version != newest.version:
        yield error(
            "MG308",
            f"istio.version {istio.version} is not the newest revision's version {newest.version}",
            positions.at((*ISTIO, "version")),
            "the CRDs and the one istio-cni of each cluster come from istio.version: set it to "
            f'"{newest.version}"',
        )
    oldest = planes[0]
    if newest.minor - oldest.minor > 1:
        yield error(
            "MG308",
            f"revisions {oldest.name} ({oldest.version}) and {newest.name} "
            f"({newest.version}) are {newest.minor - oldest.minor} minors apart",
            positions.at(REVISIONS),
            "istio-cni runs once per cluster and works with control planes one minor either "
            "side of it; upgrade one minor at a time "
            f"(1.{oldest.minor} -> 1.{oldest.minor + 1} -> ...)",
        )


def check_installer_revisions(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG309: an installer that cannot run one of the revisions."""
    istio = mesh.spec.istio
    for ri, revision in enumerate(istio.revisions):
        if not versions.is_supported(revision.version):
            continue
        at = positions.at((*REVISIONS, ri, "version"))
        rel = versions.release(revision.version)
        if istio.installer == "operator" and not rel.has_in_cluster_operator:
            yield error(
                "MG309",
                f"revision {revision.name}: the in-cluster operator is gone in "
                f"Istio {revision.version}",
                at,
                "upgrade past 1.23 with installer istioctl, helm or sail",
            )
        if (
            istio.installer == "istioctl"
            and len(istio.revisions) > 1
            and rel.has(versions.ISTIOCTL_CNI_FOLLOWS_COMPONENT)
            and revision.version != istio.version
        ):
            yield error(
                "MG309",
                f"revision {revision.name}: istioctl {revision.version} would give its pods "
                "istio-init (it sets values.pilot.cni.enabled from components.cni.enabled, and "
                "only the newest revision installs istio-cni)",
                at,
                "upgrade past 1.24 with installer helm (or sail): their control planes share "
                "one istio-cni release",
            )
        if istio.installer == "helm" and not rel.has(versions.HELM_REVISION_TAGS_SEPARATED):
            yield from _one_tag_per_chart(mesh, revision, at)
        if istio.installer == "sail" and not versions.sail_releases_for(revision.version):
            nearest = versions.nearest_sail_version(revision.version)
            yield error(
                "MG309",
                f"revision {revision.name}: no Sail Operator release accepts "
                f"Istio {revision.version}",
                at,
                f'use "{nearest}"',
            )


def _one_tag_per_chart(mesh: Mesh, revision: Revision, at: Location) -> Iterator[Diagnostic]:
    """Before 1.17 the istiod chart renders one revision tag: the first cluster that points
    several at `revision`."""
    for cluster in mesh.spec.clusters:
        tags = tags_for(mesh, cluster, revision.name)
        if len(tags) > 1:
            yield error(
                "MG309",
                f"revision {revision.name}: the istiod chart of {revision.version} "
                f"renders only the last of its tags {quoted_list(tags)} in cluster "
                f"{cluster.name}",
                at,
                "before Istio 1.17 point at most one tag at a revision",
            )
            return


def check_tags(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG310: every tag names a revision and every namespace's tag exists; MG311: with
    revisions, an injected namespace follows a tag, or a `default` tag serves it."""
    istio = mesh.spec.istio
    names = [p.name for p in control_planes(mesh) if p.name]
    if (istio.tags or any(c.tags for c in mesh.spec.clusters)) and not names:
        yield error(
            "MG310",
            "revision tags without a revision",
            positions.at((*ISTIO, "tags")),
            "a tag points at a revision: declare istio.revisions (or istio.revision)",
        )
        return
    yield from _tag_targets(mesh, positions, names)
    yield from _namespace_tags(mesh, positions, names)


def _tag_targets(mesh: Mesh, positions: Positions, names: list[str]) -> Iterator[Diagnostic]:
    """MG310: every tag, mesh-wide or a cluster's, is declared and names a revision."""
    istio = mesh.spec.istio
    for tag, target in istio.tags.items():
        if target not in names:
            yield error(
                "MG310",
                f'tag "{tag}" points at an undeclared revision "{target}"',
                positions.at((*ISTIO, "tags", tag)),
                f"the revisions are {quoted_list(names)}",
            )
    for ci, cluster in enumerate(mesh.spec.clusters):
        for tag, target in cluster.tags.items():
            at = positions.at((*cluster_path(ci), "tags", tag))
            if tag not in istio.tags:
                yield error(
                    "MG310",
                    f'cluster {cluster.name} sets tag "{tag}", which istio.tags does not declare',
                    at,
                    "declare every tag in istio.tags; clusters only move them",
                )
            elif target not in names:
                yield error(
                    "MG310",
                    f'tag "{tag}" of cluster {cluster.name} points at an '
                    f'undeclared revision "{target}"',
                    at,
                    f"the revisions are {quoted_list(names)}",
                )


def _namespace_tags(mesh: Mesh, positions: Positions, names: list[str]) -> Iterator[Diagnostic]:
    """MG310: a namespace follows a declared tag; MG311: with several revisions, an injected
    namespace follows a tag, or a `default` tag serves it."""
    istio = mesh.spec.istio
    declared = sorted(istio.tags)
    for ni, namespace in enumerate(mesh.spec.namespaces):
        at = positions.at(("spec", "namespaces", ni, "revisionTag"))
        if namespace.revision_tag is not None and namespace.revision_tag not in istio.tags:
            yield error(
                "MG310",
                f"namespace {namespace.name} follows tag "
                f'"{namespace.revision_tag}", which istio.tags does not declare',
                at,
                f"the tags are {quoted_list(declared)}" if declared else "declare it in istio.tags",
            )
        elif (
            len(names) > 1
            and namespace.injection
            and namespace.revision_tag is None
            and "default" not in istio.tags
        ):
            yield error(
                "MG311",
                f"namespace {namespace.name} is injected, but with several revisions no "
                "control plane serves `istio-injection=enabled`",
                positions.at(("spec", "namespaces", ni, "name")),
                "set its revisionTag (e.g. a tag `prod` in istio.tags), or declare a tag "
                "named `default`",
            )


def check_sail_strategy(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG312: with Sail, declaring revisions switches the Istio resource from InPlace (one
    revision named like the resource, `default`) to RevisionBased; a tag named `default`
    cannot be created while that InPlace revision still exists (the IstioRevisionTag
    controller's NameAlreadyExists, sail-operator controllers/istiorevisiontag)."""
    istio = mesh.spec.istio
    if istio.installer != "sail" or not istio.revisions or "default" not in istio.tags:
        return
    yield warning(
        "MG312",
        'tag "default" with Sail: a cluster that ran this Istio with the InPlace strategy '
        'still has the revision "default", and Sail refuses a tag of the same name',
        positions.at((*ISTIO, "tags", "default")),
        "name the tag otherwise (e.g. prod) and point the namespaces at it, or remove the "
        "InPlace revision first",
    )


CHECKS = (check_revisions, check_installer_revisions, check_tags, check_sail_strategy)
