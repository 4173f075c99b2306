"""The mesh box's simulated clusters (tests/meshbox/kube.py) behave as Istio needs them to.

Two clusters, each its own kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on
one etcd, driven with the real kubectl v1.34.4 through the box's kubeconfig (one context per
cluster): a Deployment rolls out onto the KWOK nodes, its pods get IPs of their cluster's pod
CIDR, its Service a ClusterIP of the cluster's service CIDR, the endpoint controllers list
exactly the pods' IPs (EndpointSlices for Istio 1.30, Endpoints for 1.10), a token Secret of a
new ServiceAccount gets its token, TokenRequest works, RBAC holds, the Nodes carry the topology
labels given, namespaces are finalized, approved CSRs are signed by a CA the API server
trusts, webhooks are called at their Service's endpoints; a component that fails to start is
named. All of it on each Kubernetes a box offers (KUBERNETES: 1.34, and 1.21 for Istio 1.10),
with the same kubectl (server-side apply of a kustomization included); on 1.21 also: a new
ServiceAccount gets a token Secret of its own (what Istio 1.10's `istioctl x create-remote-secret`
reads), and the APIs Istio 1.10 installs are served. A Kubernetes whose binaries
scripts/install-tools and scripts/install-apiserver have not built is skipped.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.meshbox.kube import (
    DEFAULT_BIN_DIR,
    KUBERNETES,
    REGION_LABEL,
    ZONE_LABEL,
    Box,
    BoxError,
    ClusterSpec,
    binaries,
)

pytestmark = pytest.mark.tools

SPECS = [
    ClusterSpec("east", "10.10.0.0/16", "10.110.0.0/16", "eu-west", "eu-west-1a"),
    ClusterSpec("west", "10.20.0.0/16", "10.120.0.0/16", "us-east", "us-east-1b"),
]
NAMES = [s.name for s in SPECS]
TIMEOUT = 60.0


def binary(name: str) -> str | None:
    pinned = DEFAULT_BIN_DIR / name
    return str(pinned) if pinned.exists() else shutil.which(name)


def skip_unless_installed(kubernetes: str, *more: str) -> None:
    missing = [n for n in (*binaries(kubernetes).values(), *more) if binary(n) is None]
    if missing:
        pytest.skip(
            f"not installed: {', '.join(missing)} "
            "(scripts/install-tools and scripts/install-apiserver build them)"
        )


# One box per Kubernetes (module scope: each test runs on both).
@pytest.fixture(scope="module", params=list(KUBERNETES))
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    kubernetes: str = request.param
    skip_unless_installed(kubernetes, "kubectl", "openssl")
    with Box(tmp_path_factory.mktemp("meshbox"), SPECS, kubernetes=kubernetes) as running:
        yield running


Kubectl = Callable[..., str]


@pytest.fixture
def kubectl(box: Box, tmp_path: Path) -> Kubectl:
    """kubectl CONTEXT ARGS... -> stdout; fails the test on an exit code not in `codes`."""
    executable = binary("kubectl")
    assert executable is not None
    env = {**os.environ, "KUBECONFIG": str(box.kubeconfig), "HOME": str(tmp_path)}

    def run(
        context: str, *args: str, stdin: str | None = None, codes: tuple[int, ...] = (0,)
    ) -> str:
        done = subprocess.run(
            [executable, "--context", context, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=TIMEOUT + 30,
        )
        assert done.returncode in codes, (
            f"kubectl --context {context} {' '.join(args)}: {done.stderr}"
        )
        return done.stdout

    return run


def get(kubectl: Kubectl, context: str, *args: str) -> Any:
    return json.loads(kubectl(context, "get", *args, "-o", "json"))


def eventually(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {TIMEOUT:.0f}s waiting for {what}")
        time.sleep(0.2)


def spec_of(name: str) -> ClusterSpec:
    return next(s for s in SPECS if s.name == name)


def workload(namespace: str) -> str:
    return f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {namespace}
spec:
  selector: {{app: web}}
  ports:
  - name: http
    port: 80
    targetPort: 8080
"""


