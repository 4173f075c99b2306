"""Check emitted objects with kubeconform, the schema validator GitOps users run.

Offline, against a schema directory laid out by `scripts/make_schemas.py` (by default the one
packaged with meshgen: meshgen/packaged_schemas.py); without one, against kubeconform's
default Kubernetes schemas and the public CRD catalog layout
(https://github.com/yannh/kubeconform, https://github.com/datreeio/CRDs-catalog). Failures
become diagnostics that name the file, the line where the object starts, and the object.

Offline, Istio's objects are checked against the CRDs of exactly the output's Istio minor
(`crds/istio-1.M`), Sail Operator objects against those of the newest Sail release that
accepts the output's Istio version (`crds/sail-<release>`, `versions.SAIL_RELEASES`). When
the directory lacks them, each such object gets an MG904 that says which schemas are missing:
another minor's CRDs would accept fields and values this one does not have.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgen.diagnostics import Diagnostic, Location, diagnostic
from meshgen.layout import HELM_VALUES_SUFFIX
from meshgen.versions import SAIL_RELEASES, minor_of, parse, sail_releases_for

PUBLIC_CRD_CATALOG = (
    "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/"
    "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
)
_K8S_LAYOUT = (
    "{{.NormalizedKubernetesVersion}}-local{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json"
)
_CRD_LAYOUT = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
# The API groups whose CRDs come with each Istio minor (crds/istio-1.M) and Sail release.
ISTIO_GROUPS = frozenset(
    {"networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"}
)
SAIL_GROUP = "sailoperator.io"


@dataclass
class Summary:
    valid: int = 0
    invalid: int = 0
    errors: int = 0
    skipped: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, other: Summary) -> None:
        self.valid += other.valid
        self.invalid += other.invalid
        self.errors += other.errors
        self.skipped += other.skipped
        self.diagnostics.extend(other.diagnostics)


def find_kubeconform() -> str | None:
    return shutil.which("kubeconform")


def manifest_files(directory: Path) -> list[Path]:
    """Every emitted Kubernetes object file: not kustomization.yaml (kustomize checks it), not
    Helm values files (helm template checks them)."""
    return sorted(
        p
        for p in directory.rglob("*.yaml")
        if p.name != "kustomization.yaml" and not p.name.endswith(HELM_VALUES_SUFFIX)
    )


def _patch_key(text: str) -> tuple[int, ...]:
    """Sort key of a release (1.30.3) or of a minor's folder suffix (30)."""
    return parse(text) if text.count(".") == 2 else (minor_of(f"1.{text}"),)


def _present(schema_dir: Path, prefix: str) -> list[str]:
    """The suffixes of the `crds/<prefix><suffix>` folders, oldest first."""
    found = [
        p.name.removeprefix(prefix)
        for p in (schema_dir / "crds").glob(f"{prefix}*")
        if re.fullmatch(r"[0-9]+(\.[0-9]+)*", p.name.removeprefix(prefix))
    ]
    return sorted(found, key=_patch_key)


def istio_crd_dir(schema_dir: Path, istio_minor: int | None) -> Path | None:
    """The CRD schemas of exactly that Istio minor (None: the newest the directory has), or
    None when the directory lacks them."""
    available = _present(schema_dir, "istio-1.")
    if not available:
        return None
    minor = str(istio_minor) if istio_minor is not None else available[-1]
    return schema_dir / "crds" / f"istio-1.{minor}" if minor in available else None


def sail_version(istio_version: str) -> str | None:
    """The full Istio version Sail objects are checked for: the version itself, or for a bare
    `1.M` the newest patch of that minor some Sail release accepts (None: none does)."""
    minor_of(istio_version)  # ValueError unless 1.MINOR or 1.MINOR.PATCH
    if istio_version.count(".") == 2:
        return istio_version
    listed = {
        v
        for accepted in SAIL_RELEASES.values()
        for v in accepted
        if v.startswith(f"{istio_version}.")
    }
    return max(listed, key=_patch_key) if listed else None


def _runs(minors: list[str]) -> str:
    """`1.10-1.24, 1.26-1.30` for the minors 10..24 and 26..30."""
    runs: list[list[int]] = []
    for minor in map(int, minors):
        if runs and minor == runs[-1][-1] + 1:
            runs[-1].append(minor)
        else:
            runs.append([minor])
    return ", ".join(f"1.{r[0]}" if len(r) == 1 else f"1.{r[0]}-1.{r[-1]}" for r in runs)


