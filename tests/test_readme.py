"""The README's spec reference and code table are checked against the code."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel

from meshgen.checks import CODES
from meshgen.spec import Mesh
from meshgen.validate import _unwrap
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        tp: Any = _unwrap(info.annotation)
        if typing.get_origin(tp) is list:
            inner = _unwrap(typing.get_args(tp)[0])
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                paths |= field_paths(inner, f"{path}[].")
                continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            paths |= field_paths(tp, f"{path}.")
            continue
        paths.add(path)
    return paths


def test_spec_reference_lists_exactly_the_model_fields() -> None:
    documented = set(re.findall(r"^\| `([^`]+)` \|", README, flags=re.MULTILINE))
    documented = {p for p in documented
                  if p.startswith(("spec.", "metadata.")) or p in ("apiVersion", "kind")}
    assert documented == field_paths(Mesh)


def test_every_check_code_is_documented() -> None:
    for code in CODES:
        assert f"| {code} |" in README, code


def test_readme_commands_exist() -> None:
    assert "./scripts/test" in README
    assert (ROOT / "scripts" / "test").exists()
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
