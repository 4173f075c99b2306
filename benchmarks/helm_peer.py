"""The Helm-chart peer: the chart in benchmarks/helm-peer/, its values from a mesh.yaml, and
`helm template` once per cluster, timed.

The chart renders, for the cluster given with `--set cluster=<name>`, the DestinationRule and
VirtualService of every service placed there, the objects meshgen renders for it (the
comparison: tests/test_benchmarks.py). Its values are the spec's `spec.services` as written,
plus the networking API version meshgen uses for the spec's Istio version.

    python -m benchmarks.helm_peer /tmp/mesh.yaml -o /tmp/values.yaml
    .tools/bin/helm template peer benchmarks/helm-peer -f /tmp/values.yaml --set cluster=c0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.units import count_documents

CHART = Path(__file__).resolve().parent / "helm-peer"
RELEASE = "peer"


def values_from_spec(text: str) -> dict[str, Any]:
    """The chart's values for a mesh.yaml: its services as written (read by meshgen's own
    loader, so every scalar means what it means to meshgen) and the networking API version."""
    from meshgen.load import load_text
    from meshgen.versions import release

    loaded, diags = load_text(text, "mesh.yaml")
    if loaded is None:
        raise ValueError(f"cannot load the spec: {diags}")
    spec = loaded.data["spec"]
    return {
        "networkingApiVersion": release(str(spec["istio"]["version"])).networking_api_version,
        "services": spec.get("services") or [],
    }


def write_values(text: str, path: Path) -> None:
    path.write_text(
        yaml.dump(values_from_spec(text), Dumper=yaml.CSafeDumper, sort_keys=False),
        encoding="utf-8",
    )


def clusters_of(text: str) -> list[str]:
    from meshgen.load import load_text

    loaded, diags = load_text(text, "mesh.yaml")
    if loaded is None:
        raise ValueError(f"cannot load the spec: {diags}")
    return [str(c["name"]) for c in loaded.data["spec"]["clusters"]]


def helm_env(home: Path) -> dict[str, str]:
    """Helm's config, cache and data under `home`: no user repositories or plugins."""
    env = dict(os.environ)
    for name in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env[name] = str(home / name.lower())
    return env


def template_argv(helm: Path, values: Path, cluster: str) -> list[str]:
    return [
        str(helm),
        "template",
        RELEASE,
        str(CHART),
        "-f",
        str(values),
        "--set-string",
        f"cluster={cluster}",
    ]


def render(helm: Path, values: Path, cluster: str, home: Path) -> str:
    """`helm template` for one cluster: the YAML stream it prints."""
    proc = subprocess.run(
        template_argv(helm, values, cluster),
        env=helm_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"helm template failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def time_helm(helm: Path, spec_text: str, workdir: Path) -> dict[str, Any]:
    """`helm template` once per cluster; the total is the peer's time.

    Returns helm_s (the sum over clusters of each run's wall time), helm_runs, helm_docs
    (documents printed for the first cluster) and helm_values_bytes."""
    values = workdir / "helm-values.yaml"
    write_values(spec_text, values)
    clusters = clusters_of(spec_text)
    total = 0.0
    docs = 0
    for i, cluster in enumerate(clusters):
        start = time.perf_counter()
        out = render(helm, values, cluster, workdir / "helm-home")
        total += time.perf_counter() - start
        if i == 0:
            docs = count_documents(out.encode())
        del out
    return {
        "helm_s": total,
        "helm_runs": len(clusters),
        "helm_docs": docs,
        "helm_values_bytes": values.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.helm_peer",
        description="Write the Helm peer's values for a mesh.yaml.",
    )
    parser.add_argument("spec", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="default: standard output")
    args = parser.parse_args(argv)
    text = args.spec.read_text(encoding="utf-8")
    if args.output is None:
        sys.stdout.write(
            yaml.dump(values_from_spec(text), Dumper=yaml.CSafeDumper, sort_keys=False)
        )
    else:
        write_values(text, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
