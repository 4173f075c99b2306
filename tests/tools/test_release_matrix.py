"""Every cell of Istio minor x platform x installer: compiled, or refused with a reason.

meshgen either compiles the seed mesh for a cell (and the judges of the other test modules,
each recording its verdict, check the output with that release's own tools), or refuses it
with a diagnostic that names the reason and the nearest version that works. Nothing in
between: a cell that compiles with a warning about the installer would be a silent lie.
"""

from __future__ import annotations

import copy

import pytest

from meshgen.checks import run_checks
from meshgen.diagnostics import Severity
from meshgen.load import load_text
from meshgen.validate import validate
from meshgen.versions import (
    IN_CLUSTER_OPERATOR,
    NEWEST_MINOR,
    OLDEST_MINOR,
    nearest_sail_version,
    sail_releases_for,
)
from tests.helpers import seed_data
from tests.matrix import record
from tests.tooling import istio_release

pytestmark = pytest.mark.tools

INSTALLERS = ("istioctl", "operator", "helm", "sail")


def seed_text(version: str, platform: str, installer: str) -> str:
    import yaml

    data = copy.deepcopy(seed_data())
    data["spec"]["istio"].update(version=version, installer=installer)
    for cluster in data["spec"]["clusters"]:
        cluster["platform"] = platform
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
@pytest.mark.parametrize("minor", range(OLDEST_MINOR, NEWEST_MINOR + 1))
def test_cell_compiles_or_is_refused_with_the_nearest_version(
    minor: int, platform: str, installer: str
) -> None:
    version = istio_release(minor).name
    loaded, diags = load_text(seed_text(version, platform, installer), "mesh.yaml")
    assert loaded is not None, diags
    mesh, diags = validate(loaded)
    assert mesh is not None, diags
    errors = [d for d in run_checks(mesh, loaded.positions) if d.severity is Severity.ERROR]
    installer_warnings = [
        d
        for d in run_checks(mesh, loaded.positions)
        if d.code in ("MG302", "MG303") and d.severity is not Severity.ERROR
    ]
    assert not installer_warnings
    if installer == "sail" and not sail_releases_for(version):
        [diag] = errors
        nearest = nearest_sail_version(version)
        assert diag.code == "MG303"
        assert diag.hint is not None
        assert f'use version "{nearest}"' in diag.hint
        record("meshgen", version, platform, installer, f"refused: MG303, use {nearest}")
    elif installer == "operator" and not IN_CLUSTER_OPERATOR.holds((1, minor, 0)):
        [diag] = errors
        assert diag.code == "MG302"
        assert diag.hint is not None
        assert f"Istio {IN_CLUSTER_OPERATOR.last_minor} or older" in diag.hint
        record(
            "meshgen",
            version,
            platform,
            installer,
            f"refused: MG302, use {IN_CLUSTER_OPERATOR.last_minor} or istioctl",
        )
    else:
        assert errors == []
        record("meshgen", version, platform, installer, "compiled")
