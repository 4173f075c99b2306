"""Stage 2, validate: plain data -> a frozen `Mesh`, or MG1xx diagnostics at line:col.

Pydantic's error locations are alias paths into the data, so each maps straight onto the
positions the loader recorded. Messages are rewritten for people who write YAML, not Python.

Control characters are looked for first, in every string and mapping key of the data
(MG110), so that the rule holds for every field, including ones added later, and the
diagnostic names the character and the exact node instead of a pattern it breaks.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from meshgen.diagnostics import Diagnostic, Location, diagnostic
from meshgen.load import Loaded, Positions, YamlPath
from meshgen.spec import Mesh
from meshgen.spec_names import DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN
from meshgen.spec_scalars import control_character, describe_character

_RULES = {
    DNS1123_LABEL: "a DNS-1123 label: lower-case letters, digits and '-', starting and "
    "ending with a letter or digit, at most 63 characters",
    DNS1035_LABEL: "a DNS-1035 label (a Kubernetes Service name): lower-case letters, digits "
    "and '-', starting with a letter, at most 63 characters",
    DNS1123_SUBDOMAIN: "a DNS-1123 subdomain: dot-separated DNS-1123 labels",
}


# Strings under this path are multi-line text (PEM bundles, templates): TAB and LF allowed.
ISTIO_VALUES: YamlPath = ("spec", "istio", "values")


def validate(loaded: Loaded) -> tuple[Mesh | None, list[Diagnostic]]:
    controls = _control_characters(loaded.data, loaded.positions)
    try:
        mesh = Mesh.model_validate(loaded.data)
    except ValidationError as exc:
        diags = list(controls.values())
        errors = exc.errors(include_url=False)
        misspelt = _misspelt_required(errors, loaded.data)
        for err in errors:
            path = _error_path(err, loaded.data)
            if err["type"] == "missing" and (path, str(err["loc"][-1])) in misspelt:
                continue  # one diagnostic, on the misspelt key: did you mean ...?
            # The string's control character is the problem that error is about.
            if not any(path[:end] in controls for end in range(len(path) + 1)):
                diags.append(_to_diagnostic(err, loaded, misspelt))
        return None, _dedupe(diags)
    if controls:
        return None, list(controls.values())
    return mesh, []


def _control_characters(data: Any, positions: Positions) -> dict[YamlPath, Diagnostic]:
    """MG110 for every string and mapping key with a control character, by path."""
    found: dict[YamlPath, Diagnostic] = {}
    stack: list[tuple[YamlPath, Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            multiline = len(path) > len(ISTIO_VALUES) and path[: len(ISTIO_VALUES)] == ISTIO_VALUES
            char = control_character(node, multiline=multiline)
            if char is not None:
                message = f"control character {describe_character(char)} in {_dotted(path)}"
                found[path] = diagnostic(
                    "MG110",
                    message,
                    positions.at(path),
                    _control_hint(node, multiline=multiline),
                )
        elif isinstance(node, dict):
            for key, value in node.items():
                child = (*path, key)
                char = control_character(key) if isinstance(key, str) else None
                if char is not None:
                    message = (
                        f"control character {describe_character(char)} in the key "
                        f"{key!r} of {_dotted(path)}"
                    )
                    found[child] = diagnostic(
                        "MG110",
                        message,
                        positions.key_at(child),
                        "keys are names: no control characters",
                    )
                    continue
                stack.append((child, value))
        elif isinstance(node, list):
            stack.extend(((*path, index), item) for index, item in enumerate(node))
    return dict(sorted(found.items(), key=lambda item: _sortable(item[0])))


def _sortable(path: YamlPath) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{seg:020d}") if isinstance(seg, int) else (1, seg) for seg in path)


def _control_hint(value: str, *, multiline: bool) -> str:
    body = value.removesuffix("\n")
    if body and body != value and control_character(body) is None:
        return (
            "a block scalar (| or >) keeps the final line break: write the value on one "
            "line, or use |- or >-"
        )
    if multiline:
        return f"strings in istio.values may hold tabs and line feeds, nothing else: {value!r}"
    return (
        "meshgen copies values into YAML, shell commands and Markdown, so they hold no "
        f"control characters, line breaks and tabs included: {value!r}"
    )


def _extra_parent(path: YamlPath, key: str) -> YamlPath:
    """The mapping an unknown key is in (pydantic's path may or may not end with the key)."""
    return path[:-1] if path and path[-1] == key else path


def _closest(key: str, allowed: list[str]) -> str | None:
    """The allowed field `key` is most likely a misspelling of, any case (podCidr: podCIDR)."""
    folded = {name.lower(): name for name in allowed}
    close = difflib.get_close_matches(key.lower(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def _misspelt_required(errors: list[Any], data: Any) -> set[tuple[YamlPath, str]]:
    """(mapping, required field) pairs whose field is missing because a key next to it
    misspells it (`podCIRD` for `podCIDR`): reported once, as the unknown key."""
    missing = {
        (_error_path(err, data), str(err["loc"][-1])) for err in errors if err["type"] == "missing"
    }
    out = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            parent = _extra_parent(_error_path(err, data), key)
            close = _closest(key, _allowed_keys(parent))
            if close is not None and (parent, close) in missing:
                out.add((parent, close))
    return out


def _error_path(err: Any, data: Any) -> YamlPath:
    """The node a pydantic error is about, down to a list item or nested value the
    validator named in its context."""
    path = _data_path(tuple(err["loc"]), data)
    ctx: dict[str, Any] = err.get("ctx") or {}
    if err["type"] == "cidr" and isinstance(ctx.get("index"), int):
        path = (*path, ctx["index"])
    elif err["type"] == "istio_value":
        path = (*path, *ctx.get("path", ()))
    return path


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, Location, str]] = set()
    out = []
    for d in diags:
        key = (d.code, d.location, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _data_path(loc: tuple[int | str, ...], data: Any) -> YamlPath:
    """The prefix of a pydantic loc that exists in the data (drops union-branch labels)."""
    path: list[str | int] = []
    node = data
    for seg in loc:
        in_dict = isinstance(node, dict) and isinstance(seg, str) and seg in node
        in_list = isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node)
        if not (in_dict or in_list):
            break
        node = node[seg]
        path.append(seg)
    return tuple(path)


def _dotted(path: YamlPath) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else seg)
    return out or "the document"


