"""Every runbook picture renders with the real Mermaid CLI in Chromium (issue 21): each
example's, and meshes of 2, 8 and 50 clusters over Submariner, whose pictures must stay
readable: a gateway per shown cluster joined to one broker, never a line per tunnel."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from meshgen.overview import SHOWN_CLUSTERS, mermaid
from tests.helpers import EXAMPLES, ROOT, cluster, mesh_from
from tests.test_plan import base

pytestmark = pytest.mark.tools

Render = Callable[[str, list[str]], str]  # (name, Mermaid lines) -> the SVG

MMDC = ROOT / ".tools" / "node" / "node_modules" / ".bin" / "mmdc"
# Debian's Chromium, as root, with nothing reaching for the network (closed here).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    chromium = shutil.which("chromium")
    if not MMDC.exists() or chromium is None:
        pytest.skip("Mermaid CLI or chromium missing (scripts/install-tools)")
    root = tmp_path_factory.mktemp("mermaid")
    config = root / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": chromium, "args": CHROMIUM_ARGS}))

    def run(name: str, lines: list[str]) -> str:
        source = root / f"{name}.mmd"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        target = root / f"{name}.svg"
        proc = subprocess.run(
            [str(MMDC), "-p", str(config), "-i", str(source), "-o", str(target), "-q"],
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stderr
        svg = target.read_text(encoding="utf-8")
        assert "Syntax error" not in svg
        return svg

    return run


def _texts(svg: str) -> str:
    """The words of the SVG's labels, tags gone."""
    return " ".join(re.sub(r"<[^>]+>", " ", svg).split())


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_examples_picture_renders(render: Render, tmp_path: Path, example: str) -> None:
    readme = (
        ROOT / "out" / "README.md"
        if example == "openshift-submariner"
        else ROOT / "tests" / "golden" / example / "README.md"
    ).read_text(encoding="utf-8")
    [block] = re.findall(r"```mermaid\n(.*?)```", readme, re.DOTALL)
    svg = render(example, block.splitlines())
    words = _texts(svg)
    for name in re.findall(r'subgraph c\d+\["([^ "]+) \(', block):
        assert name in words, name


def _mesh(clusters: int) -> list[str]:
    """The plan tests' two services (cart: v1/v2 at 90/10, now with a 5 % mirror to v2) on
    `clusters` clusters over Submariner."""
    data = base()
    data["spec"]["clusters"] = [
        cluster(f"c{i}", f"10.{i}.0.0/16", f"172.16.{i}.0/24") for i in range(clusters)
    ]
    data["spec"]["submariner"] = {"broker": "c0"}
    data["spec"]["services"][0]["routes"][0]["mirror"] = {"subset": "v2", "percentage": 5}
    return mermaid(mesh_from(data))


@pytest.mark.parametrize("clusters", [2, 8, 50])
def test_big_meshes_stay_readable(render: Render, clusters: int) -> None:
    lines = _mesh(clusters)
    svg = render(f"mesh-{clusters}", lines)
    words = _texts(svg)
    shown = min(clusters, 8 if clusters <= 8 else SHOWN_CLUSTERS)
    pairs = clusters * (clusters - 1) // 2
    assert f"{pairs} libreswan tunnel" in words
    assert words.count("Submariner gateway") == shown
    assert words.count("joins") == shown
    assert "r1 mirror 5%" in words
    if clusters > shown:
        assert f"and {clusters - shown} more clusters" in words
    # Edges grow with the clusters shown, not with their pairs.
    edges = sum("--" in line or "-.-" in line for line in lines)
    assert edges <= 4 * shown + 6


def test_the_pipeline_picture_of_the_docs_renders(render: Render) -> None:
    """docs/development.md's stage graph (scripts/pipeline_graph.py) is valid Mermaid."""
    page = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```mermaid\n(.*?)```", page, re.DOTALL)
    words = _texts(render("pipeline", block.splitlines()))
    for stage in ("command line", "load", "validate", "checks", "render", "runbook", "write"):
        assert stage in words, stage
