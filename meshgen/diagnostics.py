"""Diagnostics: every problem meshgen reports, with a stable code and a location.

Modelled on compiler output (``FILE:LINE:COL: error[CODE]: message``): collect them all,
print them all, then decide the exit code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in a file (line 0 means "the whole file")."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Related:
    location: Location
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None
    related: tuple[Related, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def diagnostic(
    code: str,
    message: str,
    location: Location,
    hint: str | None = None,
    related: Iterable[Related] = (),
    *,
    severity: Severity | None = None,
) -> Diagnostic:
    """The one way to make a diagnostic: its severity is the code's, from the registry
    (meshgen/codes.py), so the level travels with the code. Only a code registered as
    "error/warning" takes `severity` from the caller (the message says which case it is);
    naming another severity, or an unregistered code, is a bug (ValueError)."""
    from meshgen.codes import REGISTRY

    entry = REGISTRY.get(code)
    if entry is None:
        raise ValueError(f"{code} is not a registered diagnostic code (meshgen/codes.py)")
    if entry.severity == "error/warning":
        if severity is None:
            raise ValueError(f"{code} is an error or a warning: say which")
    elif severity is not None and severity.value != entry.severity:
        raise ValueError(f"{code} is registered as {entry.severity}, not {severity.value}")
    else:
        severity = Severity(entry.severity)
    return Diagnostic(code, severity, message, location, hint, tuple(related))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.location.file, d.location.line, d.location.column, d.code)


# Values quoted from the spec are cut to this many characters in every format: a
# 100,000-digit number must not become a 100 KB diagnostic line.
MAX_QUOTED = 80
# And a whole message or hint to this many (a long value the patterns below miss).
MAX_TEXT = 1000
ELLIPSIS = "\u2026"

# A value quoted by repr() ('...' or "..." with backslash escapes) that starts and ends at a
# word boundary, or else any run of non-space characters.
_TOKEN = re.compile(r"""(?<!\w)'(?:[^'\\\n]|\\.)*'(?!\w)|(?<!\w)"(?:[^"\\\n]|\\.)*"(?!\w)|\S+""")
# A backslash escape cut short at the end of a truncated value.
_CUT_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]?|u[0-9a-fA-F]{0,3}|U[0-9a-fA-F]{0,7})?$")
# C0 and C1 controls, DEL, and the bidirectional overrides and isolates ("trojan source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _cut(value: str, limit: int) -> str:
    head = value[:limit]
    if head.endswith("\\") and (len(head) - len(head.rstrip("\\"))) % 2 == 0:
        return head + ELLIPSIS  # ends with complete "\\" escapes
    return _CUT_ESCAPE.sub("", head) + ELLIPSIS


def _shorten_token(match: re.Match[str]) -> str:
    token = match.group()
    if token[0] in "'\"" and len(token) >= 2 and token[-1] == token[0]:
        if len(token) - 2 <= MAX_QUOTED:
            return token
        return token[0] + _cut(token[1:-1], MAX_QUOTED) + token[0]
    return token if len(token) <= MAX_QUOTED else _cut(token, MAX_QUOTED)


def shorten(text: str) -> str:
    """`text` with every quoted value and every long word cut to MAX_QUOTED characters."""
    if len(text) <= MAX_QUOTED:
        return text
    # Linear: a quoted value's scan stops at the next unescaped quote of its kind.
    text = _TOKEN.sub(_shorten_token, text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + ELLIPSIS


def quote(value: object) -> str:
    """repr(value), cut to MAX_QUOTED characters: for messages that quote the input."""
    text = repr(value)
    return shorten(text)


_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with control characters escaped (ESC -> \\x1b): nothing a diagnostic quotes
    from the input can move the cursor, recolour or retitle the terminal, or forge a line."""
    return _UNSAFE.sub(_escape_char, text)


def _safe(text: str) -> str:
    return printable(shorten(text))


def _where(location: Location) -> str:
    return printable(str(location))


# ANSI SGR sequences for `color=True` (a terminal without NO_COLOR, see report.use_color).
_RED, _YELLOW, _CYAN, _BOLD, _RESET = "\x1b[1;31m", "\x1b[1;33m", "\x1b[36m", "\x1b[1m", "\x1b[0m"


def format_text(diagnostics: Sequence[Diagnostic], *, color: bool = False) -> str:
    def paint(style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if color else text

    lines: list[str] = []
    for d in diagnostics:
        level = paint(_RED if d.is_error else _YELLOW, f"{d.severity}[{d.code}]")
        lines.append(f"{paint(_BOLD, _where(d.location))}: {level}: {_safe(d.message)}")
        lines.extend(
            f"  {_where(r.location)}: {paint(_CYAN, 'note')}: {_safe(r.message)}" for r in d.related
        )
        if d.hint:
            lines.append(f"  {paint(_CYAN, 'hint')}: {_safe(d.hint)}")
    return "".join(line + "\n" for line in lines)


def to_json_obj(d: Diagnostic) -> dict[str, object]:
    # json.dumps escapes every control character itself; only long values are cut.
    from meshgen.codes import doc_ref

    return {
        "code": d.code,
        "doc": doc_ref(d.code),
        "severity": str(d.severity),
        "message": shorten(d.message),
        "file": d.location.file,
        "line": d.location.line,
        "column": d.location.column,
        "hint": shorten(d.hint) if d.hint is not None else None,
        "related": [
            {
                "file": r.location.file,
                "line": r.location.line,
                "column": r.location.column,
                "message": shorten(r.message),
            }
            for r in d.related
        ],
    }


def format_json(diagnostics: Sequence[Diagnostic]) -> str:
    import json  # only --format json needs it

    return json.dumps([to_json_obj(d) for d in diagnostics], indent=2) + "\n"


def _github_escape(text: str, *, is_property: bool = False) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if is_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so problems show up on the pull request."""
    lines = []
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        file = printable(d.location.file)
        props = [f"file={_github_escape(file, is_property=True)}"]
        if d.location.line > 0:
            props += [f"line={d.location.line}", f"col={d.location.column}"]
        props.append(f"title={_github_escape(d.code, is_property=True)}")
        # Control characters are escaped per part, so the only line breaks left are the
        # ones joining the parts (which the annotation shows as lines).
        body = _safe(d.message)
        body += "".join(f"\n{_where(r.location)}: note: {_safe(r.message)}" for r in d.related)
        if d.hint:
            body += f"\nhint: {_safe(d.hint)}"
        lines.append(f"::{level} {','.join(props)}::{_github_escape(body)}\n")
    return "".join(lines)


FORMATTERS = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
}
