"""The JSON Schema of mesh.yaml, generated from the models (for editors and pre-commit)."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://meshgen.dev/schemas/mesh.schema.json"


def mesh_schema() -> dict[str, Any]:
    from meshgen.spec import Mesh

    schema = Mesh.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "meshgen Mesh (meshgen.dev/v1alpha1)",
    }


def schema_text() -> str:
    return json.dumps(mesh_schema(), indent=2, ensure_ascii=False) + "\n"
