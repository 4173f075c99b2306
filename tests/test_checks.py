"""Tests for meshgen.checks: the registry, the clean seed, and the CIDR sweep vs an oracle.

The per-family tables live in test_checks_*.py; they and this module use `diagnose`/`edit`
from tests/helpers.py. Expected locations are line:col in SEED (numbered there).
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from itertools import combinations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshgen.checks import CHECKS, CODES
from meshgen.checks.intervals import FreeRanges, overlapping_pairs
from meshgen.diagnostics import sort_key
from meshgen.spec import IPNetwork
from tests.helpers import SEED, cluster, diagnose, edit, spec_data


def test_seed_is_clean() -> None:
    assert diagnose(SEED) == []


def test_results_are_sorted_and_registered() -> None:
    text = edit(
        ("podCIDR: 10.132.0.0/14", "podCIDR: 10.128.0.0/15"),
        ('version: "1.10.0"', 'version: "1.9.0"'),
        ("broker: cluster1", "broker: cluster3"),
        ("{subset: v2, weight: 100}", "{subset: v3, weight: 90}"),
    )
    diags = diagnose(text)
    assert diags == sorted(diags, key=sort_key)
    assert {d.code for d in diags} == {"MG201", "MG301", "MG401", "MG402", "MG502"}
    assert all(d.code in CODES and d.hint for d in diags)


def test_every_registered_code_is_documented_by_a_check() -> None:
    documented: set[str] = set()
    for check in CHECKS:
        doc = inspect.getdoc(check) or ""
        documented.update(re.findall(r"MG\d{3}", doc.splitlines()[0]))
    assert documented == set(CODES)
    assert all(re.fullmatch(r"MG[1-5]\d\d", code) for code in CODES)
    assert all(re.match(r"(error|warning|error/warning): ", text) for text in CODES.values())


def test_design_example_message() -> None:
    """The text of a cross-cluster overlap: message, note and hint, word for word."""
    [diag] = diagnose(edit(("podCIDR: 10.132.0.0/14", "podCIDR: 10.128.0.0/15")))
    assert diag.message == (
        'pod CIDR 10.128.0.0/15 of cluster "cluster2" overlaps pod CIDR '
        '10.128.0.0/14 of cluster "cluster1"'
    )
    assert [(str(r.location), r.message) for r in diag.related] == [
        ("mesh.yaml:13:16", "cluster1's pod CIDR is defined here")
    ]
    # The first free /15 after 10.128.0.0/15 that no cluster or reserved range uses.
    assert diag.hint == (
        "Submariner routes pod IPs directly; give each cluster a disjoint range, e.g. 10.132.0.0/15"
    )


# --- the sweep against a brute-force oracle -------------------------------------------------


def _oracle(nets: list[IPNetwork]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, j in combinations(range(len(nets)), 2)
        if nets[i].version == nets[j].version and nets[i].overlaps(nets[j])
    ]


# Small address spaces so that random networks collide often.
_v4 = st.builds(
    lambda a, p: ipaddress.IPv4Network((a, p), strict=False),
    st.integers(0, 2**12 - 1).map(lambda a: (a << 20) | (10 << 24)),
    st.integers(4, 32),
)
_v6 = st.builds(
    lambda a, p: ipaddress.IPv6Network((a, p), strict=False),
    st.integers(0, 2**10 - 1).map(lambda a: (0xFD << 120) | (a << 100)),
    st.integers(8, 128),
)
_nets = st.lists(st.one_of(_v4, _v6), max_size=40)
# Inside 10/8, so that every network is one the schema accepts (no 0.0.0.0/4).
_v4_in_10 = st.builds(
    lambda a, p: ipaddress.IPv4Network((a, p), strict=False),
    st.integers(0, 2**8 - 1).map(lambda a: (a << 16) | (10 << 24)),
    st.integers(8, 32),
)


@settings(max_examples=300, deadline=None)
@given(_nets)
def test_sweep_agrees_with_all_pairs_oracle(nets: list[IPNetwork]) -> None:
    assert overlapping_pairs(nets) == _oracle(nets)


@settings(max_examples=300, deadline=None)
@given(_nets, st.one_of(_v4, _v6))
def test_suggested_range_is_free_and_private(used: list[IPNetwork], net: IPNetwork) -> None:
    found = FreeRanges(used).near(net)
    if found is None:
        return
    assert found.prefixlen == net.prefixlen
    assert found.is_private
    assert not any(found.overlaps(u) for u in used)


def _spec_with(cidrs: list[tuple[IPNetwork, IPNetwork]]) -> str:
    clusters = [cluster(f"c{i}", str(pod), str(svc)) for i, (pod, svc) in enumerate(cidrs)]
    return yaml.safe_dump(spec_data(*clusters, version="1.10.0"), sort_keys=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_v4_in_10, _v4_in_10), min_size=1, max_size=8))
def test_overlap_diagnostics_match_the_oracle(cidrs: list[tuple[IPNetwork, IPNetwork]]) -> None:
    """End to end: one MG201 per cross-cluster pair, one MG202 per same-cluster pair."""
    nets = [net for pair in cidrs for net in pair]
    pairs = _oracle(nets)
    codes = [d.code for d in diagnose(_spec_with(cidrs))]
    assert codes.count("MG201") == sum(i // 2 != j // 2 for i, j in pairs)
    assert codes.count("MG202") == sum(i // 2 == j // 2 for i, j in pairs)


def test_sweep_handles_identical_and_nested_networks() -> None:
    nets: list[IPNetwork] = [
        ipaddress.ip_network(n)
        for n in (
            "10.0.0.0/8",
            "10.0.0.0/8",
            "10.1.0.0/16",
            "fd00::/8",
            "10.0.0.0/32",
            "11.0.0.0/8",
        )
    ]
    assert overlapping_pairs(nets) == [(0, 1), (0, 2), (0, 4), (1, 2), (1, 4)]


@pytest.mark.parametrize(
    ("used", "net", "expected"),
    [
        (["10.0.0.0/9"], "10.0.0.0/9", "10.128.0.0/9"),
        (["10.0.0.0/8"], "10.0.0.0/16", "172.16.0.0/16"),
        (["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], "10.0.0.0/16", None),
        (["10.128.0.0/14"], "10.130.0.0/16", "10.132.0.0/16"),  # after the offender first
        (["10.0.0.0/8"], "10.0.0.0/7", None),  # no private block holds a /7
        (["fd00::/9"], "fd00::/48", "fd80::/48"),
    ],
)
def test_free_range(used: list[str], net: str, expected: str | None) -> None:
    found = FreeRanges(ipaddress.ip_network(u) for u in used).near(ipaddress.ip_network(net))
    assert (str(found) if found else None) == expected
