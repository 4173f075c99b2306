"""MG415, MG418, MG419: traffic policies (locality failover) and security policies.

Against `istioctl analyze` (https://istio.io/latest/docs/reference/config/analysis/):

| code  | istioctl analyze | notes |
|-------|------------------|-------|
| MG415 | none      | failover localities are compared with node labels only at runtime |
| MG418 | none      | Istio accepts failover without outlierDetection; it then does nothing |
| MG419 | IST0101 for `allow.namespaces` only (the authz analyzer, when the Namespace |
|       |           | objects are in the analyzed set); none for the policy's own namespace, |
|       |           | PeerAuthentication namespaces or `serviceAccounts` principals |

`istio-system` counts as declared for the sources a policy allows (`allow.namespaces`,
`serviceAccounts`): meshgen creates it, and the ingress gateway calling from there is common.
"""

from __future__ import annotations

from collections.abc import Iterator

from meshgen.checks._common import did_you_mean, error, quoted_list, warning
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Related
from meshgen.failover import DEFAULT_OUTLIER_DETECTION, needs_default_outlier_detection
from meshgen.load import Positions, YamlPath
from meshgen.spec import Mesh
from meshgen.spec_traffic import AuthorizationPolicy, TrafficPolicy

CODES = summaries("MG415", "MG418", "MG419")

SECURITY: YamlPath = ("spec", "security")
MESHGEN_NAMESPACES = frozenset({"istio-system"})


def traffic_policies(
    mesh: Mesh,
) -> Iterator[tuple[str, YamlPath, TrafficPolicy, TrafficPolicy | None]]:
    """(owner, path, policy, inherited service-level policy) for every trafficPolicy."""
    for si, svc in enumerate(mesh.spec.services):
        name = f'service "{svc.namespace}/{svc.name}"'
        if svc.traffic_policy is not None:
            yield name, ("spec", "services", si, "trafficPolicy"), svc.traffic_policy, None
        for k, subset in enumerate(svc.subsets):
            if subset.traffic_policy is not None:
                yield (
                    f'subset "{subset.name}" of {name}',
                    ("spec", "services", si, "subsets", k, "trafficPolicy"),
                    subset.traffic_policy,
                    svc.traffic_policy,
                )


def _region(locality: str) -> str:
    return locality.split("/", 1)[0]


def check_failover(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG415: failover `from`/`to` regions must be regions of clusters; MG418: failover
    without outlierDetection gets meshgen's default (Envoy ejects nothing otherwise)."""
    regions = list(dict.fromkeys(_region(c.region) for c in mesh.spec.clusters if c.region))
    for owner, path, policy, inherited in traffic_policies(mesh):
        lb = policy.load_balancer
        locality = lb.locality if lb is not None else None
        if locality is None:
            continue
        lb_path = (*path, "loadBalancer", "localityLbSetting")
        if locality.failover and not regions:
            yield error(
                "MG415",
                f"locality failover is configured for {owner}, but no cluster declares a "
                "region, so there is nothing to fail over between",
                positions.at((*lb_path, "failover")),
                "add region: to the clusters (their nodes' topology.kubernetes.io/region)",
            )
        elif locality.failover:
            for fi, entry in enumerate(locality.failover):
                for field, value in (("from", entry.from_), ("to", entry.to)):
                    region = _region(value)
                    if region in regions:
                        continue
                    listed = f"cluster regions: {quoted_list(regions)}"
                    close = did_you_mean(region, regions)
                    yield error(
                        "MG415",
                        f'failover {field} region "{region}" of {owner} is not the region of '
                        "any cluster",
                        positions.at((*lb_path, "failover", fi, field)),
                        f"{close} ({listed})" if close else listed,
                    )
        if needs_default_outlier_detection(policy, inherited):
            default = ", ".join(f"{k} {v}" for k, v in DEFAULT_OUTLIER_DETECTION.items())
            yield warning(
                "MG418",
                f"locality failover of {owner} has no outlierDetection, without which it never "
                f"fails over; meshgen adds the default outlierDetection ({default})",
                positions.at(lb_path),
                "set outlierDetection in this trafficPolicy to choose your own values",
            )


def check_security_namespaces(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG419: PeerAuthentication and AuthorizationPolicy namespaces must be declared; an
    allowed service account in an undeclared namespace is a warning."""
    security = mesh.spec.security
    if security is None:
        return
    declared = list(dict.fromkeys(ns.name for ns in mesh.spec.namespaces))
    peer = security.peer_authentication
    if peer is not None:
        for ni, name in enumerate(peer.namespaces):
            if name not in declared:
                yield _undeclared(
                    positions,
                    declared,
                    name,
                    "peerAuthentication",
                    (*SECURITY, "peerAuthentication", "namespaces", ni),
                    "leave namespaces out for a mesh-wide policy",
                )
    for pi, policy in enumerate(security.authorization_policies):
        yield from _policy_namespaces(positions, declared, pi, policy)


def _undeclared(
    positions: Positions, declared: list[str], name: str, what: str, path: YamlPath, hint: str
) -> Diagnostic:
    close = did_you_mean(name, declared)
    add = f"declare `- name: {name}` under spec.namespaces, or {hint}"
    return error(
        "MG419",
        f'{what} names namespace "{name}", which is not declared under spec.namespaces',
        positions.at(path),
        f"{close} Otherwise {add}" if close else add,
    )


def _policy_namespaces(
    positions: Positions, declared: list[str], pi: int, policy: AuthorizationPolicy
) -> Iterator[Diagnostic]:
    """The policy's own namespace and those it allows are declared (or meshgen's own)."""
    sources = set(declared) | MESHGEN_NAMESPACES
    path = (*SECURITY, "authorizationPolicies", pi)
    what = f'authorization policy "{policy.name}"'
    if policy.namespace not in declared:
        yield _undeclared(
            positions,
            declared,
            policy.namespace,
            what,
            (*path, "namespace"),
            "put the policy in an application namespace",
        )
    for ni, name in enumerate(policy.allow.namespaces):
        if name not in sources:
            yield _undeclared(
                positions,
                declared,
                name,
                what,
                (*path, "allow", "namespaces", ni),
                "remove it: no meshgen workload runs there",
            )
    for ai, account in enumerate(policy.allow.service_accounts):
        namespace = account.split("/", 1)[0]
        if namespace in sources:
            continue
        yield warning(
            "MG419",
            f'{what} allows service account "{account}", whose namespace "{namespace}" is '
            "not declared under spec.namespaces",
            positions.at((*path, "allow", "serviceAccounts", ai)),
            "check the <namespace>/<name> spelling; a workload outside the mesh has no "
            "Istio identity to match",
            [Related(positions.at(("spec", "namespaces")), "the declared namespaces")]
            if declared
            else [],
        )


CHECKS = (check_failover, check_security_namespaces)
