"""The runbook's Submariner steps: the gateway prerequisites, joining the clusters with subctl
(`submariner.deploy: subctl`), or, for the submariner-operator (`deploy: operator`), what it
cannot do from git, as exact commands. One builder per command that several steps run.

Facts: https://submariner.io/getting-started/ (gateway label, cable drivers, ports) and
https://github.com/submariner-io/subctl at v0.18.1 (what `subctl join` and `deploy-broker`
create and name)."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.runbook.commands import DRY_RUN, create_namespace, kubectl_apply_stdin
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Blank, Cmd, Line, Pipeline, cmd, comment, pipe
from meshgen.render.submariner import (
    BROKER_NAMESPACE,
    BROKER_SECRET,
    BROKER_SECRET_KEYS,
    GATEWAY_LABEL,
    OPERATOR_NAMESPACE,
    OPERATOR_VERSION,
    PSK_SECRET,
    operator_submariner,
    submariner_cidrs,
)
from meshgen.spec import Cluster, Mesh, Submariner
from meshgen.versions import parse


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


def subctl_deploy_broker(sub: Submariner) -> Cmd:
    return cmd("subctl", "deploy-broker", "--context", sub.broker)


def subctl_join(sub: Submariner, cluster: Cluster) -> Cmd:
    """`subctl join` with the spec's values: the cluster ID, its ranges (the very ranges the
    MG2xx checks checked), the cable driver and NAT traversal (subctl cmd/subctl/join.go;
    `--natt`, default true)."""
    argv = [
        "subctl",
        "join",
        "broker-info.subm",
        "--context",
        cluster.name,
        "--clusterid",
        cluster.name,
        "--clustercidr",
        submariner_cidrs(cluster.pod_cidr),
        "--servicecidr",
        submariner_cidrs(cluster.service_cidr),
        "--cable-driver",
        sub.cable_driver,
    ]
    if not sub.nat_traversal:
        argv.append("--natt=false")
    return cmd(*argv)


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


def label_gateway_node(cluster: Cluster) -> Cmd:
    """Label a gateway node: the gateway engine runs only on nodes with GATEWAY_LABEL
    (https://submariner.io/getting-started/); `<node>` is for the user to fill in."""
    return cmd("kubectl", "--context", cluster.name, "label", "node", Blank("node"), GATEWAY_LABEL)


def subctl_verify(mesh: Mesh) -> Cmd:
    clusters = mesh.spec.clusters
    return cmd(
        "subctl",
        "verify",
        "--context",
        clusters[0].name,
        "--tocontext",
        clusters[-1].name,
        "--only",
        "service-discovery,connectivity",
        "--verbose",
    )


def subctl_show_connections(cluster: Cluster) -> Cmd:
    return cmd("subctl", "show", "connections", "--context", cluster.name)


def _create_operator_secret(cluster: Cluster, name: str, *sources: str) -> Pipeline:
    """`kubectl -n submariner-operator create secret generic <name> <sources> --dry-run=client
    -o yaml | kubectl apply -f -` on `cluster`."""
    return pipe(
        cmd(
            "kubectl",
            "--context",
            cluster.name,
            "-n",
            OPERATOR_NAMESPACE,
            "create",
            "secret",
            "generic",
            name,
            *sources,
            *DRY_RUN,
        ),
        kubectl_apply_stdin(cluster.name),
    )


def submariner_manual_steps(mesh: Mesh, rb: Runbook) -> None:
    """The runbook's text: what the operator cannot do from git, as exact commands. Nothing
    unless `deploy: operator`."""
    sub = operator_submariner(mesh)
    if sub is None:
        return
    rb.add(
        "Each cluster directory carries a `Submariner` resource (and the broker cluster the "
        f"`Broker`) for the submariner-operator; `{BROKER_SECRET}` and `{PSK_SECRET}` in "
        "`secrets/` are placeholders that are never applied. Do these steps once, in this "
        "order, before GitOps applies the cluster directories.\n"
    )
    _label_gateways(mesh, sub, rb)
    _deploy_broker(sub, rb)
    _install_operator(mesh, sub, rb)
    _operator_secrets(mesh, sub, rb)
    rb.add(
        f"5. Verify: {md.code(str(subctl_show_connections(mesh.spec.clusters[0])))}, then "
        f"{md.code(str(subctl_verify(mesh)))}.\n"
    )


def _label_gateways(mesh: Mesh, sub: Submariner, rb: Runbook) -> None:
    # No gateway node, no tunnel (submariner.io's "Gateway Engine" page, cited at
    # GATEWAY_LABEL); the ports of gateway_ports().
    ports = "UDP 500, 4500 and 4490" if sub.cable_driver == "libreswan" else "UDP 4500 and 4490"
    rb.add(
        f"1. Label at least one gateway node per cluster (`{GATEWAY_LABEL}`; replace "
        f"`<node>` with its name) and open {ports} between the gateways:\n"
    )
    rb.commands(label_gateway_node(c) for c in mesh.spec.clusters)


def _deploy_broker(sub: Submariner, rb: Runbook) -> None:
    # The Broker resource installs CRDs only (operator broker_controller.go); RBAC, service
    # accounts and the token come from subctl deploy-broker (which also installs the operator
    # there) or the chart.
    rb.add(
        f"2. Deploy the broker on {md.code(sub.broker)} with subctl "
        f"{md.text(sub.version or OPERATOR_VERSION)}: it "
        f"creates the `{BROKER_NAMESPACE}` namespace, the broker RBAC and service accounts, "
        "installs the operator there and writes `broker-info.subm` (the `Broker` resource in "
        "git then owns the broker's settings). The `submariner-k8s-broker` Helm chart creates "
        "the RBAC and a client token instead, but no operator:\n"
    )
    add_repo = cmd(
        "helm",
        "repo",
        "add",
        "submariner-latest",
        "https://submariner-io.github.io/submariner-charts/charts",
    )
    install = cmd(
        "helm",
        "install",
        "submariner-k8s-broker",
        "submariner-latest/submariner-k8s-broker",
        "--kube-context",
        sub.broker,
        "--namespace",
        BROKER_NAMESPACE,
        "--create-namespace",
    )
    rb.commands([subctl_deploy_broker(sub), comment(f"or: {add_repo}"), comment(f"    {install}")])


def _install_operator(mesh: Mesh, sub: Submariner, rb: Runbook) -> None:
    # The operator must run before its resources can be applied.
    others = [c for c in mesh.spec.clusters if c.name != sub.broker]
    major, minor, _ = parse(sub.version or OPERATOR_VERSION)
    channel = f"stable-{major}.{minor}"
    rb.add(
        "3. Install the submariner-operator on every cluster that does not run it yet: "
        f"`subctl join` installs it and creates the two Secrets of step 4 (its `Submariner` "
        "resource is then taken over by the one in git); or subscribe with OLM to package "
        f"`submariner`, channel {md.code(channel)}, in namespace `{OPERATOR_NAMESPACE}`. The "
        "`submariner-operator` Helm chart does not fit: it renders its own `Submariner` "
        "resource with inline credentials.\n"
    )
    if others:
        rb.commands(subctl_join(sub, c) for c in others)


def _operator_secrets(mesh: Mesh, sub: Submariner, rb: Runbook) -> None:
    # URL-safe base64 of JSON (subctl pkg/broker/info.go); ClientToken and IPSecPSK are copies
    # of Secrets whose data values are base64 again. subctl's struct tags do not parse as json
    # tags, so the keys are the Go field names (an inference from those struct tags).
    rb.add(
        f"4. Fill `{BROKER_SECRET}` (keys {', '.join(f'`{k}`' for k in BROKER_SECRET_KEYS)}) "
        f"and `{PSK_SECRET}` (key `psk`, the same on every cluster) in `{OPERATOR_NAMESPACE}` "
        f"from `broker-info.subm`, on {md.code(sub.broker)} and on every cluster not joined "
        "with `subctl join`:\n"
    )
    lines = _broker_info_files()
    for c in mesh.spec.clusters:
        lines.append(create_namespace(c.name, OPERATOR_NAMESPACE))
        lines.append(
            _create_operator_secret(
                c,
                BROKER_SECRET,
                "--from-file=ca.crt=broker-ca.crt",
                "--from-file=token=broker-token",
                f"--from-literal=namespace={BROKER_NAMESPACE}",
            )
        )
        lines.append(_create_operator_secret(c, PSK_SECRET, "--from-file=psk=ipsec-psk"))
    lines.append(cmd("rm", "broker-info.json", "broker-ca.crt", "broker-token", "ipsec-psk"))
    rb.commands(lines)
    rb.add(
        "With the Helm chart instead of subctl, take `ca.crt` and `token` from the chart's "
        f"`submariner-k8s-broker-client-token` Secret in `{BROKER_NAMESPACE}` on "
        f"{md.code(sub.broker)}, and make the PSK yourself (`head -c 48 /dev/urandom > "
        "ipsec-psk`).\n"
    )


def _broker_info_files() -> list[Line]:
    """`broker-info.subm` taken apart into the files the Secrets are made from."""
    return [
        pipe(
            cmd("tr", "--", "-_", "+/", stdin="broker-info.subm"),
            cmd("base64", "-d", stdout="broker-info.json"),
        ),
        pipe(
            cmd("jq", "-r", '.ClientToken.data["ca.crt"]', "broker-info.json"),
            cmd("base64", "-d", stdout="broker-ca.crt"),
        ),
        pipe(
            cmd("jq", "-r", ".ClientToken.data.token", "broker-info.json"),
            cmd("base64", "-d", stdout="broker-token"),
        ),
        pipe(
            cmd("jq", "-r", ".IPSecPSK.data.psk", "broker-info.json"),
            cmd("base64", "-d", stdout="ipsec-psk"),
        ),
    ]
