//go:build tools
// +build tools

// Package tools pins what scripts/install-apiserver builds from k8s.io/kubernetes v1.21.14
// with this module's go.mod/go.sum, in one `go build`: the API server, the controller manager
// and the scheduler of the mesh box's Kubernetes 1.21 clusters (tests/meshbox/kube.py; kubectl
// stays the 1.34 one of scripts/apiserver/kubernetes). And what that build needs first: the
// OpenAPI definitions of the built-in types (pkg/generated/openapi/zz_generated.openapi.go),
// which Kubernetes 1.21 generated at build time and did not publish, made here by its
// openapi-gen from the tagged API packages, kube-proxy's configuration among them.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"

	_ "k8s.io/kube-openapi/cmd/openapi-gen"
	_ "k8s.io/kube-proxy/config/v1alpha1"
)
