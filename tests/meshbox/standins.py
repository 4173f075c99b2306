"""What controllers the box cannot run would do, done with the same release's tools, and each
action reported as a stand-in with its reason: the GitOps engine (Argo CD, Flux), the
External Secrets Operator and the Sail Operator.

- GitOps: once the runbook has pointed the engine at the output (its lines are skipped),
  the box syncs what the engine would, in its order: Argo CD Applications by sync wave (a Helm
  source as Argo CD renders it, `helm template` with the Application's values, applied
  server-side; a directory as kustomize builds it; an ApplicationSet's list elements as its
  template makes them), Flux Kustomizations and HelmReleases by `dependsOn` (a HelmRelease
  installed by helm with its values). The chart repository is the release's, served here.
- External Secrets: the person fills the store (the table of the runbook: the certificate
  files, and what the remote-kubeconfig commands print); before each line, every
  ExternalSecret whose keys the store has becomes its Secret, as the operator renders it.
- Sail: before each line, every `Istio` and `IstioCNI` resource not rendered yet is
  rendered as the operator does: the release's istiod (with its CRDs) and cni charts with the
  resource's `values`, the charts' OpenShift platform profile on OpenShift.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from meshgen.render.external_secrets import cacerts_key, remote_kubeconfig_key
from meshgen.render.secrets import CACERTS_KEYS
from tests.meshbox.runbook import LineRecord

if TYPE_CHECKING:
    from tests.meshbox.box import Run

STAND_IN = "stand-in"
WHY_GITOPS = "{engine} is not running here: the box syncs what it would, in its order"
WHY_ESO = "the External Secrets Operator is not running here: its Secret, from the store"
WHY_SAIL = "the Sail Operator is not running here: what it renders for this resource"
WHY_OPERATOR = (
    "the in-cluster Istio operator is not running here: what it renders for this "
    "IstioOperator, with the same release's manifest generation (istioctl's)"
)


def apply_argv(context: str, *source: str) -> list[str]:
    """`kubectl apply` as the engines and operators do it: server-side, taking over fields."""
    return ["kubectl", "--context", context, "apply", "--server-side", "--force-conflicts", *source]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


@dataclass
class StandIns:
    run: Run
    repo: str  # the chart repository served here
    env: dict[str, str]
    store: dict[str, dict[str, str]] = field(default_factory=dict)
    records: list[LineRecord] = field(default_factory=list)
    _rendered: set[tuple[str, str, str]] = field(default_factory=set)
    _synced: bool = False
    _units: dict[str, list[GitOpsUnit]] = field(default_factory=dict)
    _applied: dict[str, set[str]] = field(default_factory=dict)
    _ready: dict[str, set[str]] = field(default_factory=dict)

    def gitops_ready(self, unit: GitOpsUnit, context: str) -> bool:
        return unit.waiting(self, context) == "ready"

    # --- running commands, recorded -----------------------------------------------------

    def _do(self, why: str, argv: list[str], stdin: str | None = None, check: bool = True) -> str:
        start = time.monotonic()
        proc = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.run.out,
            timeout=600,
            check=False,
        )
        text = " ".join(argv) + (" < (rendered manifests)" if stdin is not None else "")
        self.records.append(
            LineRecord(
                "(stand-in)",
                text,
                STAND_IN,
                why,
                proc.returncode,
                (proc.stdout + proc.stderr)[-4000:],
                round(time.monotonic() - start, 2),
            )
        )
        if proc.returncode != 0:
            if not check:
                raise RetryError(proc.stderr[-500:])
            raise RuntimeError(f"stand-in `{text}` exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc.stdout

    def _apply(self, why: str, context: str, manifests: str) -> None:
        self._do(why, apply_argv(context, "-f", "-"), manifests)

    # --- the store (the person's part) --------------------------------------------------

    def certificates_made(self, certs: Path) -> None:
        """After the certificate step: each cluster's files under its cacerts key."""
        for cluster in self.run.mesh.spec.clusters:
            self.store[cacerts_key(self.run.mesh, cluster)] = {
                key: (certs / cluster.name / key).read_text() for key in CACERTS_KEYS
            }

    def printed(self, text: str, stdout: str) -> None:
        """A remote-kubeconfig command's output goes to its key."""
        for cluster in self.run.mesh.spec.clusters:
            if (
                f"jsonpath={{.stringData.{cluster.name}}}" in text
                and "create-remote-secret" in text
            ):
                self.store[remote_kubeconfig_key(self.run.mesh, cluster)] = {"": stdout}

    # --- controllers, before each line --------------------------------------------------

    def sync(self) -> None:
        """Every controller until none does anything more: the engines work on their own,
        faster than a person types the next line (the runbook's GitOps waits say so)."""
        assert self.run.box is not None
        for _ in range(20):
            done = len(self.records)
            self._gitops_sync()
            for cluster in self.run.box.clusters:
                self._external_secrets(cluster.name, cluster.api)
                self._sail(cluster.name, cluster.api)
                self._operator(cluster.name, cluster.api)
            if len(self.records) == done:
                return

    def _external_secrets(self, context: str, api: Any) -> None:
        if self.run.mesh.spec.secrets.provider != "external-secrets":
            return
        try:
            items = api.items("/apis/external-secrets.io/v1/externalsecrets")
        except Exception:  # the CRD of another version: nothing applied yet
            return
        for es in items:
            meta, spec = es["metadata"], es["spec"]
            key = (context, meta["namespace"], meta["name"])
            if key in self._rendered:
                continue
            data: dict[str, str] = {}
            for item in spec.get("data", []):
                ref = item["remoteRef"]
                value = self.store.get(ref["key"], {}).get(ref.get("property", ""))
                if value is None:
                    break
                data[item["secretKey"]] = base64.b64encode(value.encode()).decode()
            else:
                target = spec.get("target", {})
                template = target.get("template", {})
                secret = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": target.get("name", meta["name"]),
                        "namespace": meta["namespace"],
                        **template.get("metadata", {}),
                    },
                    "type": template.get("type", "Opaque"),
                    "data": data,
                }
                self._apply(WHY_ESO, context, json.dumps(secret))
                self._rendered.add(key)

    def _operator(self, context: str, api: Any) -> None:
        """The in-cluster operator (Istio <= 1.23) reconciles each IstioOperator resource
        with the manifest generation istioctl shares: `istioctl manifest generate -f`."""
        if self.run.mesh.spec.istio.installer != "operator":
            return
        try:
            resources = api.items("/apis/install.istio.io/v1alpha1/istiooperators")
        except Exception:  # no CRD yet: the operator is not installed
            return
        for resource in resources:
            meta = resource["metadata"]
            key = (context, "istiooperators", f"{meta['namespace']}/{meta['name']}")
            if key in self._rendered:
                continue
            spec = self.run.workdir / "values" / f"{context}-{meta['name']}.iop.yaml"
            spec.parent.mkdir(exist_ok=True)
            spec.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "install.istio.io/v1alpha1",
                        "kind": "IstioOperator",
                        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                        "spec": resource["spec"],
                    }
                )
            )
            manifests = self._do(
                WHY_OPERATOR, ["istioctl", "manifest", "generate", "-f", str(spec)]
            )
            self._apply(WHY_OPERATOR, context, manifests)
            self._rendered.add(key)

    def _sail(self, context: str, api: Any) -> None:
        if self.run.mesh.spec.istio.installer != "sail":
            return
        cluster = next(c for c in self.run.mesh.spec.clusters if c.name == context)
        for kind, chart in (("istiocnis", "cni"), ("istios", "istiod")):
            for resource in api.items(f"/apis/sailoperator.io/v1/{kind}"):
                key = (context, kind, resource["metadata"]["name"])
                if key in self._rendered:
                    continue
                spec = resource["spec"]
                version = str(spec["version"]).removeprefix("v")
                values = dict(spec.get("values") or {})
                if cluster.platform == "openshift":
                    # The charts' platform profile (files/profile-platform-openshift.yaml),
                    # which the Sail Operator applies on OpenShift.
                    values["global"] = {**values.get("global", {}), "platform": "openshift"}
                name = resource["metadata"]["name"]
                if chart == "istiod":
                    values.setdefault("revision", "" if name == "default" else name)
                    # The CRDs and the cluster-wide objects (the istio-reader service
                    # account among them) come from the base chart.
                    self._helm_template(
                        WHY_SAIL,
                        context,
                        "base",
                        "base",
                        version,
                        spec["namespace"],
                        {"global": values.get("global", {})},
                        crds=True,
                    )
                release = "istio-cni" if chart == "cni" else f"istiod-{name}"
                self._helm_template(
                    WHY_SAIL, context, release, chart, version, spec["namespace"], values
                )
                self._rendered.add(key)

    def _helm_template(
        self,
        why: str,
        context: str,
        release: str,
        chart: str,
        version: str,
        namespace: str,
        values: dict[str, Any],
        *,
        crds: bool = False,
    ) -> None:
        values_file = self.run.workdir / "values" / f"{context}-{release}.yaml"
        values_file.parent.mkdir(exist_ok=True)
        values_file.write_text(yaml.safe_dump(values))
        argv = [
            "helm",
            "template",
            release,
            chart,
            "--repo",
            self.repo,
            "--version",
            version,
            "-n",
            namespace,
            "-f",
            str(values_file),
            "--kube-version",
            "1.34.0",
        ]
        if crds:
            argv.append("--include-crds")
        manifests = self._do(why, argv)
        if not self._namespace_exists(context, namespace):
            self._do(why, ["kubectl", "--context", context, "create", "namespace", namespace])
        self._apply(why, context, manifests)

    def _namespace_exists(self, context: str, namespace: str) -> bool:
        assert self.run.box is not None
        return (
            self.run.box.cluster(context).api.maybe(f"/api/v1/namespaces/{namespace}") is not None
        )

    # --- GitOps ------------------------------------------------------------------------

    def gitops(self) -> None:
        """The runbook has pointed the engine at the output: from now on every sync moves
        each cluster's GitOps on as far as the engine would (its engines run on their own,
        while the person goes on with the next steps)."""
        if self.run.mesh.spec.gitops is not None:
            self._synced = True
            self._gitops_sync()

    def _gitops_sync(self) -> None:
        gitops = self.run.mesh.spec.gitops
        if gitops is None or not self._synced:
            return
        for cluster in self.run.mesh.spec.clusters:
            units = self._units.setdefault(cluster.name, self._plan(cluster.name))
            while units:
                unit = units[0]
                if not all(d in self._ready.get(cluster.name, set()) for d in unit.after):
                    break
                if unit.name not in self._applied.setdefault(cluster.name, set()):
                    try:
                        unit.apply(self, cluster.name)
                    except RetryError as failed:
                        # As the engine retries a failed sync (Argo CD's syncPolicy.retry,
                        # Flux's interval): at the next line, and it is reported if it never
                        # succeeds (gitops_pending).
                        unit.last_error = str(failed)
                        break
                    unit.last_error = ""
                    self._applied[cluster.name].add(unit.name)
                    self.run.sync_pods(wait=False)
                    self._external_secrets_all()
                    for c in self.run.box.clusters if self.run.box else []:
                        self._sail(c.name, c.api)
                if not unit.ready(self, cluster.name):
                    break
                self._ready.setdefault(cluster.name, set()).add(unit.name)
                units.pop(0)

    def gitops_pending(self) -> list[str]:
        """What each engine still waits for (empty once everything is synced)."""
        return [
            f"{cluster}: {units[0].name} ({units[0].waiting(self, cluster)})"
            for cluster, units in self._units.items()
            if units
        ]

    def _external_secrets_all(self) -> None:
        assert self.run.box is not None
        for cluster in self.run.box.clusters:
            self._external_secrets(cluster.name, cluster.api)

    def _plan(self, context: str) -> list[GitOpsUnit]:
        gitops = self.run.mesh.spec.gitops
        assert gitops is not None
        if gitops.engine == "flux":
            return self._flux_plan(context)
        return self._argocd_plan(context)

    def _local(self, path: str) -> Path:
        """A path of the GitOps repository as a directory of the output."""
        gitops = self.run.mesh.spec.gitops
        assert gitops is not None
        relative = path.removeprefix("./").removeprefix(gitops.path).strip("/")
        return self.run.out / relative

    def _flux_plan(self, context: str) -> list[GitOpsUnit]:
        directory = self.run.out / "gitops" / "flux" / "clusters" / context
        kustomizations = [
            d
            for p in sorted(directory.glob("*.yaml"))
            for d in _docs(p)
            if d["kind"] == "Kustomization"
        ]
        units = []
        for ks in _by_depends_on(kustomizations):
            spec = ks["spec"]
            units.append(
                GitOpsUnit(
                    ks["metadata"]["name"],
                    [d["name"] for d in spec.get("dependsOn", [])],
                    self._local(spec["path"]),
                    "flux",
                    wait=bool(spec.get("wait")),
                )
            )
        return units

    def _argocd_plan(self, context: str) -> list[GitOpsUnit]:
        docs = _docs(self.run.out / "gitops" / "argocd" / f"{context}.yaml")
        apps: list[tuple[int, str, dict[str, Any]]] = []
        for doc in docs:
            annotations = doc["metadata"].get("annotations", {})
            wave = int(annotations.get("argocd.argoproj.io/sync-wave", "0"))
            if doc["kind"] == "Application":
                apps.append((wave, doc["metadata"]["name"], doc["spec"]))
            elif doc["kind"] == "ApplicationSet":
                template = json.dumps(doc["spec"]["template"])
                for generator in doc["spec"]["generators"]:
                    for element in generator.get("list", {}).get("elements", []):
                        text = template
                        for k, v in element.items():
                            text = text.replace("{{" + k + "}}", str(v))
                        made = json.loads(text)
                        apps.append((wave, made["metadata"]["name"], made["spec"]))
        units: list[GitOpsUnit] = []
        earlier: list[str] = []
        for wave in sorted({w for w, _, _ in apps}):
            current = [(name, spec) for w, name, spec in apps if w == wave]
            for name, spec in current:
                source = spec["source"]
                path = None if "chart" in source else self._local(source["path"])
                units.append(GitOpsUnit(name, list(earlier), path, "argocd", wait=True, app=spec))
            earlier += [name for name, _ in current]
        return units


