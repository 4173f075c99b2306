"""The box's sidecar: the xDS a pod's Envoy would get, fetched by meshbox-sidecar (a Go ADS
client built from the release's own source tree, tests/meshbox/sidecar/) posing as that pod.

What it tells istiod about itself is what the injected pod carries, read from the pod the API
server stored (injected by the cluster's real istiod through its webhook): pilot-agent turns
every `ISTIO_META_*` variable of the istio-proxy container into node metadata and adds the
pod's namespace, labels, IP and service account, and its id is
`sidecar~<pod IP>~<pod>.<namespace>~<namespace>.svc.cluster.local`. It connects to the
istiod the pod would: the discovery address of its injected proxy config (`istiod[-<rev>]`),
resolved through that Service's endpoints to the istiod pod, whose plaintext xDS port the
box's istiod serves (a real proxy uses the mTLS port of the same server).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.meshbox.api import Api, Obj


@dataclass(frozen=True)
class Node:
    id: str
    metadata: dict[str, Any]
    discovery_service: str  # istiod or istiod-<rev> (in istio-system)


def _env(container: Obj, pod: Obj) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            out[item["name"]] = str(item["value"])
        elif "fieldRef" in item.get("valueFrom", {}):
            path = item["valueFrom"]["fieldRef"]["fieldPath"]
            value = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": pod["metadata"]["namespace"],
                "status.podIP": pod.get("status", {}).get("podIP", ""),
                "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
            }.get(path)
            if value is not None:
                out[item["name"]] = value
    return out


def proxy_container(pod: Obj) -> Obj | None:
    for container in [*pod["spec"].get("containers", []), *pod["spec"].get("initContainers", [])]:
        if container["name"] == "istio-proxy":
            return dict(container)
    return None


def node_of(pod: Obj, istio_version: str) -> Node:
    """The node id and metadata pilot-agent would send for `pod` (injected)."""
    container = proxy_container(pod)
    meta = pod["metadata"]
    if container is None:
        raise AssertionError(
            f"pod {meta['namespace']}/{meta['name']} has no istio-proxy: the injector "
            "did not inject it"
        )
    env = _env(container, pod)
    ip = pod["status"]["podIP"]
    namespace = meta["namespace"]
    metadata: dict[str, Any] = {
        key.removeprefix("ISTIO_META_"): value
        for key, value in env.items()
        if key.startswith("ISTIO_META_")
    }
    proxy_config: dict[str, Any] = json.loads(env.get("PROXY_CONFIG", "{}") or "{}")
    metadata.update(
        {
            "NAMESPACE": namespace,
            "NAME": meta["name"],
            "LABELS": dict(meta.get("labels", {})),
            "INSTANCE_IPS": ip,
            "SERVICE_ACCOUNT": pod["spec"].get("serviceAccountName", "default"),
            "ISTIO_VERSION": istio_version,
            "PROXY_CONFIG": proxy_config,
        }
    )
    address = str(proxy_config.get("discoveryAddress", ""))
    revision = meta.get("labels", {}).get("istio.io/rev", "")
    default = f"istiod-{revision}" if revision and revision != "default" else "istiod"
    service = address.split(".", 1)[0] if address else default
    node_id = f"sidecar~{ip}~{meta['name']}.{namespace}~{namespace}.svc.cluster.local"
    return Node(node_id, metadata, service)


def istiod_address(api: Api, service: str, serving: set[str]) -> str:
    """The pod IP behind `istio-system/<service>` (its ready EndpointSlice addresses) whose
    istiod runs (`serving`: a pod being replaced may still be listed)."""
    slices = api.items(
        "/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices",
        labelSelector=f"kubernetes.io/service-name={service}",
    )
    for s in slices:
        for endpoint in s.get("endpoints") or []:
            ready = endpoint.get("conditions", {}).get("ready", True)
            if ready and endpoint["addresses"][0] in serving:
                return str(endpoint["addresses"][0])
    raise AssertionError(f"Service istio-system/{service} has no ready istiod endpoint")


def fetch(binary: Path, xds: str, node: Node, timeout: float = 60.0) -> dict[str, Any]:
    """Everything istiod sends the pod: clusters, listeners, routes, endpoints."""
    proc = subprocess.run(
        [
            str(binary),
            "--xds",
            xds,
            "--node-id",
            node.id,
            "--metadata",
            json.dumps(node.metadata),
            "--timeout",
            f"{int(timeout)}s",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout + 30,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"meshbox-sidecar for {node.id} at {xds} exited {proc.returncode}: "
            f"{proc.stderr.strip()[-2000:]}"
        )
    dump: dict[str, Any] = json.loads(proc.stdout)
    return dump
