"""Address ranges that Submariner and OVN-Kubernetes keep for themselves, as data.

Sources. Submariner's VTEP prefixes, 240 (route agent) and 241 (VXLAN cable driver):
pkg/routeagent_driver/handlers/kubeproxy/constants.go and pkg/cable/vxlan/vxlan.go in
https://github.com/submariner-io/submariner/tree/v0.18.1; its default supernets, 242/8 for
Globalnet and 243/8 for clusterset IPs (0.19+): pkg/discovery/globalnet/config_map.go (v0.18.1)
and pkg/discovery/clustersetip/config_map.go (v0.19.0-rc3) in
https://github.com/submariner-io/submariner-operator. OVN-Kubernetes on OpenShift (join,
transit and masquerade subnets, by OpenShift version):
https://docs.okd.io/latest/networking/networking_overview/cidr-range-definitions.html.
The IP standards' own special ranges (loopback, link-local,
multicast, broadcast, unspecified; RFC 6890) apply to every cluster: the schema (MG104)
rejects a CIDR inside one of them, MG203 one that covers or straddles one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from meshgen.diagnostics import Severity
from meshgen.spec import IPNetwork


@dataclass(frozen=True)
class Reserved:
    network: IPNetwork
    owner: Literal["submariner", "openshift", "ip"]  # when the range applies ("ip": always)
    purpose: str  # completes "which <owner> reserves for ..."
    group: str  # one report per (CIDR, group)
    severity: Severity
    move: str  # "or ...": moving the range instead


def _net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


_E, _W = Severity.ERROR, Severity.WARNING
_OVN = "OVN-Kubernetes"
_MASQ = "gatewayConfig.ipv{v}.internalMasqueradeSubnet"

RESERVED: tuple[Reserved, ...] = (
    # VTEPs: the node IP with its first octet replaced by 240 (route agent, kube-proxy CNIs)
    # or 241 (VXLAN cable driver). Fixed in the code, so errors.
    Reserved(
        _net("240.0.0.0/8"),
        "submariner",
        "the VTEP addresses of its route agent",
        "submariner-vtep",
        _E,
        "",
    ),
    Reserved(
        _net("241.0.0.0/8"),
        "submariner",
        "the VTEP addresses of its VXLAN cable driver",
        "submariner-vxlan",
        _E,
        "",
    ),
    # Only in use with Globalnet / clusterset IPs, both configurable supernets: warnings.
    Reserved(
        _net("242.0.0.0/8"),
        "submariner",
        "the default Globalnet supernet",
        "submariner-globalnet",
        _W,
        "or give Globalnet another supernet with "
        "`subctl deploy-broker --globalnet-cidr-range` if you enable it",
    ),
    Reserved(
        _net("243.0.0.0/8"),
        "submariner",
        "the default clusterset-IP supernet (0.19+)",
        "submariner-clusterset-ip",
        _W,
        "or give clusterset IPs another supernet with "
        "`subctl deploy-broker --clusterset-ip-cidr-range` if you enable them",
    ),
    Reserved(
        _net("100.64.0.0/16"),
        "openshift",
        "its join switch",
        "ovn-join",
        _E,
        "or move the join subnet with ovnKubernetesConfig.ipv4.internalJoinSubnet",
    ),
    Reserved(
        _net("fd98::/64"),
        "openshift",
        "its join switch",
        "ovn-join",
        _E,
        "or move the join subnet with ovnKubernetesConfig.ipv6.internalJoinSubnet",
    ),
    Reserved(
        _net("100.88.0.0/16"),
        "openshift",
        "its transit switch (interconnect)",
        "ovn-transit",
        _E,
        "or move it with ovnKubernetesConfig.ipv4.internalTransitSwitchSubnet",
    ),
    Reserved(
        _net("fd97::/64"),
        "openshift",
        "its transit switch (interconnect)",
        "ovn-transit",
        _E,
        "or move it with ovnKubernetesConfig.ipv6.internalTransitSwitchSubnet",
    ),
    # 4.17+ installs use the /17 (/112); clusters first installed earlier keep the /29 (/125).
    Reserved(
        _net("169.254.0.0/17"),
        "openshift",
        "its masquerade subnet (OpenShift 4.17+)",
        "ovn-masquerade",
        _E,
        f"or move it with {_MASQ.format(v=4)}",
    ),
    Reserved(
        _net("169.254.169.0/29"),
        "openshift",
        "its masquerade subnet (clusters installed before OpenShift 4.17)",
        "ovn-masquerade",
        _E,
        f"or move it with {_MASQ.format(v=4)}",
    ),
    Reserved(
        _net("fd69::/112"),
        "openshift",
        "its masquerade subnet (OpenShift 4.17+)",
        "ovn-masquerade",
        _E,
        f"or move it with {_MASQ.format(v=6)}",
    ),
    Reserved(
        _net("fd69::/125"),
        "openshift",
        "its masquerade subnet (clusters installed before OpenShift 4.17)",
        "ovn-masquerade",
        _E,
        f"or move it with {_MASQ.format(v=6)}",
    ),
)

_IP = (
    # (range, completes "which the IP standards reserve for ...", group)
    (
        "0.0.0.0/8",
        '"this network" (RFC 1122; 0.0.0.0 is the unspecified address)',
        "ip-this-network",
    ),
    ("127.0.0.0/8", "loopback (RFC 1122)", "ip-loopback"),
    ("169.254.0.0/16", "link-local addresses (RFC 3927)", "ip-link-local"),
    ("224.0.0.0/4", "multicast (RFC 5771)", "ip-multicast"),
    ("255.255.255.255/32", "the limited broadcast address (RFC 919)", "ip-broadcast"),
    ("::/128", "the unspecified address (RFC 4291)", "ip-unspecified"),
    ("::1/128", "loopback (RFC 4291)", "ip-loopback"),
    ("fe80::/10", "link-local addresses (RFC 4291)", "ip-link-local"),
    ("ff00::/8", "multicast (RFC 4291)", "ip-multicast"),
)

RESERVED += tuple(Reserved(_net(net), "ip", purpose, group, _E, "") for net, purpose, group in _IP)

OWNER_NAMES = {"submariner": "Submariner", "openshift": _OVN, "ip": "the IP standards"}
