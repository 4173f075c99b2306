#!/usr/bin/env python3
"""Rewrite the generated parts of the docs from the code.

    python scripts/spec_tables.py           # rewrite docs/spec.md and docs/diagnostics.md
    python scripts/spec_tables.py --check   # exit 1 if either is stale (tests/test_docs.py)

- docs/spec.md, between the spec-reference markers: the modeline and the field tables, from
  meshgen/docs.py, which reads the JSON Schema of the models; edit the descriptions in
  meshgen/spec*.py, not the page.
- docs/diagnostics.md, between the diagnostic-codes markers: every code of the registry
  (meshgen/codes.py, the one `meshgen explain` prints), a table and one section per code; edit
  the registry, not the page.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshgen import docs  # noqa: E402
from meshgen.codes import FAMILIES, REGISTRY, Code  # noqa: E402

SPEC_PAGE = ROOT / "docs" / "spec.md"
DIAGNOSTICS_PAGE = ROOT / "docs" / "diagnostics.md"

CODES_START = "<!-- diagnostic-codes:start -->"
CODES_END = "<!-- diagnostic-codes:end -->"
CODES_NOTICE = (
    "<!-- Generated from meshgen/codes.py by scripts/spec_tables.py: edit the "
    "registry, then run it. -->"
)

# Outside code spans, what Markdown would read as markup: `<subset>` as an HTML tag,
# `kube-*, ... openshift-*` as emphasis, `[x]` as a link (an underscore inside a word, as in
# LEAST_REQUEST, is no markup).
_MARKUP = re.compile(r"([\\*\[\]<>]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def markdown_text(text: str, *, cell: bool = False) -> str:
    """`text` as Markdown that renders as written: code spans kept, markup escaped."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            part = _MARKUP.sub(r"\\\1", part).replace("&", "&amp;")
        out.append(part)
    joined = "".join(out)
    if cell:  # a pipe ends a table cell, even inside a code span
        joined = " ".join(joined.split()).replace("|", "\\|")
    return joined


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _family(code: str) -> str:
    return code[:3]


def _code_section(entry: Code) -> list[str]:
    fence = _fence(entry.example)
    return [
        f"### {entry.code}",
        "",
        f"**{entry.severity}**: {markdown_text(entry.title)}",
        "",
        f"**Why:** {markdown_text(entry.why)}",
        "",
        f"**How to fix:** {markdown_text(entry.fix)}",
        "",
        "**Example:**",
        "",
        fence,
        entry.example,
        fence,
        "",
    ]


def diagnostics_reference(registry: dict[str, Code] | None = None) -> str:
    """The Markdown between CODES_START and CODES_END: a table, then a section per code."""
    registry = REGISTRY if registry is None else registry
    codes = sorted(registry)
    lines = [CODES_NOTICE, "", "| code | severity | problem |", "|---|---|---|"]
    for code in codes:
        entry = registry[code]
        lines.append(
            f"| [{code}](#{code.lower()}) | {entry.severity} | "
            f"{markdown_text(entry.title, cell=True)} |"
        )
    family = None
    for code in codes:
        if _family(code) != family:
            family = _family(code)
            lines += ["", f"## {family}xx: {markdown_text(FAMILIES[family])}"]
        lines += ["", *_code_section(registry[code])[:-1]]
    return "\n".join(lines) + "\n"


def replace_between(text: str, start: str, end: str, generated: str, page: str) -> str:
    """`text` with `generated` between the marker lines `start` and `end`."""
    head, found, rest = text.partition(start + "\n")
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise ValueError(f"{page} needs the markers {start} and {end}")
    return f"{head}{start}\n{generated}{end}{tail}"


def update_spec_page(text: str) -> str:
    return docs.update_readme(text)  # the spec-reference markers, wherever they are


def update_diagnostics_page(text: str) -> str:
    return replace_between(
        text, CODES_START, CODES_END, diagnostics_reference(), "docs/diagnostics.md"
    )


PAGES: dict[Path, Callable[[str], str]] = {
    SPEC_PAGE: update_spec_page,
    DIAGNOSTICS_PAGE: update_diagnostics_page,
}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for page, update in PAGES.items():
        text = page.read_text(encoding="utf-8")
        updated = update(text)
        if updated == text:
            continue
        name = page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)
        if check:
            stale.append(name)
        else:
            page.write_text(updated, encoding="utf-8")
            print(f"{name}: generated part updated")
    if stale:
        print(
            f"{', '.join(stale)}: generated part is stale: run python scripts/spec_tables.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
