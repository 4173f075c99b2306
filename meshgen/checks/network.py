"""MG2xx: network ranges of a flat multi-cluster network.

Submariner without Globalnet routes pod and Service IPs between clusters as they are, so
every cluster's ranges must be disjoint from every other's (https://submariner.io/getting-started/,
"Prerequisites") and from the ranges the data plane keeps for itself (meshgen/reserved.py,
with their sources).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from meshgen.checks._common import SUBMARINER, cidr_path, cluster_path, error, warning
from meshgen.checks.intervals import FreeRanges, overlapping_pairs
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic, Location, Related, diagnostic
from meshgen.load import Positions
from meshgen.reserved import OWNER_NAMES, RESERVED
from meshgen.spec import IPNetwork, Mesh

CODES = summaries("MG201", "MG202", "MG203", "MG204", "MG205", "MG206")


@dataclass(frozen=True)
class _Cidr:
    cluster: int
    name: str
    kind: str  # "pod" | "service"
    net: IPNetwork
    location: Location

    def describe(self) -> str:
        return f'{self.kind} CIDR {self.net} of cluster "{self.name}"'


def _cidrs(mesh: Mesh, positions: Positions) -> list[_Cidr]:
    out = []
    for ci, cluster in enumerate(mesh.spec.clusters):
        fields = (
            ("pod", "podCIDR", cluster.pod_cidr),
            ("service", "serviceCIDR", cluster.service_cidr),
        )
        for kind, field, nets in fields:
            for item, net in enumerate(nets):
                location = positions.at(cidr_path(positions, ci, field, item))
                out.append(_Cidr(ci, cluster.name, kind, net, location))
    return out


def check_overlaps(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG201: pod/service CIDRs overlap across clusters; MG202: inside one cluster."""
    cidrs = _cidrs(mesh, positions)
    # A suggestion avoids every cluster's ranges and every reserved range.
    free = cache(FreeRanges([c.net for c in cidrs] + [r.network for r in RESERVED]).near)
    for i, j in overlapping_pairs([c.net for c in cidrs]):
        # Report at the later-declared node; the earlier one is the related note.
        first, later = sorted((cidrs[i], cidrs[j]), key=lambda c: (c.cluster, c.location))
        suggestion = free(later.net)
        if first.cluster != later.cluster:
            hint = f"Submariner routes {later.kind} IPs directly; give each cluster a disjoint"
            hint += f" range, e.g. {suggestion}" if suggestion else " range"
            yield error(
                "MG201",
                f"{later.describe()} overlaps {first.describe()}",
                later.location,
                hint,
                [Related(first.location, f"{first.name}'s {first.kind} CIDR is defined here")],
            )
            continue
        if first.kind == later.kind:
            hint = f"a cluster's {later.kind} CIDRs must be disjoint (one per address family)"
        else:
            hint = "routing cannot tell a pod IP from a Service IP in the shared range"
        hint += f"; e.g. use {suggestion} instead" if suggestion else "; pick disjoint ranges"
        yield error(
            "MG202",
            f"{later.describe()} overlaps its own {first.kind} CIDR {first.net}",
            later.location,
            hint,
            [Related(first.location, f"the {first.kind} CIDR is defined here")],
        )


