"""What the runbook (out/README.md) says of each cluster: its pod and service CIDR (the
"## Clusters" table) and the Istio version ("Istio 1.M.P multi-primary ..."), which for the
istioctl installer appears nowhere else. The runbook is generated: these shapes are stable."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^Istio (?P<version>\S+) multi-primary", re.MULTILINE)
_ROW = re.compile(
    r"^\|\s*`(?P<name>[^`|]+)`\s*\|[^|]*\|\s*(?P<pod>[^|]*?)\s*\|\s*(?P<svc>[^|]*?)\s*\|"
)


def cluster_cidrs(readme: bytes) -> dict[str, dict[str, str]]:
    """{cluster: {"podCIDR": ..., "serviceCIDR": ..., "istioVersion": ...}} in table order
    ({} without a table)."""
    out: dict[str, dict[str, str]] = {}
    inside = False
    content = readme.decode("utf-8", errors="replace")
    found = _VERSION.search(content)
    version = found["version"].replace("\\", "") if found else ""
    for line in content.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Clusters"
            continue
        if inside:
            m = _ROW.match(line)
            if m:
                out[m["name"]] = {
                    "podCIDR": m["pod"],
                    "serviceCIDR": m["svc"],
                    "istioVersion": version,
                }
    return out
