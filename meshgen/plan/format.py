"""A plan as text (a terminal), Markdown (a pull-request comment) or JSON (tools)."""

from __future__ import annotations

import json
import re
from typing import Any

from meshgen.diagnostics import printable
from meshgen.plan.model import (
    ADDED,
    CHANGED,
    MISSING,
    REMOVED,
    Change,
    FieldChange,
    Group,
    Named,
    Path,
    Plan,
)

SCHEMA_VERSION = 1
MAX_VALUE = 60  # characters of a value shown in text and Markdown
MAX_FIELDS = 20  # field changes shown per object in text and Markdown
MARKDOWN_BUDGET = 60_000  # GitHub refuses comments over 65,536 characters
MARKDOWN_PER_GROUP = 50  # changes listed per group in Markdown (disruptive ones always)
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SIGN = {ADDED: "+", REMOVED: "-"}
_COLOR = {ADDED: "32", REMOVED: "31", "changed": "33", "disruptive": "1;31", "group": "1"}


def path_text(path: Path) -> str:
    """spec.http[name=canary].route[1].weight: a named list item as [name=...], a position
    as [1], keys that are not plain words as ["istio.io/rev"]."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, Named):
            plain = _PLAIN_KEY.fullmatch(part)
            out += f"[name={part if plain else json.dumps(part, ensure_ascii=False)}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(whole)"


def value_text(value: Any, limit: int = MAX_VALUE) -> str:
    if value is MISSING:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def label(change: Change) -> str:
    where = f"{change.namespace}/{change.name}" if change.namespace else change.name
    return f"{change.kind} {where}"


def counts_text(plan: Plan) -> str:
    n = plan.counts()
    return (
        f"{n['added']} added, {n['removed']} removed, {n['changed']} changed, "
        f"{n['disruptive']} disruptive"
    )


# --- folding: clusters with the same changes are shown once -------------------------------------


def _signature(group: Group, memo: _Memo) -> tuple[Any, ...] | None:
    """What a cluster's changes look like without its name; None for what never folds."""
    if group.kind != "cluster" or group.status != CHANGED:
        return None
    return tuple(memo.change(c) for c in group.changes)


class _Memo:
    """Each distinct change as a small number. A change written into every cluster is one
    Change object (plan/assemble.py), and its FieldChange objects are shared too."""

    def __init__(self) -> None:
        self._by_id: dict[int, int] = {}
        self._by_content: dict[tuple[Any, ...], int] = {}
        self._lines: dict[int, str] = {}

    def change(self, c: Change) -> int:
        found = self._by_id.get(id(c))
        if found is None:
            fields = tuple(self._line(f) for f in c.fields)
            content = (c.action, c.kind, c.name, c.namespace, c.file, c.summary, *c.reasons, fields)
            found = self._by_content.setdefault(content, len(self._by_content))
            self._by_id[id(c)] = found
        return found

    def _line(self, f: FieldChange) -> str:
        found = self._lines.get(id(f))
        if found is None:
            found = self._lines[id(f)] = _field_line(f)
        return found


def folded(plan: Plan) -> list[tuple[Group, list[str]]]:
    """Each group to show, with the clusters it stands for: clusters whose changes are the
    same (a mesh-wide change writes the same rules into each) are shown once, at the place
    of the first of them."""
    memo = _Memo()
    first: dict[tuple[Any, ...], list[str]] = {}
    out: list[tuple[Group, list[str]]] = []
    for group in plan.groups:
        signature = _signature(group, memo)
        if signature is None:
            out.append((group, [group.name]))
        elif signature in first:
            first[signature].append(group.name)
        else:
            first[signature] = names = [group.name]
            out.append((group, names))
    return out


def _clusters_title(names: list[str], quote: Any = str) -> str:
    shown = ", ".join(quote(n) for n in names[:8])
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return f"clusters {shown}{more} ({len(names)} clusters, the same changes in each)"


# --- text -------------------------------------------------------------------------------------


def text(plan: Plan, *, color: bool = False) -> str:
    def paint(code: str, s: str) -> str:
        return f"\x1b[{_COLOR[code]}m{s}\x1b[0m" if color else s

    if not plan.groups:
        return f"No changes: {printable(plan.against)} already matches the spec.\n"
    lines = [f"Plan against {printable(plan.against)}: {counts_text(plan)}", ""]
    for group, names in folded(plan):
        title = _group_title(group) if len(names) == 1 else _clusters_title(names)
        lines.append(paint("group", printable(title)))
        for change in group.changes:
            sign = "!" if change.disruptive else _SIGN.get(change.action, "~")
            head = f"  {sign} {change.action} {printable(label(change))}"
            if change.file:
                head += f"  ({printable(_file_of(change, group, names))})"
            if change.summary:
                head += f": {change.summary}"
            lines.append(paint("disruptive" if change.disruptive else change.action, head))
            lines.extend(paint("disruptive", f"      disruptive: {r}") for r in change.reasons)
            lines.extend(f"      {printable(f)}" for f in _fields(change))
        lines.append("")
    return "\n".join(lines)


def _file_of(change: Change, group: Group, names: list[str]) -> str:
    """The change's file; in a folded section, with `<cluster>` for the cluster's name."""
    if len(names) > 1:
        return "<cluster>/" + change.file
    return group.path(change)