def check_reserved(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG203: a pod/service CIDR overlaps a Submariner or (OpenShift) OVN-Kubernetes range,
    or one of the IP standards' special ranges (on every cluster)."""
    submariner = mesh.spec.submariner is not None
    for cidr in _cidrs(mesh, positions):
        cluster = mesh.spec.clusters[cidr.cluster]
        applies = {
            "submariner": submariner,
            "openshift": cluster.platform == "openshift",
            "ip": True,
        }
        reported: set[str] = set()
        for r in RESERVED:
            if not applies[r.owner] or r.group in reported or not cidr.net.overlaps(r.network):
                continue
            reported.add(r.group)
            owner = OWNER_NAMES[r.owner]
            message = f"{cidr.describe()} overlaps {r.network}, which {owner} reserve"
            message += f"{'' if r.owner == 'ip' else 's'} for {r.purpose}"
            notes: tuple[Related, ...] = ()
            if r.owner == "ip":
                hint = (
                    f"no network delivers {r.network} to a pod or Service; pick a "
                    f"{cidr.kind} CIDR outside it, from a private range such as "
                    f"{_PRIVATE[cidr.net.version]}"
                )
            else:
                hint = (
                    f"{owner} uses {r.network} for {r.purpose}; pick a {cidr.kind} CIDR outside it"
                )
            if r.move:
                hint += f", {r.move}"
            if r.owner == "submariner":
                notes = (Related(positions.key_at(SUBMARINER), "Submariner is configured here"),)
            elif r.owner == "openshift":
                platform = positions.at((*cluster_path(cidr.cluster), "platform"))
                notes = (
                    Related(
                        platform, f"{cluster.name} runs OpenShift, whose network plugin is {owner}"
                    ),
                )
            yield diagnostic("MG203", message, cidr.location, hint, notes, severity=r.severity)


_PRIVATE = {4: "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", 6: "fd00::/8 (unique local)"}


def check_globalnet(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG204: Globalnet hides pod IPs, which a flat-network multi-primary mesh routes to."""
    sub = mesh.spec.submariner
    if sub is None or not sub.globalnet:
        return
    # Only exported Services' global IPs are reachable across clusters
    # (https://submariner.io/getting-started/architecture/globalnet/;
    # submariner-io/submariner#2305).
    yield error(
        "MG204",
        "with Globalnet, pod IPs are not routable between clusters (only exported Services' "
        "global IPs are), so Istio's flat-network multi-primary, which sends pod IPs as "
        "endpoints, cannot work",
        positions.at((*SUBMARINER, "globalnet")),
        "give the clusters disjoint CIDRs and set globalnet: false (or use a multi-network "
        "mesh with east-west gateways, which meshgen does not generate)",
    )


_FAMILY_NAMES = {(4,): "IPv4-only", (6,): "IPv6-only", (4, 6): "dual-stack"}


def _families(nets: tuple[IPNetwork, ...]) -> tuple[int, ...]:
    return tuple(sorted({n.version for n in nets}))


def check_families(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG205: address families: per cluster (errors) and across the mesh (warnings)."""
    clusters = mesh.spec.clusters
    for ci, cluster in enumerate(clusters):
        yield from _same_family_twice(ci, "pod", "podCIDR", cluster.pod_cidr, positions)
        yield from _same_family_twice(ci, "service", "serviceCIDR", cluster.service_cidr, positions)
        pods, services = _families(cluster.pod_cidr), _families(cluster.service_cidr)
        if pods != services:
            yield error(
                "MG205",
                f'cluster "{cluster.name}" has {_FAMILY_NAMES[pods]} pod CIDRs but '
                f"{_FAMILY_NAMES[services]} service CIDRs",
                positions.at((*cluster_path(ci), "serviceCIDR")),
                "give podCIDR and serviceCIDR the same address families: both IPv4, both "
                "IPv6, or both dual-stack (one IPv4 and one IPv6 CIDR each)",
                [
                    Related(
                        positions.at((*cluster_path(ci), "podCIDR")),
                        "the pod CIDRs are defined here",
                    )
                ],
            )
    first = _families(clusters[0].pod_cidr)
    for ci, cluster in enumerate(clusters[1:], start=1):
        mine = _families(cluster.pod_cidr)
        if mine != first:
            yield warning(
                "MG205",
                f'cluster "{cluster.name}" is {_FAMILY_NAMES[mine]} but cluster '
                f'"{clusters[0].name}" is {_FAMILY_NAMES[first]}',
                positions.at((*cluster_path(ci), "podCIDR")),
                "pods reach other clusters only over an address family both sides have (an "
                "IPv6-only cluster cannot reach an IPv4-only one); give every cluster the same "
                "families",
                [
                    Related(
                        positions.at((*cluster_path(0), "podCIDR")),
                        f"{clusters[0].name}'s pod CIDRs are defined here",
                    )
                ],
            )
    if mesh.spec.submariner is not None:
        yield from _ipv6_over_submariner(mesh, positions)


def _same_family_twice(
    ci: int, kind: str, field: str, nets: tuple[IPNetwork, ...], positions: Positions
) -> Iterator[Diagnostic]:
    seen: dict[int, int] = {}
    for item, net in enumerate(nets):
        if net.version not in seen:
            seen[net.version] = item
            continue
        earlier = nets[seen[net.version]]
        yield error(
            "MG205",
            f"{kind} CIDR {net} is a second IPv{net.version} CIDR next to {earlier}",
            positions.at(cidr_path(positions, ci, field, item)),
            f"dual-stack means one IPv4 and one IPv6 CIDR; keep one IPv{net.version} {kind} "
            "CIDR (a larger one covering both if you need the space)",
            [
                Related(
                    positions.at(cidr_path(positions, ci, field, seen[net.version])),
                    f"the first IPv{net.version} {kind} CIDR is defined here",
                )
            ],
        )


def _ipv6_over_submariner(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    # Before 0.21 Submariner keeps only IPv4 subnets (submariner-io/submariner#1739, #3391); 0.21
    # adds partial IPv6 without Globalnet, the VXLAN/WireGuard cable drivers or the gateway load
    # balancer (its release notes, submariner-io/submariner-website#1267).
    note = Related(positions.key_at(SUBMARINER), "Submariner is configured here")
    warned: set[int] = set()
    for cidr in _cidrs(mesh, positions):
        if cidr.net.version != 6 or cidr.cluster in warned:
            continue
        warned.add(cidr.cluster)
        yield warning(
            "MG205",
            f'cluster "{cidr.name}" uses IPv6 ({cidr.kind} CIDR {cidr.net}), but Submariner '
            "before 0.21 carries IPv4 only",
            cidr.location,
            "keep cross-cluster traffic on IPv4, or run Submariner 0.21 or later (partial IPv6 "
            "support: libreswan cable driver, no Globalnet)",
            [note],
        )


def check_vxlan_nat(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG206: Submariner's VXLAN cable driver is "supported only with no NAT"
    (https://github.com/submariner-io/submariner/blob/v0.18.1/pkg/cable/vxlan/vxlan.go)."""
    sub = mesh.spec.submariner
    if sub is None or sub.cable_driver != "vxlan" or not sub.nat_traversal:
        return
    yield warning(
        "MG206",
        "the vxlan cable driver does not work through NAT, but natTraversal is on",
        positions.at(("spec", "submariner", "cableDriver")),
        "set natTraversal: false if the gateways reach each other directly, or use "
        "libreswan or wireguard",
    )


CHECKS = (check_overlaps, check_reserved, check_globalnet, check_families, check_vxlan_nat)
