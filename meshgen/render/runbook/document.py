"""The runbook as a whole (out/README.md): what the mesh is, its clusters and address map,
what each cluster directory holds, then the steps in the order they must run.

Values of the spec are escaped where they land: shell words through meshgen/render/shell.py
(every command is an argv list), Markdown through meshgen/render/markdown.py."""

from __future__ import annotations

from meshgen.address_map import address_map
from meshgen.layout import REMOTE_SECRETS_DIR, TRAFFIC_DIR, helm_values_file
from meshgen.overview import mermaid
from meshgen.render import markdown as md
from meshgen.render.control_planes import named_control_planes, operator_file
from meshgen.render.gitops import ENGINE_TITLES
from meshgen.render.runbook.access import kube_context_step, openshift_scc_step
from meshgen.render.runbook.external_secrets import external_remote_secret_steps
from meshgen.render.runbook.gitops import gitops_steps
from meshgen.render.runbook.install import install_steps
from meshgen.render.runbook.model import Runbook
from meshgen.render.runbook.remote_secrets import remote_secret_steps
from meshgen.render.runbook.submariner import submariner_prerequisites, submariner_step
from meshgen.render.runbook.trust import root_of_trust_step
from meshgen.render.runbook.verify import verify_steps
from meshgen.render.shell import fence_for, visible
from meshgen.render.units import UNIT_SERVICES
from meshgen.revisions import control_planes
from meshgen.spec import Mesh
from meshgen.spec_cidr import cidr_list


def build_runbook(mesh: Mesh, units: dict[str, list[str]]) -> Runbook:
    """The runbook as data; `units`: each cluster's traffic units, in apply order."""
    rb = Runbook()
    _about(mesh, rb)
    _clusters(mesh, rb)
    _address_map(mesh, rb)
    _directory(mesh, rb)
    rb.add("## Steps, in order\n")
    rb.add(
        "Commands use one kube context per cluster, named after the cluster (for example "
        "`export KUBECONFIG=cluster1/auth/kubeconfig:cluster2/auth/kubeconfig`).\n"
    )
    kube_context_step(mesh, rb)
    submariner_prerequisites(mesh, rb)
    submariner_step(mesh, rb)
    openshift_scc_step(mesh, rb)
    root_of_trust_step(mesh, rb)
    install_steps(mesh, units, rb)
    gitops_steps(mesh, rb)
    if mesh.spec.secrets.provider == "external-secrets":
        external_remote_secret_steps(mesh, rb)
    elif len(mesh.spec.clusters) > 1:
        remote_secret_steps(mesh, rb)
    verify_steps(mesh, rb)
    return rb


def _about(mesh: Mesh, rb: Runbook) -> None:
    """The title, the picture, and what kind of mesh this is."""
    spec = mesh.spec
    istio = spec.istio
    add = rb.add
    code = md.code
    add(f"# Mesh {code(mesh.metadata.name)}\n")
    _fenced(rb, "mermaid", mermaid(mesh))
    add(
        f"Istio {md.text(istio.version)} multi-primary on one flat network "
        f"({code(spec.network)}): every cluster runs its own istiod, and pods reach each other "
        "directly"
        + (" through Submariner" if spec.submariner else "")
        + ", so there are no east-west gateways.\n"
    )
    add(
        f"- meshID: {code(mesh.mesh_id)}; network: {code(spec.network)}; "
        f"trust domain: {code(spec.trust_domain)}"
    )
    add(
        f"- installer: {code(istio.installer)}"
        + (f"; revision: {code(istio.revision)}" if istio.revision else "")
    )
    if spec.submariner:
        sub = spec.submariner
        add(
            f"- Submariner broker: {code(sub.broker)}; cable driver: {code(sub.cable_driver)}; "
            f"globalnet: `{str(sub.globalnet).lower()}`"
        )
    add("")


def _clusters(mesh: Mesh, rb: Runbook) -> None:
    add = rb.add
    add("## Clusters\n")
    add("| cluster | platform | pod CIDR | service CIDR | API server |")
    add("|---|---|---|---|---|")
    for c in mesh.spec.clusters:
        cells = [
            md.code(c.name),
            md.text(c.platform),
            md.text(cidr_list(c.pod_cidr)),
            md.text(cidr_list(c.service_cidr)),
            md.text(c.api_server or "-"),
        ]
        add("| " + " | ".join(md.cell(x) for x in cells) + " |")
    add("")
    add(
        "meshgen checked that no two of these ranges overlap and that none overlaps a range "
        "reserved by Submariner or OVN-Kubernetes.\n"
    )


