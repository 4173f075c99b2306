"""Hostile input found by review: each case ends in one clear diagnostic with FILE:LINE:COL and
a hint (never a traceback, never a hang), or in output that does not depend on it.

The MG203 table for special IP ranges is in test_checks_network.py, the byte-level cases of
load_bytes in test_load.py; this module covers each hole end to end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meshgen import write
from meshgen.diagnostics import (
    MAX_QUOTED,
    MAX_TEXT,
    Diagnostic,
    Location,
    Related,
    Severity,
    format_github,
    format_json,
    format_text,
    printable,
    shorten,
)
from meshgen.load import load_bytes, load_file, load_text, stream_name
from meshgen.pipeline import check_spec, compile_spec, display_name, header_name
from meshgen.report import say
from tests.helpers import ROOT, SEED_EXAMPLE, edit, run_meshgen

SEED_TEXT = SEED_EXAMPLE.read_text()
# A subprocess that should finish in about a second: a hang fails the test instead of
# blocking the suite.
TIMEOUT = 60


def diagnostics_of(text: str, tmp_path: Path, name: str = "mesh.yaml") -> list[Diagnostic]:
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    return check_spec(spec).diagnostics


def one(diags: list[Diagnostic]) -> Diagnostic:
    assert len(diags) == 1, diags
    return diags[0]


def meshgen(
    *args: str, cwd: Path = ROOT, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_meshgen(*args, cwd=cwd, stdin=stdin, timeout=TIMEOUT)


# --- 1. special IP ranges as pod or service CIDRs ------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "code", "what"),
    [
        ("255.255.255.255/32", "MG203", "limited broadcast"),  # covered by nothing else before
        ("127.0.0.0/8", "MG104", "loopback"),
        ("120.0.0.0/5", "MG203", "loopback"),  # covers 127/8
        ("169.254.0.0/16", "MG104", "link-local"),
        ("224.0.0.0/4", "MG104", "multicast"),
        ("192.0.0.0/2", "MG203", "multicast"),
        ("0.0.0.0/16", "MG104", "unspecified"),
        ("0.1.0.0/16", "MG203", '"this network"'),
        ("'::1/128'", "MG104", "loopback"),
        ("'fe80::/10'", "MG104", "link-local"),
        ("'ff00::/8'", "MG104", "multicast"),
        ("'::/0'", "MG104", "unspecified"),
    ],
)
def test_special_ranges_are_rejected_as_cidrs(
    tmp_path: Path, cidr: str, code: str, what: str
) -> None:
    text = edit(
        ("  submariner:\n    broker: cluster1\n", ""),
        ("podCIDR: 10.128.0.0/14", f"podCIDR: {cidr}"),
    )
    errors = [d for d in diagnostics_of(text, tmp_path) if d.code in ("MG104", "MG203")]
    assert errors, cidr
    d = errors[0]
    assert (d.code, d.severity, d.location.line, d.location.column) == (
        code,
        Severity.ERROR,
        11,
        16,
    )
    assert what in d.message
    assert d.hint or code == "MG104"


# --- 2. %YAML 1.1 --------------------------------------------------------------------------


def test_yaml_1_1_directive_is_refused_not_silently_read_as_1_2() -> None:
    """Decision: refuse. meshgen reads YAML 1.2 (and emits output that YAML 1.1 readers read
    the same). A file that declares %YAML 1.1 asks for 1.1 scalars (`090` is 72, `yes` is
    true, `1:20` is 80); reading it as 1.2 would silently give other values, and honouring it
    would make the meaning of a spec depend on a header line that most tools ignore. So
    MG010, an error at the directive, with a hint to remove it and what to check."""
    result, diags = load_text("%YAML 1.1\n---\nport: 090\nenabled: yes\n", "mesh.yaml")
    assert result is None
    d = one(diags)
    assert (d.code, str(d.location)) == ("MG010", "mesh.yaml:1:1")
    assert d.message == "the spec asks for YAML 1.1 (%YAML 1.1); meshgen reads YAML 1.2"
    assert d.hint is not None
    assert "remove the %YAML line" in d.hint
    assert "090 is 90" in d.hint


def test_yaml_directive_after_comments_is_located() -> None:
    d = one(load_text("# mesh\n\n%YAML 1.1\n---\na: 1\n", "mesh.yaml")[1])
    assert (d.code, str(d.location)) == ("MG010", "mesh.yaml:3:1")


@pytest.mark.parametrize("version", ["1.3", "2.0"])
def test_other_yaml_versions_get_the_same_code(version: str) -> None:
    d = one(load_text(f"%YAML {version}\n---\na: 1\n", "mesh.yaml")[1])
    assert (d.code, str(d.location)) == ("MG010", "mesh.yaml:1:1")
    assert f"YAML {version}" in d.message


def test_yaml_1_2_directive_is_accepted() -> None:
    result, diags = load_text("%YAML 1.2\n---\nport: 090\n", "mesh.yaml")
    assert diags == []
    assert result is not None
    assert result.data == {"port": 90}


# --- 3. NUL, control characters, UTF-16/32 -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location", "char"),
    [
        ("a: b\nc: d\x00e\n", "mesh.yaml:2:5", "U+0000, a control character"),
        # Columns count characters: "é" is one column but two bytes in libyaml's offset.
        ("a: b\né: c\x00\n", "mesh.yaml:2:5", "U+0000"),
        ("a: b\nc: d\x07\n", "mesh.yaml:2:5", "U+0007"),
        ("a: \x7f\n", "mesh.yaml:1:4", "U+007F"),
        ("a: \x9b\n", "mesh.yaml:1:4", "U+009B"),
        ("a:\n  b: \ufffe\n", "mesh.yaml:2:6", "U+FFFE"),
    ],
)
def test_forbidden_characters_are_reported_at_line_and_column(
    text: str, location: str, char: str
) -> None:
    result, diags = load_text(text, "mesh.yaml")
    assert result is None
    d = one(diags)
    assert (d.code, str(d.location)) == ("MG001", location)
    assert char in d.message
    assert "position" not in d.message
    assert d.hint is not None


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16-le", "UTF-16LE without a byte-order mark"),
        ("utf-16-be", "UTF-16BE without a byte-order mark"),
        ("utf-32-le", "UTF-32LE without a byte-order mark"),
        ("utf-32-be", "UTF-32BE without a byte-order mark"),
        ("utf-16", f"UTF-16{sys.byteorder[0].upper()}E (it starts with a byte-order mark)"),
        ("utf-32", f"UTF-32{sys.byteorder[0].upper()}E (it starts with a byte-order mark)"),
    ],
)
def test_utf16_and_utf32_are_named_with_or_without_a_bom(encoding: str, named: str) -> None:
    result, diags = load_bytes(SEED_TEXT.encode(encoding), "mesh.yaml")
    assert result is None
    d = one(diags)
    assert (d.code, str(d.location)) == ("MG005", "mesh.yaml:1:1")
    assert d.message == f"the spec is not UTF-8 but {named}"
    assert d.hint == "save the file as UTF-8"


def test_nul_in_a_file_through_the_cli_has_a_line_and_column(tmp_path: Path) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_bytes(SEED_TEXT.replace("kind: Mesh", "kind: Me\x00sh").encode())
    proc = meshgen("validate", str(spec), cwd=tmp_path)
    assert proc.returncode == 1
    line = SEED_TEXT.splitlines().index("kind: Mesh") + 1
    assert proc.stderr.startswith(f"mesh.yaml:{line}:9: error[MG001]: the spec contains U+0000")
    assert "position" not in proc.stderr
    assert "Traceback" not in proc.stderr


# --- 4. long values are cut wherever diagnostics quote them ---------------------------------


LONG = "1" * 100_000


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("meshID: mesh1", f"meshID: {LONG}"),  # MG004 from the loader
        ("meshID: mesh1", f"meshID: 1.{LONG}"),  # a float: MG102
        ("name: sample", f"name: s{'x' * 100_000}"),  # MG104 pattern
        ("name: sample", f'name: "{"a b " * 25_000}"'),  # with spaces
        ("meshID: mesh1", f"meshID: mesh1\n  x{'y' * 1000}: 1"),  # MG101 unknown key
        ("meshID: mesh1", f"meshID: mesh1\n  x{'y' * 100_000}: 1"),  # MG001: a too long key
        ("podCIDR: 10.128.0.0/14", f"podCIDR: 10.0.0.0/{LONG}"),  # spec.py's CIDR errors
        ("kind: Mesh", f"kind: {'M' * 100_000}"),  # literal_error
    ],
)
def test_no_diagnostic_line_quotes_100_kb(tmp_path: Path, fmt: str, old: str, new: str) -> None:
    diags = diagnostics_of(SEED_TEXT.replace(old, new), tmp_path)
    assert diags
    out = {"text": format_text, "json": format_json, "github": format_github}[fmt](diags)
    longest = max(len(line) for line in out.splitlines())
    assert longest < MAX_TEXT + 400, out[:500]
    if fmt == "json":
        assert json.loads(out)


def test_the_huge_integer_is_a_size_error_at_its_node() -> None:
    d = one(load_text(f"a:\n  b: {LONG}\n", "mesh.yaml")[1])
    assert (d.code, str(d.location)) == ("MG004", "mesh.yaml:2:6")
    assert d.message == f"the number {'1' * MAX_QUOTED}\u2026 is 100,000 characters long"
    assert d.hint is not None


def test_shorten_cuts_quoted_values_and_long_words_only() -> None:
    value = "x" * 200
    assert shorten(f"unknown field {value!r} in spec") == (
        f"unknown field '{'x' * MAX_QUOTED}\u2026' in spec"
    )
    assert shorten(f'quote it: "{value}"') == f'quote it: "{"x" * MAX_QUOTED}\u2026"'
    assert shorten(f"the number {value}") == f"the number {'x' * MAX_QUOTED}\u2026"
    # Apostrophes are not quotes; short messages are untouched however many they have.
    text = "cluster1's pod CIDR and cluster2's service CIDR " * 3
    assert shorten(text) == text
    # A cut never leaves half an escape behind.
    escaped = repr("a" * 79 + "\x1b" * 10)
    assert shorten(escaped) == "'" + "a" * 79 + "\u2026'"
    # Whatever the shape, the result is bounded.
    for hostile in (" '" * 60_000, "'\\'" * 60_000, ' "x' * 60_000, "a " * 60_000):
        assert len(shorten(hostile)) <= MAX_TEXT + 1


# --- 5. FIFOs, devices and directories ------------------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "mesh.yaml"
    os.mkfifo(fifo)
    # No writer ever opens it: reading would block for ever (the subprocess would time out).
    proc = meshgen("validate", str(fifo), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "mesh.yaml: error[MG009]: cannot read the spec: it is a named pipe (FIFO), not a "
        "regular file\n  hint: "
    )
    proc = meshgen("build", str(fifo), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "named pipe (FIFO)" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("path", "kind"), [("/dev/null", "a character device"), (".", "a directory")]
)
def test_other_non_regular_files_are_refused(path: str, kind: str) -> None:
    d = one(load_file(Path(path), "spec")[1])
    assert (d.code, str(d.location)) == ("MG009", "spec")
    assert d.message == f"cannot read the spec: it is {kind}, not a regular file"
    assert d.hint is not None
    assert "`-`" in d.hint


def test_a_fifo_is_checked_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    opened: list[str] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        opened.append(str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", spy)
    assert one(load_file(fifo)[1]).code == "MG009"
    assert opened == []
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# --- 7. a spec piped in, and stable headers -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("-", "<stdin>"),
        ("/dev/stdin", "<stdin>"),
        ("/dev/fd/0", "<stdin>"),
        ("/proc/self/fd/0", "<stdin>"),
        ("/proc/1234/fd/0", "<stdin>"),
        ("/dev/fd/63", "<pipe>"),
        ("/proc/self/fd/12", "<pipe>"),
        ("mesh.yaml", None),
        ("/dev/stdin.yaml", None),
        ("/proc/self/fd/x", None),
    ],
)
def test_stream_names(path: str, name: str | None) -> None:
    assert stream_name(Path(path)) == name
    if name is not None:
        assert display_name(Path(path)) == name
        assert header_name(Path(path), Path("out")) == name


def test_a_spec_piped_in_builds_the_same_bytes_every_time(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = meshgen("build", "/dev/stdin", "-o", str(out), cwd=tmp_path, stdin=SEED_TEXT)
    assert first.returncode == 0, first.stderr
    header = (out / "cluster1" / "kustomization.yaml").read_text().splitlines()[0]
    assert header == "# Generated by meshgen from <stdin>. Do not edit."
    assert "/proc/" not in (out / "README.md").read_text()
    # Through `-`, and through a pipe that is not stdin (bash's <(cat mesh.yaml)): the same
    # spec name, so a rebuild rewrites nothing.
    again = meshgen("build", "-", "-o", str(out), cwd=tmp_path, stdin=SEED_TEXT)
    assert again.returncode == 0, again.stderr
    assert " 0 written," in again.stderr
    r, w = os.pipe()
    os.write(w, SEED_TEXT.encode())
    os.close(w)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "meshgen", "validate", f"/dev/fd/{r}"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
            timeout=TIMEOUT,
            pass_fds=(r,),
        )
    finally:
        os.close(r)
    assert proc.returncode == 0, proc.stderr


def test_piped_diagnostics_name_stdin(tmp_path: Path) -> None:
    proc = meshgen(
        "validate", "-", cwd=tmp_path, stdin=SEED_TEXT.replace("kind: Mesh", "kind: Mush")
    )
    assert proc.returncode == 1
    assert re.match(r"<stdin>:\d+:7: error\[MG104\]", proc.stderr), proc.stderr


# --- 6. user maps in key order ----------------------------------------------------------------


TRAFFIC = """\
      subsets:
        - {name: v1, labels: {version: v1, app: hello, zone: b}}
        - {name: v2, labels: {version: v2}}
      routes:
        - match:
            - headers: {x-user: {exact: tester}, x-canary: {prefix: "1"}}
              sourceLabels: {version: v0, app: caller}
          destinations:
            - {subset: v1, cluster: cluster2}
        - destinations:
            - {subset: v2, weight: 100}
