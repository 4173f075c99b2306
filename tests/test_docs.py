"""Documentation from one source, and docs that hold together.

Every field of the models is described, and the JSON Schema, the spec reference
(docs/spec.md) and the modelines all come from the models; the code pages
(docs/diagnostics.md) come from the registry; every relative link and anchor of README.md
and docs/*.md resolves."""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel

from meshgen import __version__, docs, versions
from meshgen.checks import CODES
from meshgen.codes import REGISTRY
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
from meshgen.spec_traffic import Match, Security, TrafficPolicy
from meshgen.starter import STARTER
from meshgen.validate import _unwrap
from tests.helpers import ROOT
from tests.tooling import load_script

SCHEMA = mesh_schema()
SPEC_PAGE = ROOT / "docs" / "spec.md"
SPEC_DOC = SPEC_PAGE.read_text(encoding="utf-8")
DIAGNOSTICS_PAGE = ROOT / "docs" / "diagnostics.md"
DIAGNOSTICS_DOC = DIAGNOSTICS_PAGE.read_text(encoding="utf-8")
# Every Markdown page of the repository's documentation (release-matrix.md included).
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
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
    """As `$comment`: a description there would be what an editor shows on hover instead of
    the field's own (tests/tools/test_language_server.py)."""
    missing = [
        name
        for name, node in SCHEMA["$defs"].items()
        if "properties" in node
        and (not node.get("$comment", "").strip() or "description" in node or "title" in node)
    ]
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


def spec_tables() -> ModuleType:
    """scripts/spec_tables.py as a module."""
    return load_script("spec_tables")


def test_generated_docs_are_fresh() -> None:
    """`python scripts/spec_tables.py --check`, the mode scripts/update-golden's output is
    held to."""
    assert spec_tables().main(["--check"]) == 0, "run python scripts/spec_tables.py"


def test_check_mode_finds_a_stale_page_and_the_rewrite_fixes_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tables = spec_tables()
    page = tmp_path / "diagnostics.md"
    stale = f"# Codes\n\n{tables.CODES_START}\n| MG000 | gone |\n{tables.CODES_END}\n"
    page.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(tables, "PAGES", {page: tables.update_diagnostics_page})
    assert tables.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert page.read_text(encoding="utf-8") == stale  # --check writes nothing
    assert tables.main([]) == 0
    assert "MG000" not in page.read_text(encoding="utf-8")
    assert tables.main(["--check"]) == 0


def test_spec_reference_is_generated_from_the_models() -> None:
    assert docs.START in SPEC_DOC
    assert docs.END in SPEC_DOC
    assert docs.update_readme(SPEC_DOC) == SPEC_DOC, "run python scripts/spec_tables.py"


def test_spec_rows_have_type_default_and_meaning() -> None:
    section = SPEC_DOC.split(docs.START, 1)[1].split(docs.END, 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) > 100
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == 4, row
        assert all(cell.strip() for cell in cells), row


def test_update_readme_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        docs.update_readme("# no markers\n")


# Documented in their own tables of docs/spec.md, relative to where they are used.
SUBTABLES: dict[type[BaseModel], str] = {
    TrafficPolicy: "Traffic policy",
    Match: "Route matches",
    Security: "Security",
}


def field_paths(model: type[BaseModel], prefix: str = "", *, stop: bool = True) -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        tp: Any = _unwrap(info.annotation)
        inner_tp = _unwrap(typing.get_args(tp)[0]) if typing.get_origin(tp) is list else tp
        if stop and inner_tp in SUBTABLES:
            paths.add(path)
            continue
        if typing.get_origin(tp) is list:
            inner = _unwrap(typing.get_args(tp)[0])
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                paths |= field_paths(inner, f"{path}[].", stop=stop)
                continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            paths |= field_paths(tp, f"{path}.", stop=stop)
            continue
        paths.add(path)
    return paths


def table_paths(heading: str) -> set[str]:
    section = SPEC_DOC.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def test_spec_reference_lists_exactly_the_model_fields() -> None:
    assert table_paths("Reference") == field_paths(Mesh)


def test_subtables_list_exactly_their_model_fields() -> None:
    for model, heading in SUBTABLES.items():
        assert table_paths(heading) == field_paths(model, stop=False), heading


# --- docs/diagnostics.md ----------------------------------------------------------------------