def roll_out(kubectl: Kubectl, context: str, namespace: str) -> None:
    kubectl(context, "apply", "-f", "-", stdin=workload(namespace))
    kubectl(
        context,
        "-n",
        namespace,
        "wait",
        "deployment/web",
        "--for=condition=Available",
        f"--timeout={TIMEOUT:.0f}s",
    )


def test_kubeconfig_has_one_context_per_cluster(box: Box, kubectl: Kubectl) -> None:
    contexts = kubectl(NAMES[0], "config", "get-contexts", "-o", "name").split()
    assert sorted(contexts) == sorted(NAMES)
    for name in NAMES:
        version = json.loads(kubectl(name, "version", "-o", "json"))
        # Built with the version ldflags: clients choosing APIs by server version see 1.34
        # (or 1.21).
        assert version["serverVersion"]["gitVersion"] == KUBERNETES[box.kubernetes].version
        cluster = box.cluster(name)
        assert cluster.server.startswith("https://127.0.0.1:")
        assert cluster.ca_file.is_file()
        assert cluster.api.get("/api/v1/namespaces/default")["metadata"]["name"] == "default"


def test_apis_istio_1_10_installs(box: Box, kubectl: Kubectl) -> None:
    """Why the box offers 1.21: Istio 1.10's istioctl install creates PodDisruptionBudgets of
    policy/v1beta1 and HorizontalPodAutoscalers of autoscaling/v2beta1, gone in 1.25."""
    served = set(kubectl(NAMES[0], "api-versions").split())
    wanted = {"policy/v1beta1", "autoscaling/v2beta1"}
    if box.kubernetes == "1.21":
        assert wanted <= served
    else:
        assert not wanted & served


@pytest.mark.parametrize("name", NAMES)
def test_nodes_are_ready_with_topology_labels(box: Box, kubectl: Kubectl, name: str) -> None:
    spec = spec_of(name)
    nodes = get(kubectl, name, "nodes")["items"]
    assert len(nodes) == spec.nodes
    for node in nodes:
        labels = node["metadata"]["labels"]
        assert labels[REGION_LABEL] == spec.region
        assert labels[ZONE_LABEL] == spec.zone
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True"
        assert not node["spec"].get("taints")
        assert not node["spec"].get("unschedulable")
        assert node["status"]["nodeInfo"]["kubeletVersion"] == KUBERNETES[box.kubernetes].version
    # KWOK's heartbeat: a Lease per Node, renewed (the node lifecycle controller reads them).
    leases = {
        lease["metadata"]["name"]: lease
        for lease in get(kubectl, name, "-n", "kube-node-lease", "leases")["items"]
    }
    for node in nodes:
        node_name = node["metadata"]["name"]
        spec = leases[node_name]["spec"]
        assert spec["leaseDurationSeconds"] == 40  # kube.py's --node-lease-duration-seconds
        renewed = spec["renewTime"]

        def renewed_again() -> bool:
            lease = get(kubectl, name, "-n", "kube-node-lease", "lease", node_name)  # noqa: B023
            return bool(lease["spec"]["renewTime"] != renewed)  # noqa: B023

        eventually(f"KWOK to renew the Lease of {node_name}", renewed_again)


@pytest.mark.parametrize("name", NAMES)
def test_deployment_service_and_endpoints(kubectl: Kubectl, name: str) -> None:
    spec = spec_of(name)
    roll_out(kubectl, name, "demo")
    pods = get(kubectl, name, "-n", "demo", "pods", "-l", "app=web")["items"]
    assert len(pods) == 2
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    pod_ips = {p["status"]["podIP"] for p in pods}
    assert len(pod_ips) == 2
    for ip in pod_ips:
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(spec.pod_cidr), ip

    service = get(kubectl, name, "-n", "demo", "service", "web")
    cluster_ip = ipaddress.ip_address(service["spec"]["clusterIP"])
    assert cluster_ip in ipaddress.ip_network(spec.service_cidr)

    def slice_addresses() -> set[str]:
        slices = get(
            kubectl, name, "-n", "demo", "endpointslices", "-l", "kubernetes.io/service-name=web"
        )["items"]
        return {
            address
            for s in slices
            for endpoint in s.get("endpoints") or []
            if (endpoint.get("conditions") or {}).get("ready")
            for address in endpoint["addresses"]
        }

    def endpoints_addresses() -> set[str]:
        endpoints = get(kubectl, name, "-n", "demo", "endpoints", "web")
        return {a["ip"] for subset in endpoints.get("subsets") or [] for a in subset["addresses"]}

    eventually("the EndpointSlice to list both pods", lambda: slice_addresses() == pod_ips)
    eventually("the Endpoints to list both pods", lambda: endpoints_addresses() == pod_ips)


