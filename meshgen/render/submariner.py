"""Submariner as resources of the submariner-operator (`submariner.deploy: operator`).

Per cluster a `Submariner` (the operator joins the cluster from it), on the broker cluster the
`Broker`, `ServiceExport`s for exported services, and Secret placeholders for the broker
credentials and the IPsec PSK, which never reach git (the rule of meshgen/render/secrets.py).
What the operator cannot do from git (gateway node labels, broker RBAC and token, installing
the operator) is listed in out/README.md by `submariner_manual_steps`.

Facts: https://submariner.io/getting-started/ (architecture, gateway label, cable drivers,
ports) and the sources at v0.18.1 of https://github.com/submariner-io/subctl (what `subctl
join` and `deploy-broker` create and name: pkg/join, pkg/deploy, pkg/broker,
internal/constants) and https://github.com/submariner-io/submariner-operator (api/v1alpha1,
pkg/names, controllers/submariner); field names and types checked against the CRDs of
github.com/submariner-io/submariner-operator v0.21.0 (scripts/make_schemas.py).
"""

from __future__ import annotations

from meshgen.render import markdown as md
from meshgen.render.commands import DRY_RUN, create_namespace, kubectl_apply_stdin
from meshgen.render.objects import MANAGED_BY, Manifest, metadata
from meshgen.render.runbook.model import Runbook
from meshgen.render.shell import Blank, Cmd, Line, Pipeline, cmd, comment, pipe
from meshgen.spec import Cluster, Mesh, Service, Submariner
from meshgen.versions import parse

SUBMARINER_API = "submariner.io/v1alpha1"
# Lighthouse reads ServiceExports at v1alpha1 (the only version of the CRD that the
# operator v0.21.0 installs, deploy/mcsapi/crds).
SERVICE_EXPORT_API = "multicluster.x-k8s.io/v1alpha1"
# subctl's names (operator pkg/names, subctl internal/constants and pkg/brokercr/ensure.go).
OPERATOR_NAMESPACE = "submariner-operator"
BROKER_NAMESPACE = "submariner-k8s-broker"
SUBMARINER_NAME = "submariner"
BROKER_NAME = "submariner-broker"
# The Secrets `subctl join` creates and the Submariner resource references (subctl
# pkg/broker/rbac.go, pkg/broker/ipsec_psk.go; operator api/v1alpha1/submariner_types.go).
BROKER_SECRET = "submariner-broker-secret"
BROKER_SECRET_KEYS = ("ca.crt", "namespace", "token")
PSK_SECRET = "submariner-ipsec-psk"
PSK_SECRET_KEYS = ("psk",)
# The gateway DaemonSet runs only on nodes with this label
# (https://submariner.io/getting-started/architecture/gateway-engine/).
GATEWAY_LABEL = "submariner.io/gateway=true"
# subctl deploy-broker's defaults (operator pkg/discovery/globalnet/config_map.go; only read
# when globalnet is on, which MG204 forbids).
GLOBALNET_CIDR_RANGE = "242.0.0.0/8"
GLOBALNET_CLUSTER_SIZE = 65536
# The operator release whose CRDs validate these objects (scripts/make_schemas.py).
OPERATOR_VERSION = "0.21.0"
# subctl pkg/operator/ensure.go labels the operator namespace so that Pod Security admission
# admits the privileged, host-network gateway and route agent pods.
PRIVILEGED_NAMESPACE_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "privileged" for mode in ("enforce", "audit", "warn")
}


def _operator_submariner(mesh: Mesh) -> Submariner | None:
    sub = mesh.spec.submariner
    return sub if sub is not None and sub.deploy == "operator" else None


def broker_api_server(mesh: Mesh) -> str:
    """The broker cluster's API server as `host:port`, with no scheme: subctl strips it
    (subctl pkg/deploy/submariner.go removeSchemaPrefix) and the operator adds it."""
    sub = mesh.spec.submariner
    assert sub is not None
    broker = next(c for c in mesh.spec.clusters if c.name == sub.broker)
    if broker.api_server is None:  # MG504 rejects this spec before render
        raise ValueError(f'broker cluster "{broker.name}" has no apiServer')
    return broker.api_server.removeprefix("https://").rstrip("/")


def _cidrs(nets: tuple[object, ...]) -> str:
    # The CRD fields are strings; the operator splits a dual-stack value on "," (v0.21.0
    # internal/controllers/submariner/submariner_networkdiscovery.go, getCIDR). The values
    # are the very fields the MG2xx overlap checks checked.
    return ",".join(str(n) for n in nets)


# --- the one builder of each command both deploy modes' README steps use -------------


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
        _cidrs(cluster.pod_cidr),
        "--servicecidr",
        _cidrs(cluster.service_cidr),
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


