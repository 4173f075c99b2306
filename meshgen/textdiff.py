"""Unified diffs of generated files, fast for files of many YAML documents.

A mesh-wide change rewrites a line in every document of every traffic file (`weight: 90`
becoming `weight: 80`): difflib's matcher, run over a whole file, searches thousands of
repeated lines for the longest common blocks (6.7 s for `build --diff` at 20 clusters x 1,000
services). When both sides have as many documents, each pair of documents is matched on its
own and the opcodes are joined: the separators pair up, as difflib pairs them, and each
search is over a few dozen lines. Other files go through difflib whole."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from typing import Literal

Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]
SEPARATOR = "---\n"


def _segments(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(start, stop) of each document, the separator line closing the one before it."""
    out, start = [], 0
    for i, line in enumerate(lines):
        if line == SEPARATOR:
            out.append((start, i + 1))
            start = i + 1
    out.append((start, len(lines)))
    return out


class _Matcher(difflib.SequenceMatcher[str]):
    def __init__(self, a: Sequence[str], b: Sequence[str]) -> None:
        super().__init__(None, a, b, autojunk=False)
        self.lines = (a, b)

    def get_opcodes(self) -> list[Opcode]:
        a, b = self.lines
        old, new = _segments(a), _segments(b)
        if len(old) != len(new) or len(old) == 1:
            return super().get_opcodes()
        ops: list[Opcode] = []
        for (a1, a2), (b1, b2) in zip(old, new, strict=True):
            if a[a1:a2] == b[b1:b2]:
                part: list[Opcode] = [("equal", 0, a2 - a1, 0, b2 - b1)]
            else:
                part = difflib.SequenceMatcher(
                    None, a[a1:a2], b[b1:b2], autojunk=False
                ).get_opcodes()
            for tag, i1, i2, j1, j2 in part:
                if i1 == i2 and j1 == j2:
                    continue
                op: Opcode = (tag, a1 + i1, a1 + i2, b1 + j1, b1 + j2)
                if ops and ops[-1][0] == tag == "equal":
                    ops[-1] = (tag, ops[-1][1], op[2], ops[-1][3], op[4])
                else:
                    ops.append(op)
        return ops or [("equal", 0, 0, 0, 0)]


def _range(start: int, stop: int) -> str:
    """The `-l,s` part of a hunk header, as difflib writes it."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def unified_diff(
    a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str, n: int = 3
) -> Iterator[str]:
    """difflib.unified_diff's lines (keepends input), with the in-place fast path."""
    started = False
    for group in _Matcher(a, b).get_grouped_opcodes(n):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])
