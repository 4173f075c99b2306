"""The plan from the two file sets: groups (clusters in spec order, then remote-secrets/,
gitops/ and the runbook), their object changes in apply order, classified.

Only the files whose bytes differ are read, and of those only the YAML documents whose text
differs are parsed: one changed service parses its own documents, not its traffic unit's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from meshgen.facts import ISTIO_VERSION, REVISIONED, ClusterFacts
from meshgen.layout import (
    CLIENT_SERVICES_FILE,
    GITOPS_DIR,
    HELM_VALUES_SUFFIX,
    REMOTE_SECRETS_DIR,
    TRAFFIC_DIR,
)
from meshgen.plan.classify import CLUSTER, classify
from meshgen.plan.diff import Key, Obj, field_changes, load_documents, objects
from meshgen.plan.model import (
    ADDED,
    CHANGED,
    MISSING,
    REMOVED,
    Change,
    FieldChange,
    Group,
    Plan,
)

RUNBOOK = "README.md"
KUSTOMIZATION = "kustomization.yaml"
_SEPARATOR = b"\n---\n"


class OldOutput(Protocol):
    label: str
    paths: frozenset[str]
    facts: Mapping[str, ClusterFacts] | None  # None: its manifest records none

    def differing(self, new: Mapping[str, bytes]) -> set[str]: ...

    def read(self, paths: Collection[str]) -> dict[str, bytes]: ...


def _group_of(rel: str) -> str:
    return rel.split("/", 1)[0] if "/" in rel else RUNBOOK


def _kind_of(group: str) -> str:
    if group == REMOTE_SECRETS_DIR:
        return "remote-secrets"
    if group == GITOPS_DIR:
        return "gitops"
    if group == RUNBOOK:
        return "runbook"
    return "cluster"


def _clusters(paths: Collection[str]) -> set[str]:
    """The cluster directories among `paths`."""
    return {
        rel.split("/", 1)[0]
        for rel in paths
        if "/" in rel and rel.split("/", 1)[0] not in (GITOPS_DIR, REMOTE_SECRETS_DIR)
    }


def make_plan(
    new_files: Mapping[str, bytes], old: OldOutput, facts: Mapping[str, ClusterFacts]
) -> Plan:
    """The plan from the output `old` to `new_files`, compiled from a spec whose clusters
    have `facts` (in spec order)."""
    differing = old.differing(new_files)
    added = new_files.keys() - old.paths
    removed = old.paths - new_files.keys()
    old_bytes = old.read(differing | removed)
    touched: dict[str, list[str]] = {}
    for rel in sorted(differing | added | removed):
        touched.setdefault(_group_of(rel), []).append(rel)

    # Its clusters as its manifest records them; an output written before manifests recorded
    # them (meshgen 0.2): its directories.
    old_clusters = set(old.facts) if old.facts is not None else _clusters(old.paths)
    groups = _Groups(old_clusters, set(facts))
    # Documents by their text (and field changes by their pair of documents), shared across
    # clusters.
    parsed: dict[Any, Any] = {}
    # A group's changes by what it touches, relative to its directory: the clusters a mesh-wide
    # change touches alike share one list of Change objects (5,000 objects, not 500,000).
    shared: dict[tuple[Any, ...], list[Change]] = {}
    for name, rels in touched.items():
        g = groups.get(name)
        if g.kind == "runbook":
            if rels[0] in differing and _body(old_bytes[RUNBOOK]) == _body(new_files[RUNBOOK]):
                continue  # only the header (the spec's name) differs
            action = ADDED if rels[0] in added else REMOVED if rels[0] in removed else CHANGED
            g.changes.append(
                Change(action, "Runbook", RUNBOOK, file=RUNBOOK, summary="runbook " + action)
            )
            continue
        if g.status != CHANGED:
            verb = "joins" if g.status == ADDED else "leaves"
            g.changes.append(Change(g.status, CLUSTER, name, summary=f"cluster {verb} the mesh"))
        g.changes.extend(_group_changes(g, rels, old_bytes, new_files, parsed, shared))

    for name, change in _fact_changes(old.facts or {}, facts):
        groups.get(name).changes.insert(0, change)
    # A cluster joining has nothing to disrupt; one leaving says so once.
    _classify_groups(groups.all.values(), frozenset(old_clusters - set(facts)))
    kept = {name: g for name, g in groups.all.items() if g.changes}
    return Plan(_ordered(kept, list(facts), old.facts or {}), old.label)


class _Groups:
    """The plan's groups by name, made on first use with their kind and status."""

    def __init__(self, old_clusters: set[str], new_clusters: set[str]) -> None:
        self.old_clusters, self.new_clusters = old_clusters, new_clusters
        self.all: dict[str, Group] = {}

    def get(self, name: str) -> Group:
        if name not in self.all:
            status = CHANGED
            if _kind_of(name) == "cluster":
                if name not in self.old_clusters:
                    status = ADDED
                elif name not in self.new_clusters:
                    status = REMOVED
            self.all[name] = Group(name, _kind_of(name), status)
        return self.all[name]


