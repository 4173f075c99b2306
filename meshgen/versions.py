"""Every Istio-version boundary meshgen knows, as named facts: one table, one place.

Render and checks ask `release(version).has(FACT)` (or a property built on one); no other
module compares minors. Each fact says where it was read (a public source) and is tested
against the released charts, profiles and CRDs of every minor's last patch
(tests/tools/test_versions_releases.py), so a wrong boundary fails a test, not a cluster.
Boundaries that moved within a minor (backports) are written at patch level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OLDEST_MINOR = 10
NEWEST_MINOR = 30
SUPPORTED = f"1.{OLDEST_MINOR} to 1.{NEWEST_MINOR}"

Version = tuple[int, int, int]

_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)$")


def parse(version: str) -> Version:
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"not a MAJOR.MINOR.PATCH version: {version!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch)


_MINOR = re.compile(r"^1\.([0-9]+)(?:\.([0-9]+))?$")


def minor_of(version: str) -> int:
    """The MINOR of `1.MINOR` or `1.MINOR.PATCH` (an Istio or Kubernetes version); ValueError
    for anything else. The one place a version's text is taken apart besides `parse`."""
    match = _MINOR.match(version)
    if match is None:
        raise ValueError(f"not a 1.MINOR or 1.MINOR.PATCH version: {version!r}")
    return int(match.group(1))


def is_supported(version: str) -> bool:
    major, minor, _ = parse(version)
    return major == 1 and OLDEST_MINOR <= minor <= NEWEST_MINOR


def render_version(version: Version) -> str:
    return ".".join(map(str, version))


@dataclass(frozen=True)
class Fact:
    """Something that holds for the Istio versions in `spans` ([first, end) ranges)."""

    summary: str
    spans: tuple[tuple[Version, Version | None], ...]
    source: str

    def holds(self, version: Version) -> bool:
        return any(first <= version and (end is None or version < end) for first, end in self.spans)

    @property
    def first(self) -> str:
        """The first version the fact holds for, as text."""
        return render_version(self.spans[0][0])

    @property
    def end(self) -> str:
        """The first version after which it no longer holds, as text (`HEAD` if none)."""
        last = self.spans[-1][1]
        return render_version(last) if last is not None else "HEAD"

    @property
    def last_minor(self) -> str:
        """`1.M`: the last minor the fact holds for (with `end` at 1.(M+1).0)."""
        major, minor, _ = parse(self.end)
        return f"{major}.{minor - 1}"


def _fact(
    summary: str,
    source: str,
    *,
    since: str = "1.0.0",
    until: str | None = None,
    spans: tuple[tuple[str, str | None], ...] = (),
) -> Fact:
    ranges = spans or ((since, until),)
    return Fact(summary, tuple((parse(a), parse(b) if b else None) for a, b in ranges), source)


# --- Traffic APIs -------------------------------------------------------------------------
NETWORKING_V1 = _fact(
    "networking.istio.io/v1 and security.istio.io/v1 are served (istioctl before 1.22 "
    "silently skips v1 objects)",
    "https://istio.io/latest/blog/2024/v1-apis/",
    since="1.22.0",
)
LB_LEAST_REQUEST = _fact(
    "DestinationRule loadBalancer.simple accepts LEAST_REQUEST (LEAST_CONN is its deprecated "
    "alias from then on)",
    "https://github.com/istio/api/blob/1.14.0/networking/v1alpha3/destination_rule.proto",
    since="1.14.0",
)
FAILOVER_PRIORITY = _fact(
    "DestinationRule localityLbSetting.failoverPriority exists",
    "https://github.com/istio/api/blob/1.12.0/networking/v1alpha3/destination_rule.proto",
    since="1.12.0",
)

# --- The install: istioctl / operator --------------------------------------------------------
IN_CLUSTER_OPERATOR = _fact(
    "the in-cluster Istio operator (and its IstioOperator CRD) ships",
    "https://istio.io/latest/blog/2024/in-cluster-operator-deprecation-announcement/",
    until="1.24.0",
)
OPENSHIFT_PROFILE_BEYOND_SEED = _fact(
    "the istioctl `openshift` profile sets more than the 1.10 values the seed spells out "
    "(privileged CNI from 1.11, then the Multus provider and platform, then the Helm "
    "profiles)",
    "https://github.com/istio/istio/pull/34232",
    since="1.11.0",
)
OPENSHIFT_PROFILE_INJECTED_NETWORK = _fact(
    "the istioctl `openshift` profile injects the k8s.v1.cni.cncf.io/networks annotation "
    "through sidecarInjectorWebhook.injectedAnnotations",
    "https://github.com/istio/istio/blob/1.18.7/manifests/profiles/openshift.yaml",
    until="1.19.0",
)
MULTUS_NETWORK_NAMESPACED = _fact(
    "the injected Multus network is `default/istio-cni` (the cni chart's own "
    "NetworkAttachmentDefinition in `default`), not a per-namespace `istio-cni`",
    "https://github.com/istio/istio/blob/1.19.10/manifests/charts/istio-cni/templates/"
    "network-attachment-definition.yaml",
    since="1.19.0",
)
CNI_LOGGING_LEVEL = _fact(
    "the cni chart reads cni.logging.level; cni.logLevel is a no-op",
    "https://github.com/istio/istio/blob/1.23.6/manifests/charts/istio-cni/values.yaml",
    since="1.23.0",
)

