"""schemas/mesh.schema.json and meshgen accept exactly the same specs.

Two judges look at each spec: `jsonschema` (Draft 2020-12, the committed schema, as an editor
or a pre-commit hook would use it) and meshgen's own load + validate. meshgen's structural
verdict is its MG1xx errors: everything validate.py reports, plus MG105 (a required field the
schema states with if/then). The semantic checks are out of scope, as no schema can state
them: MG2xx and later (CIDR overlaps, weights, ...) and MG106-MG109 (path hygiene and
credentials in values the schema deliberately accepts).

Specs come from every examples/*/mesh.yaml, mutated by hypothesis: keys deleted and added,
types changed, strings with trailing line breaks, control characters, Unicode and spaces,
integers as floats, huge numbers, empty lists, extra and malformed mapping keys, CIDRs in
every spelling. Each spec reaches meshgen as YAML text through the real loader, and the
schema judges the data that loader produced, so both see the very same values. Only
JSON-representable data is generated: JSON Schema has no NaN, infinity or non-string keys
(meshgen rejects those on its own).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import random
import re
import shutil
import subprocess
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, BeforeValidator
from pydantic_core import PydanticCustomError

from meshgen.checks import run_checks
from meshgen.diagnostics import Diagnostic, format_text
from meshgen.load import YamlPath, load_file, load_text
from meshgen.schema import schema_text
from meshgen.spec import Mesh
from meshgen.spec_cidr import parse_cidr
from meshgen.spec_scalars import integral
from meshgen.validate import validate
from tests.helpers import EXAMPLES, ROOT, paths

SCHEMA = json.loads((ROOT / "schemas" / "mesh.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)
CIDR_VALIDATOR = Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/CIDR"})
# MG1xx checks whose rule the schema states (the rest of checks/ is semantic, see above).
SCHEMA_LEVEL_CHECKS = frozenset({"MG105"})

# A fixed, reproducible budget: ~4 ms a spec, a few seconds in all.
BUDGET = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _seed(path: Any) -> Any:
    loaded, diags = load_file(path, "mesh.yaml")
    assert loaded is not None, diags
    return loaded.data


SEEDS: dict[str, Any] = {name: _seed(path) for name, path in EXAMPLES.items()}


# --- the two judges ------------------------------------------------------------------------


def to_yaml(value: Any) -> str:
    """`value` as YAML flow text (JSON-like), every non-printable-ASCII character escaped:
    what the loader reads back is exactly `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, str):
        return '"' + "".join(_escape(ch) for ch in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(to_yaml(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{to_yaml(k)}: {to_yaml(v)}" for k, v in value.items()) + "}"


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in '"\\':
        return "\\" + ch
    if 0x20 <= code < 0x7F:
        return ch
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (True is not 1, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def meshgen_verdict(data: Any) -> tuple[Any, list[Diagnostic]]:
    """The data meshgen's loader read from `data` as YAML text, and its MG1xx errors."""
    loaded, diags = load_text(to_yaml(data), "mesh.yaml")
    assert loaded is not None, format_text(diags)
    assert same(loaded.data, data), "the loader did not read back the generated data"
    mesh, diags = validate(loaded)
    assert all(d.code.startswith("MG1") for d in diags), format_text(diags)
    if mesh is not None:
        diags = [
            d
            for d in run_checks(mesh, loaded.positions)
            if d.is_error and d.code in SCHEMA_LEVEL_CHECKS
        ]
    return loaded.data, diags


def assert_agree(data: Any, how: list[str]) -> bool:
    """Both judges give the same verdict on `data`; returns it."""
    read, diags = meshgen_verdict(data)
    errors = sorted(VALIDATOR.iter_errors(read), key=lambda e: e.json_path)
    if (not diags) != (not errors):
        schema_says = (
            "\n".join(f"  {e.json_path}: {_short(e.message)}" for e in errors[:8]) or "  (valid)"
        )
        pytest.fail(
            "meshgen and the JSON Schema disagree\n"
            f"mutations:\n{_lines(how)}\n"
            f"meshgen says:\n{_lines(format_text(diags).splitlines()) or '  (valid)'}\n"
            f"the schema says:\n{schema_says}\n"
            f"spec:\n  {_short(json.dumps(read, ensure_ascii=True), 4000)}",
            pytrace=False,
        )
    return not diags


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _lines(items: list[str]) -> str:
    return "".join(f"  {_short(item)}\n" for item in items)


# --- mutations -----------------------------------------------------------------------------


def node_at(data: Any, path: YamlPath) -> Any:
    for seg in path:
        data = data[seg]
    return data


def dotted(path: YamlPath) -> str:
    return "".join(f"[{seg}]" if isinstance(seg, int) else f".{seg}" for seg in path) or "."


def _schema_property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield from node["properties"]
        for value in node.values():
            yield from _schema_property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_property_names(item)


# Every value the examples hold under each key: mostly valid replacements for each other.
POOL: dict[str, list[Any]] = {}
for _seed_data in SEEDS.values():
    for _path in paths(_seed_data):
        if _path and isinstance(_path[-1], str):
            POOL.setdefault(_path[-1], []).append(node_at(_seed_data, _path))
FIELDS = sorted(set(_schema_property_names(SCHEMA)) | set(POOL))
STRINGS = sorted({v for values in POOL.values() for v in values if isinstance(v, str)})

CONTROL = [chr(c) for c in (0x00, 0x07, 0x09, 0x0A, 0x0D, 0x1B, 0x1F, 0x7F, 0x85, 0x9F)]
ODD = ["\u00a0", "\u2028", "\u202e", "\ufeff", "é", "☕", "😀", "İ", "ﬀ", " ", "\\", '"', "'"]
chars = st.sampled_from(CONTROL + ODD) | st.characters(exclude_categories=["Cs"])
text = st.text(chars, max_size=12)
numbers = (
    st.sampled_from(
        [
            0,
            1,
            -1,
            5,
            100,
            101,
            255,
            599,
            65535,
            65536,
            2**31 - 1,
            2**31,
            2**63,
            10**20,
            10**300,
            0.0,
            1.0,
            5.0,
            8080.0,
            100.0,
            100.5,
            0.5,
            -0.0,
            1e20,
            1e300,
            2.0**53 + 2,
            1.5e-5,
        ]
    )
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
)
scalars = st.none() | st.booleans() | numbers | text | st.sampled_from(STRINGS)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(text | st.sampled_from(FIELDS), inner, max_size=3)
    ),
    max_leaves=6,
)


def _cidr_variants(net: Any, draw: st.DrawFn) -> str:
    canonical = str(net)
    address, prefix = canonical.split("/")
    options = [
        canonical,
        canonical,
        canonical.upper(),
        f"{address}/0{prefix}",
        f" {canonical}",
        f"{canonical}\n",
        f"{address}%eth0/{prefix}",
        address,
        f"{net.network_address + 1}/{prefix}" if net.num_addresses > 1 else canonical,
    ]
    if net.version == 6:
        options += [
            f"{net.network_address.exploded}/{prefix}",
            re.sub(r"(^|:)0(?=:|$)", r"\g<1>00", canonical.split("/")[0]) + f"/{prefix}",
        ]
    else:
        options.append(f"{address}/{net.netmask}")
    return draw(st.sampled_from(options))


@st.composite
def cidr_text(draw: st.DrawFn) -> str:
    """A CIDR in one of its many spellings, some canonical, most not, some special ranges."""
    if draw(st.booleans()):
        bits = draw(
            st.integers(0, 2**32 - 1)
            | st.sampled_from([0x7F000000, 0xA9FE0000, 0xE0000000, 0x0A000000, 0])
        )
        net4 = ipaddress.ip_network((bits, draw(st.integers(0, 32))), strict=False)
        return _cidr_variants(net4, draw)
    groups = draw(
        st.lists(
            st.sampled_from([0, 0, 0, 1, 0x10, 0x8000, 0xFD00, 0xFFFF, 0xFE80, 0xFF00])
            | st.integers(0, 0xFFFF),
            min_size=8,
            max_size=8,
        )
    )
    bits = int("".join(f"{g:04x}" for g in groups), 16)
    net6 = ipaddress.ip_network((bits, draw(st.integers(0, 128))), strict=False)
    return _cidr_variants(net6, draw)


def _branches(node: Any) -> Iterator[dict[str, Any]]:
    """A subschema and what its $ref and anyOf lead to."""
    if not isinstance(node, dict):
        return
    yield node
    if "$ref" in node:
        yield from _branches(SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]])
    for branch in node.get("anyOf", []):
        yield from _branches(branch)


def fields_at(path: YamlPath) -> list[str]:
    """The property names the schema defines for the mapping at `path`."""
    nodes = [SCHEMA]
    for seg in path:
        step = []
        for node in (b for n in nodes for b in _branches(n)):
            if isinstance(seg, int) and isinstance(node.get("items"), dict):
                step.append(node["items"])
            elif isinstance(seg, str):
                if seg in node.get("properties", {}):
                    step.append(node["properties"][seg])
                elif isinstance(node.get("additionalProperties"), dict):
                    step.append(node["additionalProperties"])
        nodes = step
    return sorted({name for n in nodes for b in _branches(n) for name in b.get("properties", {})})


def _string_variants(value: str, draw: st.DrawFn) -> str:
    inserted = draw(st.sampled_from(CONTROL + ODD))
    at = draw(st.integers(0, len(value)))
    return draw(
        st.sampled_from(
            [
                value + "\n",
                value + "\r\n",
                "\n" + value,
                value + " ",
                " " + value,
                value + "\t",
                value[:at] + inserted + value[at:],
                value.upper(),
                value.title(),
                "",
                value * 9,
                value[:-1],
                value + "é",
                value + "-",
                "-" + value,
                value.replace("-", "_"),
                value + ".",
                value + "/x",
                "../" + value,
            ]
        )
    )


def _number_variants(value: int | float, draw: st.DrawFn) -> Any:
    options: list[Any] = [
        float(value),
        value + 0.5,
        -value,
        value + 1,
        value - 1,
        str(value),
        value * 1000,
        10**20,
        2**31,
        True,
        None,
        [value],
    ]
    if isinstance(value, float) and value.is_integer():
        options.append(int(value))
    return draw(st.sampled_from(options))


def _replacement(node: Any, key: str | int | None, draw: st.DrawFn) -> Any:
    """A new value for `node`: close to it (the interesting edge), from the pool, or any."""
    choice = draw(st.integers(0, 9))
    if choice <= 3:
        if isinstance(node, bool):
            return draw(st.sampled_from([not node, "true", 1, 1.0, None]))
        if isinstance(node, int | float):
            return _number_variants(node, draw)
        if isinstance(node, str):
            if re.fullmatch(r"[0-9a-f:.]+/[0-9]+", node) and draw(st.booleans()):
                return draw(cidr_text())
            return _string_variants(node, draw)
        if isinstance(node, list):
            return draw(
                st.sampled_from(
                    [
                        [],
                        node + node[-1:],
                        node[:-1],
                        node[0] if node else None,
                        [node],
                        {"x": node},
                    ]
                )
            )
        if isinstance(node, dict):
            return draw(st.sampled_from([{}, [node], None, "x", list(node)]))
    if choice <= 7 and isinstance(key, str) and key in POOL:
        return copy.deepcopy(draw(st.sampled_from(POOL[key])))
    return draw(values)


@st.composite
def mutate(draw: st.DrawFn, data: Any) -> tuple[Any, str]:
    all_paths = list(paths(data))
    path = draw(st.sampled_from(all_paths))
    node = node_at(data, path)
    parent: Any = node_at(data, path[:-1]) if path else None
    op = draw(st.sampled_from(["replace"] * 5 + ["delete", "add", "add", "add-list"]))
    if op == "delete" and path:
        del parent[path[-1]]
        return data, f"delete {dotted(path)}"
    if op == "add" and isinstance(node, dict):
        known = [name for name in fields_at(path) if name not in node]
        any_key = (
            st.sampled_from(FIELDS)
            | text
            | st.sampled_from(
                ["app", "x-canary", "Version", "a/b", "topology.istio.io/cluster", "-x", "a" * 64]
            )
        )
        use_known = bool(known) and draw(st.booleans())
        key = draw(st.sampled_from(known)) if use_known else draw(any_key)
        use_pool = key in POOL and draw(st.booleans())
        value = copy.deepcopy(draw(st.sampled_from(POOL[key]))) if use_pool else draw(values)
        node[key] = value
        return data, f"set {dotted((*path, key))} = {value!r}"
    if op == "add-list" and isinstance(node, list):
        use_first = bool(node) and draw(st.booleans())
        item = copy.deepcopy(node[0]) if use_first else draw(values)
        node.append(item)
        return data, f"append to {dotted(path)}: {item!r}"
    value = _replacement(node, path[-1] if path else None, draw)
    if not path:
        return value, f"replace the document with {value!r}"
    parent[path[-1]] = value
    return data, f"set {dotted(path)} = {value!r}"


@st.composite
def mutated_spec(draw: st.DrawFn) -> tuple[Any, list[str]]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = copy.deepcopy(SEEDS[name])
    how = [f"examples/{name}/mesh.yaml"]
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        data, step = draw(mutate(data))
        how.append(step)
    return data, how


# --- the tests -----------------------------------------------------------------------------


def test_the_committed_schema_is_the_generated_one() -> None:
    # Otherwise this module would test a stale file (test_golden says how to regenerate).
    assert json.loads(schema_text()) == SCHEMA


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_example_is_accepted_by_both(name: str) -> None:
    assert assert_agree(copy.deepcopy(SEEDS[name]), [f"examples/{name}/mesh.yaml"])


@BUDGET
@given(mutated_spec())
def test_mutated_examples(spec: tuple[Any, list[str]]) -> None:
    data, how = spec
    assert_agree(data, how)


def _cluster(**fields: Any) -> Any:
    data = copy.deepcopy(SEEDS["kubernetes-three-clusters"])
    data["spec"]["clusters"][0].update(fields)
    return data


def _service(**fields: Any) -> Any:
    data = copy.deepcopy(SEEDS["canary-split"])
    data["spec"]["services"][0].update(fields)
    return data


def _match(**match: Any) -> Any:
    return _service(routes=[{"match": [match], "destinations": [{"subset": "v1"}]}])


def _values(**values: Any) -> Any:
    data = copy.deepcopy(SEEDS["kubernetes-three-clusters"])
    data["spec"]["istio"]["values"] = values
    return data


def _secrets(**secrets: Any) -> Any:
    data = copy.deepcopy(SEEDS["kubernetes-three-clusters"])
    data["spec"]["secrets"] = secrets
    return data


# The disagreements the review found, and their neighbours: (id, spec, accepted).
CASES: list[tuple[str, Any, bool]] = [
    ("name-trailing-newline", _cluster(name="east\n"), False),
    ("name-trailing-crlf", _cluster(name="east\r\n"), False),
    ("version-trailing-newline", _cluster(kubernetesVersion="1.30\n"), False),
    ("cidr-trailing-newline", _cluster(podCIDR="10.0.0.0/16\n"), False),
    ("label-key-uppercase-ok", _service(subsets=[{"name": "v1", "labels": {"App": "x"}}]), True),
    ("label-key-space", _service(subsets=[{"name": "v1", "labels": {"a b": "x"}}]), False),
    ("label-key-newline", _service(subsets=[{"name": "v1", "labels": {"app\n": "x"}}]), False),
    ("label-value-newline", _service(subsets=[{"name": "v1", "labels": {"app": "x\n"}}]), False),
    ("header-uppercase", _match(headers={"X-Canary": {"exact": "a"}}), False),
    ("header-ok", _match(headers={"x-canary": {"exact": "a"}}), True),
    ("port-integral-float", _service(ports=[{"name": "http", "number": 8080.0}]), True),
    ("port-fraction", _service(ports=[{"name": "http", "number": 8080.5}]), False),
    ("port-bool", _service(ports=[{"name": "http", "number": True}]), False),
    ("port-string", _service(ports=[{"name": "http", "number": "8080"}]), False),
    ("weight-1e2", _service(routes=[{"destinations": [{"subset": "v1", "weight": 1e2}]}]), True),
    ("match-two-kinds", _match(uri={"exact": "/a", "prefix": "/a"}), False),
    ("match-no-kind", _match(uri={}), False),
    ("match-null-kind", _match(uri={"exact": "/a", "prefix": None}), False),
    ("match-one-kind", _match(uri={"regex": "/a.*"}), True),
    ("match-tab", _match(uri={"exact": "/a\tb"}), False),
    ("match-unicode", _match(uri={"prefix": "/caf\u00e9"}), True),
    ("cidr-zone-id", _cluster(podCIDR="fd00::%eth0/56"), False),
    ("cidr-uppercase", _cluster(podCIDR="FD00::/56"), False),
    ("cidr-canonical-v6", _cluster(podCIDR="fd00::/56"), True),
    ("cidr-prefix-leading-zero", _cluster(podCIDR="10.1.0.0/016"), False),
    ("cidr-netmask", _cluster(podCIDR="10.1.0.0/255.255.0.0"), False),
    ("cidr-space", _cluster(podCIDR=" 10.1.0.0/16"), False),
    ("cidr-host-bits", _cluster(podCIDR="10.1.0.1/16"), False),
    ("cidr-three", _cluster(podCIDR=["10.1.0.0/16", "fd00::/56", "10.9.0.0/16"]), False),
    ("cidr-ipv4-mapped", _cluster(podCIDR="::ffff:0:0/96"), False),
    ("values-multiline", _values(a="x\ty\nz", b=[1.5, None, {"k": 8080.0}]), True),
    ("values-carriage-return", _values(a="x\r\n"), False),
    ("values-key-newline", _values(**{"a\n": 1}), False),
    ("external-secrets-no-store", _secrets(provider="external-secrets"), False),
    ("external-secrets-null-store", _secrets(provider="external-secrets", store=None), False),
    ("external-secrets-store", _secrets(provider="external-secrets", store={"name": "v"}), True),
    (
        "int32-max",
        _service(routes=[{"destinations": [{"subset": "v1"}], "retries": {"attempts": 2**31}}]),
        False,
    ),
]


@pytest.mark.parametrize(("data", "accepted"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_known_cases(data: Any, accepted: bool) -> None:
    assert assert_agree(data, ["(a fixed case)"]) is accepted


# --- CIDRs: the generated regular expressions against ipaddress ----------------------------


def meshgen_accepts_cidr(text_: str) -> bool:
    try:
        parse_cidr(text_)
    except PydanticCustomError:
        return False
    return True


def assert_cidr_agrees(text_: str) -> None:
    by_meshgen = meshgen_accepts_cidr(text_)
    by_schema = CIDR_VALIDATOR.is_valid(text_)
    assert by_meshgen == by_schema, (
        f"{text_!r}: meshgen {'accepts' if by_meshgen else 'rejects'}, "
        f"the schema {'accepts' if by_schema else 'rejects'}"
    )


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(cidr_text())
def test_cidr_spellings(cidr: str) -> None:
    assert_cidr_agrees(cidr)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.text(st.sampled_from("0123456789abcdefABCDEF:./% \n"), max_size=24))
def test_cidr_like_noise(noise: str) -> None:
    assert_cidr_agrees(noise)


def test_ipv4_every_octet_at_every_prefix() -> None:
    for prefix in range(33):
        for position in range(4):
            for value in range(256):
                octets = [10, 0, 0, 0]
                octets[position] = value
                assert_cidr_agrees(".".join(map(str, octets)) + f"/{prefix}")


def _spellings(groups: list[int], prefix: int) -> set[str]:
    """Every way to write these groups: each single '::' compression, and in full."""
    hextets = [f"{g:x}" for g in groups]
    out = {":".join(hextets), str(ipaddress.IPv6Address(":".join(hextets)))}
    for start in range(8):
        for end in range(start + 1, 9):
            if all(g == 0 for g in groups[start:end]):
                out.add(":".join(hextets[:start]) + "::" + ":".join(hextets[end:]))
    return {f"{text_}/{prefix}" for text_ in out}


def test_ipv6_every_zero_pattern() -> None:
    """Every placement of zero groups, written every way, at prefixes around the groups."""
    rng = random.Random(0)
    nonzero = [0x1, 0x10, 0x100, 0x1000, 0x8000, 0xFD00, 0xFFFF, 0xFE80, 0xFF00, 0xABC]
    for mask in range(256):
        for _ in range(4):
            prefix = rng.choice([0, 128, *range(1, 128)])
            groups = [rng.choice(nonzero) if mask >> i & 1 else 0 for i in range(8)]
            if rng.random() < 0.5:  # mostly a valid network: clear the host bits
                net = ipaddress.IPv6Network(
                    (int("".join(f"{g:04x}" for g in groups), 16), prefix), strict=False
                )
                groups = [int(h, 16) for h in net.network_address.exploded.split(":")]
            for spelling in _spellings(groups, prefix):
                assert_cidr_agrees(spelling)


# --- the schema, by construction ----------------------------------------------------------

# The keywords the schema may use: Draft 2020-12 applicators, validation and annotations,
# plus editors' patternErrorMessage. Anything else (pydantic's "ge", a typo) would be an
# annotation every validator silently ignores.
KEYWORDS = {
    "$schema",
    "$id",
    "$comment",
    "$ref",
    "$defs",
    "title",
    "description",
    "default",
    "type",
    "enum",
    "const",
    "properties",
    "additionalProperties",
    "propertyNames",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "anyOf",
    "allOf",
    "not",
    "if",
    "then",
    "patternErrorMessage",
}


def _schemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema with its JSON pointer."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                yield from _schemas(sub, f"{path}/{key}/{name}")
        elif key in ("anyOf", "allOf"):
            for i, sub in enumerate(value):
                yield from _schemas(sub, f"{path}/{key}/{i}")
        elif key in ("items", "additionalProperties", "propertyNames", "not", "if", "then"):
            yield from _schemas(value, f"{path}/{key}")


def test_schema_uses_only_known_keywords() -> None:
    for path, node in _schemas(SCHEMA):
        unknown = set(node) - KEYWORDS
        assert not unknown, f"{path}: {sorted(unknown)}"


CONTROL_RULES = {"#/$defs/NoControlCharacters", "#/$defs/MultilineText"}


def _has_control_rule(node: dict[str, Any]) -> bool:
    return any(item.get("$ref") in CONTROL_RULES for item in node.get("allOf", []))


def test_every_string_and_key_has_the_control_rule() -> None:
    for path, node in _schemas(SCHEMA):
        if node.get("type") == "string" and "enum" not in node and "const" not in node:
            assert _has_control_rule(node), path
        if "propertyNames" in node or node.get("additionalProperties") not in (None, False):
            assert _has_control_rule(node.get("propertyNames", {})), path


def test_mapping_keys_are_checked_not_just_described() -> None:
    for path, node in _schemas(SCHEMA):
        assert "patternProperties" not in node, path


@pytest.mark.parametrize("char", CONTROL)
def test_the_control_rule_reads_the_same_in_python_and_ecma(char: str) -> None:
    rule = SCHEMA["$defs"]["NoControlCharacters"]["pattern"]
    # Anchored at the start and closed by a lookahead over the whole string: no `$`, whose
    # meaning differs between Python and ECMA-262.
    assert "$" not in rule
    for value in (char, f"a{char}", f"{char}a", f"a{char}b", f"a{char}\n"):
        assert re.search(rule, value) is None, repr(value)
    assert re.search(rule, "caf\u00e9 \u2028") is not None


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for tp in _types(info.annotation):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                yield from _models(tp, seen)


def _types(tp: Any) -> Iterator[Any]:
    """`tp` and every type inside it (unions, containers, Annotated)."""
    yield tp
    for arg in typing.get_args(tp):
        if not isinstance(arg, str | int | float) and arg is not Ellipsis:
            yield from _types(arg)


def _ints_without_integral(tp: Any) -> Iterator[Any]:
    if typing.get_origin(tp) is typing.Annotated:
        base, *metadata = typing.get_args(tp)
        if base is int:
            if not any(isinstance(m, BeforeValidator) and m.func is integral for m in metadata):
                yield tp
            return
    if tp is int:
        yield tp
    for arg in typing.get_args(tp):
        if not isinstance(arg, str | int | float) and arg is not Ellipsis:
            yield from _ints_without_integral(arg)


def test_every_integer_field_takes_integral_floats() -> None:
    """JSON Schema's integers include 8080.0, so every int field of the models must too: use
    the types of meshgen/spec_scalars.py (PortNumber, Int32Count, ...), not plain int."""
    for model in _models(Mesh, set()):
        for name, info in model.model_fields.items():
            if info.annotation is int:  # pydantic moved Annotated's metadata to the field
                takes_floats = any(
                    isinstance(m, BeforeValidator) and m.func is integral for m in info.metadata
                )
                assert takes_floats, f"{model.__name__}.{name}"
            else:
                assert not list(_ints_without_integral(info.annotation)), f"{model.__name__}.{name}"


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern":
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


_ECMA = """
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = input.patterns.map((p) => {
  const unicode = new RegExp(p, "u"), plain = new RegExp(p);  // ajv, VS Code: "u"; others not
  return input.strings.map((s) => [unicode.test(s), plain.test(s)]);
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for ECMA-262 regexes")
def test_patterns_read_the_same_in_ecma262() -> None:
    """Editors evaluate `pattern` with JavaScript's RegExp, jsonschema with Python's re. The
    only difference is Python's `$` before a final line feed, and the control rule, which
    both read the same, rejects every such string."""
    rng = random.Random(1)
    strings: set[str] = set()
    for seed in SEEDS.values():
        for path in _strings(seed):
            value = node_at(seed, path)
            for ending in ("", "\n", "\r\n", "\x85", "\u2028", "\t", " "):
                strings |= {value + ending, value.upper() + ending}
    for mask in range(0, 256, 3):
        groups = [
            rng.choice([0x1, 0x10, 0x8000, 0xFD00, 0xFE80]) if mask >> i & 1 else 0
            for i in range(8)
        ]
        strings |= _spellings(groups, rng.randrange(129))
    strings |= {
        f"10.{v}.0.0/{p}{e}" for v in range(0, 256, 17) for p in range(33) for e in ("", "\n")
    }
    corpus = sorted(strings)
    patterns = sorted(set(_patterns(SCHEMA)))
    node = subprocess.run(
        ["node", "-e", _ECMA],
        input=json.dumps({"patterns": patterns, "strings": corpus}),
        capture_output=True,
        text=True,
        check=True,
    )
    rules = {SCHEMA["$defs"][name]["pattern"] for name in ("NoControlCharacters", "MultilineText")}
    control_rule = re.compile(SCHEMA["$defs"]["NoControlCharacters"]["pattern"])
    for pattern, verdicts in zip(patterns, json.loads(node.stdout), strict=True):
        python = re.compile(pattern)
        for string, (unicode, plain) in zip(corpus, verdicts, strict=True):
            by_python = python.search(string) is not None
            if by_python == unicode == plain:
                continue
            where = (pattern[:80], string, by_python, unicode, plain)
            assert pattern not in rules, where
            # Python's `$` matched before the final line feed; the control rule rejects it.
            assert by_python, where
            assert string.endswith("\n"), where
            assert control_rule.search(string) is None, where


def _strings(data: Any, path: YamlPath = ()) -> Iterator[YamlPath]:
    if isinstance(data, str):
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))


def _set(data: Any, path: YamlPath, value: Any) -> Any:
    data = copy.deepcopy(data)
    node_at(data, path[:-1])[path[-1]] = value
    return data


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_a_line_feed_in_any_string_is_rejected_by_both(name: str) -> None:
    """Every string of every example, with a trailing line feed: both reject it, and
    meshgen says MG110 at that node (outside istio.values, where line feeds are allowed)."""
    seed = SEEDS[name]
    for path in _strings(seed):
        for suffix in ("\n", "\x1b[2J"):
            data = _set(seed, path, node_at(seed, path) + suffix)
            in_values = path[:3] == ("spec", "istio", "values")
            accepted = assert_agree(
                data, [f"examples/{name}/mesh.yaml", f"set {dotted(path)} += {suffix!r}"]
            )
            assert accepted is (in_values and suffix == "\n")
            if not accepted:
                _, diags = meshgen_verdict(data)
                assert [d.code for d in diags] == ["MG110"], format_text(diags)


# --- every numeric bound ---------------------------------------------------------------------


def _numeric_fields() -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    """(model, field, pydantic annotation, its property schema) for every field whose schema
    has a numeric bound."""
    for model in _models(Mesh, set()):
        definition = SCHEMA["$defs"].get(model.__name__)
        if definition is None:
            continue
        for name, info in model.model_fields.items():
            prop = definition.get("properties", {}).get(info.alias or name)
            if prop is not None and any(
                bound in json.dumps(prop) for bound in ('"maximum"', '"minimum"', "Maximum")
            ):
                yield model.__name__, info.alias or name, info, prop


NUMERIC_FIELDS = sorted(_numeric_fields(), key=lambda f: (f[0], f[1]))


def _probes(prop: dict[str, Any]) -> list[Any]:
    bounds = {
        value
        for key, value in re.findall(
            r'"((?:exclusiveM|m)(?:ax|in)imum)": (-?[0-9.e+]+)', json.dumps(prop)
        )
    }
    out: list[Any] = [0, 1, -1, 0.5, True, 2**64, 1e308]
    for text in bounds:
        number = float(text)
        for value in (number, math.nextafter(number, math.inf), math.nextafter(number, -math.inf)):
            out.append(value)
        if number.is_integer():
            out.extend([int(number) - 1, int(number), int(number) + 1])
    return out


def test_every_numeric_bound_is_found() -> None:
    names = {f"{model}.{field}" for model, field, _, _ in NUMERIC_FIELDS}
    assert {"Mirror.percentage", "Abort.percentage", "OutlierDetection.maxEjectionPercent"} <= names


@pytest.mark.parametrize(
    ("model", "field", "info", "prop"),
    NUMERIC_FIELDS,
    ids=[f"{m}.{f}" for m, f, _, _ in NUMERIC_FIELDS],
)
def test_every_numeric_bound_reads_the_same(model: str, field: str, info: Any, prop: Any) -> None:
    """The field's schema and the model's type take exactly the same numbers: each bound, the
    floats next to it, the integers beside it (the schema's maxima are the model's)."""
    from pydantic import TypeAdapter, ValidationError

    annotation = info.annotation
    if info.metadata:
        annotation = typing.Annotated[annotation, *info.metadata]
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    validator = Draft202012Validator({"$defs": SCHEMA["$defs"], **prop})
    for value in _probes(prop):
        try:
            adapter.validate_python(value, strict=True)  # as the models are (ConfigDict)
            model_ok = True
        except ValidationError:
            model_ok = False
        schema_ok = validator.is_valid(value)
        assert model_ok == schema_ok, (
            f"{model}.{field} = {value!r}: model {model_ok}, schema {schema_ok}"
        )


@pytest.mark.parametrize("value", [100, 100.0, math.nextafter(100.0, math.inf), 101, 1e300, 2**64])
def test_mirror_percentage_in_a_whole_spec(value: Any) -> None:
    """Over 100 is refused by both, at the real place in a spec (issue 19)."""
    data = copy.deepcopy(SEEDS["canary-split"])
    routes = (r for s in data["spec"]["services"] for r in s.get("routes", []))
    route = next(r for r in routes if "mirror" in r)
    route["mirror"]["percentage"] = value
    assert assert_agree(data, [f"mirror.percentage = {value!r}"]) == (value <= 100)
