"""Tests for meshgen.load: every MG0xx code at its exact FILE:LINE:COL, and positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshgen.diagnostics import Diagnostic
from meshgen.load import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_EVENTS,
    Loaded,
    YamlPath,
    load_bytes,
    load_file,
    load_text,
)

F = "mesh.yaml"
EXAMPLE = Path(__file__).parent.parent / "examples" / "openshift-submariner" / "mesh.yaml"


def billion_laughs(levels: int = 9, fanout: int = 10) -> str:
    """a0 is one string; each a<i> is a list of `fanout` aliases to a<i-1>: 10**9 nodes."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def nested(levels: int) -> str:
    """Lists nested so that the innermost one is `levels` below the document root."""
    return "[" * (levels + 1) + "]" * (levels + 1) + "\n"


def only(diags: list[Diagnostic]) -> Diagnostic:
    assert len(diags) == 1, diags
    return diags[0]


def loaded(text: str) -> Loaded:
    result, diags = load_text(text, F)
    assert diags == []
    assert result is not None
    return result


# (id, YAML text, code, str(location), a substring of the hint or None)
ERRORS: list[tuple[str, str, str, str, str | None]] = [
    # MG001: YAML syntax.
    ("unclosed-flow-seq", "a: [1, 2\nb: 3\n", "MG001", "mesh.yaml:2:2", "indentation"),
    ("bad-indentation", "a:\n  b: 1\n c: 2\n", "MG001", "mesh.yaml:3:2", "indentation"),
    ("value-after-scalar", "a: 1\n  b: 2\n", "MG001", "mesh.yaml:2:4", "indentation"),
    ("tab-indentation", "a:\n\tb: 1\n", "MG001", "mesh.yaml:2:1", "tabs"),
    ("tab-in-block", "a:\n  b: 1\n\tc: 2\n", "MG001", "mesh.yaml:3:1", "tabs"),
    ("ipv6-in-flow-seq", "p: [10.0.0.0/8, fd00::/56]\n", "MG001", "mesh.yaml:1:21", "quote"),
    # MG002: duplicate key, reported at the second occurrence.
    ("dup-top", "a: 1\nb: 2\na: 3\n", "MG002", "mesh.yaml:3:1", "keep one"),
    ("dup-nested", "x:\n  a: 1\n  a: 2\n", "MG002", "mesh.yaml:3:3", "keep one"),
    ("dup-flow", "x: {a: 1, a: 2}\n", "MG002", "mesh.yaml:1:11", "keep one"),
    # MG003: alias bombs, recursion, depth.
    ("billion-laughs", billion_laughs(), "MG003", "mesh.yaml:1:5", "billion laughs"),
    ("recursive-seq", "a: &x [*x]\n", "MG003", "mesh.yaml:1:4", "recursive"),
    ("recursive-map", "a: &x\n  b: *x\n", "MG003", "mesh.yaml:1:4", "recursive"),
    ("too-deep", nested(MAX_DEPTH + 1), "MG003", f"mesh.yaml:1:{MAX_DEPTH + 2}", None),
    # MG006: tags other than the plain-data ones.
    (
        "python-tag",
        "a: !!python/object/apply:os.system ['ls']\n",
        "MG006",
        "mesh.yaml:1:4",
        "remove the tag",
    ),
    ("custom-tag", "a: !custom x\n", "MG006", "mesh.yaml:1:4", "remove the tag"),
    ("binary-tag", "a: !!binary aGVsbG8=\n", "MG006", "mesh.yaml:1:4", "remove the tag"),
    ("set-tag", "a: !!set {x, y}\n", "MG006", "mesh.yaml:1:4", "remove the tag"),
    ("custom-tag-on-map", "a: !thing {x: 1}\n", "MG006", "mesh.yaml:1:4", "remove the tag"),
    # Explicit tags that would make YAML 1.1 and 1.2 readers disagree, or crash a constructor.
    ("tagged-bool-word", "a: !!bool yes\n", "MG006", "mesh.yaml:1:4", "plain value"),
    ("tagged-quoted-bool", 'a: !!bool "true"\n', "MG006", "mesh.yaml:1:4", "plain value"),
    ("tagged-bad-int", 'a: !!int "abc"\n', "MG006", "mesh.yaml:1:4", "plain value"),
    ("tagged-empty-int", "a: !!int ''\n", "MG006", "mesh.yaml:1:4", "plain value"),
    ("tagged-bad-float", "a: !!float x\n", "MG006", "mesh.yaml:1:4", "plain value"),
    # Nesting far beyond the limit is refused before libyaml's recursive composer runs.
    ("deep-flow", "a: " + "[" * 30000 + "]" * 30000, "MG003", f"mesh.yaml:1:{MAX_DEPTH + 4}", None),
    ("deep-block", "- " * 20000 + "x\n", "MG003", f"mesh.yaml:1:{2 * MAX_DEPTH + 3}", None),
    # MG007: not exactly one document.
    ("empty", "", "MG007", "mesh.yaml", "meshgen init"),
    ("only-comment", "# nothing here\n", "MG007", "mesh.yaml", "meshgen init"),
    ("two-documents", "a: 1\n---\nb: 2\n", "MG007", "mesh.yaml:2:1", "---"),
    # MG008: merge keys and keys that YAML 1.2 does not resolve to strings.
    (
        "merge-key",
        "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n",
        "MG008",
        "mesh.yaml:3:3",
        "write the keys out",
    ),
    ("int-key", "1: x\n", "MG008", "mesh.yaml:1:1", "quote the key"),
    ("bool-key", "true: x\n", "MG008", "mesh.yaml:1:1", "quote the key"),
    ("null-key", "null: x\n", "MG008", "mesh.yaml:1:1", "quote the key"),
    ("tilde-key", "~: x\n", "MG008", "mesh.yaml:1:1", "quote the key"),
    ("float-key", "a:\n  1.5: x\n", "MG008", "mesh.yaml:2:3", "quote the key"),
    ("seq-key", "? [a]\n: x\n", "MG008", "mesh.yaml:1:3", "quote the key"),
]


