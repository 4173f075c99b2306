//go:build tools

// Package tools pins the Kubernetes programs scripts/install-apiserver builds, all from
// k8s.io/kubernetes v1.34.4 with this module's go.mod/go.sum, in one `go build`: the API
// server, the controller manager and the scheduler of the mesh box's simulated clusters
// (tests/meshbox/kube.py), and the kubectl its tests apply with.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
