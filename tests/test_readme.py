"""The README is a user's README: short, the two commands on its first screen, and a
picture of the output that is what `meshgen build` writes for the bundled example.

The spec reference and the code pages live in docs/ (tests/test_docs.py checks them)."""

from __future__ import annotations

import json
import re

import yaml

from tests.helpers import ROOT, SEED_EXAMPLE, seed_data

README = (ROOT / "README.md").read_text(encoding="utf-8")
LINES = README.splitlines()

INSTALL_AND_RUN = (
    "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/meshgen "
    "build examples/openshift-submariner/mesh.yaml -o out"
)
TEST = "./scripts/test"
FIRST_SCREEN = 24  # lines of a small terminal


def test_readme_is_short() -> None:
    assert len(README.encode("utf-8")) < 8 * 1024


def test_first_screen_has_both_commands() -> None:
    first = LINES[:FIRST_SCREEN]
    assert INSTALL_AND_RUN in first, "the install-and-run command, exactly, as a line of its own"
    assert TEST in first
    # Both inside one sh block, so they can be copied as they are.
    block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert INSTALL_AND_RUN in block.splitlines()
    assert TEST in block.splitlines()


def test_readme_commands_exist() -> None:
    assert (ROOT / "scripts" / "test").exists()
    assert TEST in (ROOT / ".ci" / "run").read_text()
    assert SEED_EXAMPLE.is_file()
    assert (ROOT / "pyproject.toml").is_file()  # `pip install .`


# --- The output tree ------------------------------------------------------------------------


# Names start at most this far in; a line indented further continues a description.
DESCRIPTION_COLUMN = 24


def _tree(readme: str = README) -> list[tuple[str, bool]]:
    """(path under out/, marked applied with `*`) of every entry of the README's tree: two
    spaces of indentation per level, a directory ends with `/`."""
    section = readme.split("## What it produces\n", 1)[1]
    block = section.split("```\n", 1)[1].split("```", 1)[0]
    entries: list[tuple[str, bool]] = []
    parents: dict[int, str] = {}
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        rest = line.strip()
        if not rest:
            continue
        if indent >= DESCRIPTION_COLUMN:  # a description continued from the entry above
            if rest.startswith("* ") and entries:
                entries[-1] = (entries[-1][0], True)
            continue
        name, _, description = rest.partition(" ")
        path = f"{parents.get(indent - 2, '')}{name}" if indent else ""
        if name.endswith("/"):
            parents[indent] = path
        if indent:
            entries.append((path, description.strip().startswith("* ")))
    return entries


def _written() -> dict[str, bytes]:
    """What `meshgen build` wrote for the bundled example: the committed out/, which
    tests/test_golden.py holds to the code (so a layout change fails here until the README's
    tree follows it)."""
    out = ROOT / "out"
    manifest = json.loads((out / ".meshgen-manifest.json").read_text(encoding="utf-8"))
    return {path: (out / path).read_bytes() for path in manifest["files"]}


def test_output_tree_is_what_build_writes() -> None:
    files = _written()
    entries = dict(_tree())
    listed_files = {path for path in entries if not path.endswith("/")}
    listed_dirs = {path for path in entries if path.endswith("/") and path.count("/") == 1}
    # Every file, each once, except those of the clusters after the first: one line each.
    others = {f"{cluster['name']}/" for cluster in seed_data()["spec"]["clusters"][1:]}
    expected = {path for path in files if path.split("/", 1)[0] + "/" not in others}
    assert others
    assert listed_files == expected
    assert listed_dirs == {path.split("/", 1)[0] + "/" for path in files if "/" in path}


def test_output_tree_marks_what_gitops_applies() -> None:
    kustomization = yaml.safe_load(_written()["cluster1/kustomization.yaml"])
    applied = {f"cluster1/{path}" for path in kustomization["resources"]}
    marked = {path for path, star in _tree() if star}
    assert marked == applied


def test_readme_links_every_docs_page() -> None:
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)", README))
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"not linked from the README: {sorted(pages - linked)}"
