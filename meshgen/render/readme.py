"""out/README.md: the clusters, their ranges, what to apply in which order, and the exact
commands that fill each secret placeholder (the seed setup's steps, made per cluster)."""

from __future__ import annotations

from collections.abc import Callable

from meshgen.render.external_secrets import external_secret_steps
from meshgen.render.readme_install import gitops_steps, install_steps
from meshgen.render.secrets import (
    CACERTS_KEYS,
    READER_SERVICE_ACCOUNT,
    READER_TOKEN_SECRET,
    needs_reader_token,
    remote_secret_name,
)
from meshgen.render.submariner import submariner_manual_steps
from meshgen.spec import Mesh
from meshgen.versions import OPENSHIFT_SIDECAR_NEEDS_ANYUID, release


def _cidrs(nets: tuple[object, ...], sep: str = ", ") -> str:
    return sep.join(str(n) for n in nets)


def render_readme(mesh: Mesh) -> str:
    spec = mesh.spec
    istio = spec.istio
    rel = release(istio.version)
    external = spec.secrets.provider == "external-secrets"
    out: list[str] = []
    add = out.append

    add(f"# Mesh `{mesh.metadata.name}`\n")
    add(
        f"Istio {istio.version} multi-primary on one flat network (`{spec.network}`): every "
        "cluster runs its own istiod, and pods reach each other directly"
        + (" through Submariner" if spec.submariner else "")
        + ", so there are no east-west gateways.\n"
    )
    add(f"- meshID: `{mesh.mesh_id}`; network: `{spec.network}`; "
        f"trust domain: `{spec.trust_domain}`")
    add(f"- installer: `{istio.installer}`"
        + (f"; revision: `{istio.revision}`" if istio.revision else ""))
    if spec.submariner:
        sub = spec.submariner
        add(f"- Submariner broker: `{sub.broker}`; cable driver: `{sub.cable_driver}`; "
            f"globalnet: `{str(sub.globalnet).lower()}`")
    add("")

    add("## Clusters\n")
    add("| cluster | platform | pod CIDR | service CIDR | API server |")
    add("|---|---|---|---|---|")
    for c in spec.clusters:
        add(f"| `{c.name}` | {c.platform} | {_cidrs(c.pod_cidr)} | {_cidrs(c.service_cidr)} "
            f"| {c.api_server or '-'} |")
    add("")
    add("meshgen checked that no two of these ranges overlap and that none overlaps a range "
        "reserved by Submariner or OVN-Kubernetes.\n")

    add("## What is in each cluster directory\n")
    add("- `kustomization.yaml` lists what GitOps applies, in apply order: namespaces, "
        "CNI attachments, the Istio install resources where they are applied, the "
        "istio-reader token Secret where needed, Submariner resources, the traffic rules"
        + (", and the ExternalSecrets." if external else "."))
    add(_INSTALLER_FILES[istio.installer])
    if external:
        add("- `external-secrets/` holds ExternalSecrets that render `cacerts` and the remote "
            "secrets from your secret store; fill the store as described below.\n")
    else:
        add("- `secrets/` holds placeholders with the exact names, labels, annotations and "
            "keys the consumers read, and empty values. They are **not** applied: create the "
            "real Secrets with the commands below and never commit them.\n")
    if spec.gitops is not None:
        add(f"`gitops/{spec.gitops.engine}/` wires it all to {_ENGINES[spec.gitops.engine]}; "
            "see the last step.\n")

    add("## Steps, in order\n")
    add("Commands use one kube context per cluster, named after the cluster (for example "
        "`export KUBECONFIG=cluster1/auth/kubeconfig:cluster2/auth/kubeconfig`).\n")
    step = 1
    if spec.submariner:
        add(f"### {step}. Connect the clusters with Submariner\n")
        step += 1
        if spec.submariner.deploy == "operator":
            out.extend(submariner_manual_steps(mesh))
            add("")
        else:
            _subctl_steps(mesh, add)

    openshift = [c for c in spec.clusters if c.platform == "openshift"]
    if openshift and rel.has(OPENSHIFT_SIDECAR_NEEDS_ANYUID):
        add(f"### {step}. OpenShift security constraints\n")
        step += 1
        add("Before Istio 1.20 the sidecar runs as UID 1337, so injected namespaces need the "
            "`anyuid` SCC (reference: istio.io OpenShift platform setup):\n")
        add("```sh")
        for c in openshift:
            for ns in ["istio-system", *(n.name for n in spec.namespaces if n.injection
                                         and (not n.clusters or c.name in n.clusters))]:
                add(f"oc --context {c.name} adm policy add-scc-to-group anyuid "
                    f"system:serviceaccounts:{ns}")
        add("```\n")

    add(f"### {step}. Shared root of trust (`cacerts`)\n")
    step += 1
    add("One root CA, one intermediate per cluster, with Istio's `tools/certs` Makefiles; "
        f"run this from the top directory of the Istio {istio.version} release:\n")
    add("```sh")
    add("mkdir -p certs && cd certs")
    add("make -f ../tools/certs/Makefile.selfsigned.mk root-ca")
    for c in spec.clusters:
        add(f"make -f ../tools/certs/Makefile.selfsigned.mk {c.name}-cacerts")
    if external:
        add("```\n")
        out.extend(external_secret_steps(mesh))
    else:
        for c in spec.clusters:
            files = " ".join(f"--from-file={c.name}/{key}" for key in CACERTS_KEYS)
            add(f"kubectl --context {c.name} create namespace istio-system "
                "--dry-run=client -o yaml | kubectl --context " + c.name + " apply -f -")
            add(f"kubectl --context {c.name} create secret generic cacerts -n istio-system "
                f"{files}")
        add("```\n")
    add("Every cluster must end up with the same `root-cert.pem`.\n")

    step = install_steps(mesh, step, add)
    step = gitops_steps(mesh, step, add)

    if len(spec.clusters) > 1 and not external:
        step = _remote_secrets(mesh, step, add)

    add(f"### {step}. Verify\n")
    add("```sh")
    for c in spec.clusters:
        add(f"istioctl --context {c.name} proxy-status")
    add("```\n")
    return "\n".join(out).rstrip("\n") + "\n"


