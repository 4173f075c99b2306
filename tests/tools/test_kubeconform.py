"""kubeconform -strict, offline, judges every object meshgen emits (issue: real consumers).

Core objects are checked against the Kubernetes schemas of the targeted version; Istio's
against the CRDs released with exactly the output's Istio minor (the last patch of each minor
1.10-1.30 in ../shared/istio-releases); Sail Operator objects against the CRDs of a Sail
release that accepts the output's Istio version (../shared/sail-operator);
NetworkAttachmentDefinition against its CRD. Nothing may be skipped: every kind has a schema.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.conform import istio_crd_dir, manifest_files, run_kubeconform, sail_crd_dir
from meshgen.conform import sail_version as sail_version_for
from meshgen.versions import (
    KUBERNETES_SUPPORT,
    NEWEST_MINOR,
    OLDEST_MINOR,
    SAIL_RELEASES,
    release,
    sail_releases_for,
)
from tests.helpers import EXAMPLES, run_meshgen, seed_data, seed_variant_file
from tests.matrix import record
from tests.tooling import (
    build,
    documents,
    istio_release,
    load_make_schemas,
    schemas,
    shared,
    tool,
    tools_path,
)

pytestmark = pytest.mark.tools

MINORS = range(OLDEST_MINOR, NEWEST_MINOR + 1)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


SAIL_NAMES: list[str] = sorted(SAIL_RELEASES, key=_key)


def conform_tree(
    out: Path, istio_version: str, k8s_minor: int | None = None, schema_dir: Path | None = None
) -> tuple[int, int]:
    """(objects validated, objects emitted) over every cluster directory; asserts clean."""
    files = manifest_files(out)
    emitted = sum(len(documents(f)) for f in files)
    minor = release(istio_version).minor
    summary = run_kubeconform(
        files,
        binary=tool("kubeconform"),
        schema_dir=schema_dir or schemas(),
        istio_version=istio_version,
        kubernetes_minor=k8s_minor or KUBERNETES_SUPPORT[minor][0],
    )
    assert summary.diagnostics == [], summary.diagnostics
    assert (summary.invalid, summary.errors, summary.skipped) == (0, 0, 0)
    return summary.valid, emitted


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_emitted_object_is_valid(name: str, tmp_path: Path) -> None:
    mesh = build(EXAMPLES[name], tmp_path / "out")
    validated, emitted = conform_tree(tmp_path / "out", mesh.spec.istio.version)
    assert validated == emitted > 0


@pytest.mark.parametrize("installer", ["istioctl", "operator", "helm", "sail"])
@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
def test_version_matrix(minor: int, platform: str, installer: str, tmp_path: Path) -> None:
    """The seed at each minor's last patch, each platform and installer meshgen accepts
    there (the refused cells are tests/tools/test_release_matrix.py's)."""
    # Against that minor's own CRDs, never a neighbour's.
    assert istio_crd_dir(schemas(), minor) == schemas() / "crds" / f"istio-1.{minor}"
    version = istio_release(minor).name
    if (installer == "sail" and not sail_releases_for(version)) or (
        installer == "operator" and not release(version).has_in_cluster_operator
    ):
        pytest.skip(f"meshgen refuses installer {installer} on {version}")
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version=version, installer=installer)
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    build(spec, tmp_path / "out")
    validated, emitted = conform_tree(tmp_path / "out", version)
    assert validated == emitted > 0
    record("kubeconform", version, platform, installer, "accepted")


def _release_crd_file(release_dir: Path) -> Path:
    for name in ("charts/base/crds/crd-all.gen.yaml", "charts/base/files/crd-all.gen.yaml"):
        if (release_dir / name).exists():
            return release_dir / name
    raise AssertionError(f"no crd-all.gen.yaml in {release_dir}")


