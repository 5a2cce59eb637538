// Command kube-apiserver is Kubernetes' API server, built from k8s.io/kubernetes
// at the version pinned in this module's go.mod. scripts/e2e.sh builds it with
// -ldflags -X for k8s.io/component-base/version so it reports that version.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
