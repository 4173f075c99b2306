"""The spec reference of docs/spec.md, generated from the models' JSON Schema (schema.py).

Every row is one field of the models: its path, a type read off its JSON Schema, its default
and its description (with the examples schema.py folds into it), so the page says what
editors show on hover and cannot drift from it. `scripts/spec_tables.py` rewrites the part of
docs/spec.md between START and END; tests/test_docs.py fails when it is stale.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from meshgen import spec, spec_names, spec_traffic
from meshgen.spec_scalars import INT32_MAX

START = "<!-- spec-reference:start -->"
END = "<!-- spec-reference:end -->"
NOTICE = (
    "<!-- Generated from the models by scripts/spec_tables.py: edit the descriptions in "
    "meshgen/spec*.py, then run it. -->"
)


@dataclass(frozen=True)
class Table:
    heading: str
    model: type[BaseModel]
    link: str  # how rows of other tables name it


# The first table lists every field of the spec, except the parts with a table of their own.
TABLES = (
    Table("Reference", spec.Mesh, "mesh"),
    Table("Route matches", spec_traffic.Match, "route matches"),
    Table("Traffic policy", spec_traffic.TrafficPolicy, "traffic policy"),
    Table("Security", spec_traffic.Security, "security"),
)
SUBTABLES = {table.model: table for table in TABLES[1:]}


def _constraint_pattern(annotated: Any) -> str:
    return next(
        str(meta.pattern)
        for meta in typing.get_args(annotated)[1:]
        if getattr(meta, "pattern", None)
    )


def _field_pattern(model: type[BaseModel], name: str) -> str:
    """The pattern of a field whose constrained type is written inline."""
    info = model.model_fields[name]
    for meta in info.metadata:  # pydantic keeps a top-level Annotated's constraints here
        if getattr(meta, "pattern", None):
            return str(meta.pattern)
    return next(
        _constraint_pattern(arg)
        for arg in typing.get_args(info.annotation)
        if typing.get_origin(arg) is typing.Annotated
    )


# Type names of the string patterns the spec uses; any other pattern reads "string".
PATTERNS: dict[str, str] = {
    spec_names.DNS1123_LABEL: "DNS-1123 label",
    spec_names.DNS1035_LABEL: "DNS-1035 label",
    spec_names.DNS1123_SUBDOMAIN: "DNS subdomain",
    spec_names.LABEL_KEY: "label key",
    spec_names.LABEL_VALUE: "label value",
    _constraint_pattern(spec.IstioVersion): 'quoted `"X.Y.Z"`',
    _constraint_pattern(spec.KubernetesVersion): 'quoted `"1.MINOR"`',
    _constraint_pattern(spec.HttpsURL): "`https://host[:port]`",
    _constraint_pattern(spec_traffic.Duration): "duration (`5s`, `100ms`)",
    _constraint_pattern(spec_traffic.Locality): "locality",
    _constraint_pattern(spec_traffic.HeaderName): "header name",
    _constraint_pattern(spec_traffic.ServiceAccountRef): "`<namespace>/<name>`",
    _field_pattern(spec.Istio, "revision"): 'DNS-1123 label or `""`',
    _field_pattern(spec.GitOps, "repo_url"): "Git URL",
    _field_pattern(spec.GitOps, "path"): "relative path",
    _field_pattern(spec.Flux, "interval"): "duration (`10m`)",
    _field_pattern(spec_traffic.Retries, "retry_on"): "comma-separated list",
}
# Where one pattern serves fields of different meaning.
FIELD_TYPES: dict[tuple[type[BaseModel], str], str] = {
    (spec.Istio, "version"): 'quoted `"MAJOR.MINOR.PATCH"`',
    (spec.Secrets, "keyPrefix"): "path",
    (spec.GitOps, "revision"): "branch or revision",
}
DEFINITIONS = {
    "CIDRs": "CIDR or list of two (dual-stack)",
    "IstioValues": "mapping",
    "StringMatch": "`{exact|prefix|regex: …}`",
}


def _unwrap(tp: Any) -> Any:
    """Annotated[X, ...] -> X, X | None -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _model_of(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


@dataclass(frozen=True)
class Row:
    path: str
    model: type[BaseModel]
    name: str  # the YAML name (alias)
    info: FieldInfo


def rows(model: type[BaseModel], prefix: str = "", *, top: bool = True) -> list[Row]:
    """Every field under `model`, depth first; a field of a subtable's type is one row."""
    out: list[Row] = []
    for attr, info in model.model_fields.items():
        name = info.alias or attr
        path = f"{prefix}{name}"
        out.append(Row(path, model, name, info))
        tp = _unwrap(info.annotation)
        is_list = typing.get_origin(tp) is list
        inner = _model_of(typing.get_args(tp)[0] if is_list else tp)
        if inner is None or (top and inner in SUBTABLES):
            continue
        out.pop()  # an object: its fields are the rows
        out.extend(rows(inner, f"{path}[]." if is_list else f"{path}.", top=top))
    return out


def _code(value: str) -> str:
    return f"`{value}`"


def yaml_flow(value: Any) -> str:
    """A default as it would be written in mesh.yaml's flow style."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {yaml_flow(item)}" for key, item in value.items()) + "}"
    return str(value)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None or isinstance(value, BaseModel):
        return "—"
    return _code(yaml_flow(value))


class _Types:
    def __init__(self) -> None:
        self.links = {table.model.__name__: table for table in TABLES[1:]}

    def text(self, node: dict[str, Any]) -> str:
        if "anyOf" in node:
            branches = [item for item in node["anyOf"] if item.get("type") != "null"]
            names = list(dict.fromkeys(self.text(item) for item in branches))
            return " or ".join(names)
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name in self.links:
                table = self.links[name]
                anchor = table.heading.lower().replace(" ", "-")
                return f"[{table.link}](#{anchor})"
            return DEFINITIONS.get(name, "object")
        if "const" in node:
            return _code(str(node["const"]))
        if "enum" in node:
            return " | ".join(_code(str(value)) for value in node["enum"])
        kind = node.get("type")
        if kind == "boolean":
            return "bool"
        if kind in ("integer", "number"):
            low, high = node.get("minimum"), node.get("maximum")
            if high is None or high >= INT32_MAX:
                return "int" if not low else f"int >= {low}"
            return f"{low}-{high}"
        if kind == "string":
            return PATTERNS.get(node.get("pattern", ""), "string")
        if kind == "array":
            return f"list of {self.text(node['items'])}"
        if kind == "object" and "additionalProperties" in node:
            keys = PATTERNS.get(node.get("propertyNames", {}).get("pattern", ""), "string")
            if keys == "label key":
                return "label map"
            return f"map of {keys} to {self.text(node['additionalProperties'])}"
        return "object"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def property_schema(schema: dict[str, Any], model: type[BaseModel], name: str) -> Any:
    node = schema if model is spec.Mesh else schema["$defs"][model.__name__]
    return node["properties"][name]


def _table(schema: dict[str, Any], table: Table) -> list[str]:
    types_ = _Types()
    lines = [f"### {table.heading}", ""]
    if table.model is not spec.Mesh:
        # A model's text is its definition's `$comment` (meshgen/schema.py: so that editors
        # show each field's own description on hover).
        lines += [" ".join(schema["$defs"][table.model.__name__]["$comment"].split()), ""]
    lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
    for row in rows(table.model, top=table.model is spec.Mesh):
        prop = property_schema(schema, row.model, row.name)
        kind = FIELD_TYPES.get((row.model, row.name)) or types_.text(prop)
        lines.append(
            f"| {_code(row.path)} | {_cell(kind)} | "
            f"{_cell(_default(row.info))} | {_cell(prop.get('description', ''))} |"
        )
    return lines


def reference(schema: dict[str, Any] | None = None) -> str:
    """The Markdown between START and END."""
    if schema is None:
        from meshgen.schema import mesh_schema

        schema = mesh_schema()
    from meshgen.schema import MODELINE

    lines = [
        NOTICE,
        "",
        "```yaml",
        MODELINE,
        "```",
        "",
        f"The schema's `$id` is `{schema['$id']}`.",
    ]
    for table in TABLES:
        lines += ["", *_table(schema, table)]
    return "\n".join(lines) + "\n"


def update_readme(text: str, generated: str | None = None) -> str:
    """The page (docs/spec.md) with the generated reference between the markers."""
    head, found, rest = text.partition(START + "\n")
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"README.md needs the markers {START} and {END}")
    return f"{head}{START}\n{generated or reference()}{END}{tail}"