def _subctl_steps(mesh: Mesh, add: Callable[[str], None]) -> None:
    spec = mesh.spec
    assert spec.submariner is not None
    add("```sh")
    add(f"subctl deploy-broker --context {spec.submariner.broker}")
    for c in spec.clusters:
        add(f"subctl join broker-info.subm --context {c.name} --clusterid {c.name} "
            f"--clustercidr {_cidrs(c.pod_cidr, ',')} "
            f"--servicecidr {_cidrs(c.service_cidr, ',')} "
            f"--cable-driver {spec.submariner.cable_driver}")
    contexts = ",".join(c.name for c in spec.clusters)
    add(f"subctl verify --context {spec.clusters[0].name} "
        f"--tocontext {spec.clusters[-1].name} "
        "--only service-discovery,connectivity --verbose")
    add("```\n")
    add(f"Check the tunnels with `subctl show connections` on each of {contexts}.\n")


_INSTALLER_FILES = {
    "istioctl": "- `istio/istio-operator.yaml` is the input of `istioctl install -f`; it is not "
    "listed in `kustomization.yaml`, because no in-cluster controller reads it.",
    "operator": "- `istio/istio-operator.yaml` is reconciled by the in-cluster Istio operator "
    "(Istio <= 1.23), so it is listed in `kustomization.yaml`.",
    "sail": "- `istio/sail.yaml` holds the Sail Operator's `IstioCNI` and `Istio` resources "
    "(cluster-scoped), listed in `kustomization.yaml`.",
    "helm": "- `istio/helm/*.values.yaml` are the values of Istio's `base`, `cni` and `istiod` "
    "charts for this cluster (`helm install -f`); not Kubernetes objects, not listed.",
}
_ENGINES = {"argocd": "Argo CD", "flux": "Flux"}


def _remote_secrets(mesh: Mesh, step: int, add: Callable[[str], None]) -> int:
    spec = mesh.spec
    rel = release(spec.istio.version)
    add(f"### {step}. Remote secrets (`secrets/istio-remote-secret-*.yaml`)\n")
    step += 1
    add("Each istiod must watch every peer's API server. For every pair, create the secret "
        "from the peer and apply it to the cluster (the `--name` must equal the peer's "
        "clusterName):\n")
    cmd = rel.create_remote_secret
    for c in spec.clusters:
        for peer in spec.clusters:
            if peer.name == c.name:
                continue
            add(f"`{c.name}/secrets/{remote_secret_name(peer.name)}.yaml` "
                f"(secret `istio-system/{remote_secret_name(peer.name)}` in `{c.name}`):\n")
            add("```sh")
            server = f" --server={peer.api_server}" if peer.api_server else ""
            if needs_reader_token(mesh, peer):
                add(f"{cmd} --context={peer.name} --name={peer.name}{server} "
                    f"--secret-name={READER_TOKEN_SECRET} | "
                    f"kubectl --context={c.name} apply -f -")
            else:
                add(f"{cmd} --context={peer.name} --name={peer.name}{server} | "
                    f"kubectl --context={c.name} apply -f -")
                if peer.platform == "openshift":
                    add("# OpenShift: if istioctl finds several secrets on the service "
                        "account, name the token secret:")
                    add(f"ISTIO_READER_SRT_NAME=$(kubectl --context={peer.name} -n istio-system "
                        f"get serviceaccount/{READER_SERVICE_ACCOUNT} -o jsonpath='{{.secrets}}' "
                        "| jq -r '.[] | select(.name | test (\"istio-reader-service-account-"
                        "token-\")).name')")
                    add(f"{cmd} --context={peer.name} --name={peer.name}{server} "
                        f"--secret-name $ISTIO_READER_SRT_NAME | "
                        f"kubectl --context={c.name} apply -f -")
            add("```\n")
    if any(needs_reader_token(mesh, c) for c in spec.clusters):
        add(f"`istio/reader-token-secret.yaml` asks Kubernetes (>= 1.24 no longer does it by "
            f"itself) for a token of `{READER_SERVICE_ACCOUNT}`; apply it after Istio is "
            "installed, since the service account comes with Istio.\n")
    return step


