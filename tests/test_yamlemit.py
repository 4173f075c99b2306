"""Tests for meshgen.yamlemit: exact round-trips under YAML 1.1 (PyYAML) and 1.2 (ruamel)."""

from __future__ import annotations

import enum
import itertools
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from meshgen.yamlemit import YamlData, dump, dump_all, quote_if_needed

_PYYAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RUAMEL = YAML(typ="safe", pure=True)


def load_pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=_PYYAML_LOADER)


def load_ruamel(text: str) -> Any:
    return _RUAMEL.load(text)


def same(a: object, b: object) -> bool:
    """Equality that also requires identical types (so True != 1 and "1" != 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_round_trips(doc: YamlData) -> str:
    text = dump(doc)
    assert text.endswith("\n")
    for load in (load_pyyaml, load_ruamel):
        back = load(text)
        assert same(back, doc), f"{load.__name__} read {back!r} from {text!r}, wanted {doc!r}"
    return text


TRICKY = [
    # YAML 1.1 / 1.2 bools and nulls, in several cases
    *["no", "No", "NO", "on", "On", "off", "OFF", "yes", "YES", "y", "Y", "n", "N"],
    *["true", "True", "TRUE", "false", "False", "tRuE", "null", "Null", "NULL", "nULL", "~", ""],
    # numbers of either spec
    *["1.10", "0755", "0o17", "0O17", "0x1F", "0X1F", "0b101", "1e3", "1E3", "1e-3", "1_000"],
    *["1_0_0", "1__e3", "+1", "-1", "1", "0", "08", "1.", "1.2.3", "1.20.0", ".5", "._5"],
    *[".inf", "-.inf", "+.Inf", ".NaN", ".nan", "12:30", "1:30:00", "190:20:30.15"],
    *["2001-12-14", "2001-1-2", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5"],
    # indicators and syntax
    *["a: b", "a:b", "key:with:colons", "a:", "- x", "-", "--", "---", "...", "#c", "a #c"],
    *["&a", "*a", "!t", "!!str", "%x", "@x", "`", "'q'", '"dq"', "=", "<<", "?", "? x", "|"],
    *[">", "{", "}", "[", "]", ",", "a,b", "{a: 1}", "[1]", "\\", "\\n", "a\\"],
    # whitespace and line breaks
    *[" lead", "trail ", " ", "\t", "a\tb", "a\nb\n", "\n", "\r\n", "a\rb", "a  b"],
    *["\u2028", "\u2029", "\x85", "\ufeff", "x\ufeff", "\x00", "\x07", "\x1b", "\x7f", "\x9f"],
    *["\ufffe", "\uffff", "\xa0", "\u00e9t\u00e9", "\U0001f600", "a\U0001f600b", "\u202e"],
    # things that must stay plain-safe strings
    *["nginx", "v1", "_1", "__", "1-2", "10-0-0-1", "a.b", "nan", "inf", "1e", "0xg", "x1"],
    *["networking.istio.io/v1beta1", "reviews.default.svc.cluster.local", "ISTIO_MUTUAL"],
]


@pytest.mark.parametrize("s", TRICKY)
def test_tricky_string_round_trips_as_value_and_key(s: str) -> None:
    assert_round_trips(s)
    assert_round_trips({"k": s})
    assert_round_trips({s: "v"})
    assert_round_trips({s: {s: [s, {s: s}]}})
    assert_round_trips([s, [s], {s: s}])


@pytest.mark.parametrize(
    ("s", "text"),
    [
        ("nginx", "nginx"),
        ("networking.istio.io/v1beta1", "networking.istio.io/v1beta1"),
        ("10-0-0-1", "10-0-0-1"),
        ("_1", "_1"),
        ("no", '"no"'),
        ("On", '"On"'),
        ("~", '"~"'),
        ("", '""'),
        ("1.10", '"1.10"'),
        ("0755", '"0755"'),
        ("1_000", '"1_000"'),
        ("2001-12-14", '"2001-12-14"'),
        ("a: b", '"a: b"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("a\nb\n", '"a\\nb\\n"'),
        ("\t\x00\x7f", '"\\t\\x00\\x7F"'),
        ("\x85\u2028\u2029\ufeff", '"\\N\\L\\P\\uFEFF"'),
        ("caf\u00e9 \U0001f600", '"caf\u00e9 \U0001f600"'),
    ],
)
def test_quote_if_needed_exact(s: str, text: str) -> None:
    assert quote_if_needed(s) == text


def test_short_strings_exhaustively() -> None:
    """Every short string over a number/indicator-heavy alphabet round-trips in one document."""
    alphabet = "019._-+:eExXoObByYnN~ a"
    strings: list[YamlData] = [
        "".join(p) for n in range(4) for p in itertools.product(alphabet, repeat=n)
    ]
    digits = "0179._-eExob"
    strings += ["".join(p) for p in itertools.product(digits, repeat=4)]
    assert_round_trips(strings)
    assert_round_trips({str(s): i for i, s in enumerate(strings)})


GOLDEN_DOC: YamlData = {
    "apiVersion": "networking.istio.io/v1beta1",
    "kind": "DestinationRule",
    "metadata": {
        "name": "reviews",
        "namespace": "bookinfo",
        "labels": {"app.kubernetes.io/managed-by": "meshgen", "version": "1.10"},
        "annotations": {},
    },
    "spec": {
        "host": "reviews.bookinfo.svc.cluster.local",
        "exportTo": ["."],
        "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}, "portLevelSettings": []},
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {
                "name": "v2",
                "labels": {"version": "v2", "canary": "yes"},
                "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}},
            },
        ],
        "ports": [[80, 443], []],
        "enabled": True,
        "note": None,
    },
}

GOLDEN_TEXT = """\
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
  labels:
    app.kubernetes.io/managed-by: meshgen
    version: "1.10"
  annotations: {}
