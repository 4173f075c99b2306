"""Golden outputs: every example compiles to exactly the reviewed files.

The committed trees (out/ for the seed example, tests/golden/<example>/ for the others) were
reviewed by hand and checked with kustomize; regenerate them with `scripts/update-golden`
and review the diff before committing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from meshgen import write
from meshgen.pipeline import compile_spec
from meshgen.schema import schema_text
from tests.helpers import EXAMPLES, ROOT, SEED_EXAMPLE


def compiled(spec: Path, output: Path = ROOT / "out") -> dict[str, bytes]:
    result = compile_spec(spec, output)
    assert result.ok, result.diagnostics
    assert result.files is not None
    return result.files


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    # Headers name the spec relative to the working directory, as in CI.
    monkeypatch.chdir(ROOT)


def test_committed_out_is_the_seed_example_output() -> None:
    drift = write.check_output(ROOT / "out", compiled(SEED_EXAMPLE.relative_to(ROOT)))
    assert drift.clean, f"out/ is stale: {drift}; run scripts/update-golden"


def golden_dir(name: str) -> Path:
    """Where the reviewed output of an example is: the seed's is the committed out/ (what the
    README's first command writes), the others' tests/golden/<example>/."""
    if EXAMPLES[name] == SEED_EXAMPLE:
        return ROOT / "out"
    return ROOT / "tests" / "golden" / name


def test_every_golden_directory_has_its_example() -> None:
    assert sorted(p.name for p in (ROOT / "tests" / "golden").iterdir()) == sorted(
        name for name in EXAMPLES if golden_dir(name) != ROOT / "out"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_golden_output(name: str) -> None:
    golden = golden_dir(name)
    drift = write.check_output(golden, compiled(EXAMPLES[name].relative_to(ROOT), golden))
    assert drift.clean, f"golden output of {name} is stale: {drift}"


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schemas" / "mesh.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run `meshgen schema -o schemas/mesh.schema.json`"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_satisfy_the_json_schema(name: str) -> None:
    import jsonschema

    schema = json.loads(schema_text())
    data = yaml.safe_load(EXAMPLES[name].read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_emitted_yaml_reads_the_same_under_yaml_1_1_and_1_2(name: str) -> None:
    ruamel = YAML(typ="safe", pure=True)
    for path, blob in compiled(EXAMPLES[name].relative_to(ROOT)).items():
        if not path.endswith(".yaml"):
            continue
        text = blob.decode()
        assert list(yaml.safe_load_all(text)) == list(ruamel.load_all(text)), path


def test_build_is_deterministic() -> None:
    spec = SEED_EXAMPLE.relative_to(ROOT)
    assert compiled(spec) == compiled(spec)
