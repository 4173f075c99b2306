"""The mesh box's Kubernetes: one simulated cluster per cluster of a mesh, real control planes.

    with Box(tmpdir, [ClusterSpec("east", "10.10.0.0/16", "10.110.0.0/16", "r1", "r1a"),
                      ClusterSpec("west", "10.20.0.0/16", "10.120.0.0/16", "r2", "r2a")]) as box:
        box.kubeconfig               # one context per cluster, named after it (admin token)
        box.cluster("east").server   # https://127.0.0.1:PORT; .token, .ca_file, .api

Per box one etcd; per cluster, all of one Kubernetes from scripts/install-apiserver -- v1.34.4,
or v1.21.14 with Box(..., kubernetes="1.21") (for Istio 1.10, which cannot install on 1.25+;
KUBERNETES below says what differs) -- a kube-apiserver
(its own --etcd-prefix, the cluster's service CIDR, a CA and serving certificate of its own, a
service-account signing key, static tokens, RBAC), a kube-controller-manager and a
kube-scheduler, and a KWOK (scripts/install-tools) in place of the kubelets: it keeps the fake
Nodes the box creates Ready and marks the Pods scheduled to them Running and Ready, with IPs of
the cluster's pod CIDR. So a Deployment rolls out as in a real cluster, the endpoint controllers
write real EndpointSlices and Endpoints, token Secrets get filled, namespaces are finalized,
approved CSRs signed.
No container runs and nothing routes a packet: what the box offers is API objects.

Everything listens on 127.0.0.1 only, on ports chosen free; every file, log included, lives
under the directory given (LAYOUT below). Each process runs in a session of its own, so no
signal meant for the test (a Ctrl-C at its terminal, say) reaches it and nothing depends on how
the test was started (in the background, SIGINT ignored, no stdin); it is stopped by its PID:
on leaving the `with` (exceptions and KeyboardInterrupt included), on SIGTERM/SIGHUP of the test
process (handled here while a box runs, where nobody else handles them: stop, then die of the
signal), at interpreter exit, and -- when started from the main thread -- by the kernel if the
test process is killed outright (PR_SET_PDEATHSIG).

Addresses the box invents: the Nodes' InternalIPs and the API server's advertised address (the
`kubernetes` Service's endpoint) are the last addresses of the pod CIDR, which KWOK never
reaches (it hands pod IPs out counting up from the first).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import functools
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from tests.meshbox.api import Api, ApiError

# The directory scripts/install-apiserver and scripts/install-tools install into.
DEFAULT_BIN_DIR = Path(__file__).resolve().parents[2] / ".tools" / "bin"
# The programs a box runs, as Box.start() finds them: those of a Kubernetes (KUBERNETES) carry
# its suffix (binaries() names them).
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
KUBERNETES_PROGRAMS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
START_TIMEOUT = 180.0
STOP_TIMEOUT = 5.0
LOG_LINES = 25

# KWOK manages the Nodes carrying this annotation (--manage-nodes-with-annotation-selector);
# the same one kwokctl's clusters use.
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
# The issuer kubeadm gives a cluster's service-account tokens.
ISSUER = "https://kubernetes.default.svc.cluster.local"

# LAYOUT under the box's directory:
#   etcd/                        the data of the box's one etcd
#   etcd.log
#   kubeconfig                   one context per cluster (admin)
#   <cluster>/pki/               ca.crt ca.key apiserver.crt apiserver.key sa.key
#   <cluster>/tokens.csv         the static tokens (admin, controller manager, scheduler, kwok)
#   <cluster>/<component>.kubeconfig
#   <cluster>/kwok.yaml          KWOK's stages
#   <cluster>/<component>.log    kube-apiserver kube-controller-manager kube-scheduler kwok
#   home/                        HOME of the processes (KWOK would read ~/.kwok/kwok.yaml)

# The controllers kube-controller-manager runs: its default set (what a real cluster does to
# the objects Istio creates: service accounts and their token Secrets, kube-root-ca.crt,
# Endpoints and EndpointSlices, workloads, namespace deletion, garbage collection, quotas,
# node lifecycle -- which takes off the not-ready taint the NodeTaint admission plugin puts on
# every new Node -- ...), less what has nothing to act on here: the cloud controllers, node
# IPAM (KWOK hands out pod IPs from --cidr) and the HPA (no metrics API: it would only log
# errors about Istio's HPAs). A shorter list does not start faster (measured: the default set
# and a list of 22 controllers were both Ready 0.5-0.7 s after the API servers).
CONTROLLERS = (
    "*",
    "-cloud-node-lifecycle-controller",
    "-service-lb-controller",
    "-node-route-controller",
    "-node-ipam-controller",
    "-horizontal-pod-autoscaler-controller",
)
# The same controllers by their names before 1.28 (kube-controller-manager 1.21's --help).
CONTROLLERS_1_21 = (
    "*",
    "-cloud-node-lifecycle",
    "-service",
    "-route",
    "-nodeipam",
    "-horizontalpodautoscaling",
)


@dataclass(frozen=True)
class Kubernetes:
    """What a box's clusters run: the programs' version and what differs between versions."""

    version: str  # the programs' (--version), also the Nodes' kubeletVersion
    suffix: str  # of the programs' names in the bin directory (scripts/install-apiserver)
    controllers: tuple[str, ...]  # kube-controller-manager --controllers
    # Flags of kube-controller-manager and kube-scheduler beyond those of every version.
    component_flags: tuple[str, ...] = ()


KUBERNETES = {
    "1.34": Kubernetes("v1.34.4", "", CONTROLLERS),
    # Every flag the box gives 1.34 exists in 1.21 and means the same there (checked against
    # the 1.21 programs' --help; --api-audiences defaults to the issuer in both). What differs:
    # the controllers' names, and the insecure HTTP port that the 1.21 controller manager and
    # scheduler still open by default (--port, 10252 and 10251 on 0.0.0.0: two clusters'
    # cannot both bind them -- measured: "failed to listen on 0.0.0.0:10252: bind: address
    # already in use", the box fails -- and the box listens on loopback only): --port=0.
    "1.21": Kubernetes("v1.21.14", "-1.21", CONTROLLERS_1_21, ("--port=0",)),
}
DEFAULT_KUBERNETES = "1.34"


def binaries(kubernetes: str = DEFAULT_KUBERNETES) -> dict[str, str]:
    """BINARIES -> the file names of those of Kubernetes `kubernetes` (KUBERNETES' keys)."""
    suffix = KUBERNETES[kubernetes].suffix
    return {name: name + suffix if name in KUBERNETES_PROGRAMS else name for name in BINARIES}


# The kwok binary has no stages built in (without any it exits: "no stages found"; kwokctl
# writes its defaults into the config it hands kwok). The box gives it those defaults, read
# from the kwok module's own source (the Go module cache, where `go install` left it): the
# Nodes' initialisation and heartbeat (by Lease), the Pods' readiness, completion (of Jobs'
# Pods) and deletion. Values the box sets on its Nodes (addresses, capacity, nodeInfo) stay.
# The same stages and flags serve Kubernetes 1.21: the APIs they use are there (coordination/v1
# Leases, Pod and Node status); status fields 1.21 does not know (hostIPs) are dropped by its
# API server (tests/tools/test_meshbox_kube.py: Nodes Ready, Leases renewed, Pods Running with
# pod IPs, on both).
KWOK_MODULE = "sigs.k8s.io/kwok"
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)

