"""CIDR values of the spec: parsed strictly, accepted only in canonical text, and the exact
same rule as JSON Schema patterns.

A CIDR is accepted when `ipaddress.ip_network(text, strict=True)` parses it and prints it
back as the very same text (lower-case hex, no leading zeros, IPv6's longest run of zero
groups compressed, a decimal prefix length without leading zeros), without an IPv6 zone id,
and when it can hold pod or Service addresses (not the unspecified address, loopback,
multicast, link-local or IPv4-mapped IPv6). Anything else is rejected with the canonical
form as the hint, so what users write is what the output, README and checks show.

The JSON Schema cannot call `ipaddress`, so `IPV4_CIDR`, `IPV6_CIDR` and the `*_NOT`
patterns spell the same language out as regular expressions. They are generated here from
the rules above (not written by hand) and use only what ECMA-262 (editors) and Python's `re`
(the `jsonschema` package) read the same way: anchors, classes, groups, bounded repeats and
lookahead. tests/test_schema_agreement.py checks them against `ipaddress`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from pydantic_core import PydanticCustomError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Dual-stack is one IPv4 and one IPv6 range; two of a family is MG205's (a check with the
# context to say which), more than two can never be right.
MAX_CIDRS = 2


# --- the rule, in Python ---------------------------------------------------------------------


def parse_cidrs(value: Any) -> tuple[IPNetwork, ...]:
    """A CIDR or a list of CIDRs (dual-stack) -> networks, or a `cidr` error.

    The error's ctx carries `index` (the list item, for the location) and, when meshgen can
    tell what was meant, `network`: the canonical CIDR to write instead.
    """
    is_list = isinstance(value, list)
    items = value if is_list else [value]
    if not items:
        raise PydanticCustomError("cidr", "at least one CIDR is required")
    if len(items) > MAX_CIDRS:
        raise PydanticCustomError(
            "cidr",
            "at most {limit} CIDRs: dual-stack is one IPv4 and one IPv6 CIDR",
            {"index": MAX_CIDRS, "limit": MAX_CIDRS},
        )
    # The index lets validate.py point at the list item rather than the field.
    return tuple(parse_cidr(item, index if is_list else None) for index, item in enumerate(items))


def cidr_list(nets: Iterable[object]) -> str:
    """A cluster's CIDRs as people read them: `10.0.0.0/16, fd00::/48`."""
    return ", ".join(str(n) for n in nets)