@dataclass(frozen=True)
class Missing:
    """Why the objects of an API group have no schema, and what to do about it."""

    reason: str
    hint: str


def sail_crd_dir(schema_dir: Path, istio_version: str | None) -> Path | Missing:
    """The CRD schemas of the newest Sail Operator release the directory has that accepts
    this Istio version (None: the newest release it has), or why there are none."""
    available = _present(schema_dir, "sail-")
    where = schema_dir / "crds"
    rebuild = "run scripts/make_schemas.py with the Sail Operator's released CRDs (MESHGEN_SHARED)"
    if istio_version is None:
        if available:
            return where / f"sail-{available[-1]}"
        return Missing(f"no Sail Operator schemas (sail-<release>) in {where}", rebuild)
    full = sail_version(istio_version)
    releases = sail_releases_for(full) if full is not None else ()
    if not releases:
        known = sorted({v for accepted in SAIL_RELEASES.values() for v in accepted}, key=_patch_key)
        return Missing(
            f"no Sail Operator release accepts Istio {istio_version} (Sail "
            f"{', '.join(SAIL_RELEASES)} install {known[0]} to {known[-1]})",
            "use an Istio version a Sail Operator release installs, or another installer",
        )
    usable = [r for r in releases if r in available]
    if not usable:
        return Missing(
            f"no schema for the Sail Operator release that accepts Istio {full} "
            f"(Sail {', '.join(releases)}) in {where}",
            rebuild,
        )
    return where / f"sail-{max(usable, key=_patch_key)}"


@dataclass(frozen=True)
class SchemaChoice:
    """kubeconform's `-schema-location`s, and, per API group, why an object of it may find no
    schema (`{api}` stands for the object's apiVersion and kind)."""

    locations: tuple[str, ...]
    missing: dict[str, Missing] = field(default_factory=dict)


_UNSERVED = (
    "that release's API server would refuse it too: emit an API version it serves, "
    "or check the Istio version given"
)


def kubernetes_version(schema_dir: Path | None, wanted_minor: int | None) -> str:
    """`1.M.0` for kubeconform: the wanted minor, clamped to what the schema dir holds."""
    if schema_dir is None:
        return f"1.{wanted_minor}.0" if wanted_minor is not None else "master"
    available = sorted(
        int(m.group(1))
        for p in (schema_dir / "k8s").glob("v1.*-local-strict")
        if (m := re.fullmatch(r"v1\.([0-9]+)\.0-local-strict", p.name))
    )
    if not available:
        return "master"
    minor = wanted_minor if wanted_minor is not None else available[-1]
    return f"1.{min(available, key=lambda m: (abs(m - minor), -m))}.0"


def choose_schemas(schema_dir: Path | None, istio_version: str | None) -> SchemaChoice:
    """Where kubeconform looks, for output of this Istio version (`1.M` or `1.M.P`; None: the
    newest the directory has)."""
    if schema_dir is None:
        return SchemaChoice(("default", PUBLIC_CRD_CATALOG))
    locations = [f"{schema_dir}/k8s/{_K8S_LAYOUT}"]
    missing: dict[str, Missing] = {}
    minor = minor_of(istio_version) if istio_version is not None else None
    crds = istio_crd_dir(schema_dir, minor)
    if crds is not None:
        locations.append(f"{crds}/{_CRD_LAYOUT}")
        missing.update(
            dict.fromkeys(
                ISTIO_GROUPS,
                Missing(
                    f"Istio {crds.name.removeprefix('istio-')} has no CRD for {{api}}", _UNSERVED
                ),
            )
        )
    else:
        have = _present(schema_dir, "istio-1.")
        reason = (
            f"no schema for Istio 1.{minor}" if minor is not None else "no Istio schemas"
        ) + f" in {schema_dir / 'crds'}"
        if have:
            reason += f" (it has Istio {_runs(have)})"
        missing.update(
            dict.fromkeys(
                ISTIO_GROUPS,
                Missing(
                    reason,
                    "run scripts/make_schemas.py with that release's CRDs (MESHGEN_SHARED); "
                    "another minor's CRDs accept fields and values this one does not have",
                ),
            )
        )
    sail = sail_crd_dir(schema_dir, istio_version)
    if isinstance(sail, Missing):
        missing[SAIL_GROUP] = sail
    else:
        locations.append(f"{sail}/{_CRD_LAYOUT}")
        missing[SAIL_GROUP] = Missing(
            f"Sail Operator {sail.name.removeprefix('sail-')} has no CRD for {{api}}", _UNSERVED
        )
    locations.append(f"{schema_dir}/crds/common/{_CRD_LAYOUT}")
    return SchemaChoice(tuple(locations), missing)


