"""Values of the spec in out/README.md's Markdown, escaped where they land.

`code` is an inline code span, `text` plain text, `cell` makes either fit a table cell, and
`html_comment` keeps text inside `<!-- ... -->`. None lets a value add a line, a heading, a
table column, a link, HTML or a code span of its own (CommonMark 0.31, GFM tables).
"""

from __future__ import annotations

import re

from meshgen.render.shell import visible

# CommonMark: any ASCII punctuation may be backslash-escaped. These are the ones that can
# start or end inline structure in the middle of a line (emphasis, code, links and images,
# autolinks and HTML, entity references, GFM strikethrough and table cells, an ATX heading's
# closing sequence); `visible` keeps a value on its line, so no block can start.
_TEXT_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!&~])")


def code(value: str) -> str:
    """`value` as an inline code span, shown verbatim (but for control characters, shown as
    `\\uXXXX`: a line break would end the paragraph, or the table row, around the span)."""
    body = visible(value)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # One space on both sides is stripped from a span's content: pad when the content would
    # otherwise touch the fence with a backtick, or lose its own outer spaces.
    pad = ""
    if (
        body.startswith("`")
        or body.endswith("`")
        or (body.startswith(" ") and body.endswith(" ") and body.strip(" "))
    ):
        pad = " "
    if not body:
        body = " "
    return f"{fence}{pad}{body}{pad}{fence}"


def text(value: str) -> str:
    """`value` as plain text: every character that Markdown could read as syntax escaped."""
    return _TEXT_SPECIAL.sub(r"\\\1", visible(value))


def cell(markdown: str) -> str:
    """Markdown (built with `code` or `text`) for one GFM table cell. Rows are split at
    pipes before inline parsing, even inside code spans; a backslash before a pipe keeps it
    in the cell and is then dropped (GFM 0.29 §4.10), also when it follows a backslash."""
    return markdown.replace("|", "\\|")


def html_comment(value: str) -> str:
    """`value` for the inside of an HTML comment, on one line: every `-` after a `-` as
    `%2D`, since `--` is what `-->`, `--!>` and `<!--` need to end the comment or open
    another (HTML, comments; the text around the value starts and ends with other text)."""
    return re.sub(r"(?<=-)-", "%2D", visible(value))
