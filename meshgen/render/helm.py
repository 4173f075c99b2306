"""Helm values for Istio's `base`, `cni` and `istiod` charts (installer `helm`).

The GitOps engines install these charts (render/gitops.py); this module decides what goes
into each chart's values for the pinned Istio release. The OpenShift knob moved three times,
and each chart reads only its own values, so each chart gets only what it reads (every
boundary is a fact in meshgen/versions.py; tests/tools/test_helm_releases.py renders every minor's
released charts and proves each value written changes the output):

| Istio       | base | cni chart (`cni:`)               | istiod chart                         |
|-------------|------|----------------------------------|--------------------------------------|
| 1.10-1.11.5 | -    | Multus paths, chained: false     | istio_cni, injected annotation       |
| 1.11.6-1.18 | -    | + privileged (not 1.12.0-1.12.1) | istio_cni, injected annotation       |
| 1.19-1.20   | -    | + provider: multus               | istio_cni, global.platform           |
| 1.21-1.23   | -    | profile: openshift               | profile: openshift, pilot.cni (1.22) |
| >= 1.24     | -    | global.platform: openshift       | global.platform, pilot.cni           |

(OpenShift with istio-cni; on Kubernetes only the cni logging and istio_cni/pilot.cni renames
apply.) `mesh.spec.istio.values` is deep-merged last into the istiod values, as
render/istio.py does for the IstioOperator.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from meshgen.render.control_planes import (
    default_tag_target,
    for_revision,
    named_control_planes,
)
from meshgen.render.istio import (
    DEFAULT_TRUST_DOMAIN,
    OPENSHIFT_CNI_VALUES,
    cni_log_values,
    identity_values,
)
from meshgen.render.objects import ISTIO_NAMESPACE, deep_merge
from meshgen.revisions import control_planes, tags_for
from meshgen.spec import Cluster, Mesh
from meshgen.versions import (
    HELM_BASE_DEFAULT_REVISION,
    HELM_CNI_PRIVILEGED_VALUE,
    HELM_CNI_PROVIDER_VALUE,
    HELM_ISTIOD_PLATFORM_VALUE,
    HELM_OPENSHIFT_PROFILE,
    HELM_PILOT_CNI_VALUE,
    HELM_PLATFORM_PROFILE,
    OPENSHIFT_PROFILE_INJECTED_NETWORK,
    IstioRelease,
    release,
)

# The upstream Helm repository of the Istio charts
# (https://istio.io/latest/docs/setup/install/helm/).
HELM_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"


@dataclass(frozen=True)
class Chart:
    """One Istio chart as a GitOps engine installs it."""

    key: str  # the key of helm_values(): "base", "cni", "istiod" or "istiod-<revision>"
    chart: str  # the chart's name in HELM_REPOSITORY
    release: str  # the Helm release name (istio.io's Helm install guide uses these)
    namespace: str
    version: str = ""  # the chart version: the Istio release it installs


def charts(mesh: Mesh) -> tuple[Chart, ...]:
    """The charts to install, in install order (CRDs first, then CNI, then the control plane;
    with `istio.revisions` one istiod release per revision, oldest first)."""
    istio = mesh.spec.istio
    cni = istio.cni
    if named_control_planes(mesh):
        # https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended: one
        # shared istio-base, one `istiod-<revision>` release per control plane.
        istiods = tuple(
            Chart(f"istiod-{p.name}", "istiod", f"istiod-{p.name}", ISTIO_NAMESPACE, p.version)
            for p in control_planes(mesh)
        )
    else:
        istiods = (Chart("istiod", "istiod", "istiod", ISTIO_NAMESPACE, istio.version),)
    return (
        Chart("base", "base", "istio-base", ISTIO_NAMESPACE, istio.version),
        *((Chart("cni", "cni", "istio-cni", cni.namespace, istio.version),) if cni.enabled else ()),
        *istiods,
    )


def helm_values(mesh: Mesh, cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The values of each chart of charts(mesh), by Chart.key."""
    if named_control_planes(mesh):
        return _revisioned_values(mesh, cluster)
    return _values(mesh, cluster)


def _revisioned_values(mesh: Mesh, cluster: Cluster) -> dict[str, dict[str, Any]]:
    """base and cni from the newest revision (istio.version); each istiod from its own
    revision's mesh (render/control_planes.py), with `revision` and the tags that point at it in
    this cluster (`revisionTags`, rendered by the istiod chart as the webhook
    `istio-revision-tag-<tag>`, https://istio.io/latest/docs/setup/upgrade/helm/)."""
    values = {k: v for k, v in _values(mesh, cluster).items() if k != "istiod"}
    default_target = default_tag_target(mesh, cluster)
    if default_target is not None and release(mesh.spec.istio.version).has(
        HELM_BASE_DEFAULT_REVISION
    ):
        # The validator and leader election follow the `default` tag (1.12 upgrade notes,
        # https://istio.io/latest/news/releases/1.12.x/announcing-1.12/upgrade-notes/).
        values["base"] = {"defaultRevision": default_target}
    for plane in control_planes(mesh):
        istiod = _values(for_revision(mesh, plane), cluster)["istiod"]
        tags = tags_for(mesh, cluster, plane.name)
        if tags:
            # Before 1.17 the chart renders only the last of several tags
            # (versions.HELM_REVISION_TAGS_SEPARATED); meshgen writes them all anyway.
            istiod["revisionTags"] = tags
        values[f"istiod-{plane.name}"] = istiod
    return values


