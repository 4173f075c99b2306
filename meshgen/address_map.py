"""The address map of out/README.md: every pod and service range of the mesh, and the ranges
Submariner and OVN-Kubernetes reserve, on one line per address family, drawn to scale within
each group of nearby ranges (`~` leaves out a gap)."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from meshgen.reserved import OWNER_NAMES, RESERVED
from meshgen.spec import Mesh

MAP_COLUMNS = 32  # widest island of the address map


@dataclass(frozen=True)
class _Range:
    start: int
    end: int  # inclusive
    mark: str
    text: str


def _network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:  # not a CIDR (only in hand-built models: validation parses them)
        return None


def _ranges(mesh: Mesh, version: int) -> list[_Range]:
    clusters = mesh.spec.clusters
    out: list[_Range] = []
    for i, c in enumerate(clusters):
        for kind, nets, mark in (
            ("pods", c.pod_cidr, "=" if i >= 26 else chr(65 + i)),
            ("services", c.service_cidr, "-" if i >= 26 else chr(97 + i)),
        ):
            for n in nets:
                net = _network(n)
                if net is not None and net.version == version:
                    out.append(
                        _Range(
                            int(net.network_address),
                            int(net.broadcast_address),
                            mark,
                            f"{c.name} {kind} {net}",
                        )
                    )
    owners = {"submariner"} if mesh.spec.submariner is not None else set()
    if any(c.platform == "openshift" for c in clusters):
        owners.add("openshift")
    if not out:
        return out  # reserved ranges only where the mesh has addresses of this family
    for r in RESERVED:
        if r.owner in owners and r.network.version == version:
            out.append(
                _Range(
                    int(r.network.network_address),
                    int(r.network.broadcast_address),
                    "#",
                    f"{r.network} {OWNER_NAMES[r.owner]}: {r.purpose}",
                )
            )
    return sorted(out, key=lambda r: (r.start, r.end))


def _islands(ranges: list[_Range]) -> list[list[_Range]]:
    """Ranges grouped so that a gap wider than the group so far starts a new group."""
    islands: list[list[_Range]] = []
    for r in ranges:
        if islands:
            last = islands[-1]
            lo, hi = last[0].start, max(x.end for x in last)
            if r.start - hi - 1 <= hi - lo + 1:
                last.append(r)
                continue
        islands.append([r])
    return islands


def _bar(island: list[_Range]) -> str:
    lo, hi = island[0].start, max(r.end for r in island)
    span = hi - lo + 1
    smallest = min(r.end - r.start + 1 for r in island)
    columns = max(1, min(MAP_COLUMNS, 4 * math.ceil(span / smallest)))
    chars = []
    for col in range(columns):
        a = lo + span * col // columns
        b = lo + span * (col + 1) // columns - 1
        best, cover = ".", 0
        for r in island:
            overlap = min(b, r.end) - max(a, r.start) + 1
            if overlap > cover:
                best, cover = r.mark, overlap
        chars.append(best)
    return "".join(chars)


def _address(value: int, version: int) -> str:
    return str(ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value))


def address_map(mesh: Mesh) -> list[str]:
    """One line per address family, each island of nearby ranges drawn to scale (`~`: a gap
    left out), then the legend. Letters: pods (upper case) and services (lower case) of the
    clusters in spec order; `#`: reserved; `.`: free."""
    lines: list[str] = []
    legend: list[str] = []
    for version in (4, 6):
        ranges = _ranges(mesh, version)
        if not ranges:
            continue
        parts = [
            f"{_address(isl[0].start, version)} {_bar(isl)} "
            f"{_address(max(r.end for r in isl), version)}"
            for isl in _islands(ranges)
        ]
        lines.append(f"IPv{version} " + " ~ ".join(parts))
        seen: set[str] = set()
        for r in ranges:
            if r.mark in "=-" and r.mark in seen:
                continue
            seen.add(r.mark)
            text = (
                r.text
                if r.mark not in "=-"
                else (
                    "pods of the clusters after the 26th"
                    if r.mark == "="
                    else "services of the clusters after the 26th"
                )
            )
            legend.append(f"  {r.mark} {text}")
    return [*lines, *dict.fromkeys(legend)]
