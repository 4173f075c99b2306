"""The JSON Schema of mesh.yaml, generated from the models (for editors and pre-commit).

It must accept exactly the specs meshgen's load + validate accept (tests/test_schema_agreement.py
checks that on mutated examples), so what pydantic's generator leaves out is added here, by
rule rather than field by field:

- every string and every mapping key refers to `NoControlCharacters` (spec_scalars.py);
  that also closes the gap between Python's `$` (the jsonschema package: "before a final
  line feed too") and ECMA-262's and Rust's (pydantic: "at the end"),
- constrained mapping keys (labels, header names) become `propertyNames` with the key
  pattern, so a key that breaks it is an error, not just a key no pattern describes,
- the shared definitions of spec_scalars.py and spec_cidr.py (CIDRs, istio.values) are
  added to `$defs`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from meshgen.spec_scalars import DEFINITION_KEY, NO_CONTROL_REF, TEXT_NO_CONTROL_REF

SCHEMA_ID = "https://meshgen.dev/schemas/mesh.schema.json"


class _Generator(GenerateJsonSchema):
    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        json_schema = super().dict_schema(schema)
        patterns = json_schema.pop("patternProperties", None)
        if patterns:
            # pydantic writes dict[Key, Value] as patternProperties, which lets every key
            # that does not match through, unchecked.
            ((pattern, values),) = patterns.items()
            json_schema["propertyNames"] = {**json_schema.get("propertyNames", {}),
                                            "pattern": pattern}
            json_schema["additionalProperties"] = values
        return json_schema


def mesh_schema() -> dict[str, Any]:
    from meshgen import spec_cidr, spec_scalars
    from meshgen.spec import Mesh

    schema = Mesh.model_json_schema(by_alias=True, mode="validation",
                                    schema_generator=_Generator)
    defs = schema.setdefault("$defs", {})
    defs.update(spec_scalars.SCHEMA_DEFS)
    defs.update(spec_cidr.SCHEMA_DEFS)
    schema["$defs"] = dict(sorted(defs.items()))
    schema = _resolve_definitions(schema)
    _forbid_control_characters(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "meshgen Mesh (meshgen.dev/v1alpha1)",
    }


def _resolve_definitions(node: Any) -> Any:
    """{DEFINITION_KEY: name} -> {"$ref": "#/$defs/name"}, keeping sibling keywords."""
    if isinstance(node, list):
        return [_resolve_definitions(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _resolve_definitions(value) for key, value in node.items()}
    name = out.pop(DEFINITION_KEY, None)
    return out if name is None else {"$ref": f"#/$defs/{name}", **out}


_CONTROL_RULES = {NO_CONTROL_REF, TEXT_NO_CONTROL_REF}


def _has_control_rule(node: dict[str, Any]) -> bool:
    return any(isinstance(item, dict) and item.get("$ref") in _CONTROL_RULES
               for item in node.get("allOf", ()))


def _add_control_rule(node: dict[str, Any]) -> None:
    if not _has_control_rule(node):
        node["allOf"] = [*node.get("allOf", ()), {"$ref": NO_CONTROL_REF}]


def _forbid_control_characters(node: Any) -> None:
    """Every string schema and every schema of mapping keys gets the control rule (unless it
    names one already: istio.values' multi-line text)."""
    if isinstance(node, list):
        for item in node:
            _forbid_control_characters(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and "enum" not in node and "const" not in node:
        _add_control_rule(node)
    if "propertyNames" in node or node.get("additionalProperties") not in (None, False):
        _add_control_rule(node.setdefault("propertyNames", {}))  # a mapping: its keys
    for key, value in node.items():
        if key not in ("propertyNames", "enum", "const", "default", "examples"):
            _forbid_control_characters(value)


def schema_text() -> str:
    return json.dumps(mesh_schema(), indent=2, ensure_ascii=False) + "\n"
