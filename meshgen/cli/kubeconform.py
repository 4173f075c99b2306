"""kubeconform over the output: `meshgen check-output`, and `build --validate`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from meshgen.cli.app import (
    FormatOption,
    SchemaDirOption,
)
from meshgen.report import (
    EXIT_FAILED,
    Format,
)
from meshgen.report import print_diagnostics as _print_diagnostics
from meshgen.report import say as _say

if TYPE_CHECKING:
    from meshgen.conform import Summary
    from meshgen.spec import Mesh


def validate_written(output: Path, mesh: Mesh, schema_dir: Path | None, fmt: Format) -> None:
    """`build --validate`: kubeconform over what was written, each cluster against its
    Kubernetes minor (when the spec names one)."""
    from meshgen.conform import find_kubeconform
    from meshgen.versions import minor_of

    if find_kubeconform() is None:
        _say(
            "kubeconform is not on PATH; --validate skipped "
            "(go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0)"
        )
        return
    clusters = {
        c.name: minor_of(c.kubernetes_version) if c.kubernetes_version else None
        for c in mesh.spec.clusters
    }
    if not _conform(output, clusters, mesh.spec.istio.version, schema_dir, fmt):
        raise typer.Exit(EXIT_FAILED)


def _conform(
    output: Path,
    clusters: dict[str, int | None],
    istio_version: str | None,
    schema_dir: Path | None,
    fmt: Format,
) -> bool:
    """kubeconform over every cluster directory; print its findings; True if all valid.

    `istio_version` (1.M or 1.M.P) picks that minor's Istio CRDs and the Sail Operator release
    that accepts it."""
    from meshgen.conform import Summary, find_kubeconform, manifest_files, run_kubeconform
    from meshgen.layout import REMOTE_SECRETS_DIR
    from meshgen.versions import KUBERNETES_SUPPORT, minor_of

    binary = find_kubeconform()
    assert binary is not None
    schema_dir = _schema_dir(schema_dir)
    istio_minor = minor_of(istio_version) if istio_version else None
    total = Summary()
    # The remote-secret placeholders sit next to the cluster directories, one per cluster.
    if (output / REMOTE_SECRETS_DIR).is_dir():
        clusters = {**clusters, REMOTE_SECRETS_DIR: None}
    for name, k8s_minor in clusters.items():
        if k8s_minor is None and istio_minor in KUBERNETES_SUPPORT:
            k8s_minor = KUBERNETES_SUPPORT[istio_minor][0]
        total.add(
            run_kubeconform(
                manifest_files(output / name),
                binary=binary,
                schema_dir=schema_dir,
                istio_version=istio_version,
                kubernetes_minor=k8s_minor,
                display_root=Path.cwd(),
            )
        )
    if schema_dir is None and _nothing_checked(total):
        return False
    _print_diagnostics(total.diagnostics, fmt)
    _say(
        f"kubeconform: {total.valid} valid, {total.invalid} invalid, {total.errors} errors, "
        f"{total.skipped} skipped"
    )
    return total.invalid == 0 and total.errors == 0


def _schema_dir(schema_dir: Path | None) -> Path | None:
    """--schema-dir, or the schemas meshgen ships; None: kubeconform's own, from the network."""
    if schema_dir is None:
        from meshgen.packaged_schemas import packaged_schema_dir

        return packaged_schema_dir()
    if not schema_dir.is_dir():
        raise typer.BadParameter(
            f"{schema_dir} is not a folder; build the offline schemas "
            f"once with `python scripts/make_schemas.py {schema_dir}`",
            param_hint="--schema-dir",
        )
    return schema_dir


def _nothing_checked(total: Summary) -> bool:
    """No packaged schemas and no network: one message with the fix, not one per object."""
    unchecked = [d for d in total.diagnostics if d.code == "MG904"]
    if not unchecked or len(unchecked) != len(total.diagnostics) or total.valid:
        return False
    _say(
        f"kubeconform could not check any object ({len(unchecked)} unchecked, MG904): "
        "this installation has no packaged schemas and kubeconform's defaults need "
        "network access. Build offline schemas once with "
        "`python scripts/make_schemas.py schemas-offline` and pass "
        "`--schema-dir schemas-offline`"
    )
    return True


def check_output(
    directory: Annotated[Path, typer.Argument(help="A meshgen output directory.", metavar="DIR")],
    schema_dir: SchemaDirOption = None,
    istio_version: Annotated[
        str | None,
        typer.Option(
            "--istio-version",
            metavar="1.M[.P]",
            help="Istio MAJOR.MINOR[.PATCH] of the output: its "
            "minor's CRD schemas, and those of the Sail Operator "
            "release that accepts it (a bare minor: its newest "
            "patch Sail accepts; default: the newest available).",
        ),
    ] = None,
    kubernetes_version: Annotated[
        str | None,
        typer.Option(
            "--kubernetes-version",
            metavar="1.M",
            help="Kubernetes MAJOR.MINOR to validate against (default: per Istio version).",
        ),
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Validate every object of an output directory with kubeconform -strict."""
    from meshgen.conform import find_kubeconform

    _minor(istio_version, "--istio-version", patch=True)
    k8s_minor = _minor(kubernetes_version, "--kubernetes-version")
    if find_kubeconform() is None:
        _say(
            "kubeconform is not on PATH: "
            "go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0"
        )
        raise typer.Exit(EXIT_FAILED)
    clusters = sorted(p.parent.name for p in directory.glob("*/kustomization.yaml"))
    if not clusters:
        _say(f"{directory}: no cluster directories (*/kustomization.yaml) found")
        raise typer.Exit(EXIT_FAILED)
    if not _conform(directory, dict.fromkeys(clusters, k8s_minor), istio_version, schema_dir, fmt):
        raise typer.Exit(EXIT_FAILED)


def _minor(version: str | None, option: str, *, patch: bool = False) -> int | None:
    """The MINOR of `1.MINOR[...]` (with `patch`: exactly `1.MINOR` or `1.MINOR.PATCH`)."""
    from meshgen.versions import minor_of

    if version is None:
        return None
    try:
        minor = minor_of(version)
    except ValueError:
        minor = None
    if minor is None or (not patch and version.count(".") != 1):
        expected = "1.MINOR or 1.MINOR.PATCH" if patch else "1.MINOR"
        raise typer.BadParameter(f"expected {expected}, got {version!r}", param_hint=option)
    return minor