def parse_cidr(item: Any, index: int | None = None) -> IPNetwork:
    if not isinstance(item, str):
        raise PydanticCustomError(
            "cidr", "expected a CIDR string such as 10.128.0.0/14", {"index": index}
        )
    ctx: dict[str, Any] = {"index": index, "cidr": item}
    suggestion = _suggest(item)
    if suggestion is not None and suggestion != item:
        ctx["network"] = suggestion
    if "%" in item:
        raise PydanticCustomError(
            "cidr", "'{cidr}' has an IPv6 zone id (%...), which a network range cannot have", ctx
        )
    if "/" not in item:
        raise PydanticCustomError(
            "cidr", "'{cidr}' has no prefix length; write it as a CIDR such as 10.0.0.0/16", ctx
        )
    try:
        net = ipaddress.ip_network(item, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise PydanticCustomError(
                "cidr", "'{cidr}' has host bits set; the network is {network}", ctx
            ) from None
        raise PydanticCustomError(
            "cidr",
            "'{cidr}' is not a valid CIDR: {reason}",
            {**ctx, "reason": str(exc)},
        ) from None
    kind = special_kind(net)
    if kind is not None:  # no "write ..." hint: the canonical form is just as unusable
        raise PydanticCustomError(
            "cidr",
            "'{cidr}' is {kind}, which cannot hold pod or service addresses",
            {"index": index, "cidr": item, "kind": kind},
        )
    if str(net) != item:
        raise PydanticCustomError(
            "cidr",
            "'{cidr}' is not in canonical form; meshgen writes it as {network}",
            {**ctx, "network": str(net)},
        )
    return net


def special_kind(net: IPNetwork) -> str | None:
    """What makes `net` unusable for pods or Services, if anything."""
    if net.network_address.is_unspecified:
        return "a range starting at the unspecified address"
    if net.is_loopback:
        return "a loopback range"
    if net.is_multicast:
        return "a multicast range"
    if net.is_link_local:
        return "a link-local range"
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 range"
    return None


def _suggest(item: str) -> str | None:
    """The canonical CIDR `item` most likely means (spaces, zone id and host bits dropped)."""
    text = re.sub(r"%[^/]*", "", item.strip())
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return str(net) if "/" in text else None


# --- the same rule, as regular expressions ---------------------------------------------------

_PREFIX6 = r"(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9])"


def _alternatives(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(?:" + "|".join(items) + ")"


def _numbers(values: list[int]) -> str:
    """A regex for exactly these decimal numbers (every use is anchored at both ends)."""
    return _alternatives([str(v) for v in sorted(values, key=lambda v: (-len(str(v)), v))])


def _octet(bits: int) -> str:
    """A canonical decimal octet whose low 8 - `bits` bits are zero."""
    if bits == 8:
        return r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    return _numbers(list(range(0, 256, 1 << (8 - bits))))


def _ipv4_pattern() -> str:
    alternatives = []
    for prefix in range(33):
        octets = [_octet(max(0, min(8, prefix - 8 * i))) for i in range(4)]
        alternatives.append(r"\.".join(octets) + f"/{prefix}")
    return "^(?:" + "|".join(alternatives) + ")$"


_GROUP = "(?:0|[1-9a-f][0-9a-f]{0,3})"  # a canonical hextet: lower-case, no leading zeros
_NONZERO = "[1-9a-f][0-9a-f]{0,3}"
_ANY_GROUP = "[0-9a-f]{1,4}"


def _ipv6_text() -> str:
    """Canonical IPv6 address text (before the '/'), as Python's ipaddress prints it: the
    longest run (first on ties) of two or more zero groups is '::', nothing else is."""
    alternatives = []
    # No '::': eight groups, no two adjacent zero groups.
    alternatives.append(f"(?!(?:[^/]*:)?0:0[:/]){_GROUP}(?::{_GROUP}){{7}}")
    for before in range(7):
        for after in range(7 - before):
            run = 8 - before - after
            if run < 2:
                continue
            head = (
                ""
                if before == 0
                else (f"(?:{_GROUP}:){{{before - 1}}}{_NONZERO}" if before > 1 else _NONZERO)
            )
            tail = (
                ""
                if after == 0
                else (f"{_NONZERO}(?::{_GROUP}){{{after - 1}}}" if after > 1 else _NONZERO)
            )
            guards = ""
            if before >= run + 1:  # a run as long as the '::' one before it would win
                guards += f"(?!(?:{_ANY_GROUP}:)*0(?::0){{{run - 1}}}:(?:{_ANY_GROUP}:)*:)"
            if after >= run + 2:  # a longer run after it would win
                guards += f"(?!(?:[^/]*:)?0(?::0){{{run}}}[:/])"
            alternatives.append(f"{guards}{head}::{tail}")
    return "(?:" + "|".join(alternatives) + ")"


def _trailing_bits(bits: int) -> str:
    """A canonical non-zero hextet whose low `bits` bits (1..15) are zero."""
    zeros, rest = divmod(bits, 4)
    digit = {0: "[0-9a-f]", 1: "[02468ace]", 2: "[048c]", 3: "[08]"}[rest]
    nonzero_digit = {0: "[1-9a-f]", 1: "[2468ace]", 2: "[48c]", 3: "8"}[rest]
    options = []
    if zeros <= 2:
        options.append(f"[1-9a-f][0-9a-f]{{0,{2 - zeros}}}{digit}")
    options.append(nonzero_digit)
    return _alternatives(options) + "0" * zeros


def _zero_tail(count: int) -> str:
    """Canonical text (up to and including '/') whose last `count` (1..8) groups are zero."""
    options = ["::"]
    if count <= 7:
        options.append(f"(?:{_ANY_GROUP}:){{0,{7 - count}}}{_ANY_GROUP}::")
        options.append(f"[0-9a-f:]*:0(?::0){{{count - 1}}}")
    return _alternatives(options) + "/"


def _ipv6_host_bits() -> str:
    """No host bits set, for text that IPV6_CIDR accepts (the schema asks for both): for
    prefix 16g + r, the groups after g are zero and group g's low 16 - r bits are."""
    alternatives = ["[0-9a-f:]+/128"]
    for group in range(8):
        first = 16 * group
        # Group `group` and every later one zero: any prefix length in this group.
        alternatives.append(_zero_tail(8 - group) + _numbers(list(range(first, first + 16))))
        # Group `group` non-zero with `bits` zero low bits and only zero groups after it.
        for bits in range(1, 16):
            hextet = _trailing_bits(bits)
            options = [f"(?:[0-9a-f:]*:)?{hextet}" + "".join([":0"] * (7 - group))]
            if 7 - group >= 2:
                options.append(f"(?:{_ANY_GROUP}:){{{group}}}{hextet}::")
            alternatives.append(_alternatives(options) + f"/{first + 16 - bits}")
    return "^(?:" + "|".join(alternatives) + ")$"


IPV4_CIDR = _ipv4_pattern()
IPV4_NOT = (
    r"^(?:0\.0\.0\.0/|127\.[0-9.]+/(?:3[0-2]|[12][0-9]|[89])$"
    r"|169\.254\.[0-9.]+/(?:3[0-2]|2[0-9]|1[6-9])$"
    r"|2(?:2[4-9]|3[0-9])\.[0-9.]+/(?:3[0-2]|[12][0-9]|[4-9])$)"
)
IPV6_CIDR = f"^{_ipv6_text()}/{_PREFIX6}$"
IPV6_HOST_BITS = _ipv6_host_bits()
IPV6_NOT = (
    r"^(?:::/|::1/128$|::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}/"
    r"|ff[0-9a-f]{2}:[^/]*/(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[89])$"
    r"|fe[89ab][0-9a-f]:[^/]*/(?:12[0-8]|1[01][0-9]|[2-9][0-9]|1[0-9])$)"
)


# --- JSON Schema definitions (schema.py adds them to $defs) ----------------------------------

_CIDR_REF = "#/$defs/CIDR"
_CANONICAL = (
    "lower-case hex, no leading zeros, the longest run of zero groups written "
    "as ::, no host bits set"
)

SCHEMA_DEFS: dict[str, Any] = {
    "IPv4CIDR": {
        "type": "string",
        "description": "An IPv4 CIDR as Python's ipaddress prints it (no leading zeros, "
        "no host bits set), not 0.0.0.0/n, loopback, link-local or multicast.",
        "pattern": IPV4_CIDR,
        "patternErrorMessage": "not an IPv4 network in canonical form such as 10.128.0.0/14 "
        "(no leading zeros, no host bits set)",
        "not": {"pattern": IPV4_NOT},
    },
    "IPv6CIDR": {
        "type": "string",
        "description": f"An IPv6 CIDR in canonical form ({_CANONICAL}), not ::/n, loopback, "
        "link-local, multicast or IPv4-mapped.",
        "allOf": [
            {
                "pattern": IPV6_CIDR,
                "patternErrorMessage": "not an IPv6 network in canonical "
                f"form such as fd00:10:244::/56 ({_CANONICAL})",
            },
            {"pattern": IPV6_HOST_BITS, "patternErrorMessage": "host bits are set"},
        ],
        "not": {"pattern": IPV6_NOT},
    },
    "CIDR": {
        "description": "A CIDR in canonical form, e.g. 10.128.0.0/14 or fd00:10:244::/56",
        "anyOf": [{"$ref": "#/$defs/IPv4CIDR"}, {"$ref": "#/$defs/IPv6CIDR"}],
    },
    "CIDRs": {
        "anyOf": [
            {"$ref": _CIDR_REF},
            {
                "type": "array",
                "items": {"$ref": _CIDR_REF},
                "minItems": 1,
                "maxItems": MAX_CIDRS,
                "description": "Dual-stack: one IPv4 and one IPv6 CIDR",
            },
        ]
    },
}