# A minimal OpenSSL configuration: no system openssl.cnf defaults leak into the certificates.
OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = meshbox
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::MESHBOX_SANS
"""


class BoxError(RuntimeError):
    """A component failed to start or to become ready; the message names it and quotes the end
    of its log."""


@dataclass(frozen=True)
class ClusterSpec:
    """One simulated cluster, as the caller wants it."""

    name: str  # the context name in the box's kubeconfig, and the Nodes' name prefix
    pod_cidr: str  # KWOK's --cidr: every pod IP
    service_cidr: str  # the API server's --service-cluster-ip-range: every ClusterIP
    region: str | None = None  # topology.kubernetes.io/region of every Node
    zone: str | None = None  # topology.kubernetes.io/zone of every Node
    nodes: int = 1
    # The API server's URL (https://host:port), where the mesh names one: the API server
    # listens on `address` at that port with a certificate for the host, and the kubeconfig
    # names the URL. The caller makes the host resolve to `address` (the box's own
    # /etc/hosts, tests/meshbox/__main__.py).
    api_server: str | None = None
    address: str = "127.0.0.1"


@dataclass
class Cluster:
    """One running simulated cluster, as its clients see it."""

    spec: ClusterSpec
    directory: Path
    port: int
    token: str  # the admin's (group system:masters)
    ca_file: Path  # the CA of the API server's serving certificate

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def server(self) -> str:
        if self.spec.api_server is not None:
            return self.spec.api_server
        return f"https://127.0.0.1:{self.port}"

    @property
    def api(self) -> Api:
        return Api(self.server, self.token, str(self.ca_file))

    def node_names(self) -> list[str]:
        return [f"{self.name}-node-{i}" for i in range(1, self.spec.nodes + 1)]

    def node_ips(self) -> list[str]:
        """The Nodes' InternalIPs: the pod CIDR's last addresses, below advertise_address."""
        network = ipaddress.ip_network(self.spec.pod_cidr)
        top = network.broadcast_address
        return [str(top - 2 - i) for i in range(self.spec.nodes)]

    @property
    def advertise_address(self) -> str:
        """The API server's, the `kubernetes` Service's endpoint: the pod CIDR's last host."""
        return str(ipaddress.ip_network(self.spec.pod_cidr).broadcast_address - 1)

    def log(self, component: str) -> Path:
        return self.directory / f"{component}.log"