def _converted(crd_files: list[Path]) -> dict[str, Any]:
    """group/kind_version.json -> schema, as make_schemas converts these CRD files."""
    converter = load_make_schemas().Converter()
    schemas_by_path: dict[str, Any] = {}
    for crd_file in crd_files:
        for doc in yaml.load_all(crd_file.read_text(), Loader=yaml.CSafeLoader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    path = f"{spec['group']}/{spec['names']['kind'].lower()}_{version['name']}.json"
                    schemas_by_path[path] = converter.convert(version["schema"]["openAPIV3Schema"])
    return schemas_by_path


def _folder(folder: Path) -> dict[str, Any]:
    return {
        p.relative_to(folder).as_posix(): json.loads(p.read_text()) for p in folder.rglob("*.json")
    }


@pytest.mark.parametrize("minor", MINORS)
def test_each_minor_has_exactly_its_release_crds(minor: int) -> None:
    releases = sorted(shared("istio-releases").glob(f"1.{minor}.*"), key=lambda p: _key(p.name))
    assert releases, f"no Istio 1.{minor} release in {shared('istio-releases')}"
    expected = _converted([_release_crd_file(releases[-1])])
    assert _folder(schemas() / "crds" / f"istio-1.{minor}") == expected
    stamp = re.search(r"(?:^|;)istio=([^;]*)", (schemas() / ".stamp").read_text())
    assert stamp is not None
    assert f"1.{minor}:{releases[-1].name}" in stamp.group(1).split(",")


@pytest.mark.parametrize("sail", SAIL_NAMES)
def test_each_sail_release_has_exactly_its_crds(sail: str) -> None:
    expected = _converted(sorted(shared("sail-operator", sail, "crds").glob("*.yaml")))
    assert {p.split("/")[0] for p in expected} == {"sailoperator.io"}
    assert _folder(schemas() / "crds" / f"sail-{sail}") == expected


# ---------------------------------------------------------------------------------------
# A field or value a minor's CRDs do not have is rejected for that minor, through the CLI.


def meshgen(*args: str) -> subprocess.CompletedProcess[str]:
    return run_meshgen(*args, path=tools_path())


def locality_failover_at_1_10(tmp_path: Path) -> Path:
    """The locality-failover example built at Istio 1.10.6 (round robin: meshgen refuses
    LEAST_REQUEST before 1.14, MG420)."""
    data = yaml.safe_load(EXAMPLES["locality-failover"].read_text())
    data["spec"]["istio"]["version"] = "1.10.6"
    data["spec"]["services"][0]["trafficPolicy"]["loadBalancer"]["simple"] = "ROUND_ROBIN"
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    build(spec, tmp_path / "out")
    return tmp_path / "out"


NEWER_FIELDS = [
    # (what, old, new, the first minor whose DestinationRule CRD has it, kubeconform's verdict)
    (
        "least-request",
        "      simple: ROUND_ROBIN\n",
        "      simple: LEAST_REQUEST\n",
        14,
        "/spec/trafficPolicy/loadBalancer/simple: value must be one of 'ROUND_ROBIN', "
        "'LEAST_CONN', 'RANDOM', 'PASSTHROUGH'",
    ),
    (
        "failover-priority",
        "        enabled: true\n",
        "        enabled: true\n        failoverPriority:\n        - topology.istio.io/network\n",
        12,
        "/spec/trafficPolicy/loadBalancer/localityLbSetting: additional properties "
        "'failoverPriority' not allowed",
    ),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "since", "verdict"), NEWER_FIELDS, ids=[f[0] for f in NEWER_FIELDS]
)
def test_check_output_rejects_what_the_minor_lacks(
    what: str, old: str, new: str, since: int, verdict: str, tmp_path: Path
) -> None:
    tool("kubeconform")
    out = locality_failover_at_1_10(tmp_path)
    target = out / "east" / "traffic" / "payments" / "rules.yaml"
    text = target.read_text()
    assert "kind: DestinationRule" in text
    assert old in text, what
    target.write_text(text.replace(old, new, 1))
    for version in ("1.10", "1.10.6", f"1.{since - 1}"):
        proc = meshgen(
            "check-output", str(out), "--schema-dir", str(schemas()), "--istio-version", version
        )
        assert proc.returncode == 1, (version, proc.stderr)
        assert (
            f"east/traffic/payments/rules.yaml:2:1: error[MG902]: kubeconform rejects "
            f"DestinationRule 'checkout': {verdict}"
        ) in proc.stderr, (version, proc.stderr)
        assert ", 1 invalid, 0 errors, 0 skipped" in proc.stderr
    # The minor that introduced it accepts the same object.
    proc = meshgen(
        "check-output", str(out), "--schema-dir", str(schemas()), "--istio-version", f"1.{since}"
    )
    assert proc.returncode == 0, proc.stderr
    assert ", 0 invalid, 0 errors, 0 skipped" in proc.stderr


