"""Interval arithmetic on CIDRs: every overlapping pair by a sweep, and a free range finder.

A mesh can hold dozens of clusters, each with up to four CIDRs; comparing all pairs is
quadratic. Sorting by start address and sweeping costs O(n log n + k) for k reported pairs.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Sequence

from meshgen.spec import IPNetwork

# Where to look for a free range to suggest: RFC 1918 for IPv4, ULA (RFC 4193) for IPv6.
_PRIVATE: dict[int, tuple[IPNetwork, ...]] = {
    4: tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    6: (ipaddress.IPv6Network("fd00::/8"),),
}


def span(net: IPNetwork) -> tuple[int, int]:
    """First and last address of `net` as integers (inclusive)."""
    return int(net.network_address), int(net.broadcast_address)


def overlapping_pairs(nets: Sequence[IPNetwork]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of networks that share an address; IPv4 never overlaps IPv6.

    Per family, sort by start and sweep: `active` holds the intervals still open at the
    current start, so each one kept yields a reported pair and each one dropped is dropped
    once, which bounds the work by the output.
    """
    families: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
    for index, net in enumerate(nets):
        families[net.version].append((*span(net), index))
    pairs: list[tuple[int, int]] = []
    for items in families.values():
        items.sort()
        active: list[tuple[int, int, int]] = []
        for start, end, index in items:
            active = [item for item in active if item[1] >= start]
            pairs.extend((min(index, other), max(index, other)) for _, _, other in active)
            active.append((start, end, index))
    pairs.sort()
    return pairs


class FreeRanges:
    """Finds a network of a given size that overlaps none of the `used` networks."""

    def __init__(self, used: Iterable[IPNetwork]) -> None:
        self._starts: dict[int, list[int]] = {4: [], 6: []}
        self._ends: dict[int, list[int]] = {4: [], 6: []}
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for net in used:
            spans[net.version].append(span(net))
        for version in (4, 6):
            merged: list[list[int]] = []
            for start, end in sorted(spans[version]):
                if merged and start <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            self._starts[version] = [m[0] for m in merged]
            self._ends[version] = [m[1] for m in merged]

    def near(self, net: IPNetwork) -> IPNetwork | None:
        """A free network with `net`'s prefix length: after `net` first, then anywhere private."""
        start = int(net.network_address)
        # The block holding `net` first: a suggestion near the user's choice reads best.
        blocks = sorted(_PRIVATE[net.version], key=lambda b: not b.overlaps(net))
        for block in blocks:
            if net.prefixlen < block.prefixlen:
                continue
            lo, hi = span(block)
            if lo <= start <= hi:
                found = self._scan(net, start, hi) or self._scan(net, lo, start - 1)
            else:
                found = self._scan(net, lo, hi)
            if found is not None:
                return found
        return None

    def _scan(self, net: IPNetwork, lo: int, hi: int) -> IPNetwork | None:
        size = net.num_addresses
        starts, ends = self._starts[net.version], self._ends[net.version]
        candidate = -(-lo // size) * size  # the first aligned address >= lo
        while candidate + size - 1 <= hi:
            # Merged used intervals are disjoint and sorted: only the last one starting at or
            # before the candidate's end can overlap it. Each jump passes one interval.
            i = bisect.bisect_right(starts, candidate + size - 1) - 1
            if i < 0 or ends[i] < candidate:
                return type(net)((candidate, net.prefixlen))
            candidate = -(-(ends[i] + 1) // size) * size
        return None