class RetryError(Exception):
    """A sync the engine would retry later."""


@dataclass
class GitOpsUnit:
    """One Flux Kustomization or Argo CD Application, as its engine syncs it: after the
    units it waits for (`after`: dependsOn, or the earlier waves), and ready when what it
    applied is (a HelmRelease installed; with `wait`, every ExternalSecret it holds
    rendered)."""

    name: str
    after: list[str]
    path: Path | None
    engine: str
    wait: bool = False
    app: dict[str, Any] | None = None
    secrets: list[tuple[str, str]] | None = None
    last_error: str = ""

    def apply(self, standins: StandIns, context: str) -> None:
        why = WHY_GITOPS.format(engine="Flux" if self.engine == "flux" else "Argo CD")
        if self.engine == "argocd" and self.app is not None and self.path is None:
            source = self.app["source"]
            helm = source.get("helm", {})
            values = helm.get("valuesObject") or yaml.safe_load(helm.get("values") or "{}") or {}
            standins._helm_template(
                why,
                context,
                helm.get("releaseName", source["chart"]),
                source["chart"],
                source["targetRevision"],
                self.app["destination"].get("namespace", "default"),
                values,
                crds=True,
            )
            return
        assert self.path is not None
        releases = [
            d
            for p in sorted(self.path.glob("*.yaml"))
            for d in _docs(p)
            if d.get("kind") == "HelmRelease"
        ]
        if not releases:
            argv = apply_argv(context, "-k", str(self.path))
            standins._do(why, argv, check=False)
            return
        for hr in _by_depends_on(releases):
            spec = hr["spec"]
            chart = spec["chart"]["spec"]
            values = standins.run.workdir / "values" / f"{context}-{hr['metadata']['name']}.yaml"
            values.parent.mkdir(exist_ok=True)
            values.write_text(yaml.safe_dump(spec.get("values") or {}))
            standins._do(
                why,
                [
                    "helm",
                    "upgrade",
                    "--install",
                    spec.get("releaseName", hr["metadata"]["name"]),
                    chart["chart"],
                    "--kube-context",
                    context,
                    "--repo",
                    standins.repo,
                    "--version",
                    chart["version"],
                    "-n",
                    spec["targetNamespace"],
                    "--create-namespace",
                    "-f",
                    str(values),
                    "--wait",
                ],
            )
            standins.run.sync_pods(wait=False)

    def _external_secrets(self) -> list[tuple[str, str]]:
        """The Secrets of the ExternalSecrets this unit applies (read once)."""
        if self.secrets is None:
            self.secrets = (
                []
                if self.path is None
                else [
                    (
                        d["metadata"]["namespace"],
                        d["spec"].get("target", {}).get("name", d["metadata"]["name"]),
                    )
                    for p in sorted(self.path.glob("external-secrets/*.yaml"))
                    for d in _docs(p)
                    if d.get("kind") == "ExternalSecret"
                ]
            )
        return self.secrets

    def waiting(self, standins: StandIns, context: str) -> str:
        assert standins.run.box is not None
        api = standins.run.box.cluster(context).api
        missing = [
            f"{ns}/{name}"
            for ns, name in self._external_secrets()
            if api.maybe(f"/api/v1/namespaces/{ns}/secrets/{name}") is None
        ]
        if missing:
            return f"ExternalSecrets not rendered: {', '.join(missing)}"
        return f"its last sync failed: {self.last_error}" if self.last_error else "ready"

    def ready(self, standins: StandIns, context: str) -> bool:
        return not self.wait or standins.gitops_ready(self, context)


def _by_depends_on(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In an order where each object comes after those it depends on."""
    done: list[dict[str, Any]] = []
    pending = list(objects)
    # Names of other lists (a HelmRelease of another Kustomization) are there already.
    names = {d["name"] for o in objects for d in o["spec"].get("dependsOn", [])} - {
        o["metadata"]["name"] for o in objects
    }
    while pending:
        ready = [
            o for o in pending if all(d["name"] in names for d in o["spec"].get("dependsOn", []))
        ]
        if not ready:
            raise RuntimeError(f"dependsOn cycle among {[o['metadata']['name'] for o in pending]}")
        for o in ready:
            done.append(o)
            names.add(o["metadata"]["name"])
            pending.remove(o)
    return done
