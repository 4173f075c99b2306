"""A real Kubernetes API server judges every object meshgen emits, offline (issue: real consumers).

kube-apiserver v1.34.4 on etcd v3.6.13 (scripts/install-apiserver builds both from the Go
module proxy), started once for this module on loopback ports, with the CRDs of the real
releases installed:

  - Istio's, of the example's own minor (../shared/istio-releases/<last patch>, crd-all.gen.yaml),
    plus the IstioOperator CRD where the release ships one (1.10-1.23);
  - the Sail Operator's, of every Sail release that accepts the example's Istio version
    (meshgen.versions.sail_releases_for; ../shared/sail-operator/<release>/crds);
  - NetworkAttachmentDefinition, Submariner operator, MCS API, External Secrets, Argo CD and
    Flux, from the Go modules scripts/make_schemas.py downloads (its CRD_MODULES).

Each simulated cluster starts empty (only the namespaces a fresh cluster has, plus `argocd` /
`flux-system` where the GitOps engine's own install would have created them) and gets what
GitOps would apply to it: `kustomize build` of every directory with a kustomization.yaml, and
the files meshgen leaves out of it for a human or istioctl to apply (secret placeholders,
the IstioOperator). Namespaces go first, then every object is applied for real with
server-side apply and fieldValidation=Strict (an unknown field is an error, not silently
pruned). Afterwards the cluster is emptied again (no controllers run here: the test deletes
what it created and finalizes the namespaces itself), so one API server serves every cluster
of every example, and CRD sets are swapped between Istio minors instead of starting servers.

What this judges that schema checkers do not: that namespaces exist before namespaced objects,
CEL rules (x-kubernetes-validations) of the Sail and newer Istio CRDs, structural schemas
with defaulting, immutable fields, metadata validation (names, labels, annotations).
The API is spoken with urllib and a static token, so no kubectl is needed.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshgen.conform import manifest_files
from meshgen.render.gitops import argocd_namespace
from meshgen.spec import Mesh
from meshgen.versions import parse, sail_releases_for
from tests.helpers import EXAMPLES, seed_data
from tests.matrix import record
from tests.meshbox.api import bearer_request
from tests.tooling import build, documents, load_make_schemas, shared, tool

pytestmark = pytest.mark.tools

FIELD_MANAGER = "meshgen-judge"
APPLY = f"?fieldManager={FIELD_MANAGER}&force=true&fieldValidation=Strict"
TIMEOUT = 120.0
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# Namespaces the GitOps engine's own installation creates; meshgen's objects for it live there
# (Argo CD's: `openshift-gitops` with OpenShift GitOps, see argocd_namespace).
ENGINE_NAMESPACES = {"argocd": "argocd", "flux": "flux-system"}


# ---------------------------------------------------------------------------------------------
# The CRDs


def istio_release(minor: int) -> Path:
    """../shared/istio-releases/<the minor's last patch>."""
    found = sorted(shared("istio-releases").glob(f"1.{minor}.*"))
    assert len(found) == 1, f"expected one Istio 1.{minor} release, found {found}"
    return found[0]


def istio_crd_files(minor: int) -> list[Path]:
    charts = istio_release(minor) / "charts"
    files = [charts / "base" / ("files" if minor >= 24 else "crds") / "crd-all.gen.yaml"]
    # The IstioOperator CRD ships with 1.10-1.20 in base, 1.21-1.23 only in the operator chart,
    # not at all from 1.24 (the in-cluster operator is gone).
    for operator in (
        charts / "base" / "crds" / "crd-operator.yaml",
        charts / "istio-operator" / "crds" / "crd-operator.yaml",
    ):
        if operator.exists():
            files.append(operator)
            break
    return files


def sail_crd_files(sail_release: str) -> list[Path]:
    files = sorted(shared("sail-operator", sail_release, "crds").glob("*.yaml"))
    assert files, f"no Sail CRDs for release {sail_release}"
    return files


def common_crd_files() -> list[Path]:
    """NAD, Submariner, MCS, External Secrets, Argo CD, Flux: make_schemas.py's CRD_MODULES."""
    schemas_script = load_make_schemas()
    files: list[Path] = []
    for module, patterns in schemas_script.CRD_MODULES.items():
        try:
            root: Path = schemas_script.go_module_dir(module)
        except SystemExit as error:  # go_module_dir exits with the reason
            pytest.fail(str(error))
        for pattern in patterns:
            found = sorted(root.glob(pattern))
            assert found, f"no {pattern} in {module}"
            files.extend(found)
    return files


