"""Every step of the canary-upgrade example, judged by both releases it runs: `helm template`
of each istiod release with its own release's chart (and base and cni with the newest), no
value written that the chart does not read, no object name twice across the releases, and
kubeconform with the CRDs of every revision's release."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from meshgen import versions
from meshgen.render.helm import charts, helm_values
from meshgen.revisions import control_planes
from tests.test_canary_upgrade import ALL_STEPS
from tests.tooling import build, istio_release
from tests.tools.test_helm_releases import parse, template, unread_values
from tests.tools.test_kubeconform import conform_tree

pytestmark = pytest.mark.tools

PROBED: set[tuple[str, str, str]] = set()


@pytest.mark.parametrize("step", ALL_STEPS, ids=[f"{s.parent.name}/{s.stem}" for s in ALL_STEPS])
def test_both_releases_accept_the_step(step: Path, tmp_path: Path) -> None:
    mesh = build(step, tmp_path / "out")
    planes = control_planes(mesh)
    by_version = {p.version: p for p in planes}
    for cluster in mesh.spec.clusters:
        values = helm_values(mesh, cluster)
        seen: dict[tuple[str, str, str], str] = {}
        for chart in charts(mesh):
            # Each istiod release with its own version's chart; base and cni: the newest.
            version = chart.version or mesh.spec.istio.version
            assert version in by_version or version == mesh.spec.istio.version
            release = istio_release(versions.parse(version)[1])
            as_chart = dataclasses.replace(chart, key=chart.key.split("-")[0])
            proc = template(release, as_chart, values[chart.key], tmp_path)
            assert proc.returncode == 0, (step.stem, chart.release, proc.stderr)
            # The probe runs helm twice per value: once per distinct (release, values).
            key = (release.name, as_chart.key, json.dumps(values[chart.key], sort_keys=True))
            if key not in PROBED:
                PROBED.add(key)
                assert unread_values(release, as_chart, values[chart.key], tmp_path) == [], (
                    step.stem,
                    chart.release,
                )
            for obj in parse(proc.stdout):
                meta: dict[str, Any] = obj["metadata"]
                key = (obj["kind"], meta.get("namespace", ""), meta["name"])
                # CRDs come from base only; nothing else may be rendered by two releases.
                assert key not in seen, (step.stem, key, seen.get(key), chart.release)
                seen[key] = chart.release
    # The rules are written for the oldest revision: every revision's CRDs accept them.
    for plane in planes:
        validated, emitted = conform_tree(tmp_path / "out", plane.version)
        assert validated == emitted > 0
