"""Tests that run the real consumers: kustomize, kubeconform, helm, istioctl, a
kube-apiserver, each release of ../shared (built by scripts/install-tools)."""