# --- The install: Helm charts (each chart reads only its own values) --------------------------
HELM_CNI_PRIVILEGED_VALUE = _fact(
    "the cni chart reads cni.privileged (added for 1.13, backported to 1.11.6 and 1.12.2; "
    "from 1.22 the DaemonSet template decides it alone)",
    "https://github.com/istio/istio/pull/36583",
    spans=(("1.11.6", "1.12.0"), ("1.12.2", "1.22.0")),
)
HELM_CNI_PROVIDER_VALUE = _fact(
    "the cni chart reads cni.provider (`multus` makes it create the NetworkAttachmentDefinition)",
    "https://github.com/istio/istio/blob/1.19.10/manifests/charts/istio-cni/values.yaml",
    since="1.19.0",
)
HELM_OPENSHIFT_PROFILE = _fact(
    "every chart has files/profile-openshift.yaml, selected with `profile: openshift`",
    "https://github.com/istio/istio/tree/1.21.6/manifests/charts/istio-cni/files",
    spans=(("1.21.0", "1.24.0"),),
)
HELM_PLATFORM_PROFILE = _fact(
    "every chart applies files/profile-platform-<global.platform>.yaml (`profile: openshift` "
    "is an unknown profile from here)",
    "https://github.com/istio/istio/tree/1.24.6/manifests/charts/istio-cni/files",
    since="1.24.0",
)
HELM_ISTIOD_PLATFORM_VALUE = _fact(
    "the istiod chart reads global.platform (OpenShift: the proxy UID from the namespace)",
    "https://github.com/istio/istio/blob/1.19.10/manifests/charts/istio-control/"
    "istio-discovery/values.yaml",
    since="1.19.0",
)
HELM_PILOT_CNI_VALUE = _fact(
    "the istiod chart reads pilot.cni.enabled instead of istio_cni.enabled",
    "https://github.com/istio/istio/blob/1.22.8/manifests/charts/istio-control/"
    "istio-discovery/values.yaml",
    since="1.22.0",
)

# --- Revisions (canary upgrades, meshgen/render/control_planes.py) -----------------------------
HELM_BASE_DEFAULT_REVISION = _fact(
    "the base chart reads defaultRevision (the istiod-default-validator webhook points at "
    "that revision's istiod)",
    "https://istio.io/latest/news/releases/1.12.x/announcing-1.12/upgrade-notes/",
    since="1.12.0",
)
HELM_REVISION_TAGS_SEPARATED = _fact(
    "the istiod chart separates the revisionTags' webhooks with `---` (before, several tags "
    "in one release render one malformed document: only the last tag survives)",
    "https://github.com/istio/istio/blob/1.17.8/manifests/charts/istio-control/"
    "istio-discovery/templates/revision-tags.yaml",
    since="1.17.0",
)
ISTIOCTL_CNI_FOLLOWS_COMPONENT = _fact(
    "istioctl sets values.pilot.cni.enabled from components.cni.enabled, whatever the "
    "IstioOperator's values say, so a revision without istio-cni gets istio-init",
    "https://github.com/istio/istio/blob/1.24.6/operator/pkg/render/manifest.go",
    since="1.24.0",
)
TOP_LEVEL_TAG = _fact(
    "`istioctl tag` is a top-level command (before: `istioctl x revision tag`)",
    "https://istio.io/latest/news/releases/1.11.x/announcing-1.11/change-notes/",
    since="1.11.0",
)
TOP_LEVEL_UNINSTALL = _fact(
    "`istioctl uninstall` is a top-level command (before: `istioctl x uninstall`)",
    "https://github.com/istio/istio/blob/1.15.7/istioctl/cmd/root.go",
    since="1.15.0",
)