def run_kubeconform(
    files: list[Path],
    *,
    binary: str,
    schema_dir: Path | None = None,
    istio_version: str | None = None,
    istio_minor: int | None = None,
    kubernetes_minor: int | None = None,
    display_root: Path | None = None,
) -> Summary:
    """kubeconform -strict over `files`. The Istio version (`1.M.P` or `1.M`; `istio_minor`
    is short for `1.M`) picks the Istio and Sail CRD schemas of a `schema_dir`."""
    if not files:
        return Summary()
    if istio_version is None and istio_minor is not None:
        istio_version = f"1.{istio_minor}"
    choice = choose_schemas(schema_dir, istio_version)
    command = [
        binary,
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        kubernetes_version(schema_dir, kubernetes_minor),
    ]
    for location in choice.locations:
        command += ["-schema-location", location]
    proc = subprocess.run([*command, *map(str, files)], capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"kubeconform failed: {proc.stderr.strip() or proc.stdout}") from None
    return _summarize(report, display_root, choice.missing)


def _summarize(
    report: dict[str, Any], display_root: Path | None, missing: dict[str, Missing] | None = None
) -> Summary:
    counts = report.get("summary") or {}
    summary = Summary(
        counts.get("valid", 0),
        counts.get("invalid", 0),
        counts.get("errors", 0),
        counts.get("skipped", 0),
    )
    starts: dict[str, dict[tuple[str, str], int]] = {}
    for resource in report.get("resources") or []:
        status = resource.get("status", "")
        if status in ("statusValid", "statusEmpty"):
            continue
        path = Path(resource.get("filename", ""))
        kind, name = resource.get("kind", ""), resource.get("name", "")
        if str(path) not in starts:
            starts[str(path)] = _object_lines(path)
        line = starts[str(path)].get((kind, name), 1)
        shown = path
        if display_root is not None and path.is_relative_to(display_root):
            shown = path.relative_to(display_root)
        what = f"{kind} {name!r}" if name else kind or "object"
        location = Location(shown.as_posix(), line, 1)
        summary.diagnostics.append(_resource_diagnostic(resource, location, what, missing))
    return summary


def _resource_diagnostic(
    resource: dict[str, Any], location: Location, what: str, missing: dict[str, Missing] | None
) -> Diagnostic:
    """The diagnostic of one object kubeconform did not pass: not checked (MG903, MG904) or
    rejected (MG902)."""
    status = resource.get("status", "")
    if status == "statusSkipped":
        return diagnostic(
            "MG903",
            f"{what}: no schema found, not validated",
            location,
            "pass --schema-dir with the schemas of your CRDs",
        )
    group = str(resource.get("version", "")).rpartition("/")[0]
    msg = str(resource.get("msg", ""))
    unpackaged = missing is not None and group in missing
    if status == "statusError" and unpackaged and msg.startswith("could not find schema"):
        assert missing is not None
        api = f"{resource.get('version')} {resource.get('kind', '')}"
        reason = missing[group].reason.replace("{api}", api)
        return diagnostic(
            "MG904",
            f"kubeconform could not check {what}: {reason}",
            location,
            missing[group].hint,
        )
    if status == "statusError":
        return diagnostic(
            "MG904",
            f"kubeconform could not check {what}: {resource.get('msg', 'error')}",
            location,
            "no schema of this kind here: pass --schema-dir with one that has it "
            "(scripts/make_schemas.py)",
        )
    details = [
        f"{e.get('path', '')}: {e.get('msg', '')}".strip(": ")
        for e in resource.get("validationErrors") or []
    ]
    message = "; ".join(details) or resource.get("msg", "rejected")
    return diagnostic(
        "MG902",
        f"kubeconform rejects {what}: {message}",
        location,
        "this object would be refused by the API server; please report it",
    )


def _object_lines(path: Path) -> dict[tuple[str, str], int]:
    """(kind, name) -> the line where that document starts."""
    lines: dict[tuple[str, str], int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return lines
    start, kind, name = 1, "", ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line == "---":
            lines.setdefault((kind, name), start)
            start, kind, name = number + 1, "", ""
        elif line.startswith("#") and number == start:
            start += 1  # the generated-file header
        elif line.startswith("kind:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("  name:") and not name:
            name = line.split(":", 1)[1].strip().strip('"')
    lines.setdefault((kind, name), start)
    return lines