def test_check_output_wants_a_version(tmp_path: Path) -> None:
    proc = meshgen(
        "check-output", "out", "--schema-dir", str(schemas()), "--istio-version", "1.10.x"
    )
    assert proc.returncode == 2
    assert "expected 1.MINOR or 1.MINOR.PATCH, got '1.10.x'" in proc.stderr


# ---------------------------------------------------------------------------------------
# Missing schemas are said, per object, never replaced by a neighbour's.


def schema_view(tmp_path: Path, istio: list[int], sail: list[str]) -> Path:
    """A schema directory with only these Istio minors and Sail releases (symlinks)."""
    view = tmp_path / "schemas"
    (view / "crds").mkdir(parents=True)
    (view / "k8s").symlink_to(schemas() / "k8s")
    (view / "crds" / "common").symlink_to(schemas() / "crds" / "common")
    for name in [f"istio-1.{m}" for m in istio] + [f"sail-{r}" for r in sail]:
        assert (schemas() / "crds" / name).is_dir(), name
        (view / "crds" / name).symlink_to(schemas() / "crds" / name)
    return view


def test_missing_istio_minor_is_reported(tmp_path: Path) -> None:
    build(seed_variant_file(tmp_path, 10, "openshift"), tmp_path / "out")
    view = schema_view(tmp_path, [m for m in MINORS if m not in (10, 20)], [])
    summary = run_kubeconform(
        manifest_files(tmp_path / "out"),
        binary=tool("kubeconform"),
        schema_dir=view,
        istio_version="1.10.0",
        kubernetes_minor=25,
    )
    istio_objects = [
        d
        for f in manifest_files(tmp_path / "out")
        for d in documents(f)
        if d["apiVersion"].startswith("networking.istio.io/")
    ]
    assert istio_objects
    assert summary.errors == len(istio_objects)
    assert {d.code for d in summary.diagnostics} == {"MG904"}
    assert {d.message for d in summary.diagnostics} == {
        f"kubeconform could not check {d['kind']} {d['metadata']['name']!r}: no schema for "
        f"Istio 1.10 in {view / 'crds'} (it has Istio 1.11-1.19, 1.21-1.30)"
        for d in istio_objects
    }


def test_api_version_the_minor_does_not_serve_is_reported(tmp_path: Path) -> None:
    # networking.istio.io/v1 came with 1.22: output built for 1.22 checked as 1.21.
    build(seed_variant_file(tmp_path, 22, "kubernetes"), tmp_path / "out")
    files = manifest_files(tmp_path / "out" / "cluster1" / "traffic")
    summary = run_kubeconform(
        files,
        binary=tool("kubeconform"),
        schema_dir=schemas(),
        istio_version="1.21",
        kubernetes_minor=26,
    )
    assert summary.errors == len(summary.diagnostics) > 0
    assert (
        "kubeconform could not check DestinationRule 'helloworld': Istio 1.21 has no CRD "
        "for networking.istio.io/v1 DestinationRule"
    ) in {d.message for d in summary.diagnostics}


def sail_seed(tmp_path: Path, version: str) -> Path:
    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version=version, installer="sail")
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    build(spec, tmp_path / "out")
    return tmp_path / "out"