def test_diagnostics_page_is_the_registry() -> None:
    tables = spec_tables()
    assert tables.update_diagnostics_page(DIAGNOSTICS_DOC) == DIAGNOSTICS_DOC, (
        "run python scripts/spec_tables.py"
    )
    generated = DIAGNOSTICS_DOC.split(tables.CODES_START, 1)[1].split(tables.CODES_END, 1)[0]
    rows = re.findall(
        r"^\| \[(MG\d{3})\]\(#(mg\d{3})\) \| ([a-z/]+) \|", generated, flags=re.MULTILINE
    )
    assert [code for code, _, _ in rows] == sorted(REGISTRY), "each code once, in order"
    for code, anchor, severity in rows:
        assert anchor == code.lower()
        assert severity == REGISTRY[code].severity, code
        assert f"\n### {code}\n\n**{severity}**: " in generated, code
    assert set(CODES) <= set(REGISTRY)


def test_markdown_text_escapes_markup_outside_code() -> None:
    text = spec_tables().markdown_text
    assert text("kube-*, default, openshift-*") == "kube-\\*, default, openshift-\\*"
    assert text("(<subset>-<cluster>)") == "(\\<subset\\>-\\<cluster\\>)"
    assert text("LEAST_REQUEST and `a_*<b>`") == "LEAST_REQUEST and `a_*<b>`"
    assert text("`a|b` or c", cell=True) == "`a\\|b` or c"


# --- Links, anchors and sources of README.md and docs/ -----------------------------------------

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^ {0,3}#{1,6} +(.*?)(?: +#+)? *$")


def prose_lines(text: str) -> list[str]:
    """The lines of `text` outside fenced code blocks."""
    lines, fence = [], ""
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
            continue
        if match:
            fence = match.group(1)
            continue
        lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to
    hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of the headings of `page` (a repeated heading gets -1, -2, ...)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(1))
        count = counts.get(base, 0)
        counts[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    """The targets of the Markdown links of `page`, outside code blocks and code spans."""
    return [
        target
        for line in prose_lines(page.read_text(encoding="utf-8"))
        for target in LINK.findall(re.sub(r"(`+)[^`]*?\1", "", line))
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if ROOT.resolve() not in (resolved, *resolved.parents):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    assert broken == [], f"{page.name}: {broken}"


def test_the_link_checker_sees_links_and_anchors() -> None:
    assert "docs/spec.md" in links(ROOT / "README.md")
    assert "#mg201" in links(DIAGNOSTICS_PAGE)
    assert "cli.md#the-output-folder" in links(ROOT / "docs" / "development.md")
    assert "mg201" in anchors(DIAGNOSTICS_PAGE)
    assert "the-spec-meshyaml-meshgendevv1alpha1" in anchors(SPEC_PAGE)
    assert "traffic-policy" in anchors(SPEC_PAGE)
    assert slug("Release fidelity: every Istio minor's own release judges the output") == (
        "release-fidelity-every-istio-minors-own-release-judges-the-output"
    )


# Documents only the authors had (a sibling checkout's notes) are no source for a reader.
PRIVATE_SOURCES = re.compile(r"\.\./shared|\breference/[\w-]+\.md|DESIGN\.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_docs_cite_only_public_sources(page: Path) -> None:
    found = PRIVATE_SOURCES.findall(page.read_text(encoding="utf-8"))
    assert found == [], f"{page.name} cites documents outside the repository: {found}"


def test_installers_page_states_the_current_version_limits() -> None:
    text = (ROOT / "docs" / "installers.md").read_text(encoding="utf-8")
    assert f"1.{versions.OLDEST_MINOR}.0 to 1.{versions.NEWEST_MINOR}.x" in text
    assert versions.sail_version_range() in text
    operator_last = versions.IN_CLUSTER_OPERATOR.last_minor
    assert f"1.{versions.OLDEST_MINOR} to {operator_last}" in text


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


def test_the_pipeline_picture_is_the_import_graph() -> None:
    """docs/development.md draws the stages from the import graph (scripts/pipeline_graph.py)."""
    graph = load_script("pipeline_graph")
    assert graph.main(["--check"]) == 0, "run python scripts/pipeline_graph.py"
    # Every module of the package is owned by a stage or named as shared.
    page = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    shared = page.split("Shared by the stages, owned by none: ", 1)[1].split("\n", 1)[0]
    for path in (ROOT / "meshgen").glob("*.py"):
        module = f"meshgen.{path.stem}"
        if path.stem != "__init__" and graph.stage_of(module) == graph.SHARED:
            assert f"`{path.stem}`" in shared, module