def _describe(value: Any, raw: str | None) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {raw if raw is not None else value}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__  # pragma: no cover


@dataclass(frozen=True)
class _Error:
    """A pydantic error, located in the spec."""

    err: Any
    loaded: Loaded
    path: YamlPath

    @property
    def type(self) -> str:
        return str(self.err["type"])

    @property
    def ctx(self) -> dict[str, Any]:
        return self.err.get("ctx") or {}

    @property
    def value(self) -> Any:
        return self.err.get("input")

    @property
    def where(self) -> str:
        return _dotted(self.path)

    @property
    def location(self) -> Location:
        return self.loaded.positions.at(self.path)


def _to_diagnostic(err: Any, loaded: Loaded, misspelt: set[tuple[YamlPath, str]]) -> Diagnostic:
    e = _Error(err, loaded, _data_path(tuple(err["loc"]), loaded.data))
    if e.type == "extra_forbidden":
        return _unknown_field(e, misspelt)
    if e.type == "missing":
        key = str(err["loc"][-1])
        message = f"missing required field {key!r} in {e.where}"
        return diagnostic("MG103", message, e.location, _missing_hint(key))
    if e.type.endswith("_type") or e.type in {"model_type", "dict_type", "list_type"}:
        return _wrong_type(e)
    if e.type == "cidr":
        return _bad_cidr(e)
    if e.type == "istio_value":
        path = _error_path(err, loaded.data)
        return diagnostic("MG104", f"{_dotted(path)}: {err['msg']}", loaded.positions.at(path))
    if e.type == "string_pattern_mismatch":
        return _pattern_mismatch(e)
    if e.type == "literal_error":
        expected = e.ctx.get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        message = f"{e.where}: {e.value!r} is not one of {', '.join(choices) or expected}"
        choice = difflib.get_close_matches(str(e.value), choices, n=1, cutoff=0.5)
        hint = f"did you mean {choice[0]!r}?" if choice else None
        return diagnostic("MG104", message, e.location, hint)
    return diagnostic("MG104", f"{e.where}: {_plain(err['msg'])}", e.location)