@dataclass
class _Process:
    component: str  # "etcd", "kube-apiserver of east", ...
    popen: subprocess.Popen[bytes]
    log: Path
    tier: int  # stopping order: 0 the API servers' clients, 1 the API servers, 2 etcd

    def tail(self) -> str:
        return log_tail(self.log)


def log_tail(path: Path, lines: int = LOG_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(no log: {error})"
    return "\n".join(text.splitlines()[-lines:])


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open until all are chosen)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


# ---------------------------------------------------------------------------------------------
# Stopping on every way out: `with`, SIGTERM/SIGHUP, interpreter exit, death of the parent.

_LIVE: list[Box] = []
_HANDLED = (signal.SIGTERM, signal.SIGHUP)
_installed: dict[int, Any] = {}
_lock = threading.RLock()  # stop() may run in a signal handler while start() holds it
_PR_SET_PDEATHSIG = 1


def _stop_all() -> None:
    for box in list(_LIVE):
        box.stop()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    # Then die of the signal, as without the box.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _watch_signals() -> None:
    """Handle SIGTERM/SIGHUP while boxes run, where nobody else does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _HANDLED:
        if signum not in _installed and signal.getsignal(signum) is signal.SIG_DFL:
            _installed[signum] = signal.signal(signum, _on_signal)


def _unwatch_signals() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in list(_installed.items()):
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, previous)
        del _installed[signum]


atexit.register(_stop_all)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGKILL the child when its parent thread ends: the
    last resort when the test process is killed outright. Only from the main thread (whose
    end is the process's); None where prctl is unavailable."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


# ---------------------------------------------------------------------------------------------
# The box


@dataclass(eq=False)
class Box:
    """The simulated clusters of one mesh: start() / stop(), or `with Box(...) as box:`."""

    workdir: Path
    specs: Sequence[ClusterSpec]
    bin_dir: Path = DEFAULT_BIN_DIR
    timeout: float = START_TIMEOUT
    kubernetes: str = DEFAULT_KUBERNETES  # a key of KUBERNETES
    # Seconds from start(): "apiservers" (every /readyz answered), "ready" (everything).
    timings: dict[str, float] = field(default_factory=dict)
    _clusters: dict[str, Cluster] = field(default_factory=dict, init=False)
    _processes: list[_Process] = field(default_factory=list, init=False)
    _tools: dict[str, str] = field(default_factory=dict, init=False)

    # --- the public side ----------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def cluster(self, name: str) -> Cluster:
        return self._clusters[name]

    @property
    def clusters(self) -> list[Cluster]:
        return list(self._clusters.values())

    def __enter__(self) -> Box:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything, wait until every cluster is ready; on failure stop what started
        and raise BoxError."""
        self._check_specs()
        self._tools = {name: self._find(file) for name, file in binaries(self.kubernetes).items()}
        self._tools["openssl"] = self._find("openssl")
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "home").mkdir(exist_ok=True)
        with _lock:
            _LIVE.append(self)
            _watch_signals()
        started = time.monotonic()
        try:
            ports = free_ports(2 + len(self.specs))
            etcd_url = f"http://127.0.0.1:{ports[0]}"
            for spec, port in zip(self.specs, ports[2:], strict=True):
                if spec.api_server is not None:
                    port = urllib.parse.urlsplit(spec.api_server).port or 443
                directory = self.workdir / spec.name
                directory.mkdir(exist_ok=True)
                self._clusters[spec.name] = Cluster(
                    spec, directory, port, secrets.token_hex(16), directory / "pki" / "ca.crt"
                )
            self._start_etcd(etcd_url, ports[1])
            for cluster in self.clusters:
                self._prepare(cluster)
                self._start_apiserver(cluster, etcd_url)
            self._write_kubeconfig()
            self._wait(started)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process by its PID: the API servers' clients first, then the API
        servers (which exit in about a second while etcd still answers, and hang until
        killed when it is gone), then etcd; SIGTERM, SIGKILL after STOP_TIMEOUT."""
        for tier in sorted({p.tier for p in self._processes}):
            running = [p for p in self._processes if p.tier == tier and p.popen.poll() is None]
            for process in running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            for process in running:
                try:
                    process.popen.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.popen.pid, signal.SIGKILL)
                    process.popen.wait()
        self._processes.clear()
        with _lock:
            if self in _LIVE:
                _LIVE.remove(self)
            if not _LIVE:
                _unwatch_signals()

    # --- preparing ----------------------------------------------------------------------

    @property
    def release(self) -> Kubernetes:
        """The Kubernetes the box runs."""
        return KUBERNETES[self.kubernetes]

    def _check_specs(self) -> None:
        if self.kubernetes not in KUBERNETES:
            raise BoxError(
                f"unknown Kubernetes {self.kubernetes!r}: one of {', '.join(KUBERNETES)}"
            )
        names = [s.name for s in self.specs]
        if not names or len(set(names)) != len(names):
            raise BoxError(f"cluster names must be given and distinct: {names}")
        for spec in self.specs:
            for cidr in (spec.pod_cidr, spec.service_cidr):
                ipaddress.ip_network(cidr)  # ValueError names the bad one
            if ipaddress.ip_network(spec.pod_cidr).num_addresses < spec.nodes + 8:
                raise BoxError(f"pod CIDR {spec.pod_cidr} of {spec.name} is too small")

    def _find(self, name: str) -> str:
        pinned = self.bin_dir / name
        if pinned.is_file() and os.access(pinned, os.X_OK):
            return str(pinned)
        found = shutil.which(name)
        if found is None:
            raise BoxError(
                f"{name} is neither in {self.bin_dir} nor on PATH: run scripts/install-tools "
                "and scripts/install-apiserver"
            )
        return found

    def _kwok_stages(self) -> str:
        """KWOK_STAGES of the installed kwok's version (its .kwok.version stamp)."""
        stamp = Path(self._tools["kwok"]).parent / ".kwok.version"
        version = stamp.read_text().strip() if stamp.exists() else "v0.8.0"
        return kwok_stages(version)

    def _openssl(self, *args: str, env: dict[str, str] | None = None) -> None:
        done = subprocess.run(
            [self._tools["openssl"], *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        if done.returncode != 0:
            raise BoxError(f"openssl {' '.join(args)}: {done.stderr.strip()}")

    def _prepare(self, cluster: Cluster) -> None:
        """PKI, static tokens, the components' kubeconfigs, KWOK's stages."""
        pki = cluster.directory / "pki"
        pki.mkdir(exist_ok=True)
        config = pki / "openssl.cnf"
        config.write_text(OPENSSL_CONFIG)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        first_service_ip = ipaddress.ip_network(cluster.spec.service_cidr)[1]
        host = urllib.parse.urlsplit(cluster.spec.api_server or "").hostname
        sans = ",".join(
            [
                "IP:127.0.0.1",
                *([f"IP:{cluster.spec.address}", f"DNS:{host}"] if host else []),
                f"IP:{first_service_ip}",
                "DNS:localhost",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                "DNS:kubernetes.default.svc.cluster.local",
            ]
        )
        self._openssl(
            "req", "-x509", "-config", str(config), "-extensions", "ca", *ec,
            "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-days", "3650",
            "-subj", f"/CN=meshbox-{cluster.name}-ca",
            env={"MESHBOX_SANS": sans},
        )  # fmt: skip
        self._openssl(
            "req", "-x509", "-config", str(config), "-extensions", "server", *ec,
            "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
            "-keyout", str(pki / "apiserver.key"), "-out", str(pki / "apiserver.crt"),
            "-days", "3650", "-subj", "/CN=kube-apiserver",
            env={"MESHBOX_SANS": sans},
        )  # fmt: skip
        # RSA, as kubeadm's: RS256 service-account tokens.
        self._openssl(
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", str(pki / "sa.key"),
        )  # fmt: skip
        # The components' identities: the controller manager and the scheduler as kubeadm's
        # (the bootstrap RBAC roles of those users), KWOK as kwokctl's (cluster admin).
        tokens = {
            "admin": cluster.token,
            "kube-controller-manager": secrets.token_hex(16),
            "kube-scheduler": secrets.token_hex(16),
            "kwok": secrets.token_hex(16),
        }
        (cluster.directory / "tokens.csv").write_text(
            f'{tokens["admin"]},admin,admin,"system:masters"\n'
            f"{tokens['kube-controller-manager']},system:kube-controller-manager,"
            "system:kube-controller-manager\n"
            f"{tokens['kube-scheduler']},system:kube-scheduler,system:kube-scheduler\n"
            f'{tokens["kwok"]},kwok,kwok,"system:masters"\n'
        )
        for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
            (cluster.directory / f"{component}.kubeconfig").write_text(
                json.dumps(self._kubeconfig_of([(cluster, component, tokens[component])]), indent=2)
            )
        (cluster.directory / "kwok.yaml").write_text(self._kwok_stages())

    @staticmethod
    def _kubeconfig_of(entries: list[tuple[Cluster, str, str]]) -> dict[str, Any]:
        """A kubeconfig, one context (named after the cluster) per (cluster, user, token)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": c.name,
                    "cluster": {
                        "server": c.server,
                        "certificate-authority-data": base64.b64encode(
                            c.ca_file.read_bytes()
                        ).decode(),
                    },
                }
                for c, _, _ in entries
            ],
            "users": [
                {"name": f"{c.name}-{user}", "user": {"token": token}} for c, user, token in entries
            ],
            "contexts": [
                {"name": c.name, "context": {"cluster": c.name, "user": f"{c.name}-{user}"}}
                for c, user, _ in entries
            ],
            "current-context": entries[0][0].name,
            "preferences": {},
        }

    def _write_kubeconfig(self) -> None:
        config = self._kubeconfig_of([(c, "admin", c.token) for c in self.clusters])
        self.kubeconfig.write_text(json.dumps(config, indent=2))

    # --- starting -----------------------------------------------------------------------

    def _spawn(self, component: str, tier: int, log: Path, *argv: str) -> _Process:
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "HOME": str(self.workdir / "home")},
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        process = _Process(component, popen, log, tier)
        self._processes.append(process)
        return process

    def _start_etcd(self, url: str, peer_port: int) -> None:
        peer = f"http://127.0.0.1:{peer_port}"
        self._spawn(
            "etcd",
            2,
            self.workdir / "etcd.log",
            self._tools["etcd"],
            "--name=meshbox",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=meshbox={peer}",
            # Throw-away data: no fsync (etcd's own test setting), warnings only in the log.
            "--unsafe-no-fsync",
            "--log-level=warn",
        )

    def _start_apiserver(self, cluster: Cluster, etcd_url: str) -> None:
        pki = cluster.directory / "pki"
        self._spawn(
            f"kube-apiserver of {cluster.name}",
            1,
            cluster.log("kube-apiserver"),
            self._tools["kube-apiserver"],
            f"--etcd-servers={etcd_url}",
            f"--etcd-prefix=/{cluster.name}/registry",
            f"--bind-address={cluster.spec.address}",
            f"--secure-port={cluster.port}",
            f"--advertise-address={cluster.advertise_address}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--service-cluster-ip-range={cluster.spec.service_cidr}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={pki / 'sa.key'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--token-auth-file={cluster.directory / 'tokens.csv'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=RBAC",
            # Istio CNI and ztunnel run privileged pods.
            "--allow-privileged=true",
            # Webhook and aggregated-API calls go to an endpoint of the Service, not to its
            # ClusterIP: no kube-proxy routes ClusterIPs here.
            "--enable-aggregator-routing=true",
            # Startup: no priority-and-fairness bootstrap configuration to write and wait for
            # (max-in-flight limits instead): /readyz 0.3-0.8 s sooner (measured, 2 clusters).
            "--enable-priority-and-fairness=false",
            "--profiling=false",
        )

    def _start_controllers(self, cluster: Cluster) -> None:
        """After the cluster's API server is ready: the controller manager gives it 10 s only."""
        directory = cluster.directory
        pki = directory / "pki"
        self._spawn(
            f"kube-controller-manager of {cluster.name}",
            0,
            cluster.log("kube-controller-manager"),
            self._tools["kube-controller-manager"],
            f"--kubeconfig={directory / 'kube-controller-manager.kubeconfig'}",
            "--leader-elect=false",
            # No HTTPS endpoint (no port to choose); readiness is seen in the objects it makes.
            "--secure-port=0",
            f"--controllers={','.join(self.release.controllers)}",
            # Each controller acts as its own service account, as in kubeadm's clusters.
            "--use-service-account-credentials=true",
            # Signs the tokens of kubernetes.io/service-account-token Secrets.
            f"--service-account-private-key-file={pki / 'sa.key'}",
            # ca.crt of those Secrets and of the kube-root-ca.crt ConfigMaps.
            f"--root-ca-file={pki / 'ca.crt'}",
            # The cluster CA signs approved CertificateSigningRequests (kubeadm's setup; the
            # API server trusts the client certificates it signs: --client-ca-file).
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            # The default client-side limit, 20 requests/s (burst 30), paces the controllers'
            # start-up requests (each controller's service account and token, discovery, the
            # first lists): with it, 2 clusters were ready 2.5 s after their API servers,
            # without it 0.5 s (measured). Nobody else shares this API server.
            "--kube-api-qps=500",
            "--kube-api-burst=1000",
            *self.release.component_flags,
        )
        self._spawn(
            f"kube-scheduler of {cluster.name}",
            0,
            cluster.log("kube-scheduler"),
            self._tools["kube-scheduler"],
            f"--kubeconfig={directory / 'kube-scheduler.kubeconfig'}",
            "--leader-elect=false",
            "--secure-port=0",
            *self.release.component_flags,
        )
        self._spawn(
            f"kwok of {cluster.name}",
            0,
            cluster.log("kwok"),
            self._tools["kwok"],
            f"--kubeconfig={directory / 'kwok.kubeconfig'}",
            f"--config={directory / 'kwok.yaml'}",
            f"--manage-nodes-with-annotation-selector={'='.join(KWOK_ANNOTATION)}",
            f"--cidr={cluster.spec.pod_cidr}",
            f"--node-ip={cluster.node_ips()[0]}",
            # Node heartbeats by Lease (kwokctl's default): the node lifecycle controller
            # keeps the Nodes Ready.
            "--node-lease-duration-seconds=40",
        )

    def _create_nodes(self, cluster: Cluster) -> None:
        api = cluster.api
        for name, ip in zip(cluster.node_names(), cluster.node_ips(), strict=True):
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            }
            if cluster.spec.region:
                labels[REGION_LABEL] = cluster.spec.region
            if cluster.spec.zone:
                labels[ZONE_LABEL] = cluster.spec.zone
            resources = {"cpu": "32", "memory": "256Gi", "pods": "250"}
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1]},
                },
                # A Node's status may be set on creation (the kubelet registers so).
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": ip},
                        {"type": "Hostname", "address": name},
                    ],
                    "allocatable": resources,
                    "capacity": resources,
                    "nodeInfo": {
                        "architecture": "amd64",
                        "operatingSystem": "linux",
                        "kubeletVersion": self.release.version,
                        "containerRuntimeVersion": "kwok",
                    },
                },
            }
            api.create("/api/v1/nodes", node)

    # --- waiting ------------------------------------------------------------------------

    def _wait(self, started: float) -> None:
        """Poll every cluster through its stages; fail fast when a process exits."""
        stage = dict.fromkeys(self._clusters, "apiserver")
        deadline = started + self.timeout
        while True:
            self._check_alive()
            for name, cluster in self._clusters.items():
                if stage[name] == "apiserver" and _readyz(cluster):
                    self._start_controllers(cluster)
                    self._create_nodes(cluster)
                    stage[name] = "controllers"
                    if all(s != "apiserver" for s in stage.values()):
                        self.timings["apiservers"] = time.monotonic() - started
                if stage[name] == "controllers" and _controllers_ready(cluster):
                    stage[name] = "ready"
            if all(s == "ready" for s in stage.values()):
                self.timings["ready"] = time.monotonic() - started
                return
            if time.monotonic() > deadline:
                raise BoxError(self._timeout_report(stage))
            time.sleep(0.2)

    def _check_alive(self) -> None:
        for process in self._processes:
            code = process.popen.poll()
            if code is not None:
                raise BoxError(
                    f"{process.component} exited with code {code} during startup; "
                    f"last lines of {process.log}:\n{process.tail()}"
                )

    def _timeout_report(self, stage: dict[str, str]) -> str:
        lines = [f"the mesh box was not ready after {self.timeout:.0f} s:"]
        for name, at in stage.items():
            if at == "ready":
                continue
            cluster = self._clusters[name]
            if at == "apiserver":
                lines.append(f"- {name}: kube-apiserver never answered /readyz")
                components = ["kube-apiserver"]
            else:
                lines.append(
                    f"- {name}: {_controllers_pending(cluster)} "
                    "(kube-controller-manager, kube-scheduler, kwok)"
                )
                components = ["kube-controller-manager", "kwok"]
            for component in components:
                log = cluster.log(component)
                lines.append(f"  last lines of {log}:\n{log_tail(log)}")
        return "\n".join(lines)