@pytest.mark.parametrize("name", NAMES)
def test_service_account_tokens(box: Box, kubectl: Kubectl, name: str) -> None:
    kubectl(
        name,
        "apply",
        "-f",
        "-",
        stdin="""
apiVersion: v1
kind: Namespace
metadata:
  name: tokens
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
  namespace: tokens
---
apiVersion: v1
kind: Secret
metadata:
  name: reader-token
  namespace: tokens
  annotations:
    kubernetes.io/service-account.name: reader
type: kubernetes.io/service-account-token
""",
    )

    def filled() -> bool:
        secret = get(kubectl, name, "-n", "tokens", "secret", "reader-token")
        return bool((secret.get("data") or {}).get("token"))

    eventually("the controller manager to fill the token Secret", filled)
    data = get(kubectl, name, "-n", "tokens", "secret", "reader-token")["data"]
    assert base64.b64decode(data["namespace"]) == b"tokens"
    assert base64.b64decode(data["ca.crt"]) == box.cluster(name).ca_file.read_bytes()
    secret_token = base64.b64decode(data["token"]).decode()
    requested = kubectl(name, "-n", "tokens", "create", "token", "reader").strip()
    for token in (secret_token, requested):
        assert username(box, kubectl, name, token) == "system:serviceaccount:tokens:reader"
        # RBAC holds: a fresh service account may not read Secrets (can-i exits 1 on "no").
        can = kubectl(name, "--token", token, "auth", "can-i", "list", "secrets", codes=(0, 1))
        assert can.strip() == "no"


def username(box: Box, kubectl: Kubectl, context: str, token: str) -> str:
    """Whom the API server takes the bearer of `token` for: `kubectl auth whoami` (a
    SelfSubjectReview, Kubernetes 1.28+), on 1.21 a TokenReview (the same authenticators)."""
    if box.kubernetes != "1.21":
        whoami = json.loads(kubectl(context, "--token", token, "auth", "whoami", "-o", "json"))
        return str(whoami["status"]["userInfo"]["username"])
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    status = json.loads(
        kubectl(context, "create", "-f", "-", "-o", "json", stdin=json.dumps(review))
    )["status"]
    assert status.get("authenticated"), status
    return str(status["user"]["username"])


@pytest.mark.parametrize("name", NAMES)
def test_service_account_gets_a_token_secret(box: Box, kubectl: Kubectl, name: str) -> None:
    """Kubernetes 1.21's token controller gives each ServiceAccount a token Secret of its own,
    listed in its `secrets` (Istio 1.10's `istioctl x create-remote-secret` reads the
    istio-reader service account's); 1.24+ no longer does."""
    if box.kubernetes != "1.21":
        pytest.skip(f"Kubernetes {box.kubernetes} creates no token Secrets of its own")
    kubectl(
        name,
        "apply",
        "-f",
        "-",
        stdin="""
apiVersion: v1
kind: Namespace
metadata:
  name: remote
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: istio-reader
  namespace: remote
""",
    )

    def listed() -> bool:
        account = get(kubectl, name, "-n", "remote", "serviceaccount", "istio-reader")
        return bool(account.get("secrets"))

    eventually("the token controller to give the ServiceAccount a Secret", listed)
    account = get(kubectl, name, "-n", "remote", "serviceaccount", "istio-reader")
    (reference,) = account["secrets"]
    secret = get(kubectl, name, "-n", "remote", "secret", reference["name"])
    assert secret["type"] == "kubernetes.io/service-account-token"
    annotations = secret["metadata"]["annotations"]
    assert annotations["kubernetes.io/service-account.name"] == "istio-reader"
    assert annotations["kubernetes.io/service-account.uid"] == account["metadata"]["uid"]
    data = secret["data"]
    assert base64.b64decode(data["ca.crt"]) == box.cluster(name).ca_file.read_bytes()
    token = base64.b64decode(data["token"]).decode()
    assert username(box, kubectl, name, token) == "system:serviceaccount:remote:istio-reader"


