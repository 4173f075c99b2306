module meshgen.local/tools/kubernetes-1.21

// Kubernetes v1.21.14 (OpenShift 4.8's, the era of Istio 1.10, which does not install on 1.25+):
// the mesh box's second Kubernetes, built by scripts/install-apiserver with its workarounds
// for Go 1.26 (see there). The go line is k8s.io/kubernetes v1.21.14's own.
go 1.16

require (
	// k8s.io/kubernetes v1.21.14 pins v1.0.1, whose map iteration (linked to the runtime's
	// mapiterinit by the signature before Go 1.18) crashes every JSON response holding a map:
	// "runtime error: invalid memory address or nil pointer dereference" in
	// internal/runtime/maps.(*Iter).Next < reflect.mapiternext < reflect2.(*UnsafeMapIterator)
	// < json-iterator's sortKeysMapEncoder. v1.0.2 is the Go 1.18 fix (what Kubernetes 1.24
	// moved to).
	github.com/modern-go/reflect2 v1.0.2 // indirect
	// scripts/install-apiserver runs openapi-gen (below, tools.go).
	k8s.io/kube-openapi v0.0.0-20211110012726-3cc51fd1e909
	// An input of the OpenAPI generation, like every package that carries the
	// +k8s:openapi-gen tag; the only one no program here imports (tools.go).
	k8s.io/kube-proxy v0.0.0
	k8s.io/kubernetes v1.21.14
)

// k8s.io/kubernetes replaces its staging modules (the 26 of its v1.21.14 go.mod) with local
// paths (./staging/src/k8s.io/...), which a dependent module cannot see: point each at its
// published twin, v0.21.14. Two of them are not in the module graph (sample-cli-plugin, which
// the module proxy does not serve, and sample-controller): their lines are never used.
replace (
	k8s.io/api => k8s.io/api v0.21.14
	k8s.io/apiextensions-apiserver => k8s.io/apiextensions-apiserver v0.21.14
	k8s.io/apimachinery => k8s.io/apimachinery v0.21.14
	k8s.io/apiserver => k8s.io/apiserver v0.21.14
	k8s.io/cli-runtime => k8s.io/cli-runtime v0.21.14
	k8s.io/client-go => k8s.io/client-go v0.21.14
	k8s.io/cloud-provider => k8s.io/cloud-provider v0.21.14
	k8s.io/cluster-bootstrap => k8s.io/cluster-bootstrap v0.21.14
	k8s.io/code-generator => k8s.io/code-generator v0.21.14
	k8s.io/component-base => k8s.io/component-base v0.21.14
	k8s.io/component-helpers => k8s.io/component-helpers v0.21.14
	k8s.io/controller-manager => k8s.io/controller-manager v0.21.14
	k8s.io/cri-api => k8s.io/cri-api v0.21.14
	k8s.io/csi-translation-lib => k8s.io/csi-translation-lib v0.21.14
	k8s.io/kube-aggregator => k8s.io/kube-aggregator v0.21.14
	k8s.io/kube-controller-manager => k8s.io/kube-controller-manager v0.21.14
	k8s.io/kube-proxy => k8s.io/kube-proxy v0.21.14
	k8s.io/kube-scheduler => k8s.io/kube-scheduler v0.21.14
	k8s.io/kubectl => k8s.io/kubectl v0.21.14
	k8s.io/kubelet => k8s.io/kubelet v0.21.14
	k8s.io/legacy-cloud-providers => k8s.io/legacy-cloud-providers v0.21.14
	k8s.io/metrics => k8s.io/metrics v0.21.14
	k8s.io/mount-utils => k8s.io/mount-utils v0.21.14
	k8s.io/sample-apiserver => k8s.io/sample-apiserver v0.21.14
	k8s.io/sample-cli-plugin => k8s.io/sample-cli-plugin v0.21.14
	k8s.io/sample-controller => k8s.io/sample-controller v0.21.14
)
