"""MG3xx Istio checks and MG105: each bad spec -> exact codes, severities and line:col."""

from __future__ import annotations

import pytest

from tests.helpers import Edit, diagnose, edit, summary


def version(text: str) -> Edit:
    return 'version: "1.10.0"', f'version: "{text}"'


def istio(*lines: str, at: str = "1.10.0") -> Edit:
    """Lines added under spec.istio right after `version` (SEED line 7), from line 8 on."""
    return 'version: "1.10.0"', "\n    ".join((f'version: "{at}"', *lines))


KUBERNETES = [
    ("name: cluster1\n      platform: openshift", "name: cluster1"),
    ("name: cluster2\n      platform: openshift", "name: cluster2"),
]

K8S_124 = (
    "serviceCIDR: 172.30.0.0/16",
    'serviceCIDR: 172.30.0.0/16\n      kubernetesVersion: "1.24"',
)

CASES: list[tuple[str, list[Edit], list[str]]] = [
    ("too-old", [version("1.9.0")], ["MG301 error 7:14"]),
    ("too-new", [version("1.31.0")], ["MG301 error 7:14"]),
    ("major-2", [version("2.0.0")], ["MG301 error 7:14"]),
    ("newest", [version("1.30.5")], []),
    ("operator-removed", [istio("installer: operator", at="1.24.0")], ["MG302 error 8:16"]),
    ("operator-1.23", [istio("installer: operator", at="1.23.3")], []),
    (
        "operator-unsupported-version",
        [istio("installer: operator", at="1.9.0")],
        ["MG301 error 7:14"],
    ),
    ("helm", [istio("installer: helm")], []),
    ("sail", [istio("installer: sail", at="1.26.0")], []),
    # Sail's versions.yaml files decide (meshgen.versions.SAIL_RELEASES): 1.23.0 is listed by
    # Sail 1.0.0, 1.23.6 by no release, nothing before 1.21.6.
    ("sail-1.23.0", [istio("installer: sail", at="1.23.0")], []),
    ("sail-1.21.6", [istio("installer: sail", at="1.21.6")], []),
    ("sail-unlisted-patch", [istio("installer: sail", at="1.23.6")], ["MG303 error 7:14"]),
    ("sail-too-old", [istio("installer: sail", at="1.20.8")], ["MG303 error 7:14"]),
    ("istioctl", [istio("installer: istioctl", at="1.26.0")], []),
    (
        "owned-values",
        [
            istio(
                "values:",
                "  global:",
                "    meshID: other",  # line 10
                "    network: network2",  # line 11
                "    multiCluster:",
                "      clusterName: c1",  # line 13
                "      enabled: true",
            )
        ],
        ["MG304 error 10:9", "MG304 error 11:9", "MG304 error 13:11"],
    ),
    ("flow-values", [istio("values: {global: {meshID: other}}")], ["MG304 error 8:23"]),
    ("free-values", [istio("values: {global: {proxy: {logLevel: debug}}, meshID: x}")], []),
    ("cni-off-openshift", [istio("cni: {enabled: false}")], ["MG305 warning 8:20"]),
    ("cni-off-kubernetes", [istio("cni: {enabled: false}"), *KUBERNETES], []),
    # MG307: istioctl < 1.14 cannot make remote secrets on Kubernetes >= 1.24 (SEED line 14).
    ("old-istioctl-new-k8s", [K8S_124], ["MG307 warning 15:26"]),
    ("new-istioctl-new-k8s", [K8S_124, version("1.14.0")], []),
    ("revision-default", [istio("revision: default")], ["MG306 warning 8:15"]),
    ("revision-named", [istio("revision: canary")], []),
    (
        "external-secrets-no-store",
        [("broker: cluster1", "broker: cluster1\n  secrets:\n    provider: external-secrets")],
        ["MG105 error 11:15"],
    ),
    (
        "external-secrets",
        [
            (
                "broker: cluster1",
                "broker: cluster1\n  secrets:\n"
                "    provider: external-secrets\n    store: {name: vault}",
            )
        ],
        [],
    ),
    (
        "placeholder-secrets",
        [("broker: cluster1", "broker: cluster1\n  secrets:\n    provider: placeholder")],
        [],
    ),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_istio(edits: list[Edit], expected: list[str]) -> None:
    assert summary(diagnose(edit(*edits))) == expected


def test_unsupported_version_hint_lists_the_range() -> None:
    [diag] = diagnose(edit(version("1.9.0")))
    assert diag.message == "Istio 1.9.0 is not supported by this meshgen version"
    assert "1.10 to 1.30" in (diag.hint or "")


def test_operator_message_names_the_removal() -> None:
    [diag] = diagnose(edit(istio("installer: operator", at="1.24.0")))
    assert "removed in 1.24" in diag.message
    assert "istioctl" in (diag.hint or "")


@pytest.mark.parametrize(
    ("values", "hint"),
    [
        ("{global: {meshID: x}}", "set spec.meshID instead"),
        ("{global: {network: x}}", "set spec.network instead"),
        ("{global: {multiCluster: {clusterName: x}}}", "cluster's name"),
    ],
)
def test_owned_value_hints(values: str, hint: str) -> None:
    [diag] = diagnose(edit(istio(f"values: {values}")))
    assert hint in (diag.hint or "")


def test_openshift_cni_warning_points_at_a_cluster() -> None:
    [diag] = diagnose(edit(istio("cni: {enabled: false}")))
    assert 'cluster "cluster1" (and 1 more) runs OpenShift' in diag.message
    assert [str(r.location) for r in diag.related] == ["mesh.yaml:13:17"]


@pytest.mark.parametrize(
    ("at", "nearest", "releases"),
    [
        ("1.23.6", "1.23.5", "Sail 1.0.0, 1.25.2"),
        ("1.10.0", "1.21.6", "Sail 1.25.2"),
        ("1.22.0", "1.22.8", "Sail 1.25.2"),
    ],
)
def test_sail_hint_names_the_nearest_accepted_version(at: str, nearest: str, releases: str) -> None:
    [diag] = diagnose(edit(istio("installer: sail", at=at)))
    assert diag.code == "MG303"
    assert f"no Sail Operator release accepts Istio {at}" in diag.message
    assert diag.hint == (
        f'use version "{nearest}" (accepted by {releases}), or installer: istioctl or helm'
    )
