"""Stage 1, load: bytes -> plain data plus the position of every node.

The ruamel round-trip loader keeps positions but is ~7x slower than composing with the C
parser (measured: benchmarks/), so we compose with libyaml (YAML 1.2 resolution) and walk
the node tree ourselves: that walk is also where duplicate keys, alias expansion, unsafe tags and
nesting depth are bounded.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgen.diagnostics import Diagnostic, Location, Related, diagnostic, quote
from meshgen.gcpause import gc_paused

YamlPath = tuple[str | int, ...]

MAX_BYTES = 16 * 1024 * 1024
# Bounds memory and time before any node is built (a 100-cluster, 5,000-service spec has
# well under a million events).
MAX_EVENTS = 2_000_000
MAX_DEPTH = 64
# A real spec expands to about as many nodes as it has lines; this bounds "billion laughs":
# nodes walked again through an alias count against it (~3 us and ~250 B each).
MAX_EXPANDED_NODES = 100_000
# The longest integer literal read (Python's own limit, int_max_str_digits, is 4,300).
MAX_INT_CHARS = 1_000

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


@dataclass
class Positions:
    """Where each node of the document is: `values` for a node, `keys` for a mapping key."""

    file: str
    values: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    raw: dict[YamlPath, str] = field(default_factory=dict)

    def at(self, path: YamlPath) -> Location:
        """The value at `path`, or the nearest enclosing node that exists."""
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return Location(self.file, *mark)
        return Location(self.file, 1, 1)

    def key_at(self, path: YamlPath) -> Location:
        mark = self.keys.get(path)
        return Location(self.file, *mark) if mark is not None else self.at(path)


@dataclass(frozen=True)
class Loaded:
    data: Any
    positions: Positions
    sha256: str = ""  # of the spec's bytes (load_file): recorded in the output manifest


class _StopLoading(Exception):  # noqa: N818 - control flow, not an error type
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


def _diag(
    code: str,
    message: str,
    loc: Location,
    hint: str | None = None,
    related: tuple[Related, ...] = (),
) -> Diagnostic:
    return diagnostic(code, message, loc, hint, related)


# `-`, or a path that names one of this process's descriptors (/dev/stdin, bash's
# `<(cat mesh.yaml)` as /dev/fd/63): a stream the user's shell opened, read like stdin.
_FD_PATH = re.compile(r"^(?:/dev/(?:stdin|fd/(\d+))|/proc/(?:self|thread-self|\d+)/fd/(\d+))$")


def stream_name(path: Path) -> str | None:
    """`<stdin>` (`<pipe>` for another descriptor) when `path` names a stream opened for
    meshgen rather than a file: a stable name for generated headers and diagnostics."""
    text = str(path)
    if text == "-":
        return "<stdin>"
    match = _FD_PATH.match(text)
    if match is None:
        return None
    fd = match.group(1) or match.group(2)
    return "<stdin>" if fd is None or fd == "0" else "<pipe>"


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


class _Refused(Exception):  # noqa: N818 - control flow, not an error type
    pass


_pipefs: list[int] = []


def _is_anonymous_pipe(st: os.stat_result) -> bool:
    """A pipe made by pipe(2) (a shell's `|` or `<(...)`), not a FIFO in the file system:
    opening it never waits for a writer."""
    if not stat.S_ISFIFO(st.st_mode):
        return False
    if not _pipefs:
        r, w = os.pipe()
        try:
            _pipefs.append(os.fstat(r).st_dev)
        finally:
            os.close(r)
            os.close(w)
    return st.st_dev == _pipefs[0]


def _readable_pipe(st: os.stat_result, path: Path) -> bool:
    return stat.S_ISFIFO(st.st_mode) and (stream_name(path) is not None or _is_anonymous_pipe(st))


def _read_path(path: Path) -> bytes:
    """The spec's bytes. A FIFO in the file system waits for ever for a writer and a device
    may never end, so only regular files are read, and pipes that the caller's shell opened
    (`-`, /dev/stdin, /dev/fd/N, an anonymous pipe). The path is checked with stat before it
    is opened, and opened non-blocking, so a FIFO is refused without waiting on it."""
    if str(path) == "-":
        if sys.stdin is None:  # started with standard input closed
            raise OSError(0, "standard input is closed")
        return sys.stdin.buffer.read(MAX_BYTES + 1)
    st = os.stat(path)
    if not (stat.S_ISREG(st.st_mode) or _readable_pipe(st, path)):
        raise _Refused(_kind(st.st_mode))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)  # what was opened, should the path have changed since the stat
        if _readable_pipe(st, path):
            os.set_blocking(fd, True)  # its writer is the caller's own process
        elif not stat.S_ISREG(st.st_mode):
            raise _Refused(_kind(st.st_mode))
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_file(path: Path, display: str | None = None) -> tuple[Loaded | None, list[Diagnostic]]:
    name = display if display is not None else str(path)
    try:
        blob = _read_path(path)
    except _Refused as refused:
        return None, [
            _diag(
                "MG009",
                f"cannot read the spec: it is {refused}, not a regular file",
                Location(name),
                "pass a mesh.yaml file, or the spec on standard input as `-` "
                "(e.g. `meshgen validate - < FILE`)",
            )
        ]
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, [_diag("MG009", f"cannot read the spec: {reason}", Location(name))]
    loaded, diagnostics = load_bytes(blob, name)
    if loaded is not None:
        import hashlib

        loaded = Loaded(loaded.data, loaded.positions, hashlib.sha256(blob).hexdigest())
    return loaded, diagnostics


# Byte-order marks, longest first (UTF-32LE's starts with UTF-16LE's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16BE"),
)


def _wide_encoding(blob: bytes) -> str | None:
    """UTF-16 or UTF-32: by its byte-order mark or, without one, by the zero bytes around
    the first character, which is ASCII in any spec (how YAML 1.2 §5.2 detects them)."""
    for bom, encoding in _BOMS:
        if blob.startswith(bom):
            return f"{encoding} (it starts with a byte-order mark)"
    head = blob[:4]
    if len(head) < 4 or b"\x00" not in head:
        return None
    zero = [b == 0 for b in head]
    patterns = {
        "UTF-32BE": zero == [True, True, True, False],
        "UTF-32LE": zero == [False, True, True, True],
        "UTF-16BE": zero == [True, False, True, False],
        "UTF-16LE": zero == [False, True, False, True],
    }
    found = next((name for name, match in patterns.items() if match), None)
    return f"{found} without a byte-order mark" if found else None


def _line_col(blob: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte `offset` of UTF-8 `blob`."""
    start = blob.rfind(b"\n", 0, offset) + 1
    line = blob.count(b"\n", 0, offset) + 1
    return line, len(blob[start:offset].decode("utf-8", errors="replace")) + 1


def load_bytes(blob: bytes, file: str) -> tuple[Loaded | None, list[Diagnostic]]:
    if len(blob) > MAX_BYTES:
        return None, [
            _diag(
                "MG004",
                f"the spec is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                Location(file),
                "split the mesh or report your use case; a real spec is far smaller",
            )
        ]
    wide = _wide_encoding(blob)
    if wide is not None:
        return None, [
            _diag(
                "MG005",
                f"the spec is not UTF-8 but {wide}",
                Location(file, 1, 1),
                "save the file as UTF-8",
            )
        ]
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(blob, exc.start)
        return None, [
            _diag(
                "MG005",
                f"the spec is not valid UTF-8 (byte 0x{blob[exc.start]:02x})",
                Location(file, line, col),
                "save the file as UTF-8",
            )
        ]
    return load_text(text, file)


def load_text(text: str, file: str) -> tuple[Loaded | None, list[Diagnostic]]:
    with gc_paused():
        return _load_text(text, file)


def _load_text(text: str, file: str) -> tuple[Loaded | None, list[Diagnostic]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    text = text.removeprefix("\ufeff")
    yaml = YAML(typ="safe", pure=False)
    try:
        limit = _check_limits(yaml, text, file)
        if limit is not None:
            return None, [limit]
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        return None, [_syntax_diagnostic(exc, file, text)]
    except ReaderError as exc:
        return None, [_reader_diagnostic(exc, file, text)]
    except YAMLError as exc:  # pragma: no cover - libyaml reports marks for all we know of
        return None, [_diag("MG001", f"YAML error: {exc}", Location(file))]
    if node is None:
        return None, [
            _diag(
                "MG007",
                "the spec is empty",
                Location(file),
                "run `meshgen init` for a commented starter spec",
            )
        ]
    positions = Positions(file)
    walker = _Walker(positions, yaml.constructor, yaml.resolver)
    try:
        data = walker.walk(node, ())
    except _StopLoading as stop:
        return None, [stop.diagnostic]
    return Loaded(data, positions), []


def _check_limits(yaml: Any, text: str, file: str) -> Diagnostic | None:
    """Depth and size limits on the event stream, before libyaml's composer recurses
    (in C: a few thousand nested levels would overflow the stack)."""
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent, DocumentStartEvent

    depth = 0
    for count, event in enumerate(yaml.parse(text)):
        if isinstance(event, DocumentStartEvent) and event.version not in (None, (1, 2)):
            mark = event.start_mark
            return _version_diagnostic(
                ".".join(map(str, event.version)), Location(file, mark.line + 1, mark.column + 1)
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH + 1:
                mark = event.start_mark
                return _diag(
                    "MG003",
                    f"the spec is nested deeper than {MAX_DEPTH} levels",
                    Location(file, mark.line + 1, mark.column + 1),
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
        if count > MAX_EVENTS:
            mark = event.start_mark
            return _diag(
                "MG004",
                f"the spec has more than {MAX_EVENTS:,} YAML nodes",
                Location(file, mark.line + 1, mark.column + 1),
                "split the mesh or report your use case; a real spec is far smaller",
            )
    return None


def _version_diagnostic(version: str | None, loc: Location) -> Diagnostic:
    """MG010: `%YAML 1.1` asks for YAML 1.1 scalars (`090` is the octal 72, `yes` is true,
    `1:20` is 80), but meshgen reads every spec as YAML 1.2; rather than read the file
    differently from what its directive says, it is refused."""
    asked = f"YAML {version} (%YAML {quote(version)[1:-1]})" if version else "another YAML"
    hint = "remove the %YAML line (or write %YAML 1.2)"
    if version == "1.1":
        hint += (
            " and check the values YAML 1.1 reads differently: in 1.2 yes/no/on/off and "
            "1:20 are strings and 090 is 90; quote any you mean as text"
        )
    return _diag("MG010", f"the spec asks for {asked}; meshgen reads YAML 1.2", loc, hint)


def _reader_diagnostic(exc: Any, file: str, text: str) -> Diagnostic:
    """A character YAML does not allow (NUL, other control characters, U+FFFE): libyaml
    gives a byte offset into the UTF-8 text; report it as a line and column."""
    offset = getattr(exc, "position", 0)
    line, col = _line_col(text.encode("utf-8", errors="surrogatepass"), offset)
    code = getattr(exc, "character", None)
    char = f"U+{code:04X}" if isinstance(code, int) else "a character"
    if isinstance(code, int) and (code < 0x20 or 0x7F <= code <= 0x9F):
        char += ", a control character"
    return _diag(
        "MG001",
        f"the spec contains {char}, which YAML does not allow",
        Location(file, line, col),
        "remove it (editors may not show it); in a double-quoted string write an "
        "escape such as \\x00 instead",
    )


def _syntax_diagnostic(exc: Any, file: str, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    at_tab = mark is not None and text[mark.index : mark.index + 1] == "\t"
    problem = exc.problem or exc.context or "invalid YAML"
    if "incompatible YAML document" in problem:
        version = re.search(r"^%YAML[ \t]+(\S+)", text, re.MULTILINE)
        return _version_diagnostic(version.group(1) if version else None, loc)
    if "expected a single document" in problem or "but found another document" in problem:
        return _diag(
            "MG007",
            "the spec must hold exactly one YAML document",
            loc,
            "remove the extra `---` documents",
        )
    if at_tab or "tab" in problem.lower():
        hint = "indent with spaces; YAML does not allow tabs for indentation"
    elif "unexpected ':'" in problem:
        # libyaml follows YAML 1.1 here: no ':' in unquoted values inside [ ] or { }.
        hint = 'quote the value: inside [ ] or { } write e.g. "fd00::/56"'
    else:
        hint = "check the indentation and quoting around this position"
    related: tuple[Related, ...] = ()
    cmark = exc.context_mark
    if exc.context and cmark is not None and mark is not cmark:
        related = (Related(Location(file, cmark.line + 1, cmark.column + 1), exc.context),)
    return _diag("MG001", f"YAML syntax error: {problem}", loc, hint, related)


class _Walker:
    def __init__(self, positions: Positions, constructor: Any, resolver: Any) -> None:
        self.positions = positions
        self.constructor = constructor
        self.resolver = resolver
        self.expanded = 0
        self.seen: set[int] = set()
        self.active: set[int] = set()

    def loc(self, node: Any) -> Location:
        return Location(self.positions.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def walk(self, node: Any, path: YamlPath) -> Any:
        if id(node) in self.seen:
            self.expanded += 1
        self.seen.add(id(node))
        if self.expanded > MAX_EXPANDED_NODES:
            raise _StopLoading(
                _diag(
                    "MG003",
                    "the spec expands to too many nodes through aliases",
                    self.loc(node),
                    "do not nest aliases (a YAML 'billion laughs')",
                )
            )
        if len(path) > MAX_DEPTH:
            raise _StopLoading(
                _diag("MG003", f"the spec is nested deeper than {MAX_DEPTH} levels", self.loc(node))
            )
        mark = node.start_mark
        self.positions.values[path] = (mark.line + 1, mark.column + 1)
        node_id = id(node)
        if node_id in self.active:
            raise _StopLoading(
                _diag(
                    "MG003",
                    "an alias refers to its own enclosing node",
                    self.loc(node),
                    "recursive YAML structures are not allowed",
                )
            )
        kind = node.id
        if kind == "scalar":
            return self.scalar(node, path)
        self.active.add(node_id)
        try:
            if kind == "sequence":
                self.check_tag(node, f"{_TAG}seq")
                return [self.walk(child, (*path, i)) for i, child in enumerate(node.value)]
            self.check_tag(node, f"{_TAG}map")
            return self.mapping(node, path)
        finally:
            self.active.discard(node_id)

    def check_tag(self, node: Any, expected: str) -> None:
        if node.tag != expected:
            raise _StopLoading(
                _diag(
                    "MG006",
                    f"unsupported YAML tag {quote(node.tag)}",
                    self.loc(node),
                    "remove the tag; mesh.yaml holds plain data only",
                )
            )

    def mapping(self, node: Any, path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_TAG}merge":
                raise _StopLoading(
                    _diag(
                        "MG008",
                        "merge keys (<<) are not supported",
                        self.loc(key_node),
                        "write the keys out, or put the anchor on the whole value",
                    )
                )
            if key_node.id != "scalar" or key_node.tag != f"{_TAG}str":
                raise _StopLoading(
                    _diag(
                        "MG008",
                        "mapping keys must be plain strings",
                        self.loc(key_node),
                        "quote the key",
                    )
                )
            key = key_node.value
            if key in first_seen:
                first = first_seen[key]
                raise _StopLoading(
                    _diag(
                        "MG002",
                        f"duplicate key {quote(key)}",
                        self.loc(key_node),
                        "YAML parsers disagree on which value wins; keep one",
                        (Related(self.loc(first), "first defined here"),),
                    )
                )
            first_seen[key] = key_node
            child = (*path, key)
            kmark = key_node.start_mark
            self.positions.keys[child] = (kmark.line + 1, kmark.column + 1)
            out[key] = self.walk(value_node, child)
        return out

    def scalar(self, node: Any, path: YamlPath) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            raise _StopLoading(
                _diag(
                    "MG006",
                    f"unsupported YAML tag {quote(tag)}",
                    self.loc(node),
                    "remove the tag; mesh.yaml holds plain data only",
                )
            )
        self.positions.raw[path] = node.value
        if tag in (f"{_TAG}str", f"{_TAG}timestamp"):
            return node.value
        # A quoted scalar, or a plain one that would not resolve to this tag by itself, got
        # its tag explicitly (`!!bool "yes"`): YAML 1.1 and 1.2 readers would disagree on it.
        if node.style or self.resolver.resolve(type(node), node.value, (True, False)) != tag:
            raise _StopLoading(
                _diag(
                    "MG006",
                    f"explicit YAML tag {quote(tag)} on {quote(node.value)}",
                    self.loc(node),
                    "remove the tag and write the plain value",
                )
            )
        if tag == f"{_TAG}int" and len(node.value) > MAX_INT_CHARS:
            # Python refuses to convert such a number (int_max_str_digits) and no field takes
            # one: a size limit, reported before anything else quotes the whole value.
            raise _StopLoading(
                _diag(
                    "MG004",
                    f"the number {quote(node.value)[1:-1]} is {len(node.value):,} characters long",
                    self.loc(node),
                    "no field of mesh.yaml takes a number that large; quote it if it is text",
                )
            )
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, KeyError, IndexError, TypeError):  # pragma: no cover - resolved
            raise _StopLoading(
                _diag(
                    "MG006",
                    f"cannot read {quote(node.value)} as {quote(tag)}",
                    self.loc(node),
                    "remove the tag",
                )
            ) from None
