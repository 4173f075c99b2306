"""Check emitted objects with kubeconform, the schema validator GitOps users run.

Offline, against a schema directory laid out by `scripts/make_schemas.py`; otherwise against
kubeconform's default Kubernetes schemas and the public CRD catalog layout
(datreeio/CRDs-catalog, reference/anchors.md §3.1-§3.2). Failures become diagnostics that
name the file, the line where the object starts, and the object.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshgen.diagnostics import Diagnostic, Location, Severity

PUBLIC_CRD_CATALOG = (
    "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/"
    "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
)
_K8S_LAYOUT = (
    "{{.NormalizedKubernetesVersion}}-local{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json"
)
_CRD_LAYOUT = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"


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
    return sorted(p for p in directory.rglob("*.yaml")
                  if p.name != "kustomization.yaml" and not p.name.endswith(".values.yaml"))


def istio_crd_dir(schema_dir: Path, istio_minor: int | None) -> Path | None:
    """The CRD schemas of that Istio minor, or of the nearest minor the directory has."""
    available = sorted(
        int(m.group(1)) for p in (schema_dir / "crds").glob("istio-1.*")
        if (m := re.fullmatch(r"istio-1\.([0-9]+)", p.name))
    )
    if not available:
        return None
    minor = istio_minor if istio_minor is not None else available[-1]
    nearest = min(available, key=lambda m: (abs(m - minor), -m))
    return schema_dir / "crds" / f"istio-1.{nearest}"


def kubernetes_version(schema_dir: Path | None, wanted_minor: int | None) -> str:
    """`1.M.0` for kubeconform: the wanted minor, clamped to what the schema dir holds."""
    if schema_dir is None:
        return f"1.{wanted_minor}.0" if wanted_minor is not None else "master"
    available = sorted(
        int(m.group(1)) for p in (schema_dir / "k8s").glob("v1.*-local-strict")
        if (m := re.fullmatch(r"v1\.([0-9]+)\.0-local-strict", p.name))
    )
    if not available:
        return "master"
    minor = wanted_minor if wanted_minor is not None else available[-1]
    return f"1.{min(available, key=lambda m: (abs(m - minor), -m))}.0"


def schema_locations(schema_dir: Path | None, istio_minor: int | None) -> list[str]:
    if schema_dir is None:
        return ["default", PUBLIC_CRD_CATALOG]
    locations = [f"{schema_dir}/k8s/{_K8S_LAYOUT}"]
    crds = istio_crd_dir(schema_dir, istio_minor)
    if crds is not None:
        locations.append(f"{crds}/{_CRD_LAYOUT}")
    locations.append(f"{schema_dir}/crds/common/{_CRD_LAYOUT}")
    return locations


def run_kubeconform(
    files: list[Path],
    *,
    binary: str,
    schema_dir: Path | None = None,
    istio_minor: int | None = None,
    kubernetes_minor: int | None = None,
    display_root: Path | None = None,
) -> Summary:
    if not files:
        return Summary()
    command = [binary, "-strict", "-summary", "-output", "json",
               "-kubernetes-version", kubernetes_version(schema_dir, kubernetes_minor)]
    for location in schema_locations(schema_dir, istio_minor):
        command += ["-schema-location", location]
    proc = subprocess.run([*command, *map(str, files)], capture_output=True, text=True,
                          check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"kubeconform failed: {proc.stderr.strip() or proc.stdout}") from None
    return _summarize(report, display_root)


def _summarize(report: dict[str, Any], display_root: Path | None) -> Summary:
    counts = report.get("summary") or {}
    summary = Summary(counts.get("valid", 0), counts.get("invalid", 0), counts.get("errors", 0),
                      counts.get("skipped", 0))
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
        location = Location(shown.as_posix(), line, 1)
        what = f"{kind} {name!r}" if name else kind or "object"
        if status == "statusSkipped":
            summary.diagnostics.append(Diagnostic(
                "MG903", Severity.WARNING, f"{what}: no schema found, not validated", location,
                "pass --schema-dir with the schemas of your CRDs"))
            continue
        if status == "statusError":
            summary.diagnostics.append(Diagnostic(
                "MG904", Severity.ERROR,
                f"kubeconform could not check {what}: {resource.get('msg', 'error')}", location,
                "without network access, pass --schema-dir with offline schemas "
                "(scripts/make_schemas.py)"))
            continue
        details = [f"{e.get('path', '')}: {e.get('msg', '')}".strip(": ")
                   for e in resource.get("validationErrors") or []]
        message = "; ".join(details) or resource.get("msg", "rejected")
        summary.diagnostics.append(Diagnostic(
            "MG902", Severity.ERROR, f"kubeconform rejects {what}: {message}", location,
            "this object would be refused by the API server; please report it"))
    return summary


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
