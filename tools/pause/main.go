// Command pause is the sandbox ("pause") container of the acceptance suite's
// node: it holds a pod's namespaces, reaps the zombies of a shared PID
// namespace and exits on SIGTERM or SIGINT. No registry here serves
// registry.k8s.io/pause, so scripts/images.sh builds this, static, into the
// image localhost/dpps-e2e/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			if pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