def _group_title(group: Group) -> str:
    if group.kind == "cluster":
        status = {ADDED: " (joins the mesh)", REMOVED: " (leaves the mesh)"}.get(group.status, "")
        return f"cluster {group.name}{status}"
    return f"{group.name}/" if group.kind != "runbook" else group.name


def _field_line(f: FieldChange) -> str:
    return f"{path_text(f.path)}: {value_text(f.old)} -> {value_text(f.new)}"


def _fields(change: Change) -> list[str]:
    shown = [_field_line(f) for f in change.fields[:MAX_FIELDS]]
    if len(change.fields) > MAX_FIELDS:
        shown.append(f"... and {len(change.fields) - MAX_FIELDS} more fields")
    return shown


# --- Markdown ---------------------------------------------------------------------------------


def markdown(plan: Plan) -> str:
    from meshgen.render.markdown import code
    from meshgen.render.markdown import text as md

    n = plan.counts()
    if n["disruptive"]:
        title = f"### \u26a0\ufe0f meshgen plan: {n['disruptive']} disruptive change"
        title += "s" * (n["disruptive"] != 1)
    else:
        title = "### meshgen plan: nothing disruptive"
    out = [title, ""]
    if not plan.groups:
        out.append(f"No changes: {code(plan.against)} already matches the spec.")
        return "\n".join(out) + "\n"
    out += [f"{md(counts_text(plan))} (compared with {code(plan.against)}).", ""]
    size = sum(len(line) + 1 for line in out)
    for group, names in folded(plan):
        section = _markdown_group(group, code, md, names)
        cost = sum(len(line) + 1 for line in section)
        if size + cost > MARKDOWN_BUDGET:
            out.append(
                "_The plan is too long for one comment; the rest is cut. "
                "Run `meshgen plan` (or `--format json`) to see all of it._"
            )
            break
        out += section
        size += cost
    out += _live_diff(plan)
    return "\n".join(out) + "\n"


def _live_diff(plan: Plan) -> list[str]:
    """The commands that show the changes against the live clusters (plan/live.py)."""
    if not plan.live_diff:
        return []
    from meshgen.plan.live import MAX_COMMANDS
    from meshgen.render.shell import cmd, sh_block

    shown = plan.live_diff[:MAX_COMMANDS]
    lines = ["#### Against the live clusters", ""]
    lines.append(
        "After the merge the GitOps engine applies this; to see what it would change in the "
        "running clusters now, from the repository's root:"
    )
    lines.append("")
    lines += sh_block(cmd(*argv) for argv in shown)
    if len(plan.live_diff) > len(shown):
        lines.append(f"\u2026 and {len(plan.live_diff) - len(shown)} more applications.\n")
    return lines


def _markdown_group(group: Group, code: Any, md: Any, names: list[str]) -> list[str]:
    disruptive = sum(c.disruptive for c in group.changes)
    title = f"#### {code(group.name) if len(names) == 1 else _clusters_title(names, code)}"
    title += {ADDED: " joins the mesh", REMOVED: " leaves the mesh"}.get(group.status, "")
    if disruptive:
        title += f" (\u26a0\ufe0f {disruptive} disruptive)"
    lines = [title, ""]
    shown = [c for c in group.changes if c.disruptive]
    shown += [c for c in group.changes if not c.disruptive][
        : max(0, MARKDOWN_PER_GROUP - len(shown))
    ]
    for change in shown:
        marker = "\u26a0\ufe0f " if change.disruptive else ""
        where = f"{change.namespace}/{change.name}" if change.namespace else change.name
        item = f"- {marker}**{change.action}** {md(change.kind)} {code(where)}"
        if change.summary:
            item += f": {md(change.summary)}"
        lines.append(item)
        lines.extend(f"  - \u26a0\ufe0f {md(reason)}" for reason in change.reasons)
        for f in change.fields[:MAX_FIELDS]:
            lines.append(
                f"  - {code(path_text(f.path))}: {code(value_text(f.old))} \u2192 "
                f"{code(value_text(f.new))}"
            )
        if len(change.fields) > MAX_FIELDS:
            lines.append(f"  - \u2026 and {len(change.fields) - MAX_FIELDS} more fields")
    if len(shown) < len(group.changes):
        lines.append(
            f"- \u2026 and {len(group.changes) - len(shown)} more changes "
            "(`meshgen plan --format json` lists every one)"
        )
    lines.append("")
    return lines


# --- JSON -------------------------------------------------------------------------------------


def as_json(plan: Plan) -> str:
    doc = {
        "schemaVersion": SCHEMA_VERSION,
        "against": plan.against,
        "summary": plan.counts(),
        "disruptive": plan.disruptive,
        "clusters": [
            {
                "name": g.name,
                "kind": g.kind,
                "status": g.status,
                "changes": [_change_json(c, g) for c in g.changes],
            }
            for g in plan.groups
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def _change_json(change: Change, group: Group) -> dict[str, Any]:
    return {
        "action": change.action,
        "apiGroup": change.api_group,
        "kind": change.kind,
        "namespace": change.namespace,
        "name": change.name,
        "file": group.path(change),
        "summary": change.summary,
        "fields": [_field_json(f) for f in change.fields],
        "disruptive": change.disruptive,
        "reasons": list(change.reasons),
    }


def _field_json(f: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path_text(f.path), "action": f.action}
    if f.old is not MISSING:
        out["old"] = f.old
    if f.new is not MISSING:
        out["new"] = f.new
    return out
