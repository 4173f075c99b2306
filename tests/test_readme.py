"""The README's spec reference and code table are checked against the code."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel

from meshgen.checks import CODES
from meshgen.spec import Mesh
from meshgen.spec_traffic import Match, Security, TrafficPolicy
from meshgen.validate import _unwrap
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


# Documented in their own README tables, relative to where they are used.
SUBTABLES: dict[type[BaseModel], str] = {
    TrafficPolicy: "Traffic policy", Match: "Route matches", Security: "Security"}


def field_paths(model: type[BaseModel], prefix: str = "", *, stop: bool = True) -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        tp: Any = _unwrap(info.annotation)
        inner_tp = _unwrap(typing.get_args(tp)[0]) if typing.get_origin(tp) is list else tp
        if stop and inner_tp in SUBTABLES:
            paths.add(path)
            continue
        if typing.get_origin(tp) is list:
            inner = _unwrap(typing.get_args(tp)[0])
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                paths |= field_paths(inner, f"{path}[].", stop=stop)
                continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            paths |= field_paths(tp, f"{path}.", stop=stop)
            continue
        paths.add(path)
    return paths


def table_paths(heading: str) -> set[str]:
    section = README.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def test_spec_reference_lists_exactly_the_model_fields() -> None:
    assert table_paths("Reference") == field_paths(Mesh)


def test_subtables_list_exactly_their_model_fields() -> None:
    for model, heading in SUBTABLES.items():
        assert table_paths(heading) == field_paths(model, stop=False), heading


def test_every_check_code_is_documented() -> None:
    for code in CODES:
        assert f"| {code} |" in README, code


def test_readme_commands_exist() -> None:
    assert "./scripts/test" in README
    assert (ROOT / "scripts" / "test").exists()
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