def test_sail_without_an_accepting_release_is_reported(tmp_path: Path) -> None:
    out = sail_seed(tmp_path, "1.28.0")
    files = manifest_files(out / "cluster1")
    view = schema_view(tmp_path, [28], ["1.0.0", "1.25.2"])
    summary = run_kubeconform(
        files,
        binary=tool("kubeconform"),
        schema_dir=view,
        istio_version="1.28.0",
        kubernetes_minor=30,
    )
    assert (summary.invalid, summary.errors) == (0, 2)  # IstioCNI and Istio
    assert [d.code for d in summary.diagnostics] == ["MG904", "MG904"]
    assert (
        "no schema for the Sail Operator release that accepts Istio 1.28.0 (Sail 1.28.3, "
        "1.29.2, 1.30.3)"
    ) in summary.diagnostics[0].message
    # A version no Sail release installs.
    summary = run_kubeconform(
        [out / "cluster1" / "istio" / "sail.yaml"],
        binary=tool("kubeconform"),
        schema_dir=schemas(),
        istio_version="1.20",
        kubernetes_minor=30,
    )
    assert summary.errors == 2
    assert {d.message for d in summary.diagnostics} == {
        f"kubeconform could not check {kind} 'default': no Sail Operator release accepts "
        "Istio 1.20 (Sail 1.0.0, 1.25.2, 1.26.3, 1.27.3, 1.28.3, 1.29.2, 1.30.3 install "
        "1.21.6 to 1.30.3)"
        for kind in ("Istio", "IstioCNI")
    }


# ---------------------------------------------------------------------------------------
# Sail Operator objects against the CRDs of the release that installs that Istio version.


def test_sail_release_choice() -> None:
    assert sail_version_for("1.28") == "1.28.10"
    assert sail_version_for("1.28.3") == "1.28.3"
    assert sail_version_for("1.10") is None
    for version in {v for accepted in SAIL_RELEASES.values() for v in accepted}:
        newest = max(sail_releases_for(version), key=_key)
        assert sail_crd_dir(schemas(), version) == schemas() / "crds" / f"sail-{newest}"


SAIL_CASES = sorted(
    {
        (sail, max((v for v in accepted if _key(v)[1] == minor), key=_key))
        for sail, accepted in SAIL_RELEASES.items()
        for minor in {_key(v)[1] for v in accepted}
    },
    key=lambda case: (_key(case[0]), _key(case[1])),
)


@pytest.mark.parametrize(
    ("sail", "version"), SAIL_CASES, ids=[f"sail-{s}-istio-{v}" for s, v in SAIL_CASES]
)
def test_sail_objects_are_valid_for_each_release(sail: str, version: str, tmp_path: Path) -> None:
    # Only that release's CRDs are there, so they are the ones chosen.
    minor = _key(version)[1]
    view = schema_view(tmp_path, [minor], [sail])
    assert sail_crd_dir(view, version) == view / "crds" / f"sail-{sail}"
    out = sail_seed(tmp_path, version)
    kinds = [
        d["kind"]
        for f in manifest_files(out)
        for d in documents(f)
        if d["apiVersion"] == "sailoperator.io/v1"
    ]
    assert sorted(kinds) == ["Istio", "Istio", "IstioCNI", "IstioCNI"]
    validated, emitted = conform_tree(out, version, schema_dir=view)
    assert validated == emitted


