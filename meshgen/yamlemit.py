"""A small, fast, deterministic YAML emitter for Kubernetes manifests.

Why this exists (speed, as measured by benchmarks/, and safety): Kubernetes manifests use a
tiny subset of YAML -- mappings, sequences, strings, ints, bools and null. A purpose-built
block-style emitter for exactly that subset is ~5x faster than PyYAML's C dumper and, with a
conservative quoting rule, safer: every emitted scalar reads back as the same value under YAML
1.1 (PyYAML; go-yaml as used by kubectl, kustomize and Argo CD) and YAML 1.2 (ruamel.yaml), so
`no`, `on`, `1.10`, `0755`, `~` ... can never turn into booleans, floats, ints or null
downstream ("the Norway problem").

Output style (the style `kubectl get -o yaml` and `kustomize build` print):

* block style only; mappings indent by 2 spaces; key order is kept exactly as given;
* sequences are *not* indented under their parent key (`key:` then `- item` at the key's
  column); a mapping inside a sequence starts on the dash line, its other keys align with it;
* empty containers are written inline as `{}` / `[]`; `None` is `null`; bools are
  `true`/`false`; ints are decimal;
* a string is written plain only when it is provably a string under both YAML versions (see
  `quote_if_needed`); otherwise it is double-quoted on one line with escapes (multi-line
  strings use `\\n`).  The output never contains tabs, anchors, tags or flow collections (except
  the empty `{}` / `[]`).

Floats are written so both YAML versions read them back (`float_text`). Anything else
(tuple, bytes, set, non-str or bool key, ...) raises TypeError naming the path of the
offending value, e.g. ``$.spec.ports[0].port``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NoReturn, TypeAlias

__all__ = ["Data", "YamlData", "dump", "dump_all", "quote_if_needed"]

YamlData: TypeAlias = dict[str, "YamlData"] | list["YamlData"] | str | int | float | bool | None
Data: TypeAlias = YamlData

# --- quoting ---------------------------------------------------------------------------------

# Plain (unquoted) candidates: ASCII word characters, '.', '/', '-'; must not start with
# '.', '/' or '-'.  This excludes every YAML indicator, whitespace, ':' (so also sexagesimal
# numbers like 1:30) and all non-ASCII text.
_PLAIN_CANDIDATE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*").fullmatch

# Words some YAML 1.1 or 1.2 resolver reads as bool or null, compared case-insensitively.
_RESERVED_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})

# Number shapes, checked on candidates that start with a digit, after deleting every '_' (go-yaml
# deletes all underscores before parsing; YAML 1.1 allows them between digits):
#   decimal / YAML 1.1 octal ints (0755), YAML 1.1 spec floats (digits and dots, any number of
#   dots: `[0-9][0-9_]*\.[0-9.]*`), YAML 1.2 / PyYAML / Go floats with exponents (1e3, 1.5E-3),
#   and prefixed ints 0x.., 0o.., 0b.. in either case (Go's ParseInt base 0).
_NUMBER_SHAPE = re.compile(r"[0-9][0-9.]*(?:[eE]-?[0-9]+)?|0[xXoObB][0-9a-fA-F]*").fullmatch

# Dates (YAML 1.1 / ruamel timestamp; go-yaml's "2006-1-2" layout): quote anything starting so.
_DATE_PREFIX = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}").match


def _is_plain_safe(s: str) -> bool:
    if _PLAIN_CANDIDATE(s) is None:
        return False
    if s.lower() in _RESERVED_WORDS:
        return False
    # Starts with a digit: reject number and date shapes.
    return not (
        "0" <= s[0] <= "9"
        and (_NUMBER_SHAPE(s.replace("_", "")) is not None or _DATE_PREFIX(s) is not None)
    )


def _build_escapes() -> dict[int, str]:
    table: dict[int, str] = {c: f"\\x{c:02X}" for c in range(0x20)}
    table.update({c: f"\\x{c:02X}" for c in range(0x7F, 0xA0)})
    table.update({ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\t"): "\\t"})
    # Line breaks in YAML 1.1 (NEL, LS, PS) and the BOM: escape, never literal.
    table.update({0x85: "\\N", 0x2028: "\\L", 0x2029: "\\P", 0xFEFF: "\\uFEFF"})
    # Not YAML-printable: lone surrogates and the two non-characters U+FFFE / U+FFFF.
    table.update({c: f"\\u{c:04X}" for c in range(0xD800, 0xE000)})
    table.update({0xFFFE: "\\uFFFE", 0xFFFF: "\\uFFFF"})
    return table


_ESCAPES = _build_escapes()

# Strings repeat a lot (kinds, namespaces, label keys/values): remember quoting decisions.
# Bounded: cleared when full; long strings (embedded files, certificates) are not remembered.
_CACHE_MAX_ENTRIES = 65_536
_CACHE_MAX_LEN = 256
_value_cache: dict[str, str] = {}
_key_cache: dict[str, str] = {}

# Implicit keys are limited to 1024 characters by YAML (PyYAML and libyaml enforce it, counting
# characters; go-yaml counts bytes).  Longer rendered keys use the explicit `? key` form.
_MAX_IMPLICIT_KEY = 1000


def quote_if_needed(s: str) -> str:
    """Return the scalar text for the string `s`: plain when safe, else double-quoted.

    Plain only when `s` matches ``[A-Za-z0-9_][A-Za-z0-9_./-]*``, is not a bool/null word of
    YAML 1.1 or 1.2 in any letter case, and, if it starts with a digit, is neither number- nor
    date-shaped.  Everything else is double-quoted with escapes valid in both YAML versions.
    """
    if type(s) is not str:
        if not isinstance(s, str):
            raise TypeError(f"expected str, got {type(s).__name__}")
        s = str.__str__(s)
    if _is_plain_safe(s):
        return s
    return '"' + s.translate(_ESCAPES) + '"'


def _str_text(s: str) -> str:
    """`quote_if_needed` through the value cache (a cache miss; the hit is inlined)."""
    text = quote_if_needed(s)
    if len(s) <= _CACHE_MAX_LEN:
        if len(_value_cache) >= _CACHE_MAX_ENTRIES:
            _value_cache.clear()
        _value_cache[s] = text
    return text


def _key_text(k: object) -> str:
    """Rendered key including the colon (`name:`), or `? "key"` for an over-long key."""
    if not isinstance(k, str):
        raise _InvalidError
    q = quote_if_needed(k)
    text = f"? {q}" if len(q.encode()) > _MAX_IMPLICIT_KEY else q + ":"
    if len(k) <= _CACHE_MAX_LEN:
        if len(_key_cache) >= _CACHE_MAX_ENTRIES:
            _key_cache.clear()
        _key_cache[k] = text
    return text


# --- emitting --------------------------------------------------------------------------------


class _InvalidError(Exception):
    """Internal: an unsupported value or key; `_raise_type_error` finds and names its path."""


def _other_scalar(v: object) -> str:
    """Scalars other than exact str (the hot path): bool, int, None, str/int subclasses."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int) and not isinstance(v, bool):
        return int.__repr__(v)  # IntEnum -> its number, not "Color.RED"
    if isinstance(v, str):
        return _str_text(str.__str__(v))
    if isinstance(v, float):
        return float_text(v)
    raise _InvalidError