spec:
  host: reviews.bookinfo.svc.cluster.local
  exportTo:
  - "."
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
    portLevelSettings: []
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
      canary: "yes"
    trafficPolicy:
      connectionPool:
        tcp:
          maxConnections: 100
  ports:
  - - 80
    - 443
  - []
  enabled: true
  note: null
"""


def test_golden_kubernetes_document() -> None:
    assert dump(GOLDEN_DOC) == GOLDEN_TEXT
    assert_round_trips(GOLDEN_DOC)


def test_top_level_and_empty_values() -> None:
    assert dump({}) == "{}\n"
    assert dump([]) == "[]\n"
    assert dump(None) == "null\n"
    assert dump(True) == "true\n"
    assert dump(-42) == "-42\n"
    assert dump("no") == '"no"\n'
    assert dump({"a": {}, "b": [], "c": [{}, []]}) == "a: {}\nb: []\nc:\n- {}\n- []\n"
    assert dump([[["x"]]]) == "- - - x\n"


def test_key_order_is_preserved() -> None:
    doc: YamlData = {"z": 1, "a": 2, "m": {"x": 1, "b": 2}}
    assert dump(doc) == "z: 1\na: 2\nm:\n  x: 1\n  b: 2\n"


def test_huge_ints_and_bools() -> None:
    doc: YamlData = [10**40, -(10**40), 2**64, True, False, 0, None]
    assert_round_trips(doc)


def test_over_long_key_uses_explicit_form() -> None:
    long_key = "k" * 1100
    doc: YamlData = {
        long_key: "v",
        "a" + long_key: {"x": 1},
        "b" + long_key: [1, {"y": 2}],
        "c" + long_key: [],
        "\u00e9" * 600: None,  # short in characters, long in UTF-8 bytes
    }
    text = assert_round_trips(doc)
    assert text.startswith(f"? {long_key}\n: v\n")
    assert_round_trips([doc, {"n": [doc]}])


def test_subclasses_are_emitted_as_their_base_values() -> None:
    class Color(enum.IntEnum):
        RED = 1

    class Mode(enum.StrEnum):
        ON = "on"

    class D(dict[str, YamlData]):
        pass

    class L(list[YamlData]):
        pass

    doc: YamlData = {Mode.ON: [Color.RED, Mode.ON, D(a=L([1])), D(), L()], "d": D(x=Mode.ON)}
    assert dump(doc) == '"on":\n- 1\n- "on"\n- a:\n  - 1\n- {}\n- []\nd:\n  x: "on"\n'
    assert dump(Mode.ON) == '"on"\n'
    assert dump(Color.RED) == "1\n"


def test_dump_all_separators() -> None:
    assert dump_all([]) == ""
    assert dump_all([{"a": 1}]) == "a: 1\n"
    assert dump_all([{"a": 1}, "x", [], None]) == "a: 1\n---\nx\n---\n[]\n---\nnull\n"
    docs: list[YamlData] = [{"a": "no"}, ["---", "..."], "...", None, {}]
    assert list(yaml.safe_load_all(dump_all(docs))) == docs
    assert list(_RUAMEL.load_all(dump_all(iter(docs)))) == docs


def test_deterministic() -> None:
    first = dump_all([GOLDEN_DOC, GOLDEN_DOC])
    assert dump_all([GOLDEN_DOC, GOLDEN_DOC]) == first
    assert dump(GOLDEN_DOC) == dump(GOLDEN_DOC)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (b"x", "value b'x' of type bytes at $:"),
        (
            {"spec": {"ports": [{"port": (80,)}]}},
            "value (80,) of type tuple at $.spec.ports[0].port:",
        ),
        ({"a": [b"x"]}, "value b'x' of type bytes at $.a[0]:"),
        ({"a": {1: "x"}}, "mapping key 1 of type int (keys must be str) at $.a:"),
        ({"a": {True: "x"}}, "mapping key True of type bool (keys must be str) at $.a:"),
        ({"a b": {None: "x"}}, "mapping key None of type NoneType (keys must be str) at $['a b']:"),
        ([{1, 2}], "value {1, 2} of type set at $[0]:"),
        ({"x": 1j}, "value 1j of type complex at $.x:"),
    ],
)
def test_unsupported_values_raise_type_error_with_path(doc: Any, fragment: str) -> None:
    with pytest.raises(TypeError, match="cannot emit") as info:
        dump(doc)
    assert fragment in str(info.value)


def test_dump_all_type_error_names_the_document() -> None:
    with pytest.raises(TypeError, match=r"value b'2' of type bytes at document 1, \$\.a\[1\]:"):
        dump_all([{"a": 1}, {"a": [1, b"2"]}])  # type: ignore[list-item]


def test_quote_if_needed_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        quote_if_needed(1)  # type: ignore[arg-type]


_TEXT = st.text(st.characters(exclude_categories=["Cs"]))
_DATA: st.SearchStrategy[YamlData] = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_TEXT, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_DATA)
def test_property_round_trip(doc: YamlData) -> None:
    assert_round_trips(doc)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DATA, max_size=4))
def test_property_dump_all_round_trip(docs: list[YamlData]) -> None:
    text = dump_all(docs)
    assert text == dump_all(docs)
    back = list(yaml.safe_load_all(text))
    assert len(back) == len(docs)
    assert all(same(a, b) for a, b in zip(back, docs, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_floats_round_trip_under_both_parsers(value: float) -> None:
    # istio.values may carry floats (e.g. pilot.traceSampling: 1.0).
    text = dump({"v": value, "l": [value]})
    for loaded in (yaml.load(text, Loader=_PYYAML_LOADER), YAML(typ="safe", pure=True).load(text)):
        assert loaded == {"v": value, "l": [value]}
        assert type(loaded["v"]) is float


def test_nan_is_emitted_as_yaml_nan() -> None:
    loaded = yaml.safe_load(dump({"v": float("nan")}))
    assert loaded["v"] != loaded["v"]