def _namespace(name: str, labels: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(name, labels={**MANAGED_BY, **labels}),
    }


def render_submariner(mesh: Mesh, cluster: Cluster) -> list[Manifest]:
    """The operator namespace and the `Submariner` of `cluster`; on the broker cluster also
    the broker namespace and the `Broker`. Namespaces come first (apply order)."""
    sub = _operator_submariner(mesh)
    if sub is None:
        return []
    is_broker = cluster.name == sub.broker
    docs: list[Manifest] = [_namespace(OPERATOR_NAMESPACE, PRIVILEGED_NAMESPACE_LABELS)]
    if is_broker:
        docs.append(_namespace(BROKER_NAMESPACE, {}))
        docs.append(render_broker(sub))
    docs.append(_submariner(mesh, sub, cluster))
    return docs


def render_broker(sub: Submariner) -> Manifest:
    # The operator's Broker controller (controllers/submariner/broker_controller.go) installs
    # the broker CRDs and the globalnet and clusterset-IP ConfigMaps; it creates no RBAC (see
    # submariner_manual_steps).
    components = (
        ["service-discovery", "connectivity"] if sub.service_discovery else ["connectivity"]
    )
    return {
        "apiVersion": SUBMARINER_API,
        "kind": "Broker",
        "metadata": metadata(BROKER_NAME, BROKER_NAMESPACE, labels=dict(MANAGED_BY)),
        "spec": {
            "components": components,
            "globalnetEnabled": False,
            "globalnetCIDRRange": GLOBALNET_CIDR_RANGE,
            "defaultGlobalnetClusterSize": GLOBALNET_CLUSTER_SIZE,
        },
    }


def _submariner(mesh: Mesh, sub: Submariner, cluster: Cluster) -> Manifest:
    # Every field the CRD requires (config/crd/bases/submariner.io_submariners.yaml), the
    # broker connection by Secret reference only (no inline token, CA or PSK: those stay out
    # of git).
    spec: dict[str, object] = {
        "broker": "k8s",
        "brokerK8sApiServer": broker_api_server(mesh),
        "brokerK8sRemoteNamespace": BROKER_NAMESPACE,
        "brokerK8sSecret": BROKER_SECRET,
        "ceIPSecPSKSecret": PSK_SECRET,
        "ceIPSecDebug": False,
        "cableDriver": sub.cable_driver,
        "clusterID": cluster.name,
        "clusterCIDR": _cidrs(cluster.pod_cidr),
        "serviceCIDR": _cidrs(cluster.service_cidr),
        # A non-empty globalCIDR turns Globalnet on (operator
        # controllers/submariner/servicediscovery_resources.go); a flat network has none (MG204).
        "globalCIDR": "",
        "namespace": OPERATOR_NAMESPACE,
        "natEnabled": sub.nat_traversal,
        "serviceDiscoveryEnabled": sub.service_discovery,
        "debug": False,
    }
    if sub.version is not None:
        spec["version"] = sub.version
    return {
        "apiVersion": SUBMARINER_API,
        "kind": "Submariner",
        "metadata": metadata(SUBMARINER_NAME, OPERATOR_NAMESPACE, labels=dict(MANAGED_BY)),
        "spec": spec,
    }


def render_service_exports(mesh: Mesh, cluster: Cluster, services: list[Service]) -> list[Manifest]:
    """A ServiceExport (named and placed like its Service:
    https://submariner.io/getting-started/architecture/) for each exported service of `services`
    (the caller passes those placed in `cluster`). Lighthouse reads them however Submariner was
    deployed, so this needs service discovery, not `deploy: operator`."""
    del cluster  # the placement is the caller's; kept for a uniform signature
    sub = mesh.spec.submariner
    if sub is None or not sub.service_discovery:  # MG505 rejects exports then
        return []
    return [
        {
            "apiVersion": SERVICE_EXPORT_API,
            "kind": "ServiceExport",
            "metadata": metadata(s.name, s.namespace, labels=dict(MANAGED_BY)),
        }
        for s in services
        if s.export
    ]


def _placeholder(name: str, keys: tuple[str, ...]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, OPERATOR_NAMESPACE),
        "type": "Opaque",
        "stringData": dict.fromkeys(keys, ""),
    }


def render_broker_secret() -> Manifest:
    return _placeholder(BROKER_SECRET, BROKER_SECRET_KEYS)


def render_psk_secret() -> Manifest:
    return _placeholder(PSK_SECRET, PSK_SECRET_KEYS)


