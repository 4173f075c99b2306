"""What the output manifest records of each cluster, for `meshgen plan`: the facts no object
carries for every installer (the pod and service CIDRs, the Istio version, whether control
planes run per revision). A plan compares the facts a build recorded with the spec's, never
a parse of the runbook's Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from meshgen.spec import Mesh
from meshgen.spec_cidr import cidr_list

# The manifest's key, and each cluster's fact names: the names a plan prints.
CLUSTERS: Final = "clusters"
NAME: Final = "name"
POD_CIDR: Final = "podCIDR"
SERVICE_CIDR: Final = "serviceCIDR"
ISTIO_VERSION: Final = "istioVersion"
REVISIONED: Final = "revisioned"

ClusterFacts = dict[str, str | bool]


def cluster_facts(mesh: Mesh) -> dict[str, ClusterFacts]:
    """{cluster: facts} in spec order (the order a plan lists clusters in)."""
    istio = mesh.spec.istio
    return {
        c.name: {
            POD_CIDR: cidr_list(c.pod_cidr),
            SERVICE_CIDR: cidr_list(c.service_cidr),
            ISTIO_VERSION: istio.version,
            REVISIONED: bool(istio.revisions),
        }
        for c in mesh.spec.clusters
    }


def recorded(facts: Mapping[str, ClusterFacts]) -> list[dict[str, str | bool]]:
    """The facts as the manifest records them: a list, since its keys are sorted and the
    spec's order is kept."""
    return [{NAME: name, **values} for name, values in facts.items()]


def read_cluster_facts(doc: object) -> dict[str, ClusterFacts] | None:
    """The facts of a manifest's parsed JSON; None when it has none (written by an earlier
    meshgen 0.2) or they are not what meshgen writes (a hand edit): then none is compared."""
    if not isinstance(doc, Mapping):
        return None
    found = doc.get(CLUSTERS)
    if not isinstance(found, list):
        return None
    out: dict[str, ClusterFacts] = {}
    for entry in found:
        if not isinstance(entry, Mapping):
            return None
        name = entry.get(NAME)
        if not isinstance(name, str) or name in out:
            return None
        kept: ClusterFacts = {}
        for key in (POD_CIDR, SERVICE_CIDR, ISTIO_VERSION):
            value = entry.get(key)
            if not isinstance(value, str):
                return None
            kept[key] = value
        revisioned = entry.get(REVISIONED)
        if not isinstance(revisioned, bool):
            return None
        kept[REVISIONED] = revisioned
        out[name] = kept
    return out
