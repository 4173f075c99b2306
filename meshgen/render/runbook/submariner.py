"""The runbook's Submariner steps: the gateway prerequisites, then joining the clusters with
subctl (`submariner.deploy: subctl`) or, for the submariner-operator (`deploy: operator`),
what it cannot do from git (submariner_operator.py). The subctl commands are built in
commands.py, since the verify step runs `subctl verify` too.

Facts: https://submariner.io/getting-started/ (gateway label, cable drivers, ports) and
https://github.com/submariner-io/subctl at v0.18.1 (what `subctl join` and `deploy-broker`
create and name)."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.runbook.commands import (
    label_gateway_node,
    subctl_deploy_broker,
    subctl_join,
    subctl_verify,
)
from meshgen.render.runbook.model import Runbook
from meshgen.render.runbook.submariner_operator import submariner_manual_steps
from meshgen.render.shell import Line, cmd
from meshgen.render.submariner import (
    GATEWAY_LABEL,
)
from meshgen.spec import Mesh, Submariner


def submariner_prerequisites(mesh: Mesh, rb: Runbook) -> None:
    """The gateway nodes' label and the ports open between them."""
    sub = mesh.spec.submariner
    if sub is None:
        return
    rb.step("Submariner prerequisites")
    rb.add(
        f"The gateway engine runs only on nodes labelled `{GATEWAY_LABEL}`: label at least "
        "one node per cluster (replace `<node>`), then check:\n"
    )
    lines: list[Line] = []
    for c in mesh.spec.clusters:
        lines.append(label_gateway_node(c))
        lines.append(cmd("kubectl", "--context", c.name, "get", "nodes", "-l", GATEWAY_LABEL))
    rb.commands(lines)
    ports = "; ".join(
        f"{md.text(port)} ({md.text(purpose)})" for port, purpose in gateway_ports(sub)
    )
    rb.add(
        f"Open these between the gateway nodes of every cluster (cloud security groups, "
        f"firewalls) for the {md.code(sub.cable_driver)} cable driver: {ports}.\n"
    )


def submariner_step(mesh: Mesh, rb: Runbook) -> None:
    """Joining the clusters: with subctl, or what the operator cannot do from git."""
    if mesh.spec.submariner is None:
        return
    rb.step("Connect the clusters with Submariner")
    if mesh.spec.submariner.deploy == "operator":
        submariner_manual_steps(mesh, rb)
        rb.add("")
    else:
        _subctl_steps(mesh, rb)


def _subctl_steps(mesh: Mesh, rb: Runbook) -> None:
    spec = mesh.spec
    sub = spec.submariner
    assert sub is not None
    add = rb.add
    lines = [subctl_deploy_broker(sub)]
    lines += [subctl_join(sub, c) for c in spec.clusters]
    lines.append(subctl_verify(mesh))
    rb.commands(lines)
    contexts = ", ".join(md.code(c.name) for c in spec.clusters)
    add(f"Check the tunnels with `subctl show connections` on each of {contexts}.\n")


def gateway_ports(sub: Submariner) -> list[tuple[str, str]]:
    """(port, purpose) that must be open between the gateway nodes (submariner.io "Getting
    started", Prerequisites, and https://submariner.io/operations/nat-traversal/): every cable
    driver, WireGuard and VXLAN included, listens on the NAT-T port 4500/UDP by default
    (pkg/cable/wireguard/driver.go NATTPort, pkg/cable/vxlan/vxlan.go DefaultPort), and
    NAT discovery uses 4490/UDP; IPsec adds IKE on 500/UDP and ESP where no NAT is in between.
    4800/UDP is the route agent's VXLAN between a cluster's own nodes (not with
    OVN-Kubernetes)."""
    ports = [("4500/UDP", f"{sub.cable_driver} tunnels (NAT-T)"), ("4490/UDP", "NAT discovery")]
    if sub.cable_driver == "libreswan":
        ports += [("500/UDP", "IKE"), ("ESP (IP protocol 50)", "IPsec without NAT in between")]
    ports.append(
        (
            "4800/UDP",
            "route agent VXLAN between the nodes of each cluster (not needed with OVN-Kubernetes)",
        )
    )
    return ports