def _classify_groups(groups: Iterable[Group], leaving: frozenset[str]) -> None:
    """Each change's reasons, then each group's changes disruptive first (else in apply
    order). A change written into every cluster is classified once: documents parsed from
    the same text are the same objects, so their identities name the change; and a Change
    shared by groups is shared only by groups of one kind and status."""
    memo: dict[tuple[Any, ...], list[str]] = {}
    done: set[int] = set()

    def classify_once(change: Change, kind: str) -> None:
        if id(change) in done:
            return
        done.add(id(change))
        key = (change.action, change.kind, change.name, id(change.old), id(change.new), kind)
        found = memo.get(key)
        if found is None:
            found = memo[key] = classify(change, kind, leaving)
        change.reasons = list(found)

    for g in groups:
        if g.status == CHANGED:
            for change in g.changes:
                classify_once(change, g.kind)
        elif g.status == REMOVED:
            classify_once(g.changes[0], g.kind)
        g.changes.sort(key=lambda c: not c.disruptive)


_CNI_VERSION = "crdsAndCniVersion"


def _fact_changes(
    old: Mapping[str, ClusterFacts], new: Mapping[str, ClusterFacts]
) -> list[tuple[str, Change]]:
    """A Cluster change for each cluster in both whose recorded facts differ."""
    out = []
    for name, recorded in old.items():
        if name not in new:
            continue
        before, after = _shown(recorded, new[name]), _shown(new[name], recorded)
        if after != before:
            fields = [
                FieldChange((k,), before.get(k, MISSING), after.get(k, MISSING))
                for k in [*before, *(k for k in after if k not in before)]
                if before.get(k, MISSING) != after.get(k, MISSING)
            ]
            out.append((name, Change(CHANGED, CLUSTER, name, fields=fields, old=before, new=after)))
    return out


def _shown(facts: ClusterFacts, other: ClusterFacts) -> dict[str, object]:
    """The facts as a plan shows them. With control planes per revision (on either side),
    their own objects (istiod-<rev> values, tags, namespace labels) say which control plane
    moves; the mesh's version is then that of the CRDs and the one istio-cni."""
    per_revision = bool(facts[REVISIONED] or other[REVISIONED])
    return {
        _CNI_VERSION if per_revision and k == ISTIO_VERSION else k: v
        for k, v in facts.items()
        if k != REVISIONED
    }


def _body(readme: bytes) -> bytes:
    return readme.partition(b"\n")[2] if readme.startswith(b"<!--") else readme


def _ordered(
    groups: dict[str, Group], cluster_order: Sequence[str], old_facts: Mapping[str, Any]
) -> list[Group]:
    rank = {name: i for i, name in enumerate(cluster_order)}
    late = {name: i for i, name in enumerate(old_facts)}
    specials = {REMOTE_SECRETS_DIR: 0, GITOPS_DIR: 1, RUNBOOK: 2}

    def key(g: Group) -> tuple[int, int, str]:
        if g.kind != "cluster":
            return (2, specials.get(g.name, 3), g.name)
        if g.name in rank:
            return (0, rank[g.name], g.name)
        return (1, late.get(g.name, len(late)), g.name)

    return sorted(groups.values(), key=key)


def _chunks(rel: str, data: bytes) -> list[bytes]:
    if rel.endswith(HELM_VALUES_SUFFIX):
        return [data]
    parts = data.split(_SEPARATOR)
    # The header comment names the spec: a renamed spec changes no object.
    while parts[0].startswith(b"#"):
        parts[0] = parts[0].partition(b"\n")[2]
    return [p if i == len(parts) - 1 else p + b"\n" for i, p in enumerate(parts)]


def _group_changes(
    group: Group,
    rels: list[str],
    old_bytes: Mapping[str, bytes],
    new_files: Mapping[str, bytes],
    parsed: dict[Any, Any],
    shared: dict[tuple[Any, ...], list[Change]],
) -> list[Change]:
    """The object changes of a group directory, with files relative to it; computed once for
    all the groups that touch the same files the same way (and list their resources alike)."""
    prefix = f"{group.name}/"
    files = [rel[len(prefix) :] for rel in rels]
    old = {f: old_bytes[rel] for f, rel in zip(files, rels, strict=True) if rel in old_bytes}
    new = {f: new_files[rel] for f, rel in zip(files, rels, strict=True) if rel in new_files}
    kustomization = new_files.get(prefix + KUSTOMIZATION) or old_bytes.get(prefix + KUSTOMIZATION)
    signature = (
        group.kind,
        group.status,
        kustomization,
        tuple((f, old.get(f), new.get(f)) for f in files),
    )
    found = shared.get(signature)
    if found is None:
        found = shared[signature] = _object_changes(files, old, new, parsed, kustomization)
    return found