# --- Platform and operations -------------------------------------------------------------------
OPENSHIFT_SIDECAR_NEEDS_ANYUID = _fact(
    "on OpenShift the sidecar runs as UID 1337, so injected namespaces need the anyuid SCC",
    "https://istio.io/v1.19/docs/setup/platform-setup/openshift/",
    until="1.20.0",
)
TOP_LEVEL_CREATE_REMOTE_SECRET = _fact(
    "`istioctl create-remote-secret` is a top-level command (before: `istioctl x ...`)",
    "https://istio.io/v1.12/docs/setup/install/multicluster/multi-primary/",
    since="1.12.0",
)
REMOTE_SECRET_WITHOUT_TOKEN_SECRETS = _fact(
    "istioctl creates remote secrets on Kubernetes >= 1.24 (no service-account token Secrets)",
    "https://github.com/istio/istio/pull/39003",
    since="1.14.0",
)
OLDEST_KUBERNETES_124 = _fact(
    "the oldest Kubernetes the release supports is 1.24 or newer",
    "https://istio.io/latest/docs/releases/supported-releases/",
    since="1.18.0",
)

# Kubernetes (not Istio) from 1.24 no longer creates a token Secret for each ServiceAccount
# (LegacyServiceAccountTokenNoAutoGeneration on by default: "Reduction of Secret-based Service
# Account Tokens", https://kubernetes.io/blog/2022/05/03/kubernetes-1-24-release-announcement/).
# istioctl before 1.14 then cannot create remote secrets (istio/istio#38246), and the
# istio-reader token must be a Secret of meshgen's (render/secrets.py).
KUBERNETES_NO_TOKEN_SECRETS_MINOR = 24


def kubernetes_makes_token_secrets(version: str) -> bool:
    """Whether Kubernetes `version` (1.MINOR[.PATCH]) still creates ServiceAccount token
    Secrets by itself."""
    return minor_of(version) < KUBERNETES_NO_TOKEN_SECRETS_MINOR


FACTS: dict[str, Fact] = {
    name: value for name, value in globals().items() if isinstance(value, Fact)
}


@dataclass(frozen=True)
class IstioRelease:
    """One Istio release (MAJOR.MINOR.PATCH), asked about the facts above."""

    version: Version

    @property
    def minor(self) -> int:
        return self.version[1]

    def has(self, fact: Fact) -> bool:
        return fact.holds(self.version)

    @property
    def networking_api_version(self) -> str:
        return (
            "networking.istio.io/v1" if self.has(NETWORKING_V1) else ("networking.istio.io/v1beta1")
        )

    @property
    def security_api_version(self) -> str:
        return "security.istio.io/v1" if self.has(NETWORKING_V1) else "security.istio.io/v1beta1"

    @property
    def has_in_cluster_operator(self) -> bool:
        return self.has(IN_CLUSTER_OPERATOR)

    @property
    def uses_openshift_profile(self) -> bool:
        """Whether the IstioOperator delegates OpenShift CNI settings to `profile: openshift`.

        1.10 spells the profile's values out (the seed setup does exactly that; its profile
        has nothing more). From 1.11 the profile carries version-specific extras (privileged
        CNI, then the Multus provider and platform), so the profile that ships with the
        matching istioctl is the only correct source.
        """
        return self.has(OPENSHIFT_PROFILE_BEYOND_SEED)

    @property
    def per_namespace_nad(self) -> bool:
        return not self.has(MULTUS_NETWORK_NAMESPACED)

    @property
    def cni_log_level_path(self) -> tuple[str, ...]:
        return ("logging", "level") if self.has(CNI_LOGGING_LEVEL) else ("logLevel",)

    @property
    def create_remote_secret(self) -> str:
        return (
            "istioctl create-remote-secret"
            if self.has(TOP_LEVEL_CREATE_REMOTE_SECRET)
            else ("istioctl x create-remote-secret")
        )

    @property
    def multus_network_annotation(self) -> str:
        return "default/istio-cni" if self.has(MULTUS_NETWORK_NAMESPACED) else "istio-cni"


# Kubernetes minors each Istio minor supports (istio.io data/compatibility/supportStatus.yaml,
# "Supported releases"), as (oldest, newest) 1.x minors.
KUBERNETES_SUPPORT: dict[int, tuple[int, int]] = {
    10: (18, 21),
    11: (18, 22),
    12: (19, 22),
    13: (20, 23),
    14: (21, 24),
    15: (22, 25),
    16: (22, 25),
    17: (23, 26),
    18: (24, 27),
    19: (25, 28),
    20: (25, 29),
    21: (26, 29),
    22: (27, 30),
    23: (27, 30),
    24: (28, 31),
    25: (29, 32),
    26: (29, 33),
    27: (29, 33),
    28: (30, 34),
    29: (31, 35),
    30: (32, 36),
}


