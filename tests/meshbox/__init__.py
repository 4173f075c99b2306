"""The mesh box: meshgen's output, installed by executing its runbook against real Kubernetes
control planes, run by each cluster's real istiod, and judged by the xDS a sidecar gets
(docs/development.md, "The mesh box"; tests/tools/test_meshbox.py runs it)."""
