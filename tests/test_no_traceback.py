"""Properties: no mutated spec makes the pipeline raise; it always answers with diagnostics."""

from __future__ import annotations

import copy
import random
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshgen.diagnostics import Diagnostic, has_errors
from meshgen.load import Loaded, YamlPath, load_bytes
from meshgen.pipeline import Compiled, compile_spec
from tests.helpers import paths

EXAMPLE = Path(__file__).parent.parent / "examples" / "openshift-submariner" / "mesh.yaml"
TEXT = EXAMPLE.read_text()
LINES = TEXT.splitlines(keepends=True)
# Structural mutations start from every example (each uses other parts of the spec).
SEEDS = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLE.parent.parent.glob("*/mesh.yaml"))]

# Characters that mean something to YAML, plus whitespace and non-ASCII.
YAML_SYNTAX = ":-[]{}&*!|>?,#%@`'\"\t\n\r "
YAML_CHARS = [*YAML_SYNTAX, "é", "☕", "\u2028", "\ufeff", "\x00", "\x85"]
chars = st.sampled_from(YAML_CHARS) | st.characters()


def compile_text(blob: bytes) -> Compiled:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "mesh.yaml")
        path.write_bytes(blob)
        return compile_spec(path)


def check(result: Compiled) -> None:
    assert isinstance(result, Compiled)
    assert all(isinstance(d, Diagnostic) for d in result.diagnostics)
    assert (result.files is not None) == (not has_errors(result.diagnostics)), result.diagnostics
    if result.files is not None:
        assert all(isinstance(v, bytes) for v in result.files.values())


def encode(text: str) -> bytes:
    # Lone surrogates from st.characters() become invalid UTF-8: the loader's MG005.
    return text.encode("utf-8", "surrogatepass")


# --- (a) text mutations of the example -----------------------------------------------------


@st.composite
def delete_slice(draw: st.DrawFn, text: str) -> str:
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 200)))
    return text[:start] + text[end:]


@st.composite
def insert_chars(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.text(chars, min_size=1, max_size=8)) + text[at:]


@st.composite
def duplicate_line(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = draw(st.integers(0, len(lines) - 1))
    return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


@st.composite
def swap_lines(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


TEXT_MUTATIONS = [delete_slice, insert_chars, duplicate_line, swap_lines]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = TEXT
    for mutation in draw(st.lists(st.sampled_from(TEXT_MUTATIONS), min_size=1, max_size=3)):
        text = draw(mutation(text))
    return text


@settings(max_examples=200, deadline=None)
@given(mutated_text())
def test_text_mutations_never_raise(text: str) -> None:
    check(compile_text(encode(text)))


# --- (b) structural mutations of the loaded data -------------------------------------------


def deep(levels: int) -> Any:
    value: Any = "x"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(chars, max_size=20)
    | st.sampled_from(["", "1.10", "1.10.0", "10.0.0.0/8", "cluster1", "v1", "yes", "Mesh"])
)
FIELDS = sorted({str(p[-1]) for seed in SEEDS for p in paths(seed) if p and isinstance(p[-1], str)})
# Mostly string keys; now and then an int, bool or null (the loader's MG008).
keys = st.integers(0, 9).flatmap(
    lambda n: (
        (st.integers() | st.booleans() | st.none())
        if n == 0
        else st.text(chars, max_size=12) | st.sampled_from(FIELDS)
    )
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
) | st.integers(1, 70).map(deep)


def node_at(data: Any, path: YamlPath) -> Any:
    for seg in path:
        data = data[seg]
    return data


def parent_of(data: Any, path: YamlPath) -> Any:
    return node_at(data, path[:-1])


@st.composite
def replace_node(draw: st.DrawFn, data: Any) -> Any:
    path = draw(st.sampled_from(list(paths(data))))
    value = draw(values)
    if not path:
        return value
    parent_of(data, path)[path[-1]] = value
    return data


@st.composite
def delete_key(draw: st.DrawFn, data: Any) -> Any:
    candidates = [p for p in paths(data) if p and isinstance(parent_of(data, p), dict)]
    if candidates:
        path = draw(st.sampled_from(candidates))
        del parent_of(data, path)[path[-1]]
    return data


@st.composite
def add_key(draw: st.DrawFn, data: Any) -> Any:
    mappings = [p for p in paths(data) if isinstance(node_at(data, p), dict)]
    if mappings:
        target = node_at(data, draw(st.sampled_from(mappings)))
        target[draw(keys)] = draw(values)
    return data


DATA_MUTATIONS = [replace_node, delete_key, add_key]


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for mutation in draw(st.lists(st.sampled_from(DATA_MUTATIONS), min_size=1, max_size=3)):
        data = draw(mutation(data))
    return data


@settings(max_examples=200, deadline=None)
@given(mutated_data())
def test_structural_mutations_never_raise(data: Any) -> None:
    check(compile_text(encode(yaml.safe_dump(data, sort_keys=False))))


def test_the_unmutated_example_compiles() -> None:
    result = compile_text(TEXT.encode())
    check(result)
    assert result.diagnostics == []
    assert result.files


# --- random bytes ----------------------------------------------------------------------------


def test_random_bytes_never_raise() -> None:
    rng = random.Random(0)
    alphabet = YAML_SYNTAX.encode() + b"abc019\xc3\xa9\xff"
    for case in range(50):
        size = rng.randrange(0, 300)
        if case % 2:
            blob = bytes(rng.choice(alphabet) for _ in range(size))
        else:
            blob = bytes(rng.randrange(256) for _ in range(size))
        result, diags = load_bytes(blob, "mesh.yaml")
        assert isinstance(result, Loaded) != bool(diags), blob
        assert all(isinstance(d, Diagnostic) for d in diags)