def release(version: str) -> IstioRelease:
    return IstioRelease(parse(version))


# The Istio versions each Sail Operator release accepts in `Istio.spec.version` and
# `IstioCNI.spec.version`: pkg/istioversion/versions.yaml at each release tag of
# github.com/istio-ecosystem/sail-operator (the entries with a `version:`; the CRD enum also
# keeps end-of-life versions, which the operator refuses to reconcile).
SAIL_RELEASES: dict[str, tuple[str, ...]] = {
    "1.0.0": ("1.24.3", "1.24.2", "1.24.1", "1.23.5", "1.23.4", "1.23.3", "1.23.0"),
    "1.25.2": (
        "1.25.2",
        "1.25.1",
        "1.24.4",
        "1.24.3",
        "1.24.2",
        "1.24.1",
        "1.24.0",
        "1.23.5",
        "1.23.4",
        "1.23.3",
        "1.23.2",
        "1.22.8",
        "1.22.7",
        "1.22.6",
        "1.22.5",
        "1.21.6",
    ),
    "1.26.3": (
        "1.26.3",
        "1.26.2",
        "1.26.1",
        "1.26.0",
        "1.25.3",
        "1.25.2",
        "1.25.1",
        "1.24.6",
        "1.24.5",
        "1.24.4",
        "1.24.3",
        "1.24.2",
        "1.24.1",
        "1.24.0",
    ),
    "1.27.3": (
        "1.27.3",
        "1.27.2",
        "1.27.1",
        "1.27.0",
        "1.26.6",
        "1.26.5",
        "1.26.4",
        "1.26.3",
        "1.26.2",
        "1.26.1",
        "1.26.0",
        "1.25.5",
        "1.25.4",
        "1.25.3",
        "1.25.2",
        "1.25.1",
        "1.24.6",
        "1.24.5",
        "1.24.4",
        "1.24.3",
        "1.24.2",
        "1.24.1",
        "1.24.0",
    ),
    "1.28.3": (
        "1.28.3",
        "1.28.2",
        "1.28.1",
        "1.28.0",
        "1.27.5",
        "1.27.4",
        "1.27.3",
        "1.27.2",
        "1.27.1",
        "1.27.0",
        "1.26.8",
        "1.26.7",
        "1.26.6",
        "1.26.5",
        "1.26.4",
        "1.26.3",
        "1.26.2",
        "1.26.1",
        "1.26.0",
    ),
    "1.29.2": (
        "1.29.2",
        "1.29.1",
        "1.29.0",
        "1.28.6",
        "1.28.5",
        "1.28.4",
        "1.28.3",
        "1.28.2",
        "1.28.1",
        "1.28.0",
        "1.27.9",
        "1.27.8",
        "1.27.7",
        "1.27.6",
        "1.27.5",
        "1.27.4",
        "1.27.3",
        "1.27.2",
        "1.27.1",
        "1.27.0",
    ),
    "1.30.3": (
        "1.30.3",
        "1.30.2",
        "1.30.1",
        "1.30.0",
        "1.29.6",
        "1.29.5",
        "1.29.4",
        "1.29.3",
        "1.29.2",
        "1.29.1",
        "1.29.0",
        "1.28.10",
        "1.28.9",
        "1.28.8",
        "1.28.7",
        "1.28.6",
        "1.28.5",
        "1.28.4",
        "1.28.3",
        "1.28.2",
        "1.28.1",
        "1.28.0",
    ),
}


def sail_releases_for(version: str) -> tuple[str, ...]:
    """The Sail Operator releases whose versions.yaml lists this Istio version, oldest first."""
    return tuple(name for name, accepted in SAIL_RELEASES.items() if version in accepted)


def _sail_versions() -> list[Version]:
    return sorted({parse(v) for accepted in SAIL_RELEASES.values() for v in accepted})


def sail_version_range() -> str:
    """`1.21.6 to 1.30.3`: the oldest and newest Istio versions some Sail release accepts."""
    known = _sail_versions()
    return f"{render_version(known[0])} to {render_version(known[-1])}"


def nearest_sail_version(version: str) -> str:
    """The Istio version some Sail release accepts that is nearest to `version`: the newest
    patch of the same minor, else the newest patch of the nearest minor (newer on a tie)."""
    wanted = parse(version)
    known = _sail_versions()

    def distance(candidate: Version) -> tuple[int, int, int]:
        return (abs(candidate[1] - wanted[1]), -candidate[1], -candidate[2])

    return render_version(min(known, key=distance))