def _unknown_field(e: _Error, misspelt: set[tuple[YamlPath, str]]) -> Diagnostic:
    """MG101, with the field the key most likely misspells, and whether it is required (when
    the spec misses it: _misspelt_required)."""
    key = str(e.err["loc"][-1])
    parent = _extra_parent(e.path, key)
    allowed = _allowed_keys(parent)
    close = _closest(key, allowed)
    hint = None
    if close is not None and (parent, close) in misspelt:
        why = _missing_hint(close)
        hint = f"did you mean {close!r}? It is required" + (f": {why}" if why else "")
    elif close is not None:
        hint = f"did you mean {close!r}?"
    elif allowed:
        hint = "allowed fields: " + ", ".join(allowed)
    message = f"unknown field {key!r} in {_dotted(parent)}"
    return diagnostic("MG101", message, e.loaded.positions.key_at((*parent, key)), hint)


def _wrong_type(e: _Error) -> Diagnostic:
    """MG102, with how to write the value (quotes, booleans, numbers, versions)."""
    raw = e.loaded.positions.raw.get(e.path)
    value = e.value
    expected = _EXPECTED.get(e.type, e.type.removesuffix("_type"))
    message = f"{e.where}: expected {expected}, got {_describe(value, raw)}"
    hint = None
    if e.type == "string_type" and isinstance(value, int | float | bool) and raw is not None:
        hint = f'quote it: "{raw}"'
        if e.path[-2:] == ("istio", "version"):
            full = f"{raw}.0" if re.fullmatch(r"[0-9]+\.[0-9]+", raw) else raw
            hint = f'a version is a quoted "MAJOR.MINOR.PATCH" string: write "{full}"'
            if isinstance(value, float):
                hint += f" (unquoted, YAML reads {raw} as the number {value})"
    elif e.type == "bool_type" and isinstance(value, str):
        hint = "write true or false (YAML 1.2 reads yes/no/on/off as strings)"
    elif e.type == "int_type" and isinstance(value, str):
        hint = "write the number without quotes"
    return diagnostic("MG102", message, e.location, hint)


def _bad_cidr(e: _Error) -> Diagnostic:
    """MG104 at the list item the CIDR error names, with the canonical form."""
    index = e.ctx.get("index")
    location = e.location
    if isinstance(index, int) and (*e.path, index) in e.loaded.positions.values:
        location = e.loaded.positions.at((*e.path, index))
    hint = f"write {e.ctx['network']}" if "network" in e.ctx else None
    return diagnostic("MG104", f"{e.where}: {e.err['msg']}", location, hint)


def _pattern_mismatch(e: _Error) -> Diagnostic:
    """MG104 naming the rule a value breaks (a DNS label...), with a value that keeps it."""
    pattern = e.ctx.get("pattern", "")
    rule = _RULES.get(pattern)
    value = e.value
    hint = None
    if rule:
        message = f"{e.where}: {value!r} is not {rule}"
        suggestion = _sanitize(value) if isinstance(value, str) else ""
        if suggestion and suggestion != value:
            hint = f"did you mean {suggestion!r}?"
    elif e.path[-2:] == ("istio", "version"):
        message = f"{e.where}: {value!r} is not a MAJOR.MINOR.PATCH version"
        hint = 'write the full release, e.g. "1.10.0"'
    else:
        message = f"{e.where}: {value!r} does not match {pattern}"
    return diagnostic("MG104", message, e.location, hint)


_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "none_required": "null",
}


def _plain(msg: str) -> str:
    msg = re.sub(r"(List|String) should have at least 1 item.*", "needs at least one item", msg)
    msg = msg.replace("List should have", "needs").replace("String should have", "needs")
    msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
    return msg[0].lower() + msg[1:] if msg else msg


def _sanitize(value: str) -> str:
    """The subctl rule for cluster IDs: lower-case, runs of invalid characters -> '-'."""
    out = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    return out[:63].rstrip("-")


def _missing_hint(key: str) -> str | None:
    if key == "version":
        return 'add e.g. version: "1.10.0"'
    if key in {"podCIDR", "serviceCIDR"}:
        return f"every cluster needs its {key} so meshgen can check ranges for overlap"
    return None


def _allowed_keys(path: YamlPath) -> list[str]:
    model = _model_at(path)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(path: YamlPath) -> type[BaseModel] | None:
    tp: Any = Mesh
    for seg in path:
        tp = _unwrap(tp)
        if isinstance(seg, int):
            args = typing.get_args(tp)
            if not args:
                return None
            tp = args[0]
            continue
        if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in tp.model_fields.items()}
        if seg not in fields:
            return None
        tp = fields[seg].annotation
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """Strip Optional[...] and Annotated[...] down to the model or container type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
