"""The Istio version matrix as data: what changes between minors that meshgen emits.

Every boundary cites ../shared/reference/istio.md (section numbers below), which in turn
cites the istio/istio tags it was read from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OLDEST_MINOR = 10
NEWEST_MINOR = 30
SUPPORTED = f"1.{OLDEST_MINOR} to 1.{NEWEST_MINOR}"

_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)$")


def parse(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"not a MAJOR.MINOR.PATCH version: {version!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch)


def is_supported(version: str) -> bool:
    major, minor, _ = parse(version)
    return major == 1 and OLDEST_MINOR <= minor <= NEWEST_MINOR


@dataclass(frozen=True)
class IstioRelease:
    """What meshgen must emit differently for one Istio minor (1.x)."""

    minor: int

    @property
    def networking_api_version(self) -> str:
        # §5.1: v1 is served from 1.22; istioctl <= 1.21 silently skips v1 objects.
        return "networking.istio.io/v1" if self.minor >= 22 else "networking.istio.io/v1beta1"

    @property
    def has_in_cluster_operator(self) -> bool:
        # §1.5: deprecated in 1.23, removed in 1.24.
        return self.minor <= 23

    @property
    def uses_openshift_profile(self) -> bool:
        """Whether the IstioOperator delegates OpenShift CNI settings to `profile: openshift`.

        1.10-1.11 spell the profile's values out (the seed setup does exactly that); from 1.12
        the profile carries version-specific extras (privileged CNI in 1.12-1.18, the multus
        provider and platform from 1.19, the Helm platform profile from 1.24: §1.2), so the
        profile that ships with the matching istioctl is the only correct source.
        """
        return self.minor >= 12

    @property
    def per_namespace_nad(self) -> bool:
        # §7: a NetworkAttachmentDefinition `istio-cni` per app namespace up to 1.18; from
        # 1.19 the cni chart creates one in `default`.
        return self.minor <= 18

    @property
    def cni_log_level_path(self) -> tuple[str, ...]:
        # §1.3: values.cni.logLevel is a no-op from 1.23; use values.cni.logging.level.
        return ("logging", "level") if self.minor >= 23 else ("logLevel",)

    @property
    def create_remote_secret(self) -> str:
        # §3: `istioctl x create-remote-secret` up to 1.18, top level since 1.12.
        return "istioctl create-remote-secret" if self.minor >= 12 else (
            "istioctl x create-remote-secret"
        )

    @property
    def multus_network_annotation(self) -> str:
        # §1.4: the injected Multus network is `istio-cni` up to 1.18, `default/istio-cni` after.
        return "istio-cni" if self.minor <= 18 else "default/istio-cni"


# Kubernetes minors each Istio minor supports (istio.io data/compatibility/supportStatus.yaml,
# "Supported releases"), as (oldest, newest) 1.x minors.
KUBERNETES_SUPPORT: dict[int, tuple[int, int]] = {
    10: (18, 21), 11: (18, 22), 12: (19, 22), 13: (20, 23), 14: (21, 24), 15: (22, 25),
    16: (22, 25), 17: (23, 26), 18: (24, 27), 19: (25, 28), 20: (25, 29), 21: (26, 29),
    22: (27, 30), 23: (27, 30), 24: (28, 31), 25: (29, 32), 26: (29, 33), 27: (29, 33),
    28: (30, 34), 29: (31, 35), 30: (32, 36),
}


def release(version: str) -> IstioRelease:
    _, minor, _ = parse(version)
    return IstioRelease(minor)

