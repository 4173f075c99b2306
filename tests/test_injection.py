"""Hostile values reach out/README.md only as data.

Validation keeps most strings tame (names are DNS labels, URLs have a pattern), so these
tests skip it: a valid mesh whose values are unique markers is rendered, then the same mesh
with every marker swapped for a hostile string (quotes, `$(...)`, backticks, `;`, `|`, `&`,
redirections, line breaks, a code fence, Markdown and HTML) built with `model_copy`, which does
not validate. The README of the hostile twin must have

- the same shell commands: each `sh` block, split at its unquoted `|`, `&&` and line breaks
  and each part parsed with `shlex.split`, yields exactly the argv of the tame README with
  the markers swapped, and nothing outside quotes but plain words and that syntax;
- the same Markdown structure: the same HTML tags, in the same order, when rendered;
- an HTML comment that the spec's file name cannot end.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import shlex
import string
from typing import Any, cast

import pytest
from markdown_it import MarkdownIt
from pydantic import BaseModel

from meshgen.render import markdown as mdesc
from meshgen.render import render
from meshgen.render.runbook.markdown import readme_comment
from meshgen.render.shell import Var, cmd, sh_block
from meshgen.spec import Mesh
from tests.helpers import mesh_from, seed_data


def readme_of(mesh: Mesh) -> str:
    """out/README.md of `mesh` (it needs the traffic units the whole render decides)."""
    return render(mesh).readme


EVIL = (
    "'\"$(touch pwned)`id`;rm -rf x|y&&z&w<v>u\\\n```\n# heading\n| a | b |\n"
    "[l](http://e) <script>*em*_u_ ~~s~~ &amp; --> <!-- ${HOME} ~ {a,b} *"
)

# Every string field that reaches the README, as a marker (each unique, none inside another).
MARKERS = {
    "metadata.name": "zqmesh",
    "meshID": "zqmid",
    "network": "zqnet",
    "trustDomain": "zqtd.local",
    "istio.revision": "zqrev",
    "istio.cni.namespace": "zqcni",
    "clusters[0].name": "zqa1",
    "clusters[1].name": "zqb2",
    "clusters[0].podCIDR": "10.128.0.0/14",
    "clusters[0].serviceCIDR": "172.30.0.0/16",
    "clusters[1].podCIDR": "10.132.0.0/14",
    "clusters[1].serviceCIDR": "172.31.0.0/16",
    "clusters[0].apiServer": "https://zqapia:6443",
    "clusters[1].apiServer": "https://zqapib:6443",
    "namespaces[0].name": "zqns",
    "submariner.cableDriver": "libreswan",
    "secrets.store.kind": "ClusterSecretStore",
    "secrets.store.name": "zqstore",
    "secrets.keyPrefix": "zqkp",
    "gitops.repoURL": "https://zqgit/zqrepo.git",
    "gitops.revision": "zqbranch",
    "gitops.path": "zqpath",
    "gitops.argocd.namespace": "zqargo",
}
_MARKER = re.compile(
    "|".join(re.escape(m) for m in sorted(MARKERS.values(), key=len, reverse=True))
)


def hostile(text: str) -> str:
    """`text` with every marker followed by EVIL (one pass: EVIL holds no marker)."""
    return _MARKER.sub(lambda m: m.group(0) + EVIL, text)


def _swap(value: Any) -> Any:
    """A copy of a model tree with `hostile` applied to every string, unvalidated."""
    if isinstance(value, BaseModel):
        update = {name: _swap(getattr(value, name)) for name in type(value).model_fields}
        return value.model_copy(update=update)
    if isinstance(value, str):
        return hostile(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        text = str(value)
        return hostile(text) if hostile(text) != text else value
    if isinstance(value, tuple):
        return tuple(_swap(v) for v in value)
    if isinstance(value, list):
        return [_swap(v) for v in value]
    if isinstance(value, dict):
        return {_swap(k): _swap(v) for k, v in value.items()}
    return value


def tame_data(**spec: Any) -> dict[str, Any]:
    data = copy.deepcopy(seed_data())
    data["metadata"]["name"] = "zqmesh"
    data["spec"].update(meshID="zqmid", network="zqnet", trustDomain="zqtd.local")
    data["spec"]["submariner"]["broker"] = "zqa1"
    clusters = data["spec"]["clusters"]
    for cluster, name, api in zip(clusters, ["zqa1", "zqb2"], ["zqapia", "zqapib"], strict=True):
        cluster.update(name=name, apiServer=f"https://{api}:6443")
    data["spec"]["namespaces"] = [{"name": "zqns"}]
    for service in data["spec"]["services"]:
        service["namespace"] = "zqns"
    data["spec"]["istio"]["cni"] = {"namespace": "zqcni"}
    for key, value in spec.items():
        target = data["spec"]
        *parents, last = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return data


EXTERNAL = {
    "secrets": {
        "provider": "external-secrets",
        "keyPrefix": "zqkp",
        "store": {"kind": "ClusterSecretStore", "name": "zqstore"},
    }
}
GITOPS = {
    "engine": "argocd",
    "repoURL": "https://zqgit/zqrepo.git",
    "revision": "zqbranch",
    "path": "zqpath",
    "argocd": {"namespace": "zqargo"},
}

# Between them, every step and command builder of the README.
CONFIGS: dict[str, dict[str, Any]] = {
    # subctl, OpenShift SCCs, placeholders (kubectl secrets), istioctl, remote secrets with
    # the OpenShift token-name lines.
    "seed": {"submariner.natTraversal": False},
    # Submariner by its operator, External Secrets, Argo CD, Helm charts.
    "operator-external-argocd": {
        "submariner.deploy": "operator",
        "istio.version": "1.30.0",
        "istio.installer": "helm",
        **EXTERNAL,
        "gitops": GITOPS,
    },
    # helm install commands, reader token secrets (Kubernetes >= 1.24), Flux.
    "helm-reader-token": {"istio.version": "1.30.0", "istio.installer": "helm"},
    "flux-operator-installer": {
        "istio.version": "1.20.0",
        "istio.installer": "operator",
        "istio.revision": "zqrev",
        "gitops": {**GITOPS, "engine": "flux"},
    },
    "sail": {"istio.version": "1.24.0", "istio.installer": "sail", **EXTERNAL},
}


def tame_mesh(name: str) -> Mesh:
    data = tame_data(**CONFIGS[name])
    if name in ("helm-reader-token", "operator-external-argocd"):
        for cluster in data["spec"]["clusters"]:
            cluster.update(platform="kubernetes", kubernetesVersion="1.30")
    return mesh_from(data)


# --- a small POSIX shell lexer: just enough to tell data from syntax ----------------------

_PLAIN = set(string.ascii_letters + string.digits + "_@%+=:,./-")


def shell_commands(block: str) -> list[list[str]]:
    """Each simple command of a `sh` block as `shlex.split` argv; fails on any unquoted
    character that is neither a plain word character nor syntax the builders add."""
    parts: list[str] = []
    start = i = depth = 0
    word_start = True
    while i < len(block):
        ch = block[i]
        if ch == "'":
            i = block.index("'", i + 1) + 1
            word_start = False
        elif ch == '"':  # a variable of an earlier line, "$NAME", or shlex.quote's "'"
            end = block.index('"', i + 1)
            assert re.fullmatch(r"\$[A-Z_][A-Z0-9_]*|'+", block[i + 1 : end]), block[i : end + 1]
            i, word_start = end + 1, False
        elif ch in " \t":
            i, word_start = i + 1, True
        elif ch in "\n|" or block.startswith("&&", i):
            assert not block.startswith("||", i), block[i - 20 : i + 20]
            parts.append(block[start:i])
            i += 2 if ch == "&" else 1
            start, word_start = i, True
        elif ch == "#" and word_start:  # a comment, to the end of the line
            parts.append(block[start:i])
            i = start = block.find("\n", i) % (len(block) + 1)
        elif ch in "<>" and word_start and block[i + 1] == " ":  # to or from the next word
            i += 1
        elif block.startswith("$(", i) and re.search(r"(^|\n)[A-Z_][A-Z0-9_]*=$", block[start:i]):
            parts.append(block[start:i])  # NAME=$( pipeline )
            i = start = i + 2
            depth += 1
        elif ch == ")" and depth:
            parts.append(block[start:i])
            i = start = i + 1
            depth -= 1
        else:
            assert ch in _PLAIN, f"unquoted {ch!r} in {block[max(0, i - 40) : i + 40]!r}"
            i, word_start = i + 1, False
    parts.append(block[start:])
    assert depth == 0
    return [shlex.split(p) for p in parts if p.strip()]


_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def sh_blocks(readme: str) -> list[str]:
    return [t.content for t in _MD.parse(readme) if t.type == "fence" and t.info == "sh"]


def html_tags(readme: str) -> list[str]:
    return re.findall(r"</?[a-z][a-z0-9]*", _MD.render(readme))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hostile_values_change_no_command(name: str) -> None:
    tame = tame_mesh(name)
    evil = cast(Mesh, _swap(tame))
    tame_readme, evil_readme = readme_of(tame), readme_of(evil)
    tame_blocks, evil_blocks = sh_blocks(tame_readme), sh_blocks(evil_readme)
    assert len(tame_blocks) == len(evil_blocks) > 0
    carried = 0
    for tame_block, evil_block in zip(tame_blocks, evil_blocks, strict=True):
        expected = [[hostile(arg) for arg in argv] for argv in shell_commands(tame_block)]
        assert shell_commands(evil_block) == expected
        carried += sum(EVIL in arg for argv in expected for arg in argv)
    assert carried > 0  # the hostile values did reach the commands


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hostile_values_change_no_markdown_structure(name: str) -> None:
    tame = tame_mesh(name)
    evil = cast(Mesh, _swap(tame))
    assert html_tags(readme_of(evil)) == html_tags(readme_of(tame))


def test_every_marked_field_reaches_the_readme() -> None:
    """The markers are the fields that reach the README (else the tests above prove less)."""
    seen = "".join(readme_of(tame_mesh(name)) for name in CONFIGS)
    assert {field for field, marker in MARKERS.items() if marker not in seen} == set()


def _argv_with(readme: str, *words: str) -> list[list[str]]:
    return [
        argv
        for block in sh_blocks(readme)
        for argv in shell_commands(block)
        if argv[: len(words)] == list(words)
    ]


@pytest.mark.parametrize("deploy", ["subctl", "operator"])
def test_subctl_join_is_one_builder(deploy: str) -> None:
    """Both deploy modes join with the same argv, --natt=false included."""
    data = tame_data(**{"submariner.deploy": deploy, "submariner.natTraversal": False})
    evil = cast(Mesh, _swap(mesh_from(data)))
    joins = _argv_with(readme_of(evil), "subctl", "join")
    assert joins[-1] == [
        "subctl",
        "join",
        "broker-info.subm",
        "--context",
        hostile("zqb2"),
        "--clusterid",
        hostile("zqb2"),
        "--clustercidr",
        hostile("10.132.0.0/14"),
        "--servicecidr",
        hostile("172.31.0.0/16"),
        "--cable-driver",
        hostile("libreswan"),
        "--natt=false",
    ]
    assert len(joins) == (2 if deploy == "subctl" else 1)  # operator: not the broker


def test_natt_stays_default_when_on() -> None:
    readme = readme_of(mesh_from(seed_data()))
    assert "--natt" not in readme


def test_spec_name_cannot_end_the_comment() -> None:
    name = "../x-->y<!--z--!>\n<script>alert(1)</script>`w`.yaml"
    line = readme_comment(name)
    assert line.count("\n") == 1
    assert line.endswith(" -->\n")
    inner = line.removeprefix("<!--").removesuffix("-->\n")
    assert "--" not in inner
    assert "-%2D>" in inner
    tokens = _MD.parse(line + "\n# Mesh\n")
    assert [t.type for t in tokens][:1] == ["html_block"]
    assert tokens[0].content == line
    assert "<h1>" in _MD.render(line + "\n# Mesh\n")


# --- the escaping helpers themselves ------------------------------------------------------


def _as_shown(value: str) -> str:
    """`value` as a rendered table cell shows it: line feeds as \\u000a, HTML escaped."""
    return (
        value.replace("\n", "\\u000a")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "a`b",
        "``x``",
        "`",
        " a ",
        "a|b",
        "a\\|b",
        "x\n# h",
        "<b>",
        "*a*",
        "",
        "a\\",
        "[a](b)",
        "| --- |",
    ],
)
def test_code_span_shows_the_value_in_a_table(value: str) -> None:
    row = f"| h |\n|---|\n| {mdesc.cell(mdesc.code(value))} |\n"
    html = _MD.render(row)
    shown = re.findall(r"<code>(.*?)</code>", html, flags=re.DOTALL)
    expected = _as_shown(value) or " "
    assert shown == [expected]
    assert html.count("<td>") == 1


@pytest.mark.parametrize(
    "value",
    [
        "a*b*c",
        "x_y_z",
        "[l](u)",
        "<i>",
        "a|b",
        "&amp;",
        "~~s~~",
        "\\*",
        "# h",
        "line\nbreak",
        "`c`",
    ],
)
def test_text_is_shown_as_is(value: str) -> None:
    html = _MD.render(f"| h |\n|---|\n| {mdesc.cell(mdesc.text(value))} |\n")
    cell = re.search(r"<td>(.*?)</td>", html, flags=re.DOTALL)
    assert cell is not None
    assert cell.group(1) == _as_shown(value)


def test_sh_block_fence_outlasts_the_content() -> None:
    lines = sh_block([cmd("echo", "a\n```\nb")])
    text = "\n".join(lines)
    assert lines[0] == "````sh"
    assert sh_blocks(text) == ["echo 'a\n```\nb'\n"]
    assert shell_commands(sh_blocks(text)[0]) == [["echo", "a\n```\nb"]]


def test_var_is_the_only_unquoted_expansion() -> None:
    assert str(cmd("x", Var("NAME"), "$NAME")) == "x \"$NAME\" '$NAME'"
    with pytest.raises(ValueError, match="not a shell variable name"):
        Var("A; rm")
