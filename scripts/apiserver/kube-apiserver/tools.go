//go:build tools

// Package tools pins kube-apiserver for scripts/install-apiserver (go build of the package
// below, with this module's go.mod/go.sum).
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