def test_namespace_deletion_is_finalized(kubectl: Kubectl) -> None:
    # Kubernetes' namespace controller starts on a deleted namespace 5 s after each change of
    # it (hard-coded); with running pods it takes two such passes (about 10 s, measured):
    # both clusters at once.
    for name in NAMES:
        roll_out(kubectl, name, "doomed")
        kubectl(name, "delete", "namespace", "doomed", "--wait=false")
    for name in NAMES:
        kubectl(name, "wait", "--for=delete", "namespace/doomed", f"--timeout={TIMEOUT:.0f}s")


@pytest.mark.parametrize("kubernetes", list(KUBERNETES))
def test_a_component_failing_to_start_is_named(tmp_path: Path, kubernetes: str) -> None:
    """BoxError names the component and quotes its log; nothing is left running."""
    skip_unless_installed(kubernetes, "openssl")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in binaries(kubernetes).values():
        real = binary(name)
        assert real is not None
        (bin_dir / name).symlink_to(real)
    (bin_dir / "kwok").unlink()
    (bin_dir / "kwok").write_text("#!/bin/sh\necho 'kwok: no kubelet today' >&2\nexit 7\n")
    (bin_dir / "kwok").chmod(0o755)
    box = Box(tmp_path / "box", SPECS[:1], bin_dir=bin_dir, kubernetes=kubernetes)
    with pytest.raises(BoxError, match=r"kwok of east exited with code 7") as caught:
        box.start()
    assert "kwok: no kubelet today" in str(caught.value)
    leftovers = subprocess.run(
        ["pgrep", "-f", str(bin_dir)], capture_output=True, text=True, check=False
    ).stdout
    assert not leftovers, f"processes left running: {leftovers}"


