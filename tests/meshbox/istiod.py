"""The box's kubelet for istiod pods: KWOK marks every pod Running with an IP of its cluster's
pod CIDR; for a pod of istiod, the box then runs that release's own `pilot-discovery` as a
local process, with exactly what the pod would get: its container's args and environment
(fieldRef, resourceFieldRef, ConfigMap and Secret refs resolved from the API server), its
volumes (the mesh ConfigMap, cacerts, projected tokens) laid out under a directory of its own,
which is the process's working directory (istiod's default paths are relative: ./etc/cacerts,
./etc/istio/config/mesh, ./var/run/secrets/...), and its pod IP: the box runs in a network
namespace where every pod CIDR is local, so istiod listens on its pod's address, where the
API server's webhook calls (aggregator routing) and the sidecars reach it.

The differences from a pod, each forced by running outside one: `--kubeconfig` with a token
of the pod's service account instead of the in-cluster config, and each listener bound to
the pod IP (pods of one box share a network namespace), ctrlz included.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.meshbox.api import Api, Obj

# The ports of istiod's container (its Deployment) and the flags that set their addresses.
LISTENERS = {
    "--grpcAddr": 15010,
    "--secureGRPCAddr": 15012,
    "--monitoringAddr": 15014,
    "--httpsAddr": 15017,
    "--httpAddr": 8080,
}
READY_TIMEOUT = 90.0


def is_istiod(pod: Obj) -> bool:
    labels = pod.get("metadata", {}).get("labels", {})
    return bool(labels.get("app") == "istiod" or labels.get("istio") == "pilot")


def discovery_container(pod: Obj) -> Obj:
    containers: list[Obj] = pod["spec"]["containers"]
    for c in containers:
        if c["name"] == "discovery":
            return c
    return containers[0]


@dataclass
class IstiodProcess:
    cluster: str
    pod: str
    ip: str
    revision: str
    process: subprocess.Popen[bytes]
    root: Path
    log: Path
    binary: Path  # pilot-discovery-<release>
    ready: bool = False

    @property
    def xds(self) -> str:
        return f"{self.ip}:{LISTENERS['--grpcAddr']}"

    @property
    def monitoring(self) -> str:
        return f"http://{self.ip}:{LISTENERS['--monitoringAddr']}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@dataclass
class Kubelet:
    """Runs the istiod pods of one cluster; `binary`: pilot-discovery of the release the
    pod's image names (a function of the image tag)."""

    cluster: str
    api: Api
    binary_for: Any  # Callable[[str], Path]: image -> pilot-discovery
    workdir: Path
    running: dict[str, IstiodProcess] = field(default_factory=dict)

    def sync(self, wait: bool = True) -> list[IstiodProcess]:
        """Start a process for each Running istiod pod without one, stop those whose pod is
        gone; with `wait`, until every process answers /ready (as the pod's readiness probe:
        KWOK calls the pods Ready at once). Returns the processes started."""
        pods = [
            p for p in self.api.items("/api/v1/pods", labelSelector="app=istiod") if is_istiod(p)
        ]
        live = {
            p["metadata"]["uid"]: p
            for p in pods
            if p.get("status", {}).get("phase") == "Running"
            and p.get("status", {}).get("podIP")
            and not p["metadata"].get("deletionTimestamp")
        }
        for uid in list(self.running):
            if uid not in live:
                self.running.pop(uid).stop()
        started = []
        for uid, pod in live.items():
            if uid not in self.running:
                self.running[uid] = self._start(pod)
                started.append(self.running[uid])
        if wait:
            for proc in self.running.values():
                self._wait_ready(proc)
        return started

    def stop_all(self) -> None:
        for proc in self.running.values():
            proc.stop()
        self.running.clear()

    # --- one pod -------------------------------------------------------------------------

    def _start(self, pod: Obj) -> IstiodProcess:
        meta = pod["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        ip = pod["status"]["podIP"]
        container = discovery_container(pod)
        root = self.workdir / self.cluster / name
        root.mkdir(parents=True, exist_ok=True)
        self._volumes(pod, container, root)
        env = self._env(pod, container)
        account = pod["spec"].get("serviceAccountName", "default")
        kubeconfig = root / "meshbox-kubeconfig"
        kubeconfig.write_text(self._kubeconfig(self.api.token_for(namespace, account)))
        args = [str(a) for a in container.get("args", [])]
        args = _without_flags(args, [*LISTENERS, "--ctrlz_address", "--kubeconfig"])
        for flag, port in LISTENERS.items():
            args.append(f"{flag}={ip}:{port}")
        args += [f"--ctrlz_address={ip}", f"--kubeconfig={kubeconfig}"]
        binary = self.binary_for(container["image"])
        log = root / "istiod.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(binary), *args],
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        revision = env.get("REVISION", "default")
        return IstiodProcess(self.cluster, name, ip, revision, process, root, log, binary)

    def _wait_ready(self, proc: IstiodProcess) -> None:
        if proc.ready:
            return
        deadline = time.monotonic() + READY_TIMEOUT
        url = f"http://{proc.ip}:{LISTENERS['--httpAddr']}/ready"
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(
                    f"istiod pod {proc.pod} of cluster {self.cluster} exited "
                    f"{proc.process.returncode}:\n{proc.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        proc.ready = True
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"istiod pod {proc.pod} of cluster {self.cluster} not ready after "
            f"{READY_TIMEOUT:.0f} s:\n{proc.log_tail()}"
        )

    def _kubeconfig(self, token: str) -> str:
        ca = (
            f"certificate-authority: {self.api.ca_file}"
            if self.api.ca_file
            else ("insecure-skip-tls-verify: true")
        )
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: c\n  cluster:\n    server: {self.api.server}\n    {ca}\n"
            f"users:\n- name: u\n  user:\n    token: {token}\n"
            "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
            "current-context: c\n"
        )

    def _env(self, pod: Obj, container: Obj) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": pod["metadata"]["name"]}
        namespace = pod["metadata"]["namespace"]
        for item in container.get("env", []):
            value = item.get("value")
            source = item.get("valueFrom")
            if source is not None:
                value = self._value_from(pod, container, namespace, source)
            if value is not None:
                env[item["name"]] = _expand(str(value), env)
        return env

    def _value_from(self, pod: Obj, container: Obj, namespace: str, source: Obj) -> str | None:
        if "fieldRef" in source:
            return _field(pod, source["fieldRef"]["fieldPath"])
        if "resourceFieldRef" in source:
            return _resource(container, source["resourceFieldRef"])
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = self.api.maybe(f"/api/v1/namespaces/{namespace}/configmaps/{ref['name']}")
            return None if cm is None else cm.get("data", {}).get(ref["key"])
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = self.api.maybe(f"/api/v1/namespaces/{namespace}/secrets/{ref['name']}")
            raw = None if secret is None else secret.get("data", {}).get(ref["key"])
            return None if raw is None else base64.b64decode(raw).decode()
        return None

    def _volumes(self, pod: Obj, container: Obj, root: Path) -> None:
        namespace = pod["metadata"]["namespace"]
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"])
            if volume is None:
                continue
            target = root / mount["mountPath"].lstrip("/")
            if mount.get("subPath"):
                continue  # none of istiod's mounts uses one
            target.mkdir(parents=True, exist_ok=True)
            for rel, data in self._files(pod, namespace, volume).items():
                _write(target / rel, data)

    def _files(self, pod: Obj, namespace: str, volume: Obj) -> dict[str, bytes]:
        if "configMap" in volume:
            return self._config_map(namespace, volume["configMap"])
        if "secret" in volume:
            return self._secret(namespace, volume["secret"])
        if "projected" in volume:
            files: dict[str, bytes] = {}
            for source in volume["projected"].get("sources", []):
                if "serviceAccountToken" in source:
                    token = source["serviceAccountToken"]
                    account = pod["spec"].get("serviceAccountName", "default")
                    value = self.api.token_for(namespace, account, token.get("audience"))
                    files[token["path"]] = value.encode()
                elif "configMap" in source:
                    files.update(self._config_map(namespace, source["configMap"]))
                elif "secret" in source:
                    files.update(self._secret(namespace, source["secret"]))
                elif "downwardAPI" in source:
                    files.update(_downward(pod, source["downwardAPI"]))
            return files
        if "downwardAPI" in volume:
            return _downward(pod, volume["downwardAPI"])
        return {}  # emptyDir and the like: the directory alone

    def _config_map(self, namespace: str, ref: Obj) -> dict[str, bytes]:
        cm = self.api.maybe(f"/api/v1/namespaces/{namespace}/configmaps/{ref['name']}")
        if cm is None:
            if ref.get("optional"):
                return {}
            raise RuntimeError(f"{self.cluster}: ConfigMap {namespace}/{ref['name']} missing")
        data = {k: v.encode() for k, v in cm.get("data", {}).items()}
        return _select(data, ref.get("items"))

    def _secret(self, namespace: str, ref: Obj) -> dict[str, bytes]:
        name = ref.get("secretName") or ref.get("name")
        secret = self.api.maybe(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if secret is None:
            if ref.get("optional"):
                return {}
            raise RuntimeError(f"{self.cluster}: Secret {namespace}/{name} missing")
        data = {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}
        return _select(data, ref.get("items"))


def _select(data: dict[str, bytes], items: list[Obj] | None) -> dict[str, bytes]:
    if not items:
        return data
    return {i["path"]: data[i["key"]] for i in items if i["key"] in data}


def _field(pod: Obj, path: str) -> str | None:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "spec.nodeName": spec.get("nodeName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        value = simple[path]
        return None if value is None else str(value)
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['"):
            key = path[len(prefix) + 2 : -2]
            value = meta.get(source, {}).get(key)
            return None if value is None else str(value)
    return None


def _resource(container: Obj, ref: Obj) -> str:
    """limits/requests of cpu or memory, in the divisor's unit (rounded up, as the kubelet
    does); an unset limit is the node's capacity, which for the box is plenty."""
    resource = ref["resource"]
    kind, _, what = resource.partition(".")
    quantity = container.get("resources", {}).get(kind, {}).get(what)
    if quantity is None:
        return "2" if what == "cpu" else str(8 << 30)
    value = _quantity(str(quantity))
    divisor = _quantity(str(ref.get("divisor", "1")))
    return str(max(1, -(-int(value * 1000) // int(divisor * 1000))))


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def _downward(pod: Obj, spec: Obj) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    meta = pod["metadata"]
    for item in spec.get("items", []):
        path = item.get("fieldRef", {}).get("fieldPath", "")
        if path in ("metadata.labels", "metadata.annotations"):
            values = meta.get(path.split(".")[1], {})
            files[item["path"]] = "\n".join(
                f'{k}="{v}"' for k, v in sorted(values.items())
            ).encode()
        elif path:
            files[item["path"]] = (_field(pod, path) or "").encode()
    return files


def _expand(value: str, env: dict[str, str]) -> str:
    """$(VAR) references, as the kubelet expands them."""
    for name, known in env.items():
        value = value.replace(f"$({name})", known)
    return value


def _without_flags(args: list[str], flags: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in flags:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out
