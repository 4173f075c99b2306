#!/usr/bin/env python3
"""Draw meshgen's stages and who imports whom, from the import graph, into docs/development.md.

    python scripts/pipeline_graph.py           # rewrite the picture
    python scripts/pipeline_graph.py --check   # exit 1 if it is stale (tests/test_docs.py)

The graph comes from grimp (the library import-linter checks the contracts with), so the
picture is the code as it is: an arrow A --> B says that a module of stage A imports one of
stage B. Every stage may use the shared modules; those edges are left out of the picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "development.md"
START = "<!-- pipeline-graph:start -->"
END = "<!-- pipeline-graph:end -->"
NOTICE = (
    "<!-- Generated from the import graph by scripts/pipeline_graph.py: run it, do not edit. -->"
)

# The stages, in pipeline order, and the modules (and packages) of each; the first stage
# whose prefix matches a module owns it. What no stage names is shared.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "command line",
        (
            "meshgen.cli",
            "meshgen.entry",
            "meshgen.__main__",
            "meshgen.report",
            "meshgen.sarif",
            "meshgen.plan.command",  # the `meshgen plan` command
        ),
    ),
    ("pipeline", ("meshgen.pipeline",)),
    ("load", ("meshgen.load",)),
    ("validate", ("meshgen.validate", "meshgen.spec", "meshgen.schema", "meshgen.starter")),
    ("checks", ("meshgen.checks",)),
    ("runbook", ("meshgen.render.runbook",)),
    ("render", ("meshgen.render",)),
    ("emit", ("meshgen.emit", "meshgen.yamlemit")),
    ("write", ("meshgen.write",)),
    ("plan", ("meshgen.plan",)),
    ("kubeconform", ("meshgen.conform", "meshgen.packaged_schemas")),
)
SHARED = "shared"


def stage_of(module: str) -> str:
    for stage, prefixes in STAGES:
        if any(module == p or module.startswith((p + ".", p + "_")) for p in prefixes):
            return stage
    return SHARED


def edges(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    found = set()
    for module in graph.modules:
        source = stage_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = stage_of(imported)
            if source != target and SHARED not in (source, target):
                found.add((source, target))
    return found


def _node(stage: str) -> str:
    return stage.replace(" ", "_")


def picture(graph: grimp.ImportGraph) -> str:
    shared = sorted(
        m.removeprefix("meshgen.")
        for m in graph.modules
        if stage_of(m) == SHARED and m != "meshgen"
    )
    order = [stage for stage, _ in STAGES]
    lines = ["```mermaid", "flowchart LR"]
    lines += [f'  {_node(stage)}["{stage}"]' for stage in order]
    lines += [
        f"  {_node(a)} --> {_node(b)}"
        for a, b in sorted(edges(graph), key=lambda e: (order.index(e[0]), order.index(e[1])))
    ]
    lines.append("```")
    return "\n".join(
        [
            NOTICE,
            "",
            *lines,
            "",
            "Shared by the stages, owned by none: " + ", ".join(f"`{m}`" for m in shared) + ".",
        ]
    )


def rewrite(text: str, body: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{body}\n{END}{tail}"


def main(argv: list[str]) -> int:
    graph = grimp.build_graph("meshgen")
    text = PAGE.read_text(encoding="utf-8")
    if START not in text or END not in text:
        sys.stderr.write(f"{PAGE}: the {START} and {END} markers are missing\n")
        return 1
    new = rewrite(text, picture(graph))
    if "--check" in argv:
        if new != text:
            sys.stderr.write(f"{PAGE} is stale: run python scripts/pipeline_graph.py\n")
            return 1
        return 0
    if new != text:
        PAGE.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
