"""Shell commands for out/README.md, built as data and quoted in one place.

Every value of the spec that reaches a command (cluster names, contexts, CIDRs, URLs, paths,
namespaces) is one argv word and goes through `shlex.quote` here, so a value can never end a
word, start a command or be expanded: pasted into a POSIX shell, each line runs exactly the
argv it was built from. The only shell syntax a line has is what these builders add: `|`,
`&&`, `<`/`>` to a constant file, `NAME=$(...)` and `"$NAME"` for a variable set by an
earlier line, `for ... do ... done` loops, and `# comments` (whose text cannot contain a line
break).

A line stays data after it is built (`Line`): the runbook's Markdown is one rendering of it,
and a program can also ask a line which commands it runs (`Line.commands`) and which of its
words a person must fill in (`Blank`), as the tests that execute the runbook do.
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


@dataclass(frozen=True)
class Blank:
    """A word a person fills in (a node name, a URL only they know): shown as `'<what>'`."""

    what: str


@dataclass(frozen=True)
class Concat:
    """One word made of constants and variables, e.g. `cluster1/traffic/"$UNIT"/`."""

    parts: tuple[str | Var, ...]


Word = str | Var | Blank | Concat


def word(value: Word) -> str:
    if isinstance(value, Var):
        return f'"${value.name}"'
    if isinstance(value, Blank):
        return shlex.quote(f"<{value.what}>")
    if isinstance(value, Concat):
        return "".join(word(part) for part in value.parts)
    return shlex.quote(value)


class Line:
    """One line of a `sh` block (a loop: several), as data."""

    def text_lines(self) -> list[str]:
        raise NotImplementedError

    def commands(self) -> list[Cmd]:
        """The simple commands this line runs, in order (none for a comment)."""
        return []

    def variables(self) -> list[Var]:
        """The variables this line sets for later lines."""
        return []

    def __str__(self) -> str:
        return "\n".join(self.text_lines())


@dataclass(frozen=True)
class Cmd(Line):
    """One simple command: argv, and optionally stdin/stdout redirected to files."""

    argv: tuple[Word, ...]
    stdin: str | None = None
    stdout: str | None = None

    def text_lines(self) -> list[str]:
        text = " ".join(word(a) for a in self.argv)
        if self.stdin is not None:
            text += f" < {shlex.quote(self.stdin)}"
        if self.stdout is not None:
            text += f" > {shlex.quote(self.stdout)}"
        return [text]

    def commands(self) -> list[Cmd]:
        return [self]

    def __str__(self) -> str:
        return self.text_lines()[0]

    @property
    def program(self) -> str:
        first = self.argv[0]
        return first if isinstance(first, str) else word(first)

    def blanks(self) -> list[Blank]:
        return [a for a in self.argv if isinstance(a, Blank)]


@dataclass(frozen=True)
class Pipeline(Line):
    """`a | b | c`; with `joiner="&&"`, `a && b`."""

    parts: tuple[Cmd, ...]
    joiner: str = "|"

    def text_lines(self) -> list[str]:
        return [f" {self.joiner} ".join(str(c) for c in self.parts)]

    def commands(self) -> list[Cmd]:
        return list(self.parts)


@dataclass(frozen=True)
class Assign(Line):
    """`NAME=$(a | b)`: the pipeline's output in a variable for later lines."""

    var: Var
    parts: tuple[Cmd, ...]

    def text_lines(self) -> list[str]:
        return [f"{self.var.name}=$({' | '.join(str(c) for c in self.parts)})"]

    def commands(self) -> list[Cmd]:
        return list(self.parts)

    def variables(self) -> list[Var]:
        return [self.var]


@dataclass(frozen=True)
class Comment(Line):
    """A comment line; its text cannot break out onto a line of its own."""

    text: str

    def text_lines(self) -> list[str]:
        return [f"# {visible(self.text)}"]


@dataclass(frozen=True)
class Commented(Line):
    """A line with a comment after it."""

    line: Cmd
    text: str

    def text_lines(self) -> list[str]:
        return [f"{self.line}   # {visible(self.text)}"]

    def commands(self) -> list[Cmd]:
        return [self.line]


@dataclass(frozen=True)
class ContinueIf(Line):
    """Inside a loop: `if <test>`, `then`, `continue`, `fi` (no `;`, one word a line)."""

    test: Cmd

    def text_lines(self) -> list[str]:
        return [f"if {self.test}", "then", "continue", "fi"]

    def commands(self) -> list[Cmd]:
        return [self.test]


@dataclass(frozen=True)
class Loop(Line):
    """A `for` loop over `values` (each one shell word), on lines that hold no `;`: `for NAME
    in ...`, `do`, the body, `done`. The body is not indented: each line stays a command (or
    `NAME=$(...)`) that starts its line, as everywhere else."""

    var: Var
    values: tuple[str, ...]
    body: tuple[Line, ...]

    def text_lines(self) -> list[str]:
        head = " ".join(["for", self.var.name, "in", *(word(v) for v in self.values)])
        return [head, "do", *(text for line in self.body for text in line.text_lines()), "done"]

    def commands(self) -> list[Cmd]:
        return [c for line in self.body for c in line.commands()]

    def variables(self) -> list[Var]:
        return [self.var, *(v for line in self.body for v in line.variables())]


def cmd(*argv: Word, stdin: str | None = None, stdout: str | None = None) -> Cmd:
    if not argv:
        raise ValueError("a command needs at least one word")
    return Cmd(tuple(argv), stdin, stdout)


def argv_of(command: str) -> tuple[str, ...]:
    """A constant command prefix written as one string (e.g. `istioctl x create-remote-secret`
    from versions.py) as argv words."""
    return tuple(command.split())


def pipe(*commands: Cmd) -> Pipeline:
    return Pipeline(commands)


def and_then(*commands: Cmd) -> Pipeline:
    return Pipeline(commands, "&&")


def assign(var: Var, *commands: Cmd) -> Assign:
    """`NAME=$(a | b)`: the pipeline's output in a variable for later lines (`Var`)."""
    return Assign(var, commands)


def loop(var: Var, values: Iterable[str], body: Iterable[Line]) -> Loop:
    return Loop(var, tuple(values), tuple(body))


def visible(text: str) -> str:
    """`text` with control characters (line breaks included) and other unprintable ones as
    `\\uXXXX`, so that it stays on one line."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def comment(text: str) -> Comment:
    """A comment line; its text cannot break out onto a line of its own."""
    return Comment(text)


def with_comment(line: Cmd, text: str) -> Commented:
    return Commented(line, text)


def fence_for(lines: Iterable[str]) -> str:
    """A backtick fence longer than any backtick run in `lines` (CommonMark: a code block
    ends only at a fence at least as long as the one that opened it)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def text_lines(lines: Iterable[Line]) -> list[str]:
    return [text for line in lines for text in line.text_lines()]


def sh_block(lines: Iterable[Line]) -> list[str]:
    """Markdown lines of a fenced `sh` block holding `lines`, and a blank line after it."""
    body = text_lines(lines)
    fence = fence_for(body)
    return [f"{fence}sh", *body, f"{fence}\n"]


def concat(*parts: str | Var) -> Concat:
    """One shell word made of constants and variables, e.g. `cluster1/traffic/"$UNIT"/`:
    each constant quoted by shlex, each variable as `"$NAME"`, nothing between them."""
    return Concat(parts)
