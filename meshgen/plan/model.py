"""The plan's data: object changes with their field changes, grouped per cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final


class _Missing:
    """A value that is not there (a field added or removed; an object on one side only)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(absent)"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


class Named(str):
    """In a path, the item of a list whose items all have distinct names (subsets, routes,
    ports, tags): lists are compared by name, not by position; shown as `[name=v2]`."""

    __slots__ = ()


Path = tuple[str | int, ...]  # str keys, int positions, Named list items


@dataclass(frozen=True)
class FieldChange:
    path: Path
    old: object  # MISSING when added
    new: object  # MISSING when removed

    @property
    def action(self) -> str:
        if self.old is MISSING:
            return ADDED
        if self.new is MISSING:
            return REMOVED
        return CHANGED


@dataclass
class Change:
    """One object (or file, or cluster) added, removed or changed."""

    action: str  # ADDED, REMOVED or CHANGED
    kind: str
    name: str
    namespace: str = ""
    api_group: str = ""
    # The file it is in (the new one when it moved), relative to its group's directory:
    # clusters that change alike share their Change objects. Group.path gives the full path.
    file: str = ""
    fields: list[FieldChange] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why it is disruptive; none: it is not
    old: object = MISSING  # the parsed object, for the classification
    new: object = MISSING
    summary: str = ""  # a one-line description instead of fields (the runbook, a cluster)

    @property
    def disruptive(self) -> bool:
        return bool(self.reasons)


@dataclass
class Group:
    """A cluster directory, `remote-secrets`, `gitops` or the runbook (`README.md`)."""

    name: str
    kind: str  # "cluster", "remote-secrets", "gitops", "runbook"
    status: str = CHANGED  # a cluster: ADDED (joins), REMOVED (leaves) or CHANGED
    changes: list[Change] = field(default_factory=list)

    def path(self, change: Change) -> str:
        """The change's file relative to the output directory."""
        if self.kind == "runbook" or not change.file:
            return change.file
        return f"{self.name}/{change.file}"


@dataclass
class Plan:
    groups: list[Group] = field(default_factory=list)
    against: str = ""  # what was compared with: the output directory, or REV:path
    # The commands that diff the changed applications against the live clusters (argv each;
    # plan/live.py): with a GitOps engine, what `argocd app diff` / `flux diff` would show.
    live_diff: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def changes(self) -> list[Change]:
        return [c for g in self.groups for c in g.changes]

    @property
    def disruptive(self) -> bool:
        return any(c.disruptive for c in self.changes)

    def counts(self) -> dict[str, int]:
        out = {ADDED: 0, REMOVED: 0, CHANGED: 0, "disruptive": 0}
        for c in self.changes:
            out[c.action] += 1
            out["disruptive"] += c.disruptive
        return out
