//go:build tools

// Package tools pins etcd for scripts/install-apiserver (go build of the package below, the
// etcd server's main package, with this module's go.mod/go.sum).
package tools

import _ "go.etcd.io/etcd/server/v3"