def crds_in(files: list[Path]) -> list[dict[str, Any]]:
    return [crd for f in files for crd in _crds(f)]


@cache
def _crds(path: Path) -> list[dict[str, Any]]:
    # libyaml: the pure-Python loader takes seconds per Istio or Sail CRD file.
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [
        d
        for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader)
        if d and d.get("kind") == "CustomResourceDefinition"
    ]


# ---------------------------------------------------------------------------------------------
# The API server


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Resource:
    plural: str
    namespaced: bool


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('apiVersion')} {obj.get('kind')} {where}{meta.get('name')}"


class Api:
    """The few REST calls the judge needs, over HTTPS with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE  # the server's self-signed loopback cert
        self.discovery: dict[str, dict[str, Resource]] = {}
        self.warnings: list[str] = []

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        request = bearer_request(self.url + path, self.token, method, body, content_type)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
                self.warnings.extend(response.headers.get_all("Warning") or [])
                raw = response.read()
                if response.headers.get_content_type() != "application/json":
                    return raw.decode()
                return json.loads(raw or b"null")
        except urllib.error.HTTPError as error:
            raw = error.read().decode(errors="replace")
            try:
                message = json.loads(raw).get("message", raw)
            except ValueError:
                message = raw
            raise ApiError(error.code, message) from None

    def resource(self, api_version: str, kind: str) -> Resource | None:
        if api_version not in self.discovery:
            path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            try:
                listing = self.call("GET", path)["resources"]
            except ApiError as error:
                if error.code != 404:
                    raise
                listing = []
            self.discovery[api_version] = {
                r["kind"]: Resource(r["name"], r["namespaced"])
                for r in listing
                if "/" not in r["name"]
            }
        return self.discovery[api_version].get(kind)

    def path(self, obj: dict[str, Any]) -> str:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        resource = self.resource(api_version, kind)
        if resource is None:
            raise ApiError(404, f"the server serves no {kind} in {api_version}")
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            raise ApiError(422, "no metadata.name")
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        namespace = (
            f"/namespaces/{meta.get('namespace') or 'default'}" if (resource.namespaced) else ""
        )
        return f"{base}{namespace}/{resource.plural}/{meta['name']}"

    def apply(self, obj: dict[str, Any]) -> None:
        self.call("PATCH", self.path(obj) + APPLY, obj, "application/apply-patch+yaml")

    def delete(self, obj: dict[str, Any]) -> None:
        path = self.path(obj)
        try:
            left = self.call("DELETE", path)
        except ApiError as error:
            if error.code == 404:
                return
            raise
        if isinstance(left, dict) and (left.get("metadata") or {}).get("finalizers"):
            # No controller will ever remove them (e.g. Argo CD's resources finalizer).
            self.call(
                "PATCH", path, {"metadata": {"finalizers": None}}, "application/merge-patch+json"
            )

    def delete_namespace(self, name: str) -> None:
        try:
            namespace = self.call("DELETE", f"/api/v1/namespaces/{name}")
        except ApiError as error:
            if error.code == 404:
                return
            raise
        # No namespace controller runs: finalize it ourselves (its objects are gone already).
        namespace["spec"]["finalizers"] = []
        try:
            self.call("PUT", f"/api/v1/namespaces/{name}/finalize", namespace)
        except ApiError as error:
            if error.code != 404:
                raise

    def gone(self, path: str) -> bool:
        try:
            self.call("GET", path)
        except ApiError as error:
            if error.code == 404:
                return True
            raise
        return False

    def status(self, path: str) -> str:
        try:
            return json.dumps(self.call("GET", path).get("status"))
        except ApiError as error:
            return str(error)

    def namespaces(self) -> set[str]:
        return {n["metadata"]["name"] for n in self.call("GET", "/api/v1/namespaces")["items"]}


def wait_for(what: str, check: Callable[[], bool], state: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {TIMEOUT:.0f}s waiting for {what}"
                + (f"; now: {state()}" if state else "")
            )
        time.sleep(0.1)


@dataclass
class Server:
    api: Api
    baseline: set[str]
    # slot ("common", "istio", "sail") -> (what is installed, its CRD names)
    crds: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def use_crds(self, slot: str, key: str, files: list[Path]) -> None:
        current = self.crds.get(slot)
        if current is not None and current[0] == key:
            return
        if current is not None:
            self.remove_crds(current[1])
            del self.crds[slot]
        docs = crds_in(files)
        for crd in docs:
            try:
                self.api.call("POST", CRDS, crd)
            except ApiError as error:
                pytest.fail(f"installing CRD {crd['metadata']['name']} ({key}): {error}")
        names = [crd["metadata"]["name"] for crd in docs]
        for crd in docs:
            wait_for(
                f"CRD {crd['metadata']['name']} to be served",
                partial(served, self.api, crd),
                partial(self.api.status, f"{CRDS}/{crd['metadata']['name']}"),
            )
        self.api.discovery.clear()
        self.crds[slot] = (key, names)

    def remove_crds(self, names: list[str]) -> None:
        for name in names:
            self.api.call("DELETE", f"{CRDS}/{name}")
        for name in names:
            path = f"{CRDS}/{name}"
            wait_for(
                f"CRD {name} to be deleted",
                partial(self.api.gone, path),
                partial(self.api.status, path),
            )
        self.api.discovery.clear()


def served(api: Api, crd: dict[str, Any]) -> bool:
    """Established, and every served version in discovery (the handler is then up)."""
    name = crd["metadata"]["name"]
    status = api.call("GET", f"{CRDS}/{name}")
    conditions = {
        c["type"]: c["status"] for c in (status.get("status") or {}).get("conditions") or []
    }
    if conditions.get("Established") != "True":
        return False
    spec = crd["spec"]
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        try:
            resources = api.call("GET", f"/apis/{spec['group']}/{version['name']}")["resources"]
        except ApiError:
            return False
        if spec["names"]["plural"] not in {r["name"] for r in resources}:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    etcd, apiserver, openssl = tool("etcd"), tool("kube-apiserver"), tool("openssl")
    common = common_crd_files()
    work = tmp_path_factory.mktemp("apiserver")
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def start(name: str, *command: str) -> subprocess.Popen[bytes]:
        log = work / f"{name}.log"
        logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work
            )
        processes.append(process)
        return process

    try:
        client, peer, secure = free_port(), free_port(), free_port()
        start(
            "etcd",
            etcd,
            "--name",
            "judge",
            "--data-dir",
            str(work / "etcd"),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            f"judge=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",
            "--log-level",
            "warn",
        )
        subprocess.run(
            [openssl, "genrsa", "-out", str(work / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [openssl, "rsa", "-in", str(work / "sa.key"), "-pubout", "-out", str(work / "sa.pub")],
            check=True,
            capture_output=True,
        )
        token = secrets.token_hex(16)
        (work / "tokens.csv").write_text(f"{token},judge,judge,system:masters\n")
        process = start(
            "kube-apiserver",
            apiserver,
            "--etcd-servers",
            f"http://127.0.0.1:{client}",
            "--etcd-prefix",
            "/judge",
            "--service-account-key-file",
            str(work / "sa.pub"),
            "--service-account-signing-key-file",
            str(work / "sa.key"),
            "--service-account-issuer",
            "https://kubernetes.default.svc",
            "--cert-dir",
            str(work / "certs"),
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            str(secure),
            "--authorization-mode",
            "RBAC",
            "--token-auth-file",
            str(work / "tokens.csv"),
            "--service-cluster-ip-range",
            "10.0.0.0/24",
            # Without it, deleting a CRD created a moment before can hang for minutes:
            # "could not list instances: storage is (re)initializing".
            "--watch-cache=false",
        )
        api = Api(f"https://127.0.0.1:{secure}", token)

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(
                    f"kube-apiserver exited {process.returncode}:\n"
                    + "\n".join(log_tail(log) for log in logs)
                )
            try:
                api.call("GET", "/readyz")
            except (ApiError, OSError):
                return False
            return True

        wait_for("kube-apiserver to be ready", ready)
        judge = Server(api, api.namespaces())
        judge.use_crds("common", "common", common)
        yield judge
    finally:
        for process in reversed(processes):
            stop(process)


# ---------------------------------------------------------------------------------------------
# What GitOps would apply to each simulated cluster


@dataclass
class Unit:
    """One simulated cluster: objects labelled with their file, the engine's namespaces."""

    name: str
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    provided: set[str] = field(default_factory=set)


def identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        obj.get("apiVersion", ""),
        obj.get("kind", ""),
        meta.get("namespace") or "",
        meta.get("name") or "",
    )


def listed(directory: Path) -> list[Path]:
    """The files a kustomization.yaml pulls in (recursively through directories)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    files: list[Path] = []
    for entry in kustomization.get("resources") or []:
        target = (directory / entry).resolve()
        files.extend(listed(target) if target.is_dir() else [target])
    return files


def kustomize_build(directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [tool("kustomize"), "build", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HOME": str(directory)},
    )
    assert proc.returncode == 0, f"kustomize build {directory}: {proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def units(out: Path, mesh: Mesh) -> list[Unit]:
    """Every simulated cluster; fails if any emitted manifest file belongs to none."""
    out = out.resolve()
    dirs: dict[str, list[Path]] = {}
    for index, cluster in enumerate(mesh.spec.clusters):
        # The traffic units first (kustomize builds each, as GitOps does), then the cluster
        # directory's other files; the remote-secret placeholders (the same objects in every
        # cluster) are judged once, in the first.
        shared = [out / "remote-secrets"] if index == 0 else []
        dirs[cluster.name] = [
            *sorted(out.glob(f"{cluster.name}/traffic/*/")),
            out / cluster.name,
            *shared,
            out / "gitops" / "flux" / "clusters" / cluster.name,
            out / "gitops" / "flux" / "istio" / cluster.name,
            out / "gitops" / "flux" / "istiod" / cluster.name,
        ]
    dirs["argocd-management"] = [out / "gitops" / "argocd"]
    result: list[Unit] = []
    judged: set[Path] = set()
    for name, candidates in dirs.items():
        unit = Unit(name)
        taken: set[Path] = set()  # files already in this unit (a traffic unit's, say)
        for directory in (d for d in candidates if d.is_dir()):
            if "gitops" in directory.relative_to(out).parts:
                engine = directory.relative_to(out).parts[1]
                unit.provided.add(
                    argocd_namespace(mesh) if engine == "argocd" else ENGINE_NAMESPACES[engine]
                )
            files = manifest_files(directory)
            in_kustomization: set[Path] = set()
            if (directory / "kustomization.yaml").exists():
                sources = {}
                for path in listed(directory):
                    in_kustomization.add(path)
                    for doc in documents(path):
                        sources[identity(doc)] = str(path.relative_to(out))
                for obj in kustomize_build(directory):
                    label = sources.get(
                        identity(obj), f"kustomize build {directory.relative_to(out)}"
                    )
                    unit.objects.append((label, obj))
            for path in files:
                if path.resolve() not in in_kustomization | taken:
                    unit.objects.extend(
                        (str(path.relative_to(out)), doc) for doc in documents(path)
                    )
            taken.update(p.resolve() for p in files)
            taken.update(in_kustomization)
        judged.update(taken)
        if unit.objects:
            result.append(unit)
    unjudged = [str(p.relative_to(out)) for p in manifest_files(out) if p.resolve() not in judged]
    assert not unjudged, f"emitted files no simulated cluster applies: {unjudged}"
    return result


@dataclass
class Verdict:
    applied: int = 0
    rejected: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def judge(server: Server, unit: Unit) -> Verdict:
    """Apply the unit to an empty cluster, namespaces first; leave the cluster empty again."""
    api = server.api
    verdict = Verdict()
    created: list[dict[str, Any]] = []
    engine: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in sorted(unit.provided)
    ]
    namespaces_first = sorted(
        unit.objects, key=lambda item: identity(item[1])[:2] != ("v1", "Namespace")
    )
    try:
        for namespace in engine:
            api.apply(namespace)
            created.append(namespace)
        for label, obj in namespaces_first:
            if (
                obj.get("kind") == "IstioOperator"
                and api.resource(obj.get("apiVersion", ""), "IstioOperator") is None
            ):
                # 1.24+: no IstioOperator CRD exists; istioctl reads the file (test_istioctl).
                verdict.not_applicable.append(f"{label}: {describe(obj)}")
                continue
            api.warnings.clear()
            try:
                api.apply(obj)
            except ApiError as error:
                verdict.rejected.append(f"[{unit.name}] {label}: {describe(obj)}: {error}")
                continue
            verdict.warnings.extend(
                f"[{unit.name}] {label}: {describe(obj)}: {w}" for w in api.warnings
            )
            verdict.applied += 1
            created.append(obj)
    finally:
        reset(server, created)
    return verdict


def reset(server: Server, created: list[dict[str, Any]]) -> None:
    api = server.api
    namespaces = [identity(o)[3] for o in created if identity(o)[:2] == ("v1", "Namespace")]
    for obj in reversed(created):
        if identity(obj)[:2] != ("v1", "Namespace"):
            api.delete(obj)
    for name in namespaces:
        if name not in server.baseline:
            api.delete_namespace(name)
    wait_for("the simulated cluster to be empty again", lambda: api.namespaces() == server.baseline)


# ---------------------------------------------------------------------------------------------
# The cases: every example, the seed at the oldest and newest supported patch


@dataclass(frozen=True)
class Case:
    name: str
    spec: dict[str, Any]
    sail_release: str | None = None

    @property
    def version(self) -> str:
        version: str = self.spec["spec"]["istio"]["version"]
        return version

    @property
    def minor(self) -> int:
        return parse(self.version)[1]

    @property
    def id(self) -> str:
        return self.name + (f"-sail-{self.sail_release}" if self.sail_release else "")


def seed_at(version: str) -> dict[str, Any]:
    data = seed_data()
    data["spec"]["istio"]["version"] = version
    return data


def cases() -> list[Case]:
    specs = {name: yaml.safe_load(path.read_text()) for name, path in EXAMPLES.items()}
    specs.update({"seed-1.10.6": seed_at("1.10.6"), "seed-1.30.3": seed_at("1.30.3")})
    found: list[Case] = []
    for name, spec in specs.items():
        istio = spec["spec"]["istio"]
        if istio.get("installer") == "sail":
            releases = sail_releases_for(istio["version"])
            assert releases, f"{name}: no Sail release accepts Istio {istio['version']}"
            found.extend(Case(name, spec, r) for r in releases)
        else:
            found.append(Case(name, spec))
    # Newest minor first, so the negative tests below (1.10) need no extra CRD swap.
    return sorted(found, key=lambda c: (-c.minor, c.sail_release or "", c.name))


CASES = cases()


def build_case(case: Case, directory: Path) -> tuple[Mesh, Path]:
    spec = directory / "mesh.yaml"
    if case.name in EXAMPLES:
        spec = EXAMPLES[case.name]
    else:
        spec.write_text(yaml.safe_dump(case.spec, sort_keys=False))
    out = directory / "out"
    return build(spec, out), out


def prepare(server: Server, case: Case) -> None:
    release = istio_release(case.minor)
    server.use_crds("istio", release.name, istio_crd_files(case.minor))
    if case.sail_release is not None:
        server.use_crds("sail", case.sail_release, sail_crd_files(case.sail_release))


def judge_all(server: Server, out: Path, mesh: Mesh) -> tuple[Verdict, int]:
    total = Verdict()
    emitted = sum(len(documents(f)) for f in manifest_files(out))
    for unit in units(out, mesh):
        verdict = judge(server, unit)
        total.applied += verdict.applied
        total.rejected += verdict.rejected
        total.not_applicable += verdict.not_applicable
        total.warnings += verdict.warnings
    return total, emitted


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_api_server_accepts_every_object(case: Case, server: Server, tmp_path: Path) -> None:
    prepare(server, case)
    mesh, out = build_case(case, tmp_path)
    verdict, emitted = judge_all(server, out, mesh)
    assert verdict.rejected == [], "the API server rejected:\n" + "\n".join(verdict.rejected)
    # Everything emitted was judged: applied, or an IstioOperator of a release without its CRD.
    assert verdict.applied + len(verdict.not_applicable) == emitted > 0
    assert verdict.warnings == [], "the API server warned:\n" + "\n".join(verdict.warnings)
    if len(istio_crd_files(case.minor)) > 1:  # the release has an IstioOperator CRD
        assert verdict.not_applicable == []
    if case.name.startswith("seed-"):
        istio = case.spec["spec"]["istio"]
        record(
            "apiserver",
            case.version,
            case.spec["spec"]["clusters"][0]["platform"],
            istio.get("installer", "istioctl"),
            "accepted",
        )


# ---------------------------------------------------------------------------------------------
# The judge can fail: deliberately broken output is rejected, and the message names the file
# and the object.

SEED_110 = next(c for c in CASES if c.name == "seed-1.10.6")


def replace(old: str, new: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return mutate


def drop_namespace(name: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        docs = [d for d in yaml.safe_load_all(text) if d]
        kept = [d for d in docs if d["metadata"]["name"] != name]
        assert len(kept) == len(docs) - 1, name
        return yaml.safe_dump_all(kept, sort_keys=False)

    return mutate


DR = "  host: helloworld.sample.svc.cluster.local\n"
# (what, file to break, how, file named in the rejection, object named, message excerpt)
BROKEN = [
    # 1.10's DestinationRule enum has no LEAST_REQUEST (added in a later minor).
    (
        "least-request-in-1.10",
        "traffic/sample/rules.yaml",
        replace(DR, DR + "  trafficPolicy:\n    loadBalancer:\n      simple: LEAST_REQUEST\n"),
        "traffic/sample/rules.yaml",
        "DestinationRule sample/helloworld",
        "LEAST_REQUEST",
    ),
    # fieldValidation=Strict: an unknown field is an error, not silently pruned.
    (
        "unknown-crd-field",
        "traffic/sample/rules.yaml",
        replace(DR, DR.replace("host", "hostt")),
        "traffic/sample/rules.yaml",
        "DestinationRule sample/helloworld",
        "hostt",
    ),
    (
        "unknown-core-field",
        "secrets/cacerts.yaml",
        replace("type: Opaque\n", "typo: Opaque\n"),
        "secrets/cacerts.yaml",
        "Secret istio-system/cacerts",
        "typo",
    ),
    # Namespaces must exist before namespaced objects.
    (
        "missing-namespace",
        "namespaces.yaml",
        drop_namespace("sample"),
        "traffic/sample/rules.yaml",
        "VirtualService sample/helloworld",
        'namespaces "sample" not found',
    ),
]


@pytest.mark.parametrize(
    ("what", "file", "mutate", "named", "obj", "message"), BROKEN, ids=[b[0] for b in BROKEN]
)
def test_api_server_rejects_broken_objects(
    what: str,
    file: str,
    mutate: Callable[[str], str],
    named: str,
    obj: str,
    message: str,
    server: Server,
    tmp_path: Path,
) -> None:
    prepare(server, SEED_110)
    mesh, out = build_case(SEED_110, tmp_path)
    target = out / "cluster1" / file
    target.write_text(mutate(target.read_text()))
    unit = next(u for u in units(out, mesh) if u.name == "cluster1")
    rejected = judge(server, unit).rejected
    assert any(
        f"[cluster1] cluster1/{named}: " in r and obj in r and message in r for r in rejected
    ), (what, rejected)
    if what != "missing-namespace":
        assert len(rejected) == 1, (what, rejected)


SAIL_BROKEN = [
    # A CEL rule (x-kubernetes-validations), which no JSON-schema checker evaluates.
    (
        "cni-not-default",
        "kind: IstioCNI\nmetadata:\n  name: default\n",
        "kind: IstioCNI\nmetadata:\n  name: cni\n",
        "IstioCNI cni",
        "must be 'default'",
    ),
    # The release's enum of Istio versions.
    (
        "unsupported-version",
        "  version: v1.28.0\n  namespace: istio-system\n",
        "  version: v1.10.0\n  namespace: istio-system\n",
        "Istio default",
        "v1.10.0",
    ),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "obj", "message"), SAIL_BROKEN, ids=[b[0] for b in SAIL_BROKEN]
)
def test_sail_crds_reject_broken_objects(
    what: str, old: str, new: str, obj: str, message: str, server: Server, tmp_path: Path
) -> None:
    case = [c for c in CASES if c.sail_release is not None][-1]  # installed last: no swap
    assert case.sail_release is not None
    server.use_crds("sail", case.sail_release, sail_crd_files(case.sail_release))
    _, out = build_case(case, tmp_path)
    target = out / "hub" / "istio" / "sail.yaml"
    target.write_text(replace(old, new)(target.read_text()))
    unit = Unit("hub", [("hub/istio/sail.yaml", d) for d in documents(target)])
    rejected = judge(server, unit).rejected
    assert len(rejected) == 1, (what, rejected)
    assert f"[hub] hub/istio/sail.yaml: sailoperator.io/v1 {obj}: " in rejected[0], rejected
    assert message in rejected[0], rejected
