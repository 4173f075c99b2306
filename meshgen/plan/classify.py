"""Which changes are disruptive, and why: one table, RULES, of (kinds, path) -> reason.

A rule looks at the values at its path (a tuple of keys and list indices; "*" matches any one
key or index) in the old and the new object (MISSING where absent, and the whole object when
it was added or removed) and at the object actions it names. To mark another change
disruptive, add a row; docs/plan.md shows the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from meshgen.plan.diff import HELM_VALUES, named_items
from meshgen.plan.model import ADDED, CHANGED, MISSING, REMOVED, Change, Named, Path

Pattern = tuple[str | int, ...]
ANY = "*"
CLUSTER = "Cluster"  # a cluster's facts, as the manifest records them (meshgen/facts.py)
ISTIO_CHARTS = frozenset({"base", "istiod", "cni", "ztunnel", "gateway", "istio-base", "istio-cni"})


def changed(old: Any, new: Any) -> bool:
    return old is not MISSING and new is not MISSING and old != new


def any_change(old: Any, new: Any) -> bool:
    return not (type(old) is type(new) and old == new)


def becomes_strict(old: Any, new: Any) -> bool:
    return bool(new == "STRICT" and old != "STRICT")


def becomes_mutual(old: Any, new: Any) -> bool:
    return new in ("ISTIO_MUTUAL", "MUTUAL") and old != new


def _names(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def loses_name(old: Any, new: Any) -> bool:
    return bool(_names(old) - _names(new))


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def loses_route(old: Any, new: Any) -> bool:
    """An http route removed: one whose match (and name) no route has any more."""

    def keys(routes: Any) -> set[str]:
        if not isinstance(routes, list):
            return set()
        return {_dump([r.get("name"), r.get("match")]) for r in routes if isinstance(r, dict)}

    return bool(keys(old) - keys(new))


def _destinations(routes: Any) -> dict[str, float]:
    """destination -> its largest weight over the http routes (no weight: 100)."""
    out: dict[str, float] = {}
    for route in routes if isinstance(routes, list) else ():
        for dest in route.get("route") or () if isinstance(route, dict) else ():
            if not isinstance(dest, dict):
                continue
            key = _dump(dest.get("destination"))
            weight = dest.get("weight", 100)
            out[key] = max(out.get(key, 0), weight if isinstance(weight, int | float) else 100)
    return out


def loses_destination(old: Any, new: Any) -> bool:
    return bool(_destinations(old).keys() - _destinations(new).keys())


def weight_to_zero(old: Any, new: Any) -> bool:
    before, after = _destinations(old), _destinations(new)
    return any(before[d] > 0 and after.get(d, 1) == 0 for d in before)


def _istio_chart(obj: Any) -> bool:
    """An Argo CD Application or Flux HelmRelease of an Istio chart."""
    spec = obj.get("spec") if isinstance(obj, dict) else None
    if not isinstance(spec, dict):
        return False
    charts = [spec.get("source"), *(spec.get("sources") or ()), spec.get("chart")]
    for source in charts:
        if isinstance(source, dict):
            inner = source["spec"] if isinstance(source.get("spec"), dict) else source
            if isinstance(inner, dict) and inner.get("chart") in ISTIO_CHARTS:
                return True
    return False


@dataclass(frozen=True)
class Rule:
    kinds: tuple[str, ...]
    path: Pattern
    reason: str
    when: Callable[[Any, Any], bool] = any_change
    actions: tuple[str, ...] = (CHANGED,)
    # Only objects with one of these names (fnmatch), or for which `applies` is true.
    names: tuple[str, ...] = ()
    applies: Callable[[Any], bool] | None = None
    groups: tuple[str, ...] = ()  # only in these group kinds ("remote-secrets", ...)
    # Only when the cluster named at the end of the object's name leaves the mesh.
    leaving_suffix: str | None = None


CONTROL_PLANE = (
    "control-plane version or revision change: workloads restart into another control plane"
)
REVISION_LABEL = (
    "the namespace's control plane changes (istio.io/rev or istio-injection): "
    "its workloads must restart into another control plane"
)
CNI = "CNI change: pods may lose networking while the CNI agents restart"
ROUTE_GONE = "removed while traffic may still use it"
SUBSET_GONE = "a subset removed while routes may still send traffic to it"
HTTP_ROUTE_GONE = "an http route removed while traffic may still match it"
DESTINATION_GONE = "a route destination removed while traffic may still go to it"
WEIGHT_ZERO = "a destination's weight drops to 0"
MTLS_STRICT = "mTLS becomes STRICT: clients without mTLS are refused"
TLS_MUTUAL = "client TLS mode becomes ISTIO_MUTUAL/MUTUAL: servers without mTLS are unreachable"
AUTHZ_ADDED = "AuthorizationPolicy added: requests it does not allow (or denies) are refused"
AUTHZ_CHANGED = "AuthorizationPolicy changed: requests allowed before may be refused"
LEAVING = "cluster leaving the mesh: its services disappear from every peer"
REMOTE_SECRET = "cluster leaving the mesh: delete the remote secret from every peer"
POD_CIDR = "pod CIDR changed: every pod gets a new address; Submariner and peers must follow"
SERVICE_CIDR = "service CIDR changed: services are re-addressed; Submariner and peers must follow"

_IO = ("IstioOperator",)
_SAIL_CP = ("Istio", "IstioRevision")
_TLS = ("tls", "mode")

RULES: tuple[Rule, ...] = (
    # The control plane: version, hub, revision.
    Rule(_IO, ("spec", "tag"), CONTROL_PLANE),
    Rule(_IO, ("spec", "hub"), CONTROL_PLANE),
    Rule(_IO, ("spec", "revision"), CONTROL_PLANE),
    Rule(_IO, ("spec", "values", "revision"), CONTROL_PLANE),
    Rule(
        (HELM_VALUES,), (), CONTROL_PLANE, actions=(CHANGED, REMOVED), names=("istiod", "istiod-*")
    ),
    Rule(
        ("Application",), ("spec", "source", "targetRevision"), CONTROL_PLANE, applies=_istio_chart
    ),
    Rule(
        ("Application",),
        ("spec", "sources", ANY, "targetRevision"),
        CONTROL_PLANE,
        applies=_istio_chart,
    ),
    Rule(
        ("HelmRelease",), ("spec", "chart", "spec", "version"), CONTROL_PLANE, applies=_istio_chart
    ),
    Rule(_SAIL_CP, ("spec", "version"), CONTROL_PLANE),
    Rule(("IstioRevision",), (), "a control plane revision removed", actions=(REMOVED,)),
    Rule(("IstioRevisionTag",), ("spec", "targetRef"), CONTROL_PLANE),
    Rule(("IstioRevisionTag",), (), "a revision tag removed", actions=(REMOVED,)),
    Rule(("Namespace",), ("metadata", "labels", "istio.io/rev"), REVISION_LABEL),
    Rule(("Namespace",), ("metadata", "labels", "istio-injection"), REVISION_LABEL),
    # CNI.
    Rule(_IO, ("spec", "components", "cni"), CNI),
    Rule(_IO, ("spec", "values", "cni"), CNI),
    Rule((HELM_VALUES,), (), CNI, actions=(CHANGED, REMOVED), names=("cni",)),
    Rule(("IstioCNI",), (), CNI, actions=(CHANGED, REMOVED)),
    Rule(("NetworkAttachmentDefinition",), (), CNI, actions=(CHANGED, REMOVED)),
    # Routes and subsets traffic may still use.
    Rule(("DestinationRule", "VirtualService"), (), ROUTE_GONE, actions=(REMOVED,)),
    Rule(("DestinationRule",), ("spec", "subsets"), SUBSET_GONE, loses_name),
    Rule(("VirtualService",), ("spec", "http"), HTTP_ROUTE_GONE, loses_route),
    Rule(("VirtualService",), ("spec", "http"), DESTINATION_GONE, loses_destination),
    Rule(("VirtualService",), ("spec", "http"), WEIGHT_ZERO, weight_to_zero),
    # mTLS and authorization tightened.
    Rule(
        ("PeerAuthentication",),
        ("spec", "mtls", "mode"),
        MTLS_STRICT,
        becomes_strict,
        (ADDED, CHANGED),
    ),
    Rule(
        ("PeerAuthentication",),
        ("spec", "portLevelMtls", ANY, "mode"),
        MTLS_STRICT,
        becomes_strict,
        (ADDED, CHANGED),
    ),
    Rule(("DestinationRule",), ("spec", "trafficPolicy", *_TLS), TLS_MUTUAL, becomes_mutual),
    Rule(
        ("DestinationRule",),
        ("spec", "trafficPolicy", "portLevelSettings", ANY, *_TLS),
        TLS_MUTUAL,
        becomes_mutual,
    ),
    Rule(
        ("DestinationRule",),
        ("spec", "subsets", ANY, "trafficPolicy", *_TLS),
        TLS_MUTUAL,
        becomes_mutual,
    ),
    Rule(("AuthorizationPolicy",), (), AUTHZ_ADDED, actions=(ADDED,)),
    Rule(("AuthorizationPolicy",), ("spec",), AUTHZ_CHANGED),
    # Clusters leaving, CIDRs.
    Rule((CLUSTER,), (), LEAVING, actions=(REMOVED,)),
    Rule(
        ("Secret",),
        (),
        REMOTE_SECRET,
        actions=(REMOVED,),
        groups=("remote-secrets",),
        leaving_suffix="istio-remote-secret-",
    ),
    Rule((CLUSTER,), ("podCIDR",), POD_CIDR, changed),
    Rule((CLUSTER,), ("serviceCIDR",), SERVICE_CIDR, changed),
    Rule((CLUSTER,), ("istioVersion",), CONTROL_PLANE, changed),
    # With revisions side by side: the CRDs and the one istio-cni follow the newest revision.
    Rule((CLUSTER,), ("crdsAndCniVersion",), CNI, changed),
)


def _compatible(a: Pattern, b: Path) -> bool:
    return all(p in (ANY, q) for p, q in zip(a, b, strict=False))


def _expand(value: Any, pattern: Pattern, at: Path = ()) -> Iterator[tuple[Path, Any]]:
    if not pattern:
        yield at, value
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(value, dict):
        keys = list(value) if head == ANY else [head] if head in value else []
        for k in keys:
            yield from _expand(value[k], rest, (*at, k))
    elif isinstance(value, list):
        named = named_items(value) if head == ANY else None
        if named is not None:
            # Paired by name, as the field changes are (plan/diff.py).
            for name, item in named.items():
                yield from _expand(item, rest, (*at, Named(name)))
            return
        indices = (
            range(len(value))
            if head == ANY
            else [head]
            if isinstance(head, int) and head < len(value)
            else []
        )
        for i in indices:
            yield from _expand(value[i], rest, (*at, i))


def _pairs(old: Any, new: Any, pattern: Pattern) -> Iterator[tuple[Any, Any]]:
    before = dict(_expand(old, pattern)) if old is not MISSING else {}
    after = dict(_expand(new, pattern)) if new is not MISSING else {}
    for at in [*before, *(k for k in after if k not in before)]:
        yield before.get(at, MISSING), after.get(at, MISSING)


def _matches(rule: Rule, change: Change, group_kind: str, leaving: frozenset[str]) -> bool:
    from fnmatch import fnmatchcase

    if change.kind not in rule.kinds or change.action not in rule.actions:
        return False
    if rule.groups and group_kind not in rule.groups:
        return False
    if rule.names and not any(fnmatchcase(change.name, n) for n in rule.names):
        return False
    if rule.leaving_suffix is not None and not (
        change.name.startswith(rule.leaving_suffix)
        and change.name[len(rule.leaving_suffix) :] in leaving
    ):
        return False
    if rule.applies is not None and not (rule.applies(change.old) or rule.applies(change.new)):
        return False
    if (
        change.action == CHANGED
        and rule.path
        and not any(_compatible(rule.path, f.path) for f in change.fields)
    ):
        return False
    if not rule.path:
        return True
    return any(rule.when(a, b) for a, b in _pairs(change.old, change.new, rule.path))


def classify(change: Change, group_kind: str, leaving: frozenset[str] = frozenset()) -> list[str]:
    """The reasons `change` is disruptive (none: it is not), each once, in table order;
    `leaving`: the clusters leaving the mesh."""
    reasons: list[str] = []
    for rule in RULES:
        if rule.reason not in reasons and _matches(rule, change, group_kind, leaving):
            reasons.append(rule.reason)
    return reasons