def _address_map(mesh: Mesh, rb: Runbook) -> None:
    rb.add("## Address map\n")
    rb.add(
        "Every range on one line per address family, drawn to scale within each group of "
        "nearby ranges (`~` leaves out a gap): pods in upper case, services in lower case, "
        "`#` reserved, `.` free; a column shared by two ranges shows the one that covers more "
        "of it. Separate letters are separate ranges: nothing overlaps.\n"
    )
    _fenced(rb, "text", address_map(mesh))


def _directory(mesh: Mesh, rb: Runbook) -> None:
    """What each cluster directory holds, named as render() names it."""
    spec = mesh.spec
    external = spec.secrets.provider == "external-secrets"
    add = rb.add
    add("## What is in each cluster directory\n")
    add(
        "- `kustomization.yaml` lists what GitOps applies first, in apply order: namespaces, "
        "CNI attachments, the Istio install resources where they are applied, the "
        "istio-reader token Secret where needed, Submariner resources, the security "
        "policies" + (", and the ExternalSecrets." if external else ".")
    )
    add(
        f"- `{TRAFFIC_DIR}/<unit>/` holds the DestinationRules and VirtualServices, one "
        f"kustomize unit per namespace (a namespace of more than {UNIT_SERVICES} services is "
        "cut into parts `<namespace>.<k>`), each applied on its own after the cluster "
        "directory, so no unit is too large for the GitOps engine to render."
    )
    add(_installer_files(mesh))
    if external:
        add(
            "- `external-secrets/` holds ExternalSecrets that render `cacerts` and the remote "
            "secrets from your secret store; fill the store as described below.\n"
        )
    else:
        add(
            "- `secrets/` (and, next to the cluster directories, "
            f"`{REMOTE_SECRETS_DIR}/`, one per peer, the same for every cluster) holds "
            "placeholders with the exact names, labels, annotations and keys the consumers "
            "read, and empty values. They are **not** applied: create the real Secrets with "
            "the commands below and never commit them.\n"
        )
    if spec.gitops is not None:
        add(
            f"{md.code(f'gitops/{spec.gitops.engine}/')} wires it all to "
            f"{ENGINE_TITLES[spec.gitops.engine]}; see the last step.\n"
        )


def _fenced(rb: Runbook, info: str, lines: list[str]) -> None:
    """A fenced block of `info` (mermaid, text) holding `lines` on one line each."""
    body = [visible(line) for line in lines]
    fence = fence_for(body)
    for line in [f"{fence}{info}", *body, f"{fence}\n"]:
        rb.add(line)


_INSTALLER_FILES = {
    "istioctl": "- {files} the input of `istioctl install -f`; {it} not listed in "
    "`kustomization.yaml`, because no in-cluster controller reads {them}.",
    "operator": "- {files} reconciled by the in-cluster Istio operator (Istio <= 1.23), so "
    "{it} listed in `kustomization.yaml`.",
    "sail": "- `istio/sail.yaml` holds the Sail Operator's `IstioCNI` and `Istio` resources "
    "(cluster-scoped), listed in `kustomization.yaml`.",
    "helm": f"- `{helm_values_file('*')}` are the values of Istio's `base`, `cni` and `istiod` "
    "charts for this cluster (`helm upgrade --install -f`); not Kubernetes objects, not listed.",
}


def _installer_files(mesh: Mesh) -> str:
    """The install files of each cluster directory, named as render() names them: with
    istio.revisions one IstioOperator per revision."""
    installer = mesh.spec.istio.installer
    if installer not in ("istioctl", "operator"):
        return _INSTALLER_FILES[installer]
    if named_control_planes(mesh):
        names = ", ".join(md.code(operator_file(p.name)) for p in control_planes(mesh))
        files, it, them = f"{names} (an IstioOperator per revision) are", "they are", "them"
    else:
        files, it, them = "`istio/istio-operator.yaml` is", "it is", "it"
    return _INSTALLER_FILES[installer].format(files=files, it=it, them=them)
