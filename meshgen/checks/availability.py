"""MG420, MG421: traffic fields the mesh's Istio release does not have, or deprecates.

The release's own DestinationRule CRD is the judge (meshgen.versions facts LB_LEAST_REQUEST
and FAILOVER_PRIORITY, tested against every minor's CRDs): an older Istio rejects the object
at apply time, long after `meshgen build` said yes.
"""

from __future__ import annotations

from collections.abc import Iterator

from meshgen import versions
from meshgen.checks._common import error, warning
from meshgen.checks.policies import traffic_policies
from meshgen.codes import summaries
from meshgen.diagnostics import Diagnostic
from meshgen.load import Positions
from meshgen.revisions import oldest_version
from meshgen.spec import Mesh

CODES = summaries("MG420", "MG421")


def check_field_availability(mesh: Mesh, positions: Positions) -> Iterator[Diagnostic]:
    """MG420/MG421 for every trafficPolicy's loadBalancer, against the oldest control plane:
    with revisions side by side, every one of them reads the rules."""
    version = oldest_version(mesh)
    if not versions.is_supported(version):
        return  # MG301 says so already
    rel = versions.release(version)
    for owner, path, policy, _ in traffic_policies(mesh):
        lb = policy.load_balancer
        if lb is None:
            continue
        lb_path = (*path, "loadBalancer")
        if lb.simple == "LEAST_REQUEST" and not rel.has(versions.LB_LEAST_REQUEST):
            yield error(
                "MG420",
                f"loadBalancer.simple LEAST_REQUEST of {owner} does not exist in Istio "
                f"{version}: its DestinationRule would be rejected",
                positions.at((*lb_path, "simple")),
                f"use LEAST_CONN (the same algorithm under its name before Istio "
                f"{versions.LB_LEAST_REQUEST.first}), or Istio "
                f"{versions.LB_LEAST_REQUEST.first} or later",
            )
        elif lb.simple == "LEAST_CONN" and rel.has(versions.LB_LEAST_REQUEST):
            yield warning(
                "MG421",
                f"loadBalancer.simple LEAST_CONN of {owner} is deprecated from Istio "
                f"{versions.LB_LEAST_REQUEST.first} (this mesh uses {version})",
                positions.at((*lb_path, "simple")),
                "use LEAST_REQUEST, its current name",
            )
        locality = lb.locality
        if (
            locality is not None
            and locality.failover_priority
            and not rel.has(versions.FAILOVER_PRIORITY)
        ):
            yield error(
                "MG420",
                f"localityLbSetting.failoverPriority of {owner} does not exist in Istio "
                f"{version}: its DestinationRule would be rejected",
                positions.key_at((*lb_path, "localityLbSetting", "failoverPriority")),
                f"use localityLbSetting.failover (region to region), or Istio "
                f"{versions.FAILOVER_PRIORITY.first} or later",
            )


CHECKS = (check_field_availability,)