def _object_changes(
    files: list[str],
    old_bytes: Mapping[str, bytes],
    new_files: Mapping[str, bytes],
    parsed: dict[Any, Any],
    kustomization: bytes | None,
) -> list[Change]:
    old_chunks = [
        (rel, i, c)
        for rel in files
        if rel in old_bytes
        for i, c in enumerate(_chunks(rel, old_bytes[rel]))
    ]
    new_chunks = [
        (rel, i, c)
        for rel in files
        if rel in new_files
        for i, c in enumerate(_chunks(rel, new_files[rel]))
    ]
    # Documents with the same text on both sides are the same object, unchanged (maybe moved).
    common = Counter(c for _, _, c in old_chunks) & Counter(c for _, _, c in new_chunks)
    before = _parse(old_chunks, Counter(common), parsed)
    after = _parse(new_chunks, Counter(common), parsed)
    order = _file_order(kustomization)
    changes: list[tuple[tuple[Any, ...], Change]] = []
    for key in [*before, *(k for k in after if k not in before)]:
        o, n = before.get(key), after.get(key)
        if (
            o is not None
            and n is not None
            and type(o[0].body) is type(n[0].body)
            and o[0].body == n[0].body
        ):
            continue
        obj, index = n or o  # type: ignore[misc]
        change = _change(o[0] if o else None, n[0] if n else None, parsed)
        changes.append(((*order(obj.file), index), change))
    changes.sort(key=lambda pair: pair[0])
    return [c for _, c in changes]


def _change(old: Obj | None, new: Obj | None, parsed: dict[Any, Any]) -> Change:
    """The change from `old` to `new` (None: absent on that side) of one object."""
    obj = new or old
    assert obj is not None
    where = (obj.kind, obj.name, obj.namespace, obj.api_group, obj.file)
    if old is None:
        return Change(ADDED, *where, new=obj.body, summary=_added_note(obj.kind, obj.file))
    if new is None:
        return Change(REMOVED, *where, old=obj.body)
    fields = _field_changes(old.body, new.body, parsed)
    return Change(CHANGED, *where, fields=fields, old=old.body, new=new.body)


def _field_changes(old: Any, new: Any, parsed: dict[Any, Any]) -> list[FieldChange]:
    """field_changes, once per pair of documents (the same pair in every cluster)."""
    key = ("fields", id(old), id(new))
    found = parsed.get(key)
    if found is None:
        found = parsed[key] = field_changes(old, new)
    return list(found)


# Why a cluster that does not run a service gets its Service (meshgen/render/traffic.py).
CLIENT_SERVICE_NOTE = (
    "this cluster does not run the service: its clients resolve the name through this "
    "Service (no selector) and follow the rules next to it, since each istiod reads rules "
    "only from its own cluster"
)


def _added_note(kind: str, file: str) -> str:
    if kind == "Service" and file.rpartition("/")[2] == CLIENT_SERVICES_FILE:
        return CLIENT_SERVICE_NOTE
    return ""


def _parse(
    chunks: list[tuple[str, int, bytes]], skip: Counter[bytes], parsed: dict[bytes, list[Any]]
) -> dict[tuple[Key, int], tuple[Obj, int]]:
    out: dict[tuple[Key, int], tuple[Obj, int]] = {}
    seen: Counter[Key] = Counter()
    for rel, index, chunk in chunks:
        if skip[chunk] > 0:
            skip[chunk] -= 1
            continue
        for obj in objects(rel, chunk, parsed):
            seen[obj.key] += 1
            out[(obj.key, seen[obj.key])] = (obj, index)
    return out


def _file_order(kustomization: bytes | None) -> Any:
    """Apply order of a group's files (relative to it): its kustomization.yaml, the resources
    it lists in order, the traffic units in name order, then the files no kustomization lists."""
    resources: list[str] = []
    if kustomization is not None:
        try:
            docs = load_documents(kustomization)
            listed = docs[0].get("resources", []) if docs and isinstance(docs[0], dict) else []
            resources = [r for r in listed if isinstance(r, str)]
        except ValueError:
            pass
    rank = {r: i for i, r in enumerate(resources)}
    traffic = f"{TRAFFIC_DIR}/"

    def order(path: str) -> tuple[int, int, str, int, str]:
        if path == KUSTOMIZATION:
            return (0, 0, "", 0, "")
        if path in rank:
            return (1, rank[path], "", 0, "")
        if path.startswith(traffic):
            unit, _, rest = path[len(traffic) :].partition("/")
            return (2, 0, unit, rest != KUSTOMIZATION, rest)
        return (3, 0, path, 0, "")

    return order
