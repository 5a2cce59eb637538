package imagelock

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetworkClient: the transform, and everything it imports, has no
// registry client: a render with a lock cannot contact a registry,
// whatever the lock says. Only dpps-render's images command imports
// internal/imageresolve. (net/http itself comes in with kyaml's OpenAPI
// loader, which reads no URL here.)
func TestNoNetworkClient(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the imports")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "github.com/google/go-containerregistry/pkg/v1/remote",
			"github.com/google/go-containerregistry/pkg/v1/remote/transport",
			"github.com/ctao/dpps-deploy/internal/imageresolve":
			t.Errorf("transforms/imagelock imports %s", pkg)
		}
	}
}
