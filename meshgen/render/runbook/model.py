"""The runbook as data: a preamble, then numbered steps, each a list of blocks.

A block is Markdown prose or a `sh` block of `Line`s (meshgen/render/shell.py). A `sh` block
runs in one shell, from the output directory unless it says otherwise (`Commands.cwd`), so a
person can paste it whole; a program can run it line by line, knowing each line's commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from meshgen.render.shell import Line

# Where a `sh` block runs: the output directory (paths like `cluster1/...`), or the top
# directory of the Istio release, whose `tools/certs` makes the CA files.
OUTPUT_DIR = "output"
ISTIO_RELEASE_DIR = "istio-release"


@dataclass(frozen=True)
class Prose:
    """Markdown text: one item of the document's list of lines (it may hold line breaks)."""

    markdown: str


@dataclass(frozen=True)
class Commands:
    """A fenced `sh` block."""

    lines: tuple[Line, ...]
    cwd: str = OUTPUT_DIR


Block = Prose | Commands


@dataclass
class Step:
    title: str  # Markdown, without the number
    blocks: list[Block] = field(default_factory=list)

    def commands(self) -> list[Commands]:
        return [b for b in self.blocks if isinstance(b, Commands)]


@dataclass
class Runbook:
    """What out/README.md says: `preamble` before the first step, then the steps in order."""

    preamble: list[Block] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    # Building: text and commands go to the step begun last (or the preamble).

    def step(self, title: str) -> None:
        self.steps.append(Step(title))

    def add(self, markdown: str) -> None:
        self._blocks().append(Prose(markdown))

    def commands(self, lines: Iterable[Line], cwd: str = OUTPUT_DIR) -> None:
        self._blocks().append(Commands(tuple(lines), cwd))

    def _blocks(self) -> list[Block]:
        return self.steps[-1].blocks if self.steps else self.preamble
