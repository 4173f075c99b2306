"""What a cluster of the mesh has before the runbook starts, besides Kubernetes: the CRDs of
the platform pieces the runbook asks for in prose or with commands the box cannot run
(OpenShift's Multus: NetworkAttachmentDefinition; the Submariner operator; the MCS API of
Lighthouse; the External Secrets Operator; Argo CD or Flux; the Sail Operator). Nothing of
Istio: the runbook's installer brings its CRDs.

The CRD files are the real ones, from the Go modules scripts/make_schemas.py pins (its
CRD_MODULES) and from MESHGEN_SHARED/sail-operator.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from meshgen.versions import sail_releases_for
from tests.tooling import load_make_schemas

if TYPE_CHECKING:
    from tests.meshbox.box import Run

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@cache
def common_crds() -> tuple[dict[str, Any], ...]:
    schemas = load_make_schemas()
    crds: list[dict[str, Any]] = []
    for module, patterns in schemas.CRD_MODULES.items():
        root: Path = schemas.go_module_dir(module)
        for pattern in patterns:
            for path in sorted(root.glob(pattern)):
                crds += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return tuple(crds)


def sail_crds(istio_version: str) -> list[dict[str, Any]]:
    from tests.meshbox.box import SHARED

    releases = sail_releases_for(istio_version)
    if not releases:
        raise RuntimeError(f"no Sail release accepts Istio {istio_version}")
    directory = SHARED / "sail-operator" / releases[-1] / "crds"
    return [
        d for p in sorted(directory.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]


def _kinds_in(out: Path) -> set[tuple[str, str]]:
    """(API group, kind) of every object of the output's cluster directories."""
    kinds: set[tuple[str, str]] = set()
    for path in out.glob("*/**/*.yaml"):
        if path.parts[len(out.parts)] in ("gitops", "remote-secrets"):
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc:
                group = str(doc["apiVersion"]).rpartition("/")[0]
                kinds.add((group, str(doc["kind"])))
    return kinds


def install_crds(run: Run) -> None:
    """The CRDs of the platform pieces the output uses (an API server spends seconds of CPU
    on each CRD's OpenAPI: only those)."""
    assert run.box is not None
    used = _kinds_in(run.out)
    if any(c.platform == "openshift" for c in run.mesh.spec.clusters):
        # OpenShift runs Multus: Istio's CNI itself adds a NetworkAttachmentDefinition there.
        used.add(("k8s.cni.cncf.io", "NetworkAttachmentDefinition"))
    crds = [
        crd for crd in common_crds() if (crd["spec"]["group"], crd["spec"]["names"]["kind"]) in used
    ]
    if run.mesh.spec.istio.installer == "sail":
        crds += sail_crds(run.mesh.spec.istio.version)
    for cluster in run.box.clusters:
        api = cluster.api
        for crd in crds:
            api.create(CRDS, crd)
    for cluster in run.box.clusters:
        api = cluster.api
        for crd in crds:
            name = crd["metadata"]["name"]
            _wait_established(api, name)


def _wait_established(api: Any, name: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crd = api.get(f"{CRDS}/{name}")
        conditions = crd.get("status", {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise RuntimeError(f"CRD {name} not established")