@pytest.mark.parametrize(
    ("text", "code", "location", "hint"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_load_error(text: str, code: str, location: str, hint: str | None) -> None:
    result, diags = load_text(text, F)
    assert result is None
    d = only(diags)
    assert (d.code, str(d.location)) == (code, location)
    assert d.is_error
    if hint is not None:
        assert d.hint is not None
        assert hint in d.hint


def test_duplicate_key_points_back_at_the_first() -> None:
    d = only(load_text("x:\n  a: 1\n  b: 2\n  a: 3\n", F)[1])
    assert str(d.location) == "mesh.yaml:4:3"
    assert [(str(r.location), r.message) for r in d.related] == [
        ("mesh.yaml:2:3", "first defined here")
    ]


def test_billion_laughs_stops_after_a_bounded_number_of_expansions() -> None:
    # 10**9 nodes if expanded; the walker gives up after MAX_EXPANDED_NODES re-visits.
    result, diags = load_text(billion_laughs(), F)
    assert result is None
    assert only(diags).code == "MG003"


def test_max_depth_itself_loads() -> None:
    assert loaded(nested(MAX_DEPTH)).data is not None


def test_unclosed_flow_sequence_notes_where_it_opened() -> None:
    d = only(load_text("a: [1, 2\nb: 3\n", F)[1])
    assert [str(r.location) for r in d.related] == ["mesh.yaml:1:4"]


# (id, bytes, code, str(location))
BYTE_ERRORS: list[tuple[str, bytes, str, str]] = [
    ("oversized", b"a: " + b"x" * (MAX_BYTES + 1), "MG004", "mesh.yaml"),
    ("latin1-e-acute", b"a: 1\nb: caf\xe9\n", "MG005", "mesh.yaml:2:7"),
    ("first-byte", b"\xff", "MG005", "mesh.yaml:1:1"),
    ("after-crlf", b"a: 1\r\nb: \x80\n", "MG005", "mesh.yaml:2:4"),
    # Columns count characters, as libyaml's do: "é" before the bad byte is one column.
    ("after-multibyte", "a: 1\nb: éé".encode() + b"\xff\n", "MG005", "mesh.yaml:2:6"),
    ("truncated-sequence", b"a: \xe2\x82\n", "MG005", "mesh.yaml:1:4"),
    ("utf16", "a: 1\n".encode("utf-16"), "MG005", "mesh.yaml:1:1"),
]


@pytest.mark.parametrize(
    ("blob", "code", "location"), [c[1:] for c in BYTE_ERRORS], ids=[c[0] for c in BYTE_ERRORS]
)
def test_load_bytes_error(blob: bytes, code: str, location: str) -> None:
    result, diags = load_bytes(blob, F)
    assert result is None
    d = only(diags)
    assert (d.code, str(d.location)) == (code, location)


def test_max_bytes_itself_is_not_oversized() -> None:
    blob = b"a: " + b"x" * (MAX_BYTES - 3)
    assert len(blob) == MAX_BYTES
    assert all(d.code != "MG004" for d in load_bytes(blob, F)[1])


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.yaml" if kind == "missing" else tmp_path
    result, diags = load_file(path, F)
    assert result is None
    d = only(diags)
    assert (d.code, str(d.location)) == ("MG009", "mesh.yaml")


def test_load_file_uses_the_path_as_display_name(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("a: 1\nb: [\n")
    d = only(load_file(path)[1])
    assert d.location.file == str(path)
    assert d.code == "MG001"


# --- positions and YAML 1.2 semantics ------------------------------------------------------


def walk(data: Any, path: YamlPath = ()) -> list[YamlPath]:
    paths = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            paths += walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            paths += walk(value, (*path, i))
    return paths


def test_every_node_of_the_example_has_a_position() -> None:
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    result = loaded(text)
    paths = walk(result.data)
    assert len(paths) > 40
    for path in paths:
        assert path in result.positions.values, path
        if path and isinstance(path[-1], str):
            line, col = result.positions.keys[path]
            assert lines[line - 1][col - 1 :].startswith(path[-1]), path
    # Scalars: the recorded position is where the source text of the value starts.
    for path, raw in result.positions.raw.items():
        line, col = result.positions.values[path]
        assert lines[line - 1][col - 1 :].lstrip("\"'").startswith(raw), path


def test_positions_of_the_example() -> None:
    result = loaded(EXAMPLE.read_text())
    lines = EXAMPLE.read_text().splitlines()
    version_line = next(i for i, s in enumerate(lines, 1) if 'version: "1.10.0"' in s)
    assert result.positions.keys[("spec", "istio", "version")] == (version_line, 5)
    assert result.positions.values[("spec", "istio", "version")] == (version_line, 14)
    assert str(result.positions.at(("spec", "istio", "version"))) == (
        f"mesh.yaml:{version_line}:14"
    )
    # A path that does not exist resolves to its nearest existing ancestor.
    assert result.positions.at(("spec", "istio", "nope", 3)) == result.positions.at(
        ("spec", "istio")
    )
    assert result.positions.key_at(("spec", "nope")) == result.positions.at(("spec",))


def test_raw_keeps_the_source_text_of_numbers() -> None:
    result = loaded('spec:\n  version: 1.10\n  quoted: "1.10"\n')
    assert result.data == {"spec": {"version": 1.1, "quoted": "1.10"}}
    assert result.positions.raw[("spec", "version")] == "1.10"
    assert result.positions.raw[("spec", "quoted")] == "1.10"


# (id, YAML value, the loaded Python value): YAML 1.2 core schema, not 1.1.
SCALARS: list[tuple[str, str, object]] = [
    ("no-is-a-string", "no", "no"),
    ("yes-is-a-string", "yes", "yes"),
    ("on-is-a-string", "on", "on"),
    ("true", "true", True),
    ("leading-zero-is-decimal", "0755", 755),
    ("octal-0o", "0o755", 0o755),
    ("hex", "0x1f", 31),
    ("one-ten-is-a-float", "1.10", 1.1),
    ("null", "null", None),
    ("tilde", "~", None),
    ("empty", "", None),
    ("timestamp-stays-text", "2001-12-14", "2001-12-14"),
    ("sexagesimal-is-a-string", "1:20", "1:20"),
]


@pytest.mark.parametrize(("source", "value"), [c[1:] for c in SCALARS], ids=[c[0] for c in SCALARS])
def test_yaml_1_2_scalars(source: str, value: object) -> None:
    data = loaded(f"a: {source}\n").data
    assert data == {"a": value}
    assert type(data["a"]) is type(value)


@pytest.mark.parametrize("key", ["on", "off", "yes", "no", "y", "n", "'1'", '"true"'])
def test_yaml_1_1_booleans_and_quoted_keys_are_string_keys(key: str) -> None:
    data = loaded(f"{key}: x\n").data
    assert data == {key.strip("'\""): "x"}


def test_utf8_bom_is_accepted() -> None:
    result, diags = load_bytes(b"\xef\xbb\xbfa: 1\nb: x\n", F)
    assert diags == []
    assert result is not None
    assert result.data == {"a": 1, "b": "x"}
    assert result.positions.keys[("a",)] == (1, 1)


def test_non_ascii_text_is_kept() -> None:
    assert loaded("a: café ☕\n").data == {"a": "café ☕"}


def test_aliases_are_expanded_into_independent_copies() -> None:
    result = loaded("x: &a {p: 1, q: [1, 2]}\ny: *a\nz: [*a]\n")
    assert result.data == {
        "x": {"p": 1, "q": [1, 2]},
        "y": {"p": 1, "q": [1, 2]},
        "z": [{"p": 1, "q": [1, 2]}],
    }
    assert result.data["x"] is not result.data["y"]
    assert result.data["x"]["q"] is not result.data["y"]["q"]
    # Every expanded node has a position (that of the anchored node) and a key position.
    for path in walk(result.data):
        assert path in result.positions.values
    assert result.positions.keys[("y",)] == (2, 1)
    assert result.positions.values[("y", "p")] == result.positions.values[("x", "p")]


def test_document_markers_are_fine() -> None:
    assert loaded("---\na: 1\n...\n").data == {"a": 1}


def test_non_mapping_documents_load() -> None:
    # Shape errors are validate's business (MG102), not the loader's.
    assert loaded("- 1\n- two\n").data == [1, "two"]
    assert loaded("hello\n").data == "hello"


def test_too_many_nodes_is_refused_before_composing() -> None:
    d = only(load_text("a: [" + "1," * (MAX_EVENTS + 1) + "]\n", F)[1])
    assert d.code == "MG004"
    assert d.hint is not None
    assert "split" in d.hint