def _values(mesh: Mesh, cluster: Cluster) -> dict[str, dict[str, Any]]:
    rel = release(mesh.spec.istio.version)
    openshift = cluster.platform == "openshift"
    cni_enabled = mesh.spec.istio.cni.enabled
    # The base chart renders CRDs and cluster roles only: no platform value changes it, so it
    # gets none (tests/tools/test_helm_releases.py proves every value written is read).
    values: dict[str, dict[str, Any]] = {"base": {}}
    if cni_enabled:
        values["cni"] = deep_merge(
            _cni_values(mesh, rel, openshift=openshift),
            _platform_values(rel, "cni", openshift=openshift, cni_enabled=True),
        )
    values["istiod"] = deep_merge(
        deep_merge(
            _istiod_values(mesh, cluster, rel, openshift=openshift),
            _platform_values(rel, "istiod", openshift=openshift, cni_enabled=cni_enabled),
        ),
        dict(mesh.spec.istio.values),
    )
    # Fresh containers: no two charts (nor the spec) share a mapping a caller could change.
    return {key: copy.deepcopy(chart_values) for key, chart_values in values.items()}


def _platform_values(
    rel: IstioRelease, chart: str, *, openshift: bool, cni_enabled: bool
) -> dict[str, Any]:
    """The OpenShift switch of the cni or istiod chart, in the form that release reads."""
    if not openshift:
        return {}
    if rel.has(HELM_OPENSHIFT_PROFILE) and cni_enabled:
        # Each chart's files/profile-openshift.yaml (CNI paths, provider multus, privileged,
        # global.platform, istio_cni / pilot.cni). The profile turns CNI on, so without CNI
        # only istiod's global.platform is set (below).
        return {"profile": "openshift"}
    if rel.has(HELM_PLATFORM_PROFILE) or (
        chart == "istiod" and rel.has(HELM_ISTIOD_PLATFORM_VALUE)
    ):
        # >= 1.24: files/profile-platform-openshift.yaml of each chart (`profile: openshift`
        # is unknown there). 1.19-1.23: istiod alone reads global.platform (the proxy's UID
        # then comes from the namespace, no anyuid SCC).
        return {"global": {"platform": "openshift"}}
    return {}


def _cni_values(mesh: Mesh, rel: IstioRelease, *, openshift: bool) -> dict[str, Any]:
    cni = mesh.spec.istio.cni
    values: dict[str, Any] = {}
    if openshift and not (rel.has(HELM_OPENSHIFT_PROFILE) or rel.has(HELM_PLATFORM_PROFILE)):
        # Before the charts had an OpenShift profile: the Multus paths, not chained (as
        # render/istio.py), and what each release's istioctl `openshift` profile adds.
        values.update(OPENSHIFT_CNI_VALUES)
        if rel.has(HELM_CNI_PRIVILEGED_VALUE):
            values["privileged"] = True
        if rel.has(HELM_CNI_PROVIDER_VALUE):
            # The chart then creates the NetworkAttachmentDefinition default/istio-cni.
            values["provider"] = "multus"
    values["excludeNamespaces"] = list(cni.exclude_namespaces)
    # From 1.24 the chart's values are flat, and templates/zzy_descope_legacy.yaml still
    # reads this `cni:` prefix.
    values.update(cni_log_values(rel, cni.log_level))
    return {"cni": values}


def _istiod_values(
    mesh: Mesh, cluster: Cluster, rel: IstioRelease, *, openshift: bool
) -> dict[str, Any]:
    istio = mesh.spec.istio
    # The Helm form of the multi-primary values (istio.io, Install Multi-Primary, Helm tab).
    values: dict[str, Any] = {"global": identity_values(mesh, cluster)}
    if mesh.spec.trust_domain != DEFAULT_TRUST_DOMAIN:
        values["meshConfig"] = {"trustDomain": mesh.spec.trust_domain}
    if istio.revision:
        values["revision"] = istio.revision
    profile_era = rel.has(HELM_OPENSHIFT_PROFILE) or rel.has(HELM_PLATFORM_PROFILE)
    if istio.cni.enabled:
        if rel.has(HELM_PILOT_CNI_VALUE):
            # On OpenShift the profile (1.22-1.23) or the platform profile (>= 1.24) adds
            # provider: multus, which makes the injection template add the default/istio-cni
            # network annotation.
            values["pilot"] = {"cni": {"enabled": True}}
        else:
            values["istio_cni"] = {"enabled": True}
            if openshift and not profile_era:
                # Not chained; the injection template then adds the Multus network annotation.
                values["istio_cni"]["chained"] = False
        if openshift and rel.has(OPENSHIFT_PROFILE_INJECTED_NETWORK):
            # The istioctl profile's injected annotation (the seed's values) until 1.18.
            values["sidecarInjectorWebhook"] = {
                "injectedAnnotations": {
                    "k8s.v1.cni.cncf.io/networks": rel.multus_network_annotation
                }
            }
    elif openshift and rel.has(HELM_PLATFORM_PROFILE):
        # The platform profile turns CNI on; without istio-cni pods would lose their
        # traffic redirection (istio-init is skipped), so turn it off again (MG305 warns).
        values["pilot"] = {"cni": {"enabled": False}}
    return values
