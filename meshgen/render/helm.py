"""Helm values for Istio's `base`, `cni` and `istiod` charts (installer `helm`).

The GitOps engines install these charts (render/gitops.py); this module decides what goes
into each chart's values for the pinned Istio minor. The OpenShift knob moved three times
(reference/istio.md §1.2, §1.3, §9 item 2), and each chart reads only its own values, so the
rows of the OpenShift profile table in §1.2 are spelled out per chart below (OpenShift with
istio-cni; on Kubernetes only the cni logging and istio_cni/pilot.cni renames of §1.3 apply):

| Istio     | every chart               | cni chart (`cni:`)            | istiod chart          |
|-----------|---------------------------|-------------------------------|-----------------------|
| 1.10-1.13 | -                         | Multus paths, chained: false  | istio_cni, annotation |
| 1.14-1.18 | -                         | + privileged: true            | istio_cni, annotation |
| 1.19-1.20 | global.platform=openshift | + provider: multus            | istio_cni             |
| 1.21-1.23 | profile: openshift        | (the chart's profile)         | istio_cni / pilot.cni |
| >= 1.24   | global.platform=openshift | (the chart's platform profile)| pilot.cni             |

`mesh.spec.istio.values` is deep-merged last into the istiod values, as render/istio.py does
for the IstioOperator.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from meshgen.render.istio import (
    DEFAULT_TRUST_DOMAIN,
    OPENSHIFT_CNI_VALUES,
    cni_log_values,
    identity_values,
)
from meshgen.render.objects import ISTIO_NAMESPACE, deep_merge
from meshgen.spec import Cluster, Mesh
from meshgen.versions import IstioRelease, release

# reference/istio.md §1.5: the upstream Helm repository of the Istio charts.
HELM_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"


@dataclass(frozen=True)
class Chart:
    """One Istio chart as a GitOps engine installs it."""

    key: str  # the key of helm_values(): "base", "cni" or "istiod"
    chart: str  # the chart's name in HELM_REPOSITORY
    release: str  # the Helm release name (istio.io's Helm install guide uses these)
    namespace: str


def charts(mesh: Mesh) -> tuple[Chart, ...]:
    """The charts to install, in install order (CRDs first, then CNI, then the control plane)."""
    cni = mesh.spec.istio.cni
    return (
        Chart("base", "base", "istio-base", ISTIO_NAMESPACE),
        *((Chart("cni", "cni", "istio-cni", cni.namespace),) if cni.enabled else ()),
        Chart("istiod", "istiod", "istiod", ISTIO_NAMESPACE),
    )


def helm_values(mesh: Mesh, cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The values of each chart of charts(mesh), by Chart.key."""
    rel = release(mesh.spec.istio.version)
    openshift = cluster.platform == "openshift"
    cni_enabled = mesh.spec.istio.cni.enabled
    platform = _platform_values(rel, openshift=openshift, cni_enabled=cni_enabled)
    values: dict[str, dict[str, Any]] = {"base": dict(platform)}
    if cni_enabled:
        values["cni"] = deep_merge(_cni_values(mesh, rel, openshift=openshift), platform)
    values["istiod"] = deep_merge(
        deep_merge(_istiod_values(mesh, cluster, rel, openshift=openshift), platform),
        dict(mesh.spec.istio.values),
    )
    # Fresh containers: no two charts (nor the spec) share a mapping a caller could change.
    return {key: copy.deepcopy(chart_values) for key, chart_values in values.items()}


def _platform_values(rel: IstioRelease, *, openshift: bool, cni_enabled: bool) -> dict[str, Any]:
    """The OpenShift switch every chart gets (reference/istio.md §1.2, §1.3, §1.5)."""
    if not openshift or rel.minor < 19:
        # Rows 1.8-1.11, 1.12, 1.14-1.18: no platform value yet; the cni and istiod values
        # below carry everything.
        return {}
    if 21 <= rel.minor <= 23 and cni_enabled:
        # Row 1.21-1.23: the Helm-side profile files/profile-openshift.yaml of each chart
        # (CNI paths, provider multus, global.platform, istio_cni / pilot.cni). The profile
        # turns CNI on, so without CNI only its global.platform is set (next line).
        return {"profile": "openshift"}
    # Row 1.19-1.20 (global.platform next to the explicit CNI values) and row 1.24-HEAD
    # (the platform profile files/profile-platform-openshift.yaml). `profile: openshift`
    # fails on >= 1.24 charts ("unknown profile"). Istiod also reads the platform itself: on
    # OpenShift it takes the proxy's UID from the namespace (§1.3, anyuid).
    return {"global": {"platform": "openshift"}}


def _cni_values(mesh: Mesh, rel: IstioRelease, *, openshift: bool) -> dict[str, Any]:
    cni = mesh.spec.istio.cni
    values: dict[str, Any] = {}
    if openshift and rel.minor < 21:
        # Rows 1.8-1.11 and 1.12: the Multus paths, not chained (as render/istio.py).
        # 1.12-1.13's profile also made the DaemonSet privileged with a k8s overlay, which
        # chart values cannot express.
        values.update(OPENSHIFT_CNI_VALUES)
        if rel.minor >= 14:
            values["privileged"] = True  # rows 1.14-1.18 and 1.19-1.20
        if rel.minor >= 19:
            # Row 1.19-1.20: the chart creates the NetworkAttachmentDefinition
            # default/istio-cni (§7).
            values["provider"] = "multus"
    values["excludeNamespaces"] = list(cni.exclude_namespaces)
    # From 1.24 the chart's values are flat, and templates/zzy_descope_legacy.yaml still
    # reads this `cni:` prefix (§1.3).
    values.update(cni_log_values(rel, cni.log_level))
    return {"cni": values}


def _istiod_values(
    mesh: Mesh, cluster: Cluster, rel: IstioRelease, *, openshift: bool
) -> dict[str, Any]:
    istio = mesh.spec.istio
    # reference/istio.md §1.1: the Helm form of the multi-primary values.
    values: dict[str, Any] = {"global": identity_values(mesh, cluster)}
    if mesh.spec.trust_domain != DEFAULT_TRUST_DOMAIN:
        values["meshConfig"] = {"trustDomain": mesh.spec.trust_domain}
    if istio.revision:
        values["revision"] = istio.revision
    if istio.cni.enabled:
        if rel.minor >= 22:
            # §1.3: pilot.cni replaces istio_cni in 1.22. On OpenShift the profile (1.22-1.23)
            # or the platform profile (>= 1.24) adds provider: multus, which makes the
            # injection template add the default/istio-cni network annotation (§1.4).
            values["pilot"] = {"cni": {"enabled": True}}
        else:
            values["istio_cni"] = {"enabled": True}
            if openshift and rel.minor < 21:
                # Rows 1.8-1.20 (1.21's profile sets it itself): not chained; the injection
                # template then adds the Multus network annotation (§1.4).
                values["istio_cni"]["chained"] = False
        if openshift and rel.minor <= 18:
            # Rows 1.8-1.11 to 1.14-1.18: the profile's injected annotation (the seed's
            # values); removed from the profile in 1.19 (§1.2, §1.4).
            values["sidecarInjectorWebhook"] = {
                "injectedAnnotations": {
                    "k8s.v1.cni.cncf.io/networks": rel.multus_network_annotation
                }
            }
    elif openshift and rel.minor >= 24:
        # The platform profile turns CNI on; without istio-cni pods would lose their
        # traffic redirection (istio-init is skipped), so turn it off again (MG305 warns).
        values["pilot"] = {"cni": {"enabled": False}}
    return values