def test_certificate_signing_requests(box: Box, kubectl: Kubectl, tmp_path: Path) -> None:
    """The controller manager signs approved CSRs with the cluster CA, which the API server
    trusts for client certificates."""
    name = NAMES[0]
    key, request = tmp_path / "client.key", tmp_path / "client.csr"
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(request), "-subj", "/O=box-testers/CN=alice"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    kubectl(
        name,
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"name": "alice"},
                "spec": {
                    "request": base64.b64encode(request.read_bytes()).decode(),
                    "signerName": "kubernetes.io/kube-apiserver-client",
                    "usages": ["client auth"],
                },
            }
        ),
    )
    kubectl(name, "certificate", "approve", "alice")

    def issued() -> bool:
        return bool(get(kubectl, name, "csr", "alice").get("status", {}).get("certificate"))

    eventually("the CSR to be signed", issued)
    certificate = tmp_path / "client.crt"
    certificate.write_bytes(
        base64.b64decode(get(kubectl, name, "csr", "alice")["status"]["certificate"])
    )
    # Who the API server takes the certificate's holder for (kubectl auth whoami, over urllib:
    # no token of a kubeconfig in the way).
    cluster = box.cluster(name)
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    context.load_cert_chain(certificate, key)
    if box.kubernetes == "1.21":
        certificate_holder_on_1_21(kubectl, name, cluster.server, context)
        return
    review = urllib.request.Request(
        cluster.server + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        data=json.dumps(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(review, context=context, timeout=30) as response:
        user = json.loads(response.read())["status"]["userInfo"]
    assert user["username"] == "alice"
    assert "box-testers" in user["groups"]


def certificate_holder_on_1_21(
    kubectl: Kubectl, context_name: str, server: str, context: ssl.SSLContext
) -> None:
    """Kubernetes 1.21 has no SelfSubjectReview: the user is the one RBAC's refusal names,
    the group the one a binding lets in."""

    def status(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(server + path, context=context, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    code, body = status("/api/v1/namespaces/default/configmaps")
    assert code == 403, body
    assert json.loads(body)["message"].startswith(
        'configmaps is forbidden: User "alice" cannot list resource "configmaps"'
    ), body
    kubectl(
        context_name,
        "-n",
        "default",
        "create",
        "rolebinding",
        "box-testers-view",
        "--clusterrole=view",
        "--group=box-testers",
    )
    eventually(
        "the group's binding to let the certificate's holder list ConfigMaps",
        lambda: status("/api/v1/namespaces/default/configmaps")[0] == 200,
    )


def test_webhooks_are_called_at_endpoints(box: Box, kubectl: Kubectl, tmp_path: Path) -> None:
    """--enable-aggregator-routing: the API server calls a webhook at an endpoint of its
    Service (a pod IP), not at the ClusterIP, which nothing routes here. Seen where it
    differs: for a Service without endpoints the call fails with "no endpoints available" (at
    the ClusterIP it would be dialled; measured without the flag: a TLS error from whatever
    answered)."""
    name = NAMES[0]
    ca_bundle = base64.b64encode(box.cluster(name).ca_file.read_bytes()).decode()
    kubectl(
        name,
        "apply",
        "-f",
        "-",
        stdin=f"""
apiVersion: v1
kind: Namespace
metadata:
  name: hooked
---
apiVersion: v1
kind: Service
metadata:
  name: nobody
  namespace: hooked
spec:
  selector: {{app: nobody}}
  ports:
  - name: https
    port: 443
    targetPort: 8443
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: hooked
webhooks:
- name: hooked.meshbox.test
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 5
  clientConfig:
    service: {{namespace: hooked, name: nobody, port: 443, path: /validate}}
    caBundle: {ca_bundle}
  rules:
  - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}
  namespaceSelector:
    matchLabels: {{kubernetes.io/metadata.name: hooked}}
""",
    )
    # Until the API server has seen the webhook configuration, creates succeed.
    executable = binary("kubectl")
    assert executable is not None
    refusal = 'no endpoints available for service "nobody"'
    deadline = time.monotonic() + TIMEOUT
    for attempt in range(10_000):
        command = ["--context", name, "-n", "hooked", "create", "configmap", f"c{attempt}"]
        done = subprocess.run(
            [executable, "--kubeconfig", str(box.kubeconfig), *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        if done.returncode != 0 and refusal in done.stderr:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no webhook call at the Service's endpoints: {done.stderr}")
        time.sleep(0.2)
    kubectl(name, "delete", "validatingwebhookconfiguration", "hooked")


def test_kubectl_commands_of_the_runbooks(kubectl: Kubectl, tmp_path: Path) -> None:
    """What the mesh box's runbooks and stand-ins run, with kubectl 1.34 on either Kubernetes:
    server-side apply of a kustomization (GitOps stand-ins), create secret, wait, get."""
    name = NAMES[0]
    base = tmp_path / "kustomization"
    base.mkdir()
    (base / "kustomization.yaml").write_text(
        "resources: [namespace.yaml, deployment.yaml]\n"
        "configMapGenerator:\n- name: settings\n  namespace: applied\n"
        "  literals: [mode=box]\n"
    )
    (base / "namespace.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: applied}\n"
    )
    (base / "deployment.yaml").write_text(workload("applied").split("---", 2)[1])
    for _ in range(2):  # the second time: nothing to create, field ownership kept
        kubectl(name, "apply", "--server-side", "--force-conflicts", "-k", str(base))
    configmaps = get(kubectl, name, "-n", "applied", "configmaps", "--show-managed-fields")["items"]
    (settings,) = [c for c in configmaps if c["metadata"]["name"].startswith("settings-")]
    assert settings["data"] == {"mode": "box"}
    owners = {(m["manager"], m["operation"]) for m in settings["metadata"]["managedFields"]}
    assert owners == {("kubectl", "Apply")}
    kubectl(name, "-n", "applied", "wait", "deployment/web", "--for=condition=Available",
            f"--timeout={TIMEOUT:.0f}s")  # fmt: skip
    kubectl(name, "-n", "applied", "create", "secret", "generic", "cacerts",
            "--from-literal=root-cert.pem=not-a-certificate")  # fmt: skip
    secret = get(kubectl, name, "-n", "applied", "secret", "cacerts")
    assert base64.b64decode(secret["data"]["root-cert.pem"]) == b"not-a-certificate"
    listed = kubectl(name, "get", "deployments", "-A", "-o", "name").split()
    assert "deployment.apps/web" in listed