@pytest.mark.parametrize("sail", SAIL_NAMES)
def test_sail_release_rejects_a_version_it_does_not_list(sail: str, tmp_path: Path) -> None:
    version = max(SAIL_RELEASES[sail], key=_key)
    unknown = f"v1.{_key(version)[1] + 1}.0"  # the next minor: that release cannot know it
    enum = json.loads(
        (schemas() / "crds" / f"sail-{sail}" / "sailoperator.io" / "istio_v1.json").read_text()
    )["properties"]["spec"]["properties"]["version"]["enum"]
    assert f"v{version}" in enum
    assert unknown not in enum
    target = sail_seed(tmp_path, version) / "cluster1" / "istio" / "sail.yaml"
    text = target.read_text()
    assert text.count(f"  version: v{version}\n") == 2
    target.write_text(text.replace(f"  version: v{version}\n", f"  version: {unknown}\n"))
    summary = run_kubeconform(
        [target],
        binary=tool("kubeconform"),
        schema_dir=schema_view(tmp_path, [], [sail]),
        istio_version=version,
        kubernetes_minor=30,
    )
    assert (summary.valid, summary.invalid) == (0, 2), summary
    for diag in summary.diagnostics:
        assert diag.code == "MG902"
        assert re.search(
            r"rejects (IstioCNI|Istio) 'default': /spec/version: value must be "
            rf"one of .*'v{re.escape(version)}'",
            diag.message,
        ), diag.message


# ---------------------------------------------------------------------------------------
# Each schema rejects a deliberately broken object (no vacuous passes).

BROKEN = [
    ("unknown-field", "traffic/sample/rules.yaml", "  host: helloworld", "  hostt: helloworld"),
    ("wrong-type", "traffic/sample/rules.yaml", "      version: v1", "      version: [v1]"),
    ("bad-namespace-field", "namespaces.yaml", "  labels:", "  labelz:"),
    ("operator-unknown-spec", "istio/istio-operator.yaml", "spec:\n", "spec:\n  profil: x\n"),
    (
        "nad-unknown-field",
        "cni/network-attachment-definitions.yaml",
        "metadata:",
        "spec:\n  confg: x\nmetadata:",
    ),
    ("secret-bad-key-type", "secrets/cacerts.yaml", '  ca-cert.pem: ""', "  ca-cert.pem: 5"),
]


@pytest.mark.parametrize(("what", "file", "old", "new"), BROKEN, ids=[b[0] for b in BROKEN])
def test_kubeconform_rejects_broken_objects(
    what: str, file: str, old: str, new: str, tmp_path: Path
) -> None:
    # Guard against vacuous passes: each schema must reject a deliberately broken object.
    build(EXAMPLES["openshift-submariner"], tmp_path / "out")
    target = tmp_path / "out" / "cluster1" / file
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    summary = run_kubeconform(
        [target],
        binary=tool("kubeconform"),
        schema_dir=schemas(),
        istio_minor=10,
        kubernetes_minor=25,
    )
    assert summary.invalid == 1, (what, summary)
    assert summary.diagnostics[0].code == "MG902"


SAIL_BROKEN = [
    # The CRD's CEL rule `self.metadata.name == 'default'`, which make_schemas turns into an
    # enum (kubeconform does not run CEL).
    ("cni-not-default", "metadata:\n  name: default\n", "metadata:\n  name: cni\n"),
    ("unknown-spec-field", "  namespace: istio-system\n", "  namespaces: istio-system\n"),
    (
        "unpinned-version",
        "  version: v1.28.0\n  namespace: istio-system",
        "  version: latest\n  namespace: istio-system",
    ),
    ("unknown-value", "      meshID: ", "      meshId: "),
]


@pytest.mark.parametrize(("what", "old", "new"), SAIL_BROKEN, ids=[b[0] for b in SAIL_BROKEN])
def test_sail_schemas_reject_broken_objects(what: str, old: str, new: str, tmp_path: Path) -> None:
    build(EXAMPLES["openshift-sail"], tmp_path / "out")
    target = tmp_path / "out" / "hub" / "istio" / "sail.yaml"
    text = target.read_text()
    assert old in text, what
    target.write_text(text.replace(old, new, 1))
    summary = run_kubeconform(
        [target],
        binary=tool("kubeconform"),
        schema_dir=schemas(),
        istio_version="1.28.0",
        kubernetes_minor=32,
    )
    assert summary.invalid == 1, (what, summary)