"""


def _traffic_spec(reverse: bool) -> str:
    text = edit(
        (
            """\
      subsets:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
      routes:
        - destinations:
            - {subset: v2, weight: 100}
""",
            TRAFFIC,
        )
    )
    if reverse:
        text = text.replace(
            "{version: v1, app: hello, zone: b}", "{zone: b, app: hello, version: v1}"
        )
        text = text.replace(
            '{x-user: {exact: tester}, x-canary: {prefix: "1"}}',
            '{x-canary: {prefix: "1"}, x-user: {exact: tester}}',
        )
        text = text.replace("{version: v0, app: caller}", "{app: caller, version: v0}")
    return text


def test_label_and_header_order_in_the_spec_does_not_change_the_output(tmp_path: Path) -> None:
    outputs = []
    for reverse in (False, True):
        spec = tmp_path / str(reverse) / "mesh.yaml"
        spec.parent.mkdir()
        spec.write_text(_traffic_spec(reverse))
        result = compile_spec(spec, spec.parent / "out")
        assert result.files is not None, result.diagnostics
        outputs.append(result.files)
    assert outputs[0] == outputs[1]
    rules = outputs[0]["cluster1/traffic/sample/rules.yaml"].decode()
    assert "labels:\n      app: hello\n      version: v1\n      zone: b\n" in rules
    # The pinned subset adds topology.istio.io/cluster in its sorted place.
    assert (
        "labels:\n      app: hello\n      topology.istio.io/cluster: cluster2\n"
        "      version: v1\n      zone: b\n"
    ) in rules
    assert re.search(r"headers:\n\s+x-canary:\n.*\n\s+x-user:", rules)
    assert re.search(r"sourceLabels:\n\s+app: caller\n\s+version: v0\n", rules)


# --- 8. Ctrl-C after the output is complete ------------------------------------------------


def _build_interrupted(tmp_path: Path, when: str) -> subprocess.CompletedProcess[str]:
    """`meshgen build` in a real process that gets a real SIGINT `when` the write is done
    (right after write_output returns) or before it starts changing anything."""
    code = textwrap.dedent(f"""\
        import os, signal, sys
        from meshgen import write
        real = write.write_output
        def write_output(*args, **kwargs):
            if {when!r} == "before":
                os.kill(os.getpid(), signal.SIGINT)
            plan = real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGINT)  # lands before the summary line is printed
            return plan
        write.write_output = write_output
        sys.argv = ["meshgen", "build", {str(SEED_EXAMPLE)!r}, "-o", {str(tmp_path / "out")!r}]
        from meshgen.cli import main
        main()
    """)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=TIMEOUT,
        # The interrupt under test reaches meshgen as a terminal's Ctrl-C would, however the
        # test run was started: a runner started in the background (`scripts/test &` in a
        # script) passes SIGINT on ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_after_the_write_says_the_output_is_complete(tmp_path: Path) -> None:
    """Decision: exit 130 (the user asked to stop, so a calling script stops too), with a
    message that the output is complete instead of a bare "interrupted"."""
    proc = _build_interrupted(tmp_path, "after")
    assert proc.returncode == 130
    assert proc.stderr.strip().endswith(
        f"meshgen: interrupted after {tmp_path / 'out'} was completely written: it is up to date"
    )
    assert "Traceback" not in proc.stderr
    files = compile_spec(SEED_EXAMPLE.relative_to(ROOT), tmp_path / "out").files
    assert files is not None
    assert write.check_output(tmp_path / "out", files).clean


def test_ctrl_c_before_the_write_claims_nothing(tmp_path: Path) -> None:
    proc = _build_interrupted(tmp_path, "before")
    assert proc.returncode == 130
    assert "run the build again to complete it" in proc.stderr
    assert "completely written" not in proc.stderr
    assert "Traceback" not in proc.stderr


# --- 9. control characters never reach the terminal -----------------------------------------


HOSTILE = "a\x1b[31mred\x1b]0;title\x07\rb\nc\x9b2J\u202eevil\x7f"


def _hostile_diagnostic() -> Diagnostic:
    return Diagnostic(
        "MG104",
        Severity.ERROR,
        f"bad {HOSTILE}",
        Location(f"m\x1b[2J{HOSTILE}.yaml", 3, 4),
        f"hint {HOSTILE}",
        (Related(Location("n\x1b.yaml", 1, 2), f"note {HOSTILE}"),),
    )


def _no_raw_controls(text: str, allowed: str = "\n") -> None:
    bad = [
        ch
        for ch in text
        if (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E)
        and ch not in allowed
    ]
    assert bad == [], text


def test_text_format_escapes_control_characters() -> None:
    out = format_text([_hostile_diagnostic()])
    _no_raw_controls(out)
    assert out.count("\n") == 3  # the diagnostic, its note and its hint: no forged lines
    assert "bad a\\x1b[31mred\\x1b]0;title\\x07\\rb\\nc\\x9b2J\\u202eevil\\x7f\n" in out
    assert out.startswith("m\\x1b[2Ja\\x1b[31m")
    assert "  n\\x1b.yaml:1:2: note: note a\\x1b" in out


def test_github_format_escapes_controls_then_its_own_syntax() -> None:
    d = Diagnostic(
        "MG201",
        Severity.WARNING,
        "50% of\r\nx\x1b",
        Location("a:b,c%.yaml", 2, 3),
        "h: 100%",
        (Related(Location("r.yaml", 1, 1), "first, here"),),
    )
    out = format_github([d])
    _no_raw_controls(out)
    assert out.endswith("\n")
    assert out.count("\n") == 1
    # Properties escape % : , ; data escapes % CR LF (actions/toolkit command.ts).
    assert out.startswith("::warning file=a%3Ab%2Cc%25.yaml,line=2,col=3,title=MG201::")
    body = out.split("::", 2)[2].rstrip("\n")
    assert body == ("50%25 of\\r\\nx\\x1b%0Ar.yaml:1:1: note: first, here%0Ahint: h: 100%25")
    _no_raw_controls(format_github([_hostile_diagnostic()]))


def test_json_format_keeps_values_and_escapes_controls() -> None:
    out = format_json([_hostile_diagnostic()])
    _no_raw_controls(out.replace("\x7f", ""))  # DEL is ASCII: json.dumps leaves it, harmless
    [obj] = json.loads(out)
    assert obj["message"] == f"bad {HOSTILE}"
    assert obj["file"] == f"m\x1b[2J{HOSTILE}.yaml"


def test_say_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    say(f"{HOSTILE}: nothing written")
    err = capsys.readouterr().err
    _no_raw_controls(err)
    assert err == f"meshgen: {printable(HOSTILE)}: nothing written\n"


def test_a_spec_name_with_control_characters_reaches_no_terminal(tmp_path: Path) -> None:
    name = "m\x1b[31m.yaml"
    (tmp_path / name).write_text(SEED_TEXT.replace("kind: Mesh", "kind: Mush"))
    for fmt in ("text", "github"):
        proc = meshgen("validate", "--format", fmt, name, cwd=tmp_path)
        assert proc.returncode == 1
        _no_raw_controls(proc.stdout + proc.stderr)
        assert "m\\u001b[31m.yaml" in proc.stdout + proc.stderr
