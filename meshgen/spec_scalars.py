"""Rules every scalar of the spec follows, shared by the models, validate.py and the JSON
Schema (schema.py), so that the three cannot drift apart.

- Control characters (Unicode category Cc: C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F)
  are rejected in every string and every mapping key: values end up in shell commands,
  Markdown and YAML comments of the generated files. The one exception is multi-line text
  in the `istio.values` escape hatch (PEM bundles, injection templates): its string values
  may hold TAB and LF, nothing else.
- Integers are JSON Schema integers: a number with no fractional part. YAML's `8080.0` and
  `1e3` are floats to a YAML loader but the numbers 8080 and 1000 to JSON Schema (and to an
  editor, which sees a JavaScript number), so meshgen takes them as those integers too;
  `8080.5` stays an error. Booleans are never integers.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    JsonValue,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

# Regex character classes, written so that ECMA-262, Python's re and Rust's regex (pydantic)
# read them the same way.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
TEXT_CONTROL_CHARACTERS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # TAB and LF allowed
_CONTROL = re.compile(CONTROL_CHARACTERS)
_TEXT_CONTROL = re.compile(TEXT_CONTROL_CHARACTERS)

INT32_MAX = 2**31 - 1  # Istio's int32 and uint32 fields: larger values are rejected by Istio

_NAMES = {
    0x00: "NUL",
    0x09: "tab",
    0x0A: "line feed",
    0x0D: "carriage return",
    0x1B: "escape",
    0x7F: "delete",
    0x85: "next line",
}


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of `text` that the rule above forbids, or None."""
    found = (_TEXT_CONTROL if multiline else _CONTROL).search(text)
    return found.group() if found else None


def describe_character(char: str) -> str:
    """`U+000A (line feed)`: how diagnostics name a control character."""
    code = ord(char)
    name = _NAMES.get(code)
    return f"U+{code:04X}" + (f" ({name})" if name else "")


# --- JSON Schema definitions (schema.py adds them to $defs) ----------------------------------

NO_CONTROL_REF = "#/$defs/NoControlCharacters"
TEXT_NO_CONTROL_REF = "#/$defs/MultilineText"
ISTIO_VALUE_REF = "#/$defs/IstioValue"
# pydantic resolves every "$ref" of the schema it generates against its own definitions, so
# a field's WithJsonSchema names a shared definition with this key; schema.py turns it into
# a "$ref" once the definitions are in place.
DEFINITION_KEY = "x-meshgen-definition"


def definition(name: str) -> dict[str, str]:
    """The WithJsonSchema of a field whose schema is $defs[name] (see DEFINITION_KEY)."""
    return {DEFINITION_KEY: name}


def _guard(characters: str) -> str:
    # `$` cannot end these patterns: Python's `$` (the jsonschema package) also matches before
    # a final line feed, ECMA-262's does not. A lookahead over the whole string reads the same.
    return r"^(?![\s\S]*" + characters + ")"


SCHEMA_DEFS: dict[str, Any] = {
    "NoControlCharacters": {
        "description": "No control characters (U+0000-U+001F, U+007F-U+009F): no line "
        "breaks or tabs either.",
        "pattern": _guard(CONTROL_CHARACTERS),
        "patternErrorMessage": "control characters (line breaks, tabs, ...) are not allowed",
    },
    "MultilineText": {
        "description": "Text that may span lines: TAB and LF, but no other control character.",
        "pattern": _guard(TEXT_CONTROL_CHARACTERS),
        "patternErrorMessage": "control characters other than tab and line feed are not allowed",
    },
    "IstioValues": {
        "type": "object",
        "propertyNames": {"allOf": [{"$ref": NO_CONTROL_REF}]},
        "additionalProperties": {"$ref": ISTIO_VALUE_REF},
    },
    "IstioValue": {
        "description": "Any JSON value; strings may hold tabs and line feeds, mapping keys "
        "no control characters.",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "allOf": [{"$ref": TEXT_NO_CONTROL_REF}]},
            {"type": "array", "items": {"$ref": ISTIO_VALUE_REF}},
            {
                "type": "object",
                "propertyNames": {"allOf": [{"$ref": NO_CONTROL_REF}]},
                "additionalProperties": {"$ref": ISTIO_VALUE_REF},
            },
        ],
    },
}


# --- types -----------------------------------------------------------------------------------


def integral(value: Any) -> Any:
    """An integral float as the int it is (8080.0 -> 8080); anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Int fields: they also take a float with no fractional part (8080.0), as JSON Schema does.
# The bounds come before the validator so that pydantic writes them into the JSON Schema as
# minimum and maximum (after it, they would leak out as pydantic's own "ge" and "le").
_INTEGRAL = BeforeValidator(integral)
PortNumber = Annotated[int, Field(ge=1, le=65535), _INTEGRAL]
IntPercent = Annotated[int, Field(ge=0, le=100), _INTEGRAL]
HTTPStatus = Annotated[int, Field(ge=200, le=599), _INTEGRAL]
Int32Count = Annotated[int, Field(ge=0, le=INT32_MAX), _INTEGRAL]
Int32Positive = Annotated[int, Field(ge=1, le=INT32_MAX), _INTEGRAL]

# Free-form single-line text (route matches): anything but control characters. Rust's `$`,
# unlike Python's, matches only at the very end.
Text = Annotated[str, StringConstraints(pattern="^[^" + CONTROL_CHARACTERS[1:] + "*$")]


def _check_values(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    for path, problem in _value_problems(value, ()):
        raise PydanticCustomError("istio_value", "{problem}", {"path": path, "problem": problem})
    return value


def _value_problems(value: Any, path: tuple[str | int, ...]) -> Any:
    if isinstance(value, str):
        char = control_character(value, multiline=True)
        if char is not None:
            yield path, f"control character {describe_character(char)} in a string"
    elif isinstance(value, float) and not math.isfinite(value):
        yield path, f"{value} is not a number JSON can hold (NaN and infinity are not)"
    elif isinstance(value, dict):
        for key, item in value.items():
            char = control_character(key)
            if char is not None:
                yield (*path, key), f"control character {describe_character(char)} in a key"
            yield from _value_problems(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _value_problems(item, (*path, index))


# Default factories of the models' lists and mappings. pydantic inspects the signature of every
# default factory (does it take the validated data?); for the builtins `list` and `dict` that
# means parsing their text signatures, a cost at every start-up that plain functions avoid.
def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[Any, Any]:
    return {}


# The `istio.values` escape hatch: any JSON (no NaN or infinity), the text rule above.
IstioValues = Annotated[
    dict[str, JsonValue],
    AfterValidator(_check_values),
    WithJsonSchema(definition("IstioValues")),
]