def float_text(v: float) -> str:
    """A float that YAML 1.1 and 1.2 both read back as the same float.

    YAML 1.1 (PyYAML) needs a '.' and a signed exponent (`1.0e-05`, not `1e-05`); Python's
    repr always signs exponents, so only the dot may be missing. `istio.values` can hold
    floats (e.g. pilot.traceSampling).
    """
    if v != v:
        return ".nan"
    if v in (float("inf"), float("-inf")):
        return ".inf" if v > 0 else "-.inf"
    text = repr(v)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + e + exponent


def _emit_map(d: dict[str, YamlData], first: str, ind: str, out: list[str]) -> None:
    """Write the non-empty mapping `d`: first line prefixed by `first`, the others by `ind`."""
    vcache = _value_cache
    kcache = _key_cache
    pre = first
    child = ind + "  "
    for k, v in d.items():
        kt = kcache.get(k)
        if kt is None:
            kt = _key_text(k)
        seq_ind = ind  # kubectl style: a sequence value starts at the key's column
        if kt[0] == "?":  # over-long key: `? "key"` line, then `: value`
            out.append(f"{pre}{kt}\n")
            pre = ind
            kt = ":"
            seq_ind = child  # after a bare `:` indent the sequence, unambiguous everywhere
        t = type(v)
        if t is str:
            s = vcache.get(v)  # type: ignore[arg-type]
            if s is None:
                s = _str_text(v)  # type: ignore[arg-type]
            out.append(f"{pre}{kt} {s}\n")
        elif t is dict:
            if v:
                out.append(f"{pre}{kt}\n")
                _emit_map(v, child, child, out)  # type: ignore[arg-type]
            else:
                out.append(f"{pre}{kt} {{}}\n")
        elif t is list:
            if v:
                out.append(f"{pre}{kt}\n")
                _emit_seq(v, seq_ind, seq_ind, out)  # type: ignore[arg-type]
            else:
                out.append(f"{pre}{kt} []\n")
        else:
            _emit_other(v, f"{pre}{kt}", child, seq_ind, out)
        pre = ind


