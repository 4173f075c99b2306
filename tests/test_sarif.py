"""`--format sarif` (issue 21): SARIF 2.1.0 for code scanning, validated against the published
OASIS schema (tests/data/sarif/, copied unchanged), rule ids the MG codes, help URIs their
anchors in docs/diagnostics.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from meshgen.codes import REGISTRY
from tests.helpers import ROOT, SEED_EXAMPLE, run_meshgen

SCHEMA = json.loads((ROOT / "tests/data/sarif/sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
DIAGNOSTICS_PAGE = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")


def sarif(spec: Path, *args: str, cwd: Path = ROOT) -> tuple[int, dict[str, Any]]:
    proc = run_meshgen("validate", "--format", "sarif", *args, str(spec), cwd=cwd)
    log: dict[str, Any] = json.loads(proc.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return proc.returncode, log


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """Two clusters on one pod CIDR (an error with a related location), a misspelt field."""
    text = SEED_EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("podCIDR: 10.132.0.0/14", "podCIDR: 10.128.0.0/14")
    path = tmp_path / "mesh.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_clean_spec_is_a_run_without_results() -> None:
    code, log = sarif(SEED_EXAMPLE)
    assert code == 0
    (run,) = log["runs"]
    assert run["results"] == []
    assert run["tool"]["driver"]["name"] == "meshgen"


def test_results_name_their_rules_and_places(broken: Path) -> None:
    code, log = sarif(broken)
    assert code == 1
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({r["ruleId"] for r in run["results"]})
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    related = [r for r in run["results"] if r.get("relatedLocations")]
    assert related, "the CIDR overlap names the other cluster's range"
    for rule in rules:
        entry = REGISTRY[rule["id"]]
        assert rule["shortDescription"]["text"] == entry.title
        anchor = rule["helpUri"].rsplit("#", 1)[1]
        assert anchor == rule["id"].lower()
        assert f"\n### {rule['id']}\n" in DIAGNOSTICS_PAGE


def test_paths_are_uris(tmp_path: Path, broken: Path) -> None:
    """Relative paths stay relative (code scanning resolves them against the repository);
    absolute ones are file: URIs; a name with a space is percent-encoded."""
    odd = tmp_path / "my mesh.yaml"
    odd.write_text(broken.read_text(encoding="utf-8"), encoding="utf-8")
    _, log = sarif(Path("my mesh.yaml"), cwd=tmp_path)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"my%20mesh.yaml"}
    _, log = sarif(odd)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {odd.as_uri()}


def test_the_schema_rejects_what_sarif_does_not_allow(broken: Path) -> None:
    _, log = sarif(broken)
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(log)
