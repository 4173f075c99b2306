"""Files -> Kubernetes objects -> object and field changes.

An object is identified by (apiVersion group, kind, namespace, name) within its group (a
cluster directory, remote-secrets/, gitops/), so one that moves between files (a traffic unit
split in two) is matched, not removed and added. Helm values files (`*.values.yaml`) are one
object of kind HelmValues named after the file. Lists whose items all have distinct names
(subsets, http routes, ports, revision tags) are compared by name, as `kubectl diff` users
expect of merge keys, and a new order of the same names is one change; other lists by index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from meshgen.layout import HELM_VALUES_SUFFIX
from meshgen.plan.model import MISSING, FieldChange, Named, Path

HELM_VALUES = "HelmValues"
NOT_YAML = "File"

Key = tuple[str, str, str, str]  # (api group, kind, namespace, name)


@dataclass
class Obj:
    key: Key
    file: str
    body: Any

    @property
    def api_group(self) -> str:
        return self.key[0]

    @property
    def kind(self) -> str:
        return self.key[1]

    @property
    def namespace(self) -> str:
        return self.key[2]

    @property
    def name(self) -> str:
        return self.key[3]


def load_documents(data: bytes) -> list[Any]:
    """The YAML documents of a file (empty ones dropped); raises ValueError if not YAML.

    PyYAML's libyaml loader composes the nodes in C: a plan of a mesh-wide change reads tens of
    thousands of documents, and ruamel.yaml composes and resolves each node in Python (18 of 25
    s of such a plan). Both sides of a diff are read by the same loader, and meshgen's emitter
    quotes every string YAML 1.1 would read as something else, so nothing reads differently."""
    import yaml

    try:
        return [doc for doc in yaml.load_all(data, Loader=_c_loader()) if doc is not None]
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def _c_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def objects(rel: str, data: bytes, parsed: dict[Any, Any] | None = None) -> list[Obj]:
    """The objects of one output file, in document order. `parsed` caches documents by their
    text: a rule written into every cluster is parsed once, not once per cluster."""
    if parsed is not None and not rel.endswith(HELM_VALUES_SUFFIX):
        # Each document with its key; a key that names the file (no name, not a mapping) is
        # made anew for each file.
        known: list[tuple[Any, Key | None]] | None = parsed.get(data)
        if known is None:
            try:
                docs = load_documents(data)
            except ValueError:
                return [Obj(("", NOT_YAML, "", rel), rel, data.decode("utf-8", errors="replace"))]
            known = parsed[data] = [(doc, _file_free_key(doc, rel)) for doc in docs]
        return [Obj(_key(doc, rel) if key is None else key, rel, doc) for doc, key in known]
    if rel.endswith(HELM_VALUES_SUFFIX):
        stem = rel.rsplit("/", 1)[-1][: -len(HELM_VALUES_SUFFIX)]
        try:
            docs = load_documents(data)
        except ValueError:
            docs = [data.decode("utf-8", errors="replace")]
        body = docs[0] if len(docs) == 1 else docs
        return [Obj(("", HELM_VALUES, "", stem), rel, body)]
    try:
        docs = load_documents(data)
    except ValueError:
        return [Obj(("", NOT_YAML, "", rel), rel, data.decode("utf-8", errors="replace"))]
    out = []
    for doc in docs:
        out.append(Obj(_key(doc, rel), rel, doc))
    return out


def _file_free_key(doc: Any, rel: str) -> Key | None:
    key = _key(doc, rel)
    return None if key[3] == rel else key


def _key(doc: Any, rel: str) -> Key:
    if not isinstance(doc, dict):
        return ("", NOT_YAML, "", rel)
    api_version = doc.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    kind = doc.get("kind")
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    return (
        group,
        kind if isinstance(kind, str) else "",
        namespace if isinstance(namespace, str) else "",
        # A Kustomization has no name: its file is its identity.
        name if isinstance(name, str) else rel,
    )


def field_changes(old: Any, new: Any, path: Path = ()) -> list[FieldChange]:
    """Every leaf that differs, as (dotted path with list indices, old, new)."""
    return list(_walk(old, new, path))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _walk(old: Any, new: Any, path: Path) -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for k, v in old.items():
            if k in new:
                if not _same(v, new[k]):
                    yield from _walk(v, new[k], (*path, str(k)))
            else:
                yield FieldChange((*path, str(k)), v, MISSING)
        for k, v in new.items():
            if k not in old:
                yield FieldChange((*path, str(k)), MISSING, v)
    elif isinstance(old, list) and isinstance(new, list):
        before, after = named_items(old), named_items(new)
        if before is not None and after is not None:
            yield from _walk_named(before, after, path)
            return
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            if not _same(a, b):
                yield from _walk(a, b, (*path, i))
        for i in range(len(new), len(old)):
            yield FieldChange((*path, i), old[i], MISSING)
        for i in range(len(old), len(new)):
            yield FieldChange((*path, i), MISSING, new[i])
    elif not _same(old, new):
        yield FieldChange(path, old, new)


def named_items(items: list[Any]) -> dict[str, Any] | None:
    """{name: item} of a list whose items are all mappings with distinct string names; None
    for any other list (then it is compared by position)."""
    out: dict[str, Any] = {}
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name in out:
            return None
        out[name] = item
    return out if out else None


def _walk_named(before: dict[str, Any], after: dict[str, Any], path: Path) -> Iterator[FieldChange]:
    common = [name for name in before if name in after]
    if common != [name for name in after if name in before]:
        # The same names in another order: the order is a change (the first matching http
        # route wins), shown once as the names in their old and new order.
        yield FieldChange(path, list(before), list(after))
    for name, item in before.items():
        if name not in after:
            yield FieldChange((*path, Named(name)), item, MISSING)
        elif not _same(item, after[name]):
            yield from _walk(item, after[name], (*path, Named(name)))
    for name, item in after.items():
        if name not in before:
            yield FieldChange((*path, Named(name)), MISSING, item)