def _emit_seq(items: list[YamlData], first: str, ind: str, out: list[str]) -> None:
    """Write the non-empty sequence `items`: first dash prefixed by `first`, the others `ind`."""
    vcache = _value_cache
    pre = first
    child = ind + "  "
    for v in items:
        t = type(v)
        if t is str:
            s = vcache.get(v)  # type: ignore[arg-type]
            if s is None:
                s = _str_text(v)  # type: ignore[arg-type]
            out.append(f"{pre}- {s}\n")
        elif t is dict:
            if v:
                _emit_map(v, pre + "- ", child, out)  # type: ignore[arg-type]
            else:
                out.append(f"{pre}- {{}}\n")
        elif t is list:
            if v:
                _emit_seq(v, pre + "- ", child, out)  # type: ignore[arg-type]
            else:
                out.append(f"{pre}- []\n")
        else:
            _emit_other(v, f"{pre}-", child, None, out)
        pre = ind


def _emit_other(v: object, head: str, child: str, seq_ind: str | None, out: list[str]) -> None:
    """Slow path: scalars other than str, and dict/list subclasses.

    `head` is the text before the value (`key:` or `- `); `seq_ind` is where a sequence value
    starts, None when `head` is a dash (a nested sequence then continues on the dash line).
    """
    if isinstance(v, dict):
        if not v:
            out.append(f"{head} {{}}\n")
        elif seq_ind is None:
            _emit_map(v, head + " ", child, out)
        else:
            out.append(head + "\n")
            _emit_map(v, child, child, out)
    elif isinstance(v, list):
        if not v:
            out.append(f"{head} []\n")
        elif seq_ind is None:
            _emit_seq(v, head + " ", child, out)
        else:
            out.append(head + "\n")
            _emit_seq(v, seq_ind, seq_ind, out)
    else:
        out.append(f"{head} {_other_scalar(v)}\n")


def _emit_doc(doc: YamlData, out: list[str]) -> None:
    if isinstance(doc, dict):
        if doc:
            _emit_map(doc, "", "", out)
        else:
            out.append("{}\n")
    elif isinstance(doc, list):
        if doc:
            _emit_seq(doc, "", "", out)
        else:
            out.append("[]\n")
    elif type(doc) is str:
        out.append(_str_text(doc) + "\n")
    else:
        out.append(_other_scalar(doc) + "\n")


def _find_invalid(v: object, path: str) -> tuple[str, str] | None:
    """Return (path, problem) of the first unsupported value or key in `v`, depth-first."""
    if isinstance(v, dict):
        for k, item in v.items():
            if not isinstance(k, str):
                return path, f"mapping key {k!r} of type {type(k).__name__} (keys must be str)"
            child = f"{path}.{k}" if _PLAIN_CANDIDATE(k) else f"{path}[{k!r}]"
            found = _find_invalid(item, child)
            if found is not None:
                return found
        return None
    if isinstance(v, list):
        for i, item in enumerate(v):
            found = _find_invalid(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if v is None or isinstance(v, str | int | float):  # bool is an int
        return None
    return path, f"value {v!r} of type {type(v).__name__}"


def _raise_type_error(doc: object, where: str) -> NoReturn:
    found = _find_invalid(doc, "$")
    path, problem = found if found is not None else ("$", "unsupported value")
    raise TypeError(
        f"yamlemit: cannot emit {problem} at {where}{path}: "
        "only dict (str keys), list, str, int, float, bool and None are supported"
    )


def dump(doc: YamlData) -> str:
    """Emit one document in block style; the text ends with a newline."""
    out: list[str] = []
    try:
        _emit_doc(doc, out)
    except _InvalidError:
        _raise_type_error(doc, "")
    return "".join(out)


def dump_all(docs: Iterable[YamlData]) -> str:
    """Emit documents separated by `---` lines (none before the first or after the last)."""
    out: list[str] = []
    for i, doc in enumerate(docs):
        if i:
            out.append("---\n")
        try:
            _emit_doc(doc, out)
        except _InvalidError:
            _raise_type_error(doc, f"document {i}, ")
    return "".join(out)
