"""The runbook's Submariner step with `submariner.deploy: operator`: what the
submariner-operator cannot do from git (gateway labels, the broker's RBAC and token,
installing the operator, the broker and PSK Secrets), as exact commands.

Facts: the sources at v0.18.1 of https://github.com/submariner-io/subctl (pkg/broker/info.go:
what `broker-info.subm` holds) and https://github.com/submariner-io/submariner-operator
(controllers/submariner/broker_controller.go: what the Broker resource does)."""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.runbook.commands import (
    DRY_RUN,
    create_namespace,
    kubectl_apply_stdin,
    label_gateway_node,
    subctl_deploy_broker,
    subctl_join,
    subctl_show_connections,
    subctl_verify,
)
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Line, Pipeline, cmd, comment, pipe
from meshgen.render.submariner import (
    BROKER_NAMESPACE,
    BROKER_SECRET,
    BROKER_SECRET_KEYS,
    GATEWAY_LABEL,
    OPERATOR_NAMESPACE,
    OPERATOR_VERSION,
    PSK_SECRET,
    operator_submariner,
)
from meshgen.spec import Cluster, Mesh, Submariner
from meshgen.versions import parse


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
