#!/usr/bin/env python3
"""Rewrite README.md's spec reference (between the spec-reference markers) from the models.

    python scripts/spec_tables.py           # rewrite README.md
    python scripts/spec_tables.py --check   # exit 1 if README.md is stale

The tables come from meshgen/docs.py, which reads the JSON Schema of the models; edit the
descriptions in meshgen/spec*.py, not the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshgen.docs import update_readme  # noqa: E402


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    updated = update_readme(text)
    if "--check" in argv:
        if updated != text:
            print("README.md's spec reference is stale: run python scripts/spec_tables.py",
                  file=sys.stderr)
            return 1
        return 0
    if updated != text:
        readme.write_text(updated, encoding="utf-8")
        print("README.md: spec reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
