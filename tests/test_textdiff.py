"""meshgen.textdiff: a unified diff matched document by document (issue 20: `build --diff`
of a mesh-wide change took 6.7 s in difflib)."""

from __future__ import annotations

import difflib
import random
import re

import pytest

from meshgen.textdiff import unified_diff

DOC = "apiVersion: v1\nkind: VirtualService\nmetadata:\n  name: svc{i}\nspec:\n  weight: 90\n"
FILE = "---\n".join(DOC.format(i=i) for i in range(40)).splitlines(keepends=True)
HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n")


def apply(a: list[str], diff: list[str]) -> list[str]:
    """Apply a unified diff to `a` (the way patch(1) reads one)."""
    out, at, i = [], 0, 2
    while i < len(diff):
        m = HUNK.fullmatch(diff[i])
        assert m is not None, diff[i]
        start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
        out.extend(a[at:start])
        at = start
        i += 1
        while i < len(diff) and not diff[i].startswith("@@"):
            tag, line = diff[i][0], diff[i][1:]
            if tag in " -":
                assert a[at] == line
                at += 1
            if tag in " +":
                out.append(line)
            i += 1
    return out + a[at:]


def test_a_line_changed_in_every_document_is_difflibs_diff() -> None:
    new = [line.replace("weight: 90", "weight: 80") for line in FILE]
    assert list(unified_diff(FILE, new, "a/x", "b/x")) == list(
        difflib.unified_diff(FILE, new, "a/x", "b/x")
    )


@pytest.mark.parametrize("seed", range(300))
def test_any_edit_gives_a_diff_that_patches_the_old_file_into_the_new(seed: int) -> None:
    rng = random.Random(seed)
    new = list(FILE)
    for _ in range(rng.randint(1, 6)):
        k = rng.randrange(len(new))
        edit = rng.choice(["replace", "insert", "delete"])
        if edit == "replace":
            new[k] = f"changed {k}\n"
        elif edit == "insert":
            new.insert(k, f"new {k}\n")
        elif new[k] != "---\n":
            del new[k]
    diff = list(unified_diff(FILE, new, "a/x", "b/x"))
    assert apply(FILE, diff) == new
    assert diff[:2] == (["--- a/x\n", "+++ b/x\n"] if new != FILE else [])


def test_no_change_no_diff_and_whole_file_changes_still_work() -> None:
    assert list(unified_diff(FILE, FILE, "a", "b")) == []
    assert apply([], list(unified_diff([], FILE, "a", "b"))) == FILE
    assert apply(FILE, list(unified_diff(FILE, [], "a", "b"))) == []
