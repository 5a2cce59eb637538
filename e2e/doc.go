// Package e2e holds the real-cluster acceptance tests of the DPPS chart and
// dpps-render: helm install, upgrade and uninstall with Helm 3 and the Helm 4
// plugin against a real kube-apiserver, etcd and kube-controller-manager that
// the tests start themselves (cluster_test.go). Run them with make e2e; see
// docs/e2e.md.
package e2e
