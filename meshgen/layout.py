"""The names of the output's directories: one place for render, the checks and the docs.

Kept free of imports so that `meshgen validate` can check cluster names against them without
loading the render stage.
"""

from __future__ import annotations

GITOPS_DIR = "gitops"
# The remote-secret placeholder of peer P is the same in every other cluster: one file per
# cluster, next to the cluster directories.
REMOTE_SECRETS_DIR = "remote-secrets"
# <cluster>/traffic/<unit>/: the kustomize units of the traffic rules (render/units.py).
TRAFFIC_DIR = "traffic"
RULES_FILE = "rules.yaml"
# In a traffic unit of a cluster that does not run some of its services: their Services,
# without selector, so that clients there resolve the names (render/traffic.py).
CLIENT_SERVICES_FILE = "services.yaml"

# Helm values of each chart, in a cluster directory: `helm upgrade --install -f`, never applied
# (render/__init__.py writes them, the runbook names them, plan and check-output know them).
HELM_VALUES_DIR = "istio/helm"
HELM_VALUES_SUFFIX = ".values.yaml"


def helm_values_file(chart: str) -> str:
    """The values file of `chart` (a Chart.key: base, cni, istiod, istiod-<revision>)."""
    return f"{HELM_VALUES_DIR}/{chart}{HELM_VALUES_SUFFIX}"


# Top-level names a cluster directory must not take.
RESERVED_TOP_LEVEL = (GITOPS_DIR, REMOTE_SECRETS_DIR)