@functools.cache
def kwok_stages(version: str) -> str:
    """KWOK_STAGES of sigs.k8s.io/kwok@version as one YAML stream."""
    command = ["go", "mod", "download", "-json", f"{KWOK_MODULE}@{version}"]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=tempfile.gettempdir(),  # outside any module
            stdin=subprocess.DEVNULL,
        )
    except OSError as error:
        raise BoxError(f"cannot read KWOK's stages: {' '.join(command)}: {error}") from None
    try:
        root = Path(json.loads(done.stdout)["Dir"]) / "kustomize" / "stage"
        return "\n---\n".join((root / stage).read_text() for stage in KWOK_STAGES)
    except (ValueError, KeyError, OSError) as error:
        raise BoxError(
            f"cannot read KWOK's stages ({error!r}); {' '.join(command)} said: "
            f"{done.stdout}{done.stderr}"
        ) from None


def _readyz(cluster: Cluster) -> bool:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    request = urllib.request.Request(cluster.server + "/readyz")
    request.add_header("Authorization", f"Bearer {cluster.token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _controllers_pending(cluster: Cluster) -> str:
    """What the cluster still lacks once its API server is up ("" if nothing): the default
    ServiceAccount (the controller manager runs), every Node Ready and untainted (KWOK runs,
    the node lifecycle controller took the not-ready taint off)."""
    api = cluster.api
    try:
        if api.maybe("/api/v1/namespaces/default/serviceaccounts/default") is None:
            return "no ServiceAccount default/default yet"
        nodes = {n["metadata"]["name"]: n for n in api.items("/api/v1/nodes")}
    except (ApiError, OSError) as error:
        return f"API error: {error}"
    for name in cluster.node_names():
        node = nodes.get(name)
        if node is None:
            return f"no Node {name}"
        conditions = {
            c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []
        }
        if conditions.get("Ready") != "True":
            return f"Node {name} not Ready"
        taints = [t["key"] for t in (node.get("spec") or {}).get("taints") or []]
        if taints:
            return f"Node {name} tainted {taints}"
    return ""


def _controllers_ready(cluster: Cluster) -> bool:
    return _controllers_pending(cluster) == ""
