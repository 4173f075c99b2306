"""The runbook as Markdown (out/README.md)."""

from __future__ import annotations

from meshgen.render.runbook.model import Block, Prose, Runbook
from meshgen.render.shell import sh_block


def _lines(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Prose):
            out.append(block.markdown)
        else:
            out.extend(sh_block(block.lines))
    return out


def render_markdown(runbook: Runbook) -> str:
    out = _lines(runbook.preamble)
    for number, step in enumerate(runbook.steps, start=1):
        out.append(f"### {number}. {step.title}\n")
        out.extend(_lines(step.blocks))
    return "\n".join(out).rstrip("\n") + "\n"
