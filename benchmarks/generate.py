"""Synthetic mesh.yaml specs of any size, for the benchmarks.

Two shapes:

* `make_spec(C, S)`: C Kubernetes clusters `c0..` and S services `svc0..` spread over
  namespaces `ns0..` (one per 50 services by default); each service has one port, subsets
  v1/v2 and one weighted route (90/10). Wide: this is the 100 clusters x 5,000 services case.
* `make_deep_spec(C, S)`: everything in one namespace, each service with three subsets and
  three routes (two header matches, then a weighted catch-all), all with retries. Narrow and
  deep: few clusters, big traffic documents.

Every cluster gets a disjoint /20 pod CIDR from 10.0.0.0/8 and a /24 service CIDR from
172.16.0.0/12 (4,096 of each: enough for 1,000 clusters and more).

    python -m benchmarks.generate 100 5000 -o /tmp/mesh.yaml
    python -m benchmarks.generate 2 2000 --deep -o /tmp/deep.yaml
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_CLUSTERS = 4096
_PODS = ipaddress.ip_network("10.0.0.0/8")
_SERVICES = ipaddress.ip_network("172.16.0.0/12")


def pod_cidr(index: int) -> str:
    """The index-th /20 of 10.0.0.0/8."""
    return str(ipaddress.ip_network((int(_PODS.network_address) + (index << 12), 20)))


def service_cidr(index: int) -> str:
    """The index-th /24 of 172.16.0.0/12."""
    return str(ipaddress.ip_network((int(_SERVICES.network_address) + (index << 8), 24)))


def _header(name: str, clusters: int) -> Iterator[str]:
    if not 1 <= clusters <= MAX_CLUSTERS:
        raise ValueError(f"clusters must be between 1 and {MAX_CLUSTERS}, not {clusters}")
    yield "apiVersion: meshgen.dev/v1alpha1"
    yield "kind: Mesh"
    yield "metadata:"
    yield f"  name: {name}"
    yield "spec:"
    yield "  istio:"
    yield '    version: "1.30.0"'
    yield "  clusters:"
    for i in range(clusters):
        yield f"    - name: c{i}"
        yield f"      podCIDR: {pod_cidr(i)}"
        yield f"      serviceCIDR: {service_cidr(i)}"


def _namespaces(count: int) -> Iterator[str]:
    yield "  namespaces:"
    for i in range(count):
        yield f"    - name: ns{i}"


def make_spec(clusters: int, services: int, *, namespaces: int | None = None) -> str:
    """A wide mesh: C clusters, S services with two subsets and one 90/10 route each."""
    if namespaces is None:
        namespaces = max(1, services // 50)
    if namespaces < 1:
        raise ValueError("namespaces must be at least 1")
    lines = [*_header("bench", clusters), *_namespaces(namespaces), "  services:"]
    for i in range(services):
        lines += [
            f"    - name: svc{i}",
            f"      namespace: ns{i % namespaces}",
            "      ports: [{name: http, number: 8080}]",
            "      subsets:",
            "        - {name: v1, labels: {version: v1}}",
            "        - {name: v2, labels: {version: v2}}",
            "      routes:",
            "        - destinations:",
            "            - {subset: v1, weight: 90}",
            "            - {subset: v2, weight: 10}",
        ]
    return "\n".join(lines) + "\n"


def make_deep_spec(clusters: int = 2, services: int = 2000) -> str:
    """A narrow, deep mesh: one namespace, three subsets and three routes per service."""
    lines = [*_header("deep", clusters), *_namespaces(1), "  services:"]
    for i in range(services):
        lines += [
            f"    - name: svc{i}",
            "      namespace: ns0",
            "      ports: [{name: http, number: 8080}]",
            "      subsets:",
            "        - {name: v1, labels: {version: v1}}",
            "        - {name: v2, labels: {version: v2}}",
            "        - {name: v3, labels: {version: v3}}",
            "      routes:",
            "        - match:",
            "            - headers: {x-canary: {exact: always}}",
            "          destinations:",
            "            - {subset: v3}",
            "          retries: {attempts: 3, perTryTimeout: 2s, retryOn: 5xx}",
            "        - match:",
            "            - headers: {x-user: {prefix: beta-}}",
            "          destinations:",
            "            - {subset: v2}",
            "          timeout: 5s",
            '          retries: {attempts: 2, perTryTimeout: 1s, retryOn: "5xx,reset"}',
            "        - destinations:",
            "            - {subset: v1, weight: 80}",
            "            - {subset: v2, weight: 20}",
            '          retries: {attempts: 2, retryOn: "connect-failure,reset"}',
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description="Write a synthetic mesh.yaml."
    )
    parser.add_argument("clusters", type=int)
    parser.add_argument("services", type=int)
    parser.add_argument("--namespaces", type=int, help="default: services/50, at least 1")
    parser.add_argument(
        "--deep",
        action="store_true",
        help="narrow and deep: one namespace, 3 subsets and 3 routes each",
    )
    parser.add_argument("-o", "--output", type=Path, help="default: standard output")
    args = parser.parse_args(argv)
    if args.deep:
        text = make_deep_spec(args.clusters, args.services)
    else:
        text = make_spec(args.clusters, args.services, namespaces=args.namespaces)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
