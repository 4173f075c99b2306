"""Shell commands for out/README.md, built as argv lists and quoted in one place.

Every value of the spec that reaches a command (cluster names, contexts, CIDRs, URLs, paths,
namespaces) is one argv word and goes through `shlex.quote` here, so a value can never end a
word, start a command or be expanded: pasted into a POSIX shell, each line runs exactly the
argv it was built from. The only shell syntax a line has is what these builders add: `|`,
`&&`, `<`/`>` to a constant file, `NAME=$(...)` and `"$NAME"` for a variable set by an
earlier line, and `# comments` (whose text cannot contain a line break).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class Var:
    """A shell variable set by an earlier line (`assign`); an argument `"$NAME"`."""

    name: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"not a shell variable name: {self.name!r}")


Word = str | Var


def word(value: Word) -> str:
    if isinstance(value, Var):
        return f'"${value.name}"'
    return shlex.quote(value)


@dataclass(frozen=True)
class Cmd:
    """One simple command: argv, and optionally stdin/stdout redirected to files."""

    argv: tuple[Word, ...]
    stdin: str | None = None
    stdout: str | None = None

    def __str__(self) -> str:
        text = " ".join(word(a) for a in self.argv)
        if self.stdin is not None:
            text += f" < {shlex.quote(self.stdin)}"
        if self.stdout is not None:
            text += f" > {shlex.quote(self.stdout)}"
        return text


def cmd(*argv: Word, stdin: str | None = None, stdout: str | None = None) -> Cmd:
    if not argv:
        raise ValueError("a command needs at least one word")
    return Cmd(tuple(argv), stdin, stdout)


def argv_of(command: str) -> tuple[str, ...]:
    """A constant command prefix written as one string (e.g. `istioctl x create-remote-secret`
    from versions.py) as argv words."""
    return tuple(command.split())


def pipe(*commands: Cmd) -> str:
    return " | ".join(str(c) for c in commands)


def and_then(*commands: Cmd) -> str:
    return " && ".join(str(c) for c in commands)


def assign(var: Var, *commands: Cmd) -> str:
    """`NAME=$(a | b)`: the pipeline's output in a variable for later lines (`Var`)."""
    return f"{var.name}=$({pipe(*commands)})"


def visible(text: str) -> str:
    """`text` with control characters (line breaks included) and other unprintable ones as
    `\\uXXXX`, so that it stays on one line."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def comment(text: str) -> str:
    """A comment line; its text cannot break out onto a line of its own."""
    return f"# {visible(text)}"


def with_comment(line: str, text: str) -> str:
    return f"{line}   {comment(text)}"


def fence_for(lines: Iterable[str]) -> str:
    """A backtick fence longer than any backtick run in `lines` (CommonMark: a code block
    ends only at a fence at least as long as the one that opened it)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def sh_block(lines: Iterable[str]) -> list[str]:
    """Markdown lines of a fenced `sh` block holding `lines`, and a blank line after it."""
    body = list(lines)
    fence = fence_for(body)
    return [f"{fence}sh", *body, f"{fence}\n"]


def concat(*parts: Word) -> str:
    """One shell word made of constants and variables, e.g. `cluster1/traffic/"$UNIT"/`:
    each constant quoted by shlex, each variable as `"$NAME"`, nothing between them."""
    return "".join(word(part) for part in parts)
