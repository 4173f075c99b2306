"""Diagnostics as SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/),
for code scanning: one run, a rule per code used (id = MG code, help URI = its page), a result
per diagnostic with its location and related locations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import quote

from meshgen import __version__
from meshgen.codes import REGISTRY
from meshgen.diagnostics import Diagnostic, Location, shorten
from meshgen.project import REPOSITORY_URL

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def format_sarif(diagnostics: Sequence[Diagnostic]) -> str:
    # Every code is registered: diagnostic() makes no other.
    index = {code: i for i, code in enumerate(sorted({d.code for d in diagnostics}))}
    driver = {
        "name": "meshgen",
        "version": __version__,
        "informationUri": REPOSITORY_URL,
        "rules": [_rule(code) for code in index],
    }
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": [_result(d, index) for d in diagnostics]}],
    }
    return json.dumps(log, indent=2) + "\n"


def _rule(code: str) -> dict[str, object]:
    entry = REGISTRY[code]
    return {
        "id": code,
        "shortDescription": {"text": entry.title},
        "helpUri": entry.doc,
        "help": {"text": entry.page()},
    }


def _result(d: Diagnostic, index: dict[str, int]) -> dict[str, object]:
    text = shorten(d.message) + (f"\nhint: {shorten(d.hint)}" if d.hint else "")
    result: dict[str, object] = {
        "ruleId": d.code,
        "ruleIndex": index[d.code],
        "level": "error" if d.is_error else "warning",
        "message": {"text": text},
        "locations": [_location(d.location)],
    }
    if d.related:
        result["relatedLocations"] = [
            {**_location(r.location), "id": i, "message": {"text": shorten(r.message)}}
            for i, r in enumerate(d.related)
        ]
    return result


def _location(location: Location) -> dict[str, object]:
    # A relative path stays relative to where meshgen ran (code scanning resolves it against
    # the repository), an absolute one is a file: URI; both percent-encoded.
    path = PurePosixPath(location.file)
    uri = path.as_uri() if path.is_absolute() else quote(location.file, safe="/")
    physical: dict[str, object] = {"artifactLocation": {"uri": uri}}
    if location.line > 0:
        physical["region"] = {"startLine": location.line, "startColumn": max(location.column, 1)}
    return {"physicalLocation": physical}