def render_submariner_placeholders(mesh: Mesh, cluster: Cluster) -> list[tuple[str, Manifest]]:
    """(path relative to the cluster directory, Secret) for the two Secrets the Submariner
    resource references. Empty, never listed in kustomization.yaml, never applied."""
    del cluster  # the same two Secrets in every cluster
    if _operator_submariner(mesh) is None:
        return []
    return [
        (f"secrets/{BROKER_SECRET}.yaml", render_broker_secret()),
        (f"secrets/{PSK_SECRET}.yaml", render_psk_secret()),
    ]


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
    sub = _operator_submariner(mesh)
    if sub is None:
        return
    broker = sub.broker
    clusters = mesh.spec.clusters
    subctl_version = sub.version or OPERATOR_VERSION
    add = rb.add

    add(
        "Each cluster directory carries a `Submariner` resource (and the broker cluster the "
        f"`Broker`) for the submariner-operator; `{BROKER_SECRET}` and `{PSK_SECRET}` in "
        "`secrets/` are placeholders that are never applied. Do these steps once, in this "
        "order, before GitOps applies the cluster directories.\n"
    )

    # No gateway node, no tunnel (submariner.io's "Gateway Engine" page, cited at
    # GATEWAY_LABEL); the ports of gateway_ports().
    ports = "UDP 500, 4500 and 4490" if sub.cable_driver == "libreswan" else "UDP 4500 and 4490"
    add(
        f"1. Label at least one gateway node per cluster (`{GATEWAY_LABEL}`; replace "
        f"`<node>` with its name) and open {ports} between the gateways:\n"
    )
    rb.commands(label_gateway_node(c) for c in clusters)

    # The Broker resource installs CRDs only (operator broker_controller.go); RBAC, service
    # accounts and the token come from subctl deploy-broker (which also installs the operator
    # there) or the chart.
    add(
        f"2. Deploy the broker on {md.code(broker)} with subctl {md.text(subctl_version)}: it "
        f"creates the `{BROKER_NAMESPACE}` namespace, the broker RBAC and service accounts, "
        "installs the operator there and writes `broker-info.subm` (the `Broker` resource in "
        "git then owns the broker's settings). The `submariner-k8s-broker` Helm chart creates "
        "the RBAC and a client token instead, but no operator:\n"
    )
    rb.commands(
        [
            subctl_deploy_broker(sub),
            comment(
                "or: "
                + str(
                    cmd(
                        "helm",
                        "repo",
                        "add",
                        "submariner-latest",
                        "https://submariner-io.github.io/submariner-charts/charts",
                    )
                )
            ),
            comment(
                "    "
                + str(
                    cmd(
                        "helm",
                        "install",
                        "submariner-k8s-broker",
                        "submariner-latest/submariner-k8s-broker",
                        "--kube-context",
                        broker,
                        "--namespace",
                        BROKER_NAMESPACE,
                        "--create-namespace",
                    )
                )
            ),
        ]
    )

    # The operator must run before its resources can be applied.
    others = [c for c in clusters if c.name != broker]
    major, minor, _ = parse(subctl_version)
    channel = f"stable-{major}.{minor}"
    add(
        "3. Install the submariner-operator on every cluster that does not run it yet: "
        f"`subctl join` installs it and creates the two Secrets of step 4 (its `Submariner` "
        "resource is then taken over by the one in git); or subscribe with OLM to package "
        f"`submariner`, channel {md.code(channel)}, in namespace `{OPERATOR_NAMESPACE}`. The "
        "`submariner-operator` Helm chart does not fit: it renders its own `Submariner` "
        "resource with inline credentials.\n"
    )
    if others:
        rb.commands(subctl_join(sub, c) for c in others)

    # URL-safe base64 of JSON (subctl pkg/broker/info.go); ClientToken and IPSecPSK are copies
    # of Secrets whose data values are base64 again. subctl's struct tags do not parse as json
    # tags, so the keys are the Go field names (an inference from those struct tags).
    add(
        f"4. Fill `{BROKER_SECRET}` (keys {', '.join(f'`{k}`' for k in BROKER_SECRET_KEYS)}) "
        f"and `{PSK_SECRET}` (key `psk`, the same on every cluster) in `{OPERATOR_NAMESPACE}` "
        f"from `broker-info.subm`, on {md.code(broker)} and on every cluster not joined with "
        "`subctl join`:\n"
    )
    lines: list[Line] = [
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
    for c in clusters:
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
    add(
        "With the Helm chart instead of subctl, take `ca.crt` and `token` from the chart's "
        f"`submariner-k8s-broker-client-token` Secret in `{BROKER_NAMESPACE}` on "
        f"{md.code(broker)}, and make the PSK yourself (`head -c 48 /dev/urandom > "
        "ipsec-psk`).\n"
    )

    add(
        f"5. Verify: {md.code(str(subctl_show_connections(clusters[0])))}, then "
        f"{md.code(str(subctl_verify(mesh)))}.\n"
    )
