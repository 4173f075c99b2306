"""meshgen: compile one mesh.yaml into per-cluster GitOps directories for an Istio
multi-primary mesh on one flat network (Submariner)."""

__version__ = "0.2.0"
