"""kubeconform -strict, offline, judges every object meshgen emits (issue: real consumers).

Core objects are checked against the Kubernetes schemas of the targeted version, Istio's
against the CRDs of the istio.io/api module at the spec's minor, NetworkAttachmentDefinition
against its CRD. Nothing may be skipped: every kind has a schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshgen.conform import manifest_files, run_kubeconform
from meshgen.versions import KUBERNETES_SUPPORT, NEWEST_MINOR, OLDEST_MINOR, release
from tests.helpers import EXAMPLES, seed_variant_file
from tests.tooling import build, documents, schemas, tool

pytestmark = pytest.mark.tools


def conform_tree(out: Path, istio_minor: int, k8s_minor: int | None = None) -> tuple[int, int]:
    """(objects validated, objects emitted) over every cluster directory; asserts clean."""
    files = manifest_files(out)
    emitted = sum(len(documents(f)) for f in files)
    summary = run_kubeconform(
        files, binary=tool("kubeconform"), schema_dir=schemas(), istio_minor=istio_minor,
        kubernetes_minor=k8s_minor or KUBERNETES_SUPPORT[istio_minor][0])
    assert summary.diagnostics == [], summary.diagnostics
    assert (summary.invalid, summary.errors, summary.skipped) == (0, 0, 0)
    return summary.valid, emitted


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_emitted_object_is_valid(name: str, tmp_path: Path) -> None:
    mesh = build(EXAMPLES[name], tmp_path / "out")
    validated, emitted = conform_tree(tmp_path / "out", release(mesh.spec.istio.version).minor)
    assert validated == emitted > 0


@pytest.mark.parametrize("minor", range(OLDEST_MINOR, NEWEST_MINOR + 1))
@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
def test_version_matrix(minor: int, platform: str, tmp_path: Path) -> None:
    build(seed_variant_file(tmp_path, minor, platform), tmp_path / "out")
    validated, emitted = conform_tree(tmp_path / "out", minor)
    assert validated == emitted


BROKEN = [
    ("unknown-field", "traffic/sample.yaml", "  host: helloworld", "  hostt: helloworld"),
    ("wrong-type", "traffic/sample.yaml", "      version: v1", "      version: [v1]"),
    ("bad-namespace-field", "namespaces.yaml", "  labels:", "  labelz:"),
    ("operator-unknown-spec", "istio/istio-operator.yaml", "spec:\n", "spec:\n  profil: x\n"),
    ("nad-unknown-field", "cni/network-attachment-definitions.yaml", "metadata:",
     "spec:\n  confg: x\nmetadata:"),
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
    summary = run_kubeconform([target], binary=tool("kubeconform"), schema_dir=schemas(),
                              istio_minor=10, kubernetes_minor=25)
    assert summary.invalid == 1, (what, summary)
    assert summary.diagnostics[0].code == "MG902"


SAIL_BROKEN = [
    ("cni-not-default", "metadata:\n  name: default\n", "metadata:\n  name: cni\n"),
    ("unknown-spec-field", "  namespace: istio-system\n", "  namespaces: istio-system\n"),
    ("unpinned-version", "  version: v1.28.0\n  namespace: istio-system",
     "  version: latest\n  namespace: istio-system"),
]


@pytest.mark.parametrize(("what", "old", "new"), SAIL_BROKEN, ids=[b[0] for b in SAIL_BROKEN])
def test_sail_schemas_reject_broken_objects(what: str, old: str, new: str,
                                            tmp_path: Path) -> None:
    # The Sail CRDs cannot be fetched here (module proxy: 403); the schemas written from the
    # reference must still catch these mistakes.
    build(EXAMPLES["openshift-sail"], tmp_path / "out")
    target = tmp_path / "out" / "hub" / "istio" / "sail.yaml"
    text = target.read_text()
    assert old in text, what
    target.write_text(text.replace(old, new, 1))
    summary = run_kubeconform([target], binary=tool("kubeconform"), schema_dir=schemas(),
                              istio_minor=28, kubernetes_minor=32)
    assert summary.invalid == 1, (what, summary)
