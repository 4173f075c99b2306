"""Tests for meshgen.validate: every MG1xx diagnostic at its exact FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshgen.diagnostics import Diagnostic
from meshgen.load import load_file, load_text
from meshgen.spec import Mesh
from meshgen.validate import validate

F = "mesh.yaml"
EXAMPLE = Path(__file__).parent.parent / "examples" / "openshift-submariner" / "mesh.yaml"

# The smallest valid spec; the cases below edit it. Line numbers, for reading the tables:
BASE = """\
apiVersion: meshgen.dev/v1alpha1
kind: Mesh
metadata:
  name: mesh1
spec:
  istio:
    version: "1.10.0"
  clusters:
    - name: cluster1
      podCIDR: 10.128.0.0/14
      serviceCIDR: 172.30.0.0/16
"""
#  1 apiVersion        5 spec:           9     - name: cluster1
#  2 kind              6   istio:       10       podCIDR: 10.128.0.0/14
#  3 metadata:         7     version:   11       serviceCIDR: 172.30.0.0/16
#  4   name: mesh1     8   clusters:    12   services: (when SERVICE is appended)

SERVICE = """\
  services:
    - name: hello
      namespace: sample
"""
# 12   services:   13     - name: hello   14       namespace: sample   15 ...


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def service(extra: str = "") -> str:
    return BASE + SERVICE + extra


def run(text: str) -> tuple[Mesh | None, list[Diagnostic]]:
    loaded, diags = load_text(text, F)
    assert diags == []
    assert loaded is not None
    return validate(loaded)


# (id, spec text, code, str(location), a substring of the hint or None)
CASES: list[tuple[str, str, str, str, str | None]] = [
    # MG101: unknown field, at the key.
    (
        "typo-installer",
        edit("    version", "    instaler: helm\n    version"),
        "MG101",
        "mesh.yaml:7:5",
        "did you mean 'installer'?",
    ),
    (
        "typo-top-level",
        edit("kind: Mesh\n", "kind: Mesh\nmetdata: {}\n"),
        "MG101",
        "mesh.yaml:3:1",
        "did you mean 'metadata'?",
    ),
    (
        "no-close-match",
        edit("kind: Mesh\n", "kind: Mesh\nzzzqqq: 1\n"),
        "MG101",
        "mesh.yaml:3:1",
        "allowed fields: apiVersion, kind, metadata, spec",
    ),
    (
        "unknown-in-flow-map",
        edit("name: mesh1", "{name: mesh1, colour: red}"),
        "MG101",
        "mesh.yaml:4:17",
        "allowed fields: name",
    ),
    # MG102: wrong type, at the value.
    ("version-float", edit('"1.10.0"', "1.10"), "MG102", "mesh.yaml:7:14", '"1.10.0"'),
    ("version-int", edit('"1.10.0"', "1"), "MG102", "mesh.yaml:7:14", 'write "1"'),
    (
        "enabled-yes",
        edit('    version: "1.10.0"\n', '    version: "1.10.0"\n    cni:\n      enabled: yes\n'),
        "MG102",
        "mesh.yaml:9:16",
        "true or false",
    ),
    (
        "port-number-quoted",
        service('      ports:\n        - {name: http, number: "5000"}\n'),
        "MG102",
        "mesh.yaml:16:32",
        "without quotes",
    ),
    ("name-int", edit("name: mesh1", "name: 7"), "MG102", "mesh.yaml:4:9", 'quote it: "7"'),
    ("spec-null", BASE.split("spec:")[0] + "spec:\n", "MG102", "mesh.yaml:5:6", None),
    (
        "clusters-mapping",
        BASE.split("  clusters:")[0] + "  clusters: {name: cluster1}\n",
        "MG102",
        "mesh.yaml:8:13",
        None,
    ),
    ("document-list", "- 1\n", "MG102", "mesh.yaml:1:1", None),
    # A label named `version` is not the Istio version: no release hint.
    (
        "label-version-float",
        service("      subsets:\n        - {name: v1, labels: {version: 1.0}}\n"),
        "MG102",
        "mesh.yaml:16:40",
        'quote it: "1.0"',
    ),
    # MG103: missing field, at the enclosing mapping.
    (
        "missing-version",
        edit('    version: "1.10.0"\n', "    installer: helm\n"),
        "MG103",
        "mesh.yaml:7:5",
        'version: "1.10.0"',
    ),
    (
        "missing-podCIDR",
        edit("      podCIDR: 10.128.0.0/14\n", ""),
        "MG103",
        "mesh.yaml:9:7",
        "overlap",
    ),
    (
        "missing-metadata-name",
        edit("metadata:\n  name: mesh1\n", "metadata: {}\n"),
        "MG103",
        "mesh.yaml:3:11",
        None,
    ),
    # MG104: values that break a rule.
    (
        "name-path-traversal",
        edit("name: cluster1", "name: ../x"),
        "MG104",
        "mesh.yaml:9:13",
        "did you mean 'x'?",
    ),
    (
        "name-uppercase-underscore",
        edit("name: cluster1", "name: Cluster_1"),
        "MG104",
        "mesh.yaml:9:13",
        "did you mean 'cluster-1'?",
    ),
    ("name-64-chars", edit("name: cluster1", "name: " + "a" * 64), "MG104", "mesh.yaml:9:13", None),
    (
        "service-starts-with-digit",
        edit("name: hello", "name: 1hello", service()),
        "MG104",
        "mesh.yaml:13:13",
        None,
    ),
    ("cidr-prefix-33", edit("10.128.0.0/14", "10.0.0.0/33"), "MG104", "mesh.yaml:10:16", None),
    (
        "cidr-host-bits",
        edit("10.128.0.0/14", "10.0.0.1/8"),
        "MG104",
        "mesh.yaml:10:16",
        "write 10.0.0.0/8",
    ),
    # libyaml rejects ':' in plain scalars inside flow collections: quote IPv6 there.
    (
        "cidr-host-bits-flow-list",
        edit("10.128.0.0/14", '["fd00::/56", 10.0.0.1/8]'),
        "MG104",
        "mesh.yaml:10:30",
        "write 10.0.0.0/8",
    ),
    (
        "cidr-host-bits-block-list",
        edit("podCIDR: 10.128.0.0/14", "podCIDR:\n        - fd00::/56\n        - 10.0.0.1/8"),
        "MG104",
        "mesh.yaml:12:11",
        "write 10.0.0.0/8",
    ),
    ("cidr-no-prefix", edit("10.128.0.0/14", "10.0.0.0"), "MG104", "mesh.yaml:10:16", None),
    ("cidr-not-a-string", edit("10.128.0.0/14", "[42]"), "MG104", "mesh.yaml:10:17", None),
    ("cidr-empty-list", edit("10.128.0.0/14", "[]"), "MG104", "mesh.yaml:10:16", None),
    (
        "platform-typo",
        edit("- name: cluster1", "- name: cluster1\n      platform: openshfit"),
        "MG104",
        "mesh.yaml:10:17",
        "did you mean 'openshift'?",
    ),
    (
        "apiVersion-v1",
        edit("meshgen.dev/v1alpha1", "meshgen.dev/v1"),
        "MG104",
        "mesh.yaml:1:13",
        "did you mean 'meshgen.dev/v1alpha1'?",
    ),
    ("kind-Mes", edit("kind: Mesh", "kind: Mes"), "MG104", "mesh.yaml:2:7", "did you mean 'Mesh'?"),
    ("version-two-parts", edit('"1.10.0"', '"1.10"'), "MG104", "mesh.yaml:7:14", '"1.10.0"'),
    (
        "label-value",
        service("      subsets:\n        - {name: v1, labels: {app: -bad-}}\n"),
        "MG104",
        "mesh.yaml:16:36",
        None,
    ),
    (
        "weight-101",
        service(
            "      routes:\n        - destinations:\n            - {subset: v1, weight: 101}\n"
        ),
        "MG104",
        "mesh.yaml:17:36",
        None,
    ),
    (
        "port-0",
        service("      ports:\n        - {name: http, number: 0}\n"),
        "MG104",
        "mesh.yaml:16:32",
        None,
    ),
    (
        "no-clusters",
        BASE.split("  clusters:")[0] + "  clusters: []\n",
        "MG104",
        "mesh.yaml:8:13",
        None,
    ),
    (
        "routes-no-destinations",
        service("      routes:\n        - destinations: []\n"),
        "MG104",
        "mesh.yaml:16:25",
        None,
    ),
    # CIDRs: only the canonical text, which the hint spells out.
    (
        "cidr-zone-id",
        edit("10.128.0.0/14", '"fd00::%eth0/56"'),
        "MG104",
        "mesh.yaml:10:16",
        "write fd00::/56",
    ),
    (
        "cidr-upper-case",
        edit("10.128.0.0/14", '"FD00:10::/56"'),
        "MG104",
        "mesh.yaml:10:16",
        "write fd00:10::/56",
    ),
    (
        "cidr-uncompressed",
        edit("10.128.0.0/14", '"fd00:0:0:0:0:0:0:0/56"'),
        "MG104",
        "mesh.yaml:10:16",
        "write fd00::/56",
    ),
    (
        "cidr-prefix-leading-zero",
        edit("10.128.0.0/14", "10.128.0.0/014"),
        "MG104",
        "mesh.yaml:10:16",
        "write 10.128.0.0/14",
    ),
    (
        "cidr-netmask",
        edit("10.128.0.0/14", "10.128.0.0/255.252.0.0"),
        "MG104",
        "mesh.yaml:10:16",
        "write 10.128.0.0/14",
    ),
    (
        "cidr-space",
        edit("10.128.0.0/14", '" 10.128.0.0/14"'),
        "MG104",
        "mesh.yaml:10:16",
        "write 10.128.0.0/14",
    ),
    (
        "cidr-three",
        edit("10.128.0.0/14", '[10.128.0.0/14, "fd00::/56", 10.1.0.0/16]'),
        "MG104",
        "mesh.yaml:10:45",
        None,
    ),
    (
        "cidr-ipv4-mapped",
        edit("10.128.0.0/14", '"::ffff:0:0/96"'),
        "MG104",
        "mesh.yaml:10:16",
        None,
    ),
    # Integers: JSON Schema's (no fractional part), never booleans; Istio's int32 range.
    (
        "port-fraction",
        service("      ports:\n        - {name: http, number: 5000.5}\n"),
        "MG102",
        "mesh.yaml:16:32",
        None,
    ),
    (
        "port-bool",
        service("      ports:\n        - {name: http, number: true}\n"),
        "MG102",
        "mesh.yaml:16:32",
        None,
    ),
    (
        "attempts-int32",
        service(
            "      routes:\n        - destinations: [{subset: v1}]\n"
            "          retries: {attempts: 2147483648}\n"
        ),
        "MG104",
        "mesh.yaml:17:31",
        None,
    ),
    # Route matches: exactly one of exact, prefix, regex, a string.
    (
        "match-two-kinds",
        service(
            "      routes:\n        - destinations: [{subset: v1}]\n"
            "          match: [{uri: {exact: /a, prefix: /a}}]\n"
        ),
        "MG104",
        "mesh.yaml:17:25",
        None,
    ),
    (
        "match-null",
        service(
            "      routes:\n        - destinations: [{subset: v1}]\n"
            "          match: [{uri: {exact: /a, prefix: null}}]\n"
        ),
        "MG102",
        "mesh.yaml:17:45",
        None,
    ),
    # MG110: a control character, in any string or key, at that node.
    (
        "control-block-scalar",
        edit("podCIDR: 10.128.0.0/14", "podCIDR: |\n        10.128.0.0/14"),
        "MG110",
        "mesh.yaml:10:16",
        "|- or >-",
    ),
    (
        "control-escape",
        edit("name: cluster1", 'name: "clus\\x1bter1"'),
        "MG110",
        "mesh.yaml:9:13",
        "no control characters",
    ),
    ("control-tab", edit("name: mesh1", 'name: "mesh1\\t"'), "MG110", "mesh.yaml:4:9", None),
    (
        "control-label-key",
        service('      subsets:\n        - {name: v1, labels: {"a\\nb": v1}}\n'),
        "MG110",
        "mesh.yaml:16:31",
        "keys are names",
    ),
    (
        "control-in-match",
        service(
            "      routes:\n        - destinations: [{subset: v1}]\n"
            '          match: [{uri: {prefix: "/a\\u0085"}}]\n'
        ),
        "MG110",
        "mesh.yaml:17:34",
        None,
    ),
    (
        "control-values-cr",
        edit('    version: "1.10.0"\n', '    version: "1.10.0"\n    values: {a: {b: "x\\r"}}\n'),
        "MG110",
        "mesh.yaml:8:21",
        "tabs and line feeds",
    ),
    (
        "values-nan",
        edit('    version: "1.10.0"\n', '    version: "1.10.0"\n    values: {a: [.nan]}\n'),
        "MG104",
        "mesh.yaml:8:18",
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "location", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validate_error(text: str, code: str, location: str, hint: str | None) -> None:
    mesh, diags = run(text)
    assert mesh is None
    assert len(diags) == 1, diags
    (d,) = diags
    assert (d.code, str(d.location)) == (code, location)
    assert d.is_error
    if hint is not None:
        assert d.hint is not None
        assert hint in d.hint


@pytest.mark.parametrize("typo", ["podCidr", "podCIRD"])
def test_a_misspelt_required_field_is_one_diagnostic(typo: str) -> None:
    """The misspelt key, with the field it stands for: not also "missing podCIDR" (issue 21)."""
    mesh, diags = run(edit("podCIDR", typo))
    assert mesh is None
    assert [(d.code, str(d.location), d.hint) for d in diags] == [
        (
            "MG101",
            "mesh.yaml:10:7",
            "did you mean 'podCIDR'? It is required: every cluster needs its podCIDR so "
            "meshgen can check ranges for overlap",
        )
    ]


def test_a_misspelt_optional_field_is_not_called_required() -> None:
    mesh, diags = run(edit("- name: cluster1", "- name: cluster1\n      platfrom: openshift"))
    assert mesh is None
    assert [(d.code, d.hint) for d in diags] == [("MG101", "did you mean 'platform'?")]


def test_a_misspelt_key_next_to_the_field_it_resembles_is_only_unknown() -> None:
    mesh, diags = run(
        edit("      podCIDR: 10.128.0.0/14\n", "      podCIDR: 10.128.0.0/14\n      podCIRD: x\n")
    )
    assert mesh is None
    assert [(d.code, d.hint) for d in diags] == [("MG101", "did you mean 'podCIDR'?")]


def test_messages_name_the_field_and_value() -> None:
    (d,) = run(edit('"1.10.0"', "1.10"))[1]
    assert d.message == "spec.istio.version: expected a string, got the number 1.10"
    assert d.hint == (
        'a version is a quoted "MAJOR.MINOR.PATCH" string: write "1.10.0" '
        "(unquoted, YAML reads 1.10 as the number 1.1)"
    )
    (d,) = run(edit("name: cluster1", "name: Cluster_1"))[1]
    assert d.message.startswith("spec.clusters[0].name: 'Cluster_1' is not a DNS-1123 label")
    (d,) = run(edit("name: hello", "name: 1hello", service()))[1]
    assert "DNS-1035" in d.message
    (d,) = run(edit("10.128.0.0/14", "10.0.0.1/8"))[1]
    assert d.message == (
        "spec.clusters[0].podCIDR: '10.0.0.1/8' has host bits set; the network is 10.0.0.0/8"
    )


def test_label_named_version_is_not_an_istio_version() -> None:
    (d,) = run(service("      subsets:\n        - {name: v1, labels: {version: -bad-}}\n"))[1]
    assert d.code == "MG104"
    assert "MAJOR.MINOR.PATCH" not in d.message
    assert d.hint is None


def test_all_errors_are_reported_at_once() -> None:
    text = edit("kind: Mesh", "kind: Mes")
    text = edit("name: cluster1", "name: Cluster_1", text)
    text = edit('"1.10.0"', "1.10", text)
    mesh, diags = run(text)
    assert mesh is None
    assert sorted((d.code, str(d.location)) for d in diags) == [
        ("MG102", "mesh.yaml:7:14"),
        ("MG104", "mesh.yaml:2:7"),
        ("MG104", "mesh.yaml:9:13"),
    ]


def test_same_error_in_each_list_item_is_reported_per_item() -> None:
    text = BASE + (
        "    - name: Cluster_2\n      podCIDR: 10.0.0.0/16\n      serviceCIDR: 10.1.0.0/16\n"
    )
    text = edit("name: cluster1", "name: Cluster_1", text)
    locations = sorted(str(d.location) for d in run(text)[1])
    assert locations == ["mesh.yaml:12:13", "mesh.yaml:9:13"]


def test_the_example_validates() -> None:
    loaded, diags = load_file(EXAMPLE, F)
    assert diags == []
    assert loaded is not None
    mesh, diags = validate(loaded)
    assert diags == []
    assert mesh is not None
    assert mesh.mesh_id == "mesh1"
    assert [c.name for c in mesh.spec.clusters] == ["cluster1", "cluster2"]
    assert mesh.spec.istio.version == "1.10.0"


def test_defaults() -> None:
    mesh, diags = run(BASE)
    assert diags == []
    assert mesh is not None
    spec = mesh.spec
    assert spec.istio.installer == "istioctl"
    assert spec.istio.cni.enabled is True
    assert spec.istio.cni.namespace == "kube-system"
    assert spec.network == "network1"
    assert spec.trust_domain == "cluster.local"
    assert spec.clusters[0].platform == "kubernetes"
    assert mesh.mesh_id == "mesh1"  # meshID defaults to metadata.name
    assert spec.submariner is None


def test_mesh_id_overrides_the_name() -> None:
    mesh, _ = run(edit("spec:\n", "spec:\n  meshID: other\n"))
    assert mesh is not None
    assert mesh.mesh_id == "other"


def test_dual_stack_cidrs() -> None:
    mesh, diags = run(edit("10.128.0.0/14", '[10.128.0.0/14, "fd00:10:244::/56"]'))
    assert diags == []
    assert mesh is not None
    assert [str(n) for n in mesh.spec.clusters[0].pod_cidr] == ["10.128.0.0/14", "fd00:10:244::/56"]


def test_control_character_message() -> None:
    (d,) = run(edit("10.128.0.0/14", '"10.128.0.0/14\\n"'))[1]
    assert d.message == "control character U+000A (line feed) in spec.clusters[0].podCIDR"
    (d,) = run(service('      subsets:\n        - {name: v1, labels: {"a\\u009fb": v1}}\n'))[1]
    assert d.message == (
        "control character U+009F in the key 'a\\x9fb' of spec.services[0].subsets[0].labels"
    )


def test_control_characters_are_reported_once_each_and_alone() -> None:
    """The pattern those strings also break is not reported again; other errors are."""
    text = edit("name: cluster1", 'name: "cluster1\\n"')
    text = edit("10.128.0.0/14", '"10.128.0.0/14\\t"', text)
    text = edit("kind: Mesh", "kind: Mes", text)
    assert sorted((d.code, str(d.location)) for d in run(text)[1]) == [
        ("MG104", "mesh.yaml:2:7"),
        ("MG110", "mesh.yaml:10:16"),
        ("MG110", "mesh.yaml:9:13"),
    ]


def test_istio_values_may_hold_multi_line_text() -> None:
    mesh, diags = run(
        edit(
            '    version: "1.10.0"\n',
            '    version: "1.10.0"\n    values:\n'
            "      pem: |\n        line one\n        line two\n"
            '      tabbed: "a\\tb"\n',
        )
    )
    assert diags == []
    assert mesh is not None
    assert mesh.spec.istio.values == {"pem": "line one\nline two\n", "tabbed": "a\tb"}


def test_integral_floats_are_integers() -> None:
    text = service(
        "      ports:\n        - {name: http, number: 5000.0}\n"
        "      routes:\n        - destinations: [{subset: v1, weight: 1e2}]\n"
    )
    mesh, diags = run(text)
    assert diags == []
    assert mesh is not None
    (port,) = mesh.spec.services[0].ports
    assert port.number == 5000
    assert type(port.number) is int
    weight = mesh.spec.services[0].routes[0].destinations[0].weight
    assert weight == 100
    assert type(weight) is int


def test_cidrs_keep_their_canonical_text() -> None:
    mesh, diags = run(edit("10.128.0.0/14", '["10.128.0.0/14", "fd00:10:244::/56"]'))
    assert diags == []
    assert mesh is not None
    assert [str(n) for n in mesh.spec.clusters[0].pod_cidr] == ["10.128.0.0/14", "fd00:10:244::/56"]
