"""IDE documentation from one source: every field of the models is described, and the JSON
Schema, the README's spec reference and the modelines all come from the models."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from meshgen import __version__, docs
from meshgen.schema import (
    API_GROUP,
    API_VERSION_NAME,
    MODELINE,
    SCHEMA_ID,
    SCHEMA_URL,
    example_text,
    mesh_schema,
    schema_text,
)
from meshgen.spec import API_VERSION, Mesh
from meshgen.starter import STARTER
from tests.helpers import ROOT

SCHEMA = mesh_schema()
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = sorted((ROOT / "examples").glob("*/mesh.yaml"))
# Subschemas that test a property rather than declare it (Secrets' if/then for MG105).
CONDITIONS = ("if", "then", "else", "not")


def _properties(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """(pointer, schema) of every property of every object schema."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _properties(item, f"{path}/{index}")
        return
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        yield f"{path}/properties/{name}", prop
    for key, value in node.items():
        if key not in CONDITIONS and key not in ("enum", "const", "default"):
            yield from _properties(value, f"{path}/{key}")


def test_every_property_has_a_description() -> None:
    props = list(_properties(SCHEMA))
    assert len(props) > 100
    missing = [path for path, prop in props if not str(prop.get("description", "")).strip()]
    assert missing == [], f"{len(missing)} properties without a description: {missing}"


def test_every_object_definition_has_a_description() -> None:
    missing = [name for name, node in SCHEMA["$defs"].items()
               if "properties" in node and not node.get("description", "").strip()]
    assert missing == []


def _enums(prop: dict[str, Any]) -> list[Any]:
    if "enum" in prop:
        return list(prop["enum"])
    return [value for branch in prop.get("anyOf", ()) for value in branch.get("enum", ())]


def test_every_enum_value_has_a_meaning() -> None:
    """`value`: meaning, for each value of an enum with a choice, in the description."""
    enums = 0
    for path, prop in _properties(SCHEMA):
        values = _enums(prop)
        if len(values) < 2:
            continue
        enums += 1
        for value in values:
            assert f"`{value}`: " in prop["description"], (path, value)
    assert enums >= 10


def test_examples_are_in_the_descriptions_and_valid() -> None:
    import jsonschema

    assert '"examples"' not in schema_text()
    version = SCHEMA["$defs"]["Istio"]["properties"]["version"]
    assert version["description"].endswith('Examples: `"1.10.0"`, `"1.30.3"`.')
    # Each example of a field is a value the schema accepts for that field.
    checked = 0
    for row in docs.rows(Mesh, top=False):
        prop = docs.property_schema(SCHEMA, row.model, row.name)
        validator = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], **prop})
        for example in row.info.examples or ():
            assert f"`{example_text(example)}`" in prop["description"], row.path
            errors = list(validator.iter_errors(example))
            assert errors == [], (row.path, example, errors[0].message)
            checked += 1
    assert checked > 50


def test_descriptions_are_single_lines_under_no_generated_title() -> None:
    for path, prop in _properties(SCHEMA):
        assert "title" not in prop, path  # pydantic's "Podcidr" would head the hover
        assert "\n" not in prop["description"], path
        assert "  " not in prop["description"], path


def test_readme_reference_is_generated_from_the_models() -> None:
    assert docs.START in README
    assert docs.END in README
    assert docs.update_readme(README) == README, "run python scripts/spec_tables.py"


def test_readme_rows_have_type_default_and_meaning() -> None:
    section = README.split(docs.START, 1)[1].split(docs.END, 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) > 100
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == 4, row
        assert all(cell.strip() for cell in cells), row


def test_update_readme_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        docs.update_readme("# no markers\n")


def test_schema_identity_is_versioned() -> None:
    assert f"{API_GROUP}/{API_VERSION_NAME}" == API_VERSION
    assert SCHEMA["$id"] == SCHEMA_ID
    assert f"/schemas/{API_VERSION_NAME}/" in SCHEMA_ID
    assert SCHEMA["title"] == f"meshgen Mesh ({API_VERSION})"
    assert SCHEMA["description"].strip()


def test_modeline_names_the_schema_at_this_release() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == __version__
    assert SCHEMA_URL.startswith("https://raw.githubusercontent.com/")
    assert f"/v{__version__}/schemas/mesh.schema.json" in SCHEMA_URL
    assert (ROOT / "schemas" / "mesh.schema.json").is_file()
    assert MODELINE.split("$schema=", 1) == ["# yaml-language-server: ", SCHEMA_URL]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.parent.name)
def test_examples_start_with_the_modeline(example: Any) -> None:
    first = example.read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE, f"{example}: the modeline must survive a copy"


def test_starter_starts_with_the_modeline() -> None:
    assert STARTER.splitlines()[0] == MODELINE
