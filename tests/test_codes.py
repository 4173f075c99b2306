"""The diagnostic code registry (meshgen/codes.py) is the one place codes are defined."""

from __future__ import annotations

import re
import tomllib

import pytest

from meshgen import __version__
from meshgen.checks import CODES
from meshgen.codes import REGISTRY, lookup
from meshgen.starter import STARTER
from meshgen.versions import NEWEST_MINOR, nearest_sail_version
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CODE = re.compile(r"\bMG\d{3}\b")


def test_every_code_used_in_meshgen_is_registered() -> None:
    used: dict[str, str] = {}
    for path in sorted((ROOT / "meshgen").rglob("*.py")):
        if path.name == "codes.py":
            continue
        for code in CODE.findall(path.read_text(encoding="utf-8")):
            used.setdefault(code, path.name)
    missing = {code: where for code, where in used.items() if code not in REGISTRY}
    assert not missing, f"codes used but not in meshgen/codes.py: {missing}"
    # Every family is represented, so the scan above really saw the code.
    assert {code[:3] for code in used} >= {"MG0", "MG1", "MG2", "MG3", "MG4", "MG5", "MG9"}


def test_every_registered_code_has_a_page() -> None:
    for code, entry in REGISTRY.items():
        assert entry.code == code
        assert re.fullmatch(r"MG\d{3}", code)
        assert entry.severity in ("error", "warning", "error/warning"), code
        for part in (entry.title, entry.why, entry.fix, entry.example):
            assert part.strip(), code
        page = entry.page()
        assert page.startswith(f"{code} ({entry.severity}): {entry.title}\n")
        for heading in ("Why:", "How to fix:", "Example:"):
            assert heading in page, (code, heading)
        # The page's anchor in docs/diagnostics.md (a `### MG101` heading), at the tag.
        assert entry.doc.endswith(f"/docs/diagnostics.md#{code.lower()}")
        assert f"\n### {code}\n" in DIAGNOSTICS_PAGE


DIAGNOSTICS_PAGE = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")


def test_checks_codes_come_from_the_registry() -> None:
    for code, summary in CODES.items():
        assert summary == REGISTRY[code].summary, code


def test_lookup_is_case_insensitive() -> None:
    assert lookup("mg201") is REGISTRY["MG201"]
    assert lookup("MG999") is None


def test_versions_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == __version__
    assert f"rev: v{__version__}" in README
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"({__version__})" in changelog or f"## {__version__}" in changelog


def test_runtime_dependencies_are_what_meshgen_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        re.split(r"[<>=!~\[ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]
    }
    modules = {
        "pydantic": "pydantic",
        "ruamel": "ruamel.yaml",
        "typer": "typer",
        "rich": "rich",
        "yaml": "pyyaml",
        "jsonschema": "jsonschema",
    }
    imported = set()
    for path in (ROOT / "meshgen").rglob("*.py"):
        for top in re.findall(
            r"^\s*(?:import|from) ([a-z_]+)", path.read_text(encoding="utf-8"), flags=re.MULTILINE
        ):
            if top in modules:
                imported.add(modules[top])
    # ruamel.yaml.clib is the C parser ruamel loads itself (declared so that loading stays
    # fast: meshgen/load.py composes with libyaml).
    assert declared - {"ruamel.yaml.clib"} == imported
    assert "jsonschema" not in declared
    test_extra = {
        re.split(r"[<>=!~\[ ]", dep, maxsplit=1)[0].lower()
        for dep in project["optional-dependencies"]["test"]
    }
    assert {"pyyaml", "jsonschema", "pre-commit"} <= test_extra


def test_starter_is_on_the_newest_istio_and_lists_every_installer() -> None:
    newest = nearest_sail_version(f"1.{NEWEST_MINOR}.0")
    assert newest.startswith(f"1.{NEWEST_MINOR}.")
    assert f'version: "{newest}"' in STARTER
    for installer in ("istioctl", "operator", "helm", "sail"):
        assert installer in STARTER, installer


def test_versions_are_taken_apart_only_in_versions_py() -> None:
    """Issue 22: one version parser (versions.parse, versions.minor_of); no module splits a
    version's text on dots itself."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "meshgen").rglob("*.py"))
        if path.name != "versions.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""\.split\(\s*["']\.["']""", line)
    ]
    assert offenders == []


def test_diagnostics_are_made_only_by_the_constructor_that_knows_their_level() -> None:
    """Issue 22: the severity travels with the code (meshgen.diagnostics.diagnostic reads it
    from the registry); no module builds a Diagnostic itself."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "meshgen").rglob("*.py"))
        if path.name != "diagnostics.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"(?<![\w.])Diagnostic\(", line)
    ]
    assert offenders == []


def test_the_constructor_refuses_a_level_the_registry_does_not_give() -> None:
    from meshgen.diagnostics import Location, Severity, diagnostic

    here = Location("mesh.yaml", 1, 1)
    assert diagnostic("MG101", "m", here).severity is Severity.ERROR
    assert diagnostic("MG507", "m", here).severity is Severity.WARNING
    with pytest.raises(ValueError, match="registered as error"):
        diagnostic("MG101", "m", here, severity=Severity.WARNING)
    with pytest.raises(ValueError, match="not a registered"):
        diagnostic("MG999", "m", here)
    dual = next(c for c, e in REGISTRY.items() if e.severity == "error/warning")
    with pytest.raises(ValueError, match="say which"):
        diagnostic(dual, "m", here)
    assert diagnostic(dual, "m", here, severity=Severity.WARNING).severity is Severity.WARNING
