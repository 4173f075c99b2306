"""Locality failover's dependency on outlier detection, shared by render and the checks
(a module of its own, so that `meshgen validate` does not import the render package)."""

from __future__ import annotations

from typing import Any

from meshgen.spec_traffic import TrafficPolicy

# Locality failover only moves traffic away from endpoints that outlier detection has ejected:
# without `outlierDetection` Envoy never marks a locality unhealthy, so `failover` and
# `failoverPriority` silently do nothing (Istio docs, "Locality failover": "outlier detection
# must be configured"). meshgen chooses to add this default rather than reject the spec: five
# consecutive 5xx within a 10s scan eject an endpoint for 30s, Istio's documented example
# values. The MG4xx checks warn when it is added, so the user sees it and can set their own.
DEFAULT_OUTLIER_DETECTION: dict[str, Any] = {
    "consecutive5xxErrors": 5,
    "interval": "10s",
    "baseEjectionTime": "30s",
}


def needs_default_outlier_detection(
    policy: TrafficPolicy | None, inherited: TrafficPolicy | None = None
) -> bool:
    """Whether `policy` sets locality failover (failover or failoverPriority, enabled) and no
    outlier detection applies to it. For a subset's policy pass the service's as `inherited`:
    Istio merges subset policies over the service's field by field, so the service's
    outlierDetection (its own, or the default added to it) already covers the subset."""
    if policy is None or policy.load_balancer is None:
        return False
    locality = policy.load_balancer.locality
    if locality is None or not locality.enabled:
        return False
    if not (locality.failover or locality.failover_priority):
        return False
    if policy.outlier_detection is not None:
        return False
    if inherited is None:
        return True
    return inherited.outlier_detection is None and not needs_default_outlier_detection(inherited)
