// Package flux tests the rendered-manifests path for Flux (docs/gitops.md):
// `make rendered SITE=<site>` writes what CI commits to the deploy repo,
// and kustomize (Flux's kustomize-controller) builds it unchanged.
package flux

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// makeRendered runs the Makefile's rendered target for site into dir with
// the binaries of DPPS_BIN and DPPS_HELM3 (-o build: the test never rebuilds
// binaries other tests are running).
func makeRendered(t *testing.T, site, dir string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("make", "-s", "-o", "build", "rendered", "SITE="+site, "RENDERED="+dir,
		"BIN="+testutil.Tool(t, "DPPS_BIN"), "HELM3="+testutil.Tool(t, "DPPS_HELM3"))
	cmd.Dir = testutil.RepoRoot(t)
	return cmd.CombinedOutput()
}

// postRender is the Helm entry point with the same release, namespace and
// values as the target.
func postRender(t *testing.T, site string) []byte {
	t.Helper()
	render := filepath.Join(testutil.Tool(t, "DPPS_BIN"), "dpps-render")
	cmd := exec.Command(testutil.Tool(t, "DPPS_HELM3"), "template", "dpps", "charts/dpps", "--namespace", "dpps", "--skip-tests",
		"-f", "examples/prod-site/values.yaml", "-f", "examples/sites/"+site+".yaml", "--post-renderer", render)
	cmd.Dir = testutil.RepoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	return out
}

// objects decodes a YAML stream into generic objects, in order.
func objects(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split("\n"+string(stream), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc+"\n"), &m); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func sites(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "examples/sites/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("examples/sites: %v", err)
	}
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	return out
}

// TestMakeRendered: for every site, the target writes manifests.yaml,
// byte-identical to helm template --post-renderer dpps-render with the
// same values, and a kustomization.yaml listing exactly that file; kustomize
// builds the directory (as Flux's kustomize-controller does) into
// manifests.yaml as kustomize writes any stream (testutil.KustomizeStyle:
// comments dropped, keys sorted), byte for byte, dpps-render's provenance
// (dpps.ctao.org/source and /component included) on every object from a
// template.
func TestMakeRendered(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testutil.Missing(t, "make not found")
	}
	out := t.TempDir()
	for _, site := range sites(t) {
		t.Run(site, func(t *testing.T) {
			if msg, err := makeRendered(t, site, out); err != nil {
				t.Fatalf("make rendered SITE=%s: %v\n%s", site, err, msg)
			}
			dir := filepath.Join(out, site)
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{"kustomization.yaml", "manifests.yaml"}; !slices.Equal(names, want) {
				t.Errorf("%s holds %v, want %v", dir, names, want)
			}
			manifests, err := os.ReadFile(filepath.Join(dir, "manifests.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if want := postRender(t, site); !bytes.Equal(manifests, want) {
				t.Errorf("manifests.yaml (%d bytes) differs from helm --post-renderer (%d bytes)", len(manifests), len(want))
			}
			if !bytes.Contains(manifests, []byte("."+site+".example.org")) {
				t.Errorf("manifests.yaml holds no endpoint of %s", site)
			}

			data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var k struct {
				APIVersion string   `json:"apiVersion"`
				Kind       string   `json:"kind"`
				Resources  []string `json:"resources"`
			}
			if err := yaml.UnmarshalStrict(data, &k); err != nil {
				t.Fatalf("kustomization.yaml: %v", err)
			}
			if k.Kind != "Kustomization" || !slices.Equal(k.Resources, []string{"manifests.yaml"}) {
				t.Errorf("kustomization.yaml: kind %q, resources %v; want Kustomization listing manifests.yaml", k.Kind, k.Resources)
			}

			m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
			if err != nil {
				t.Fatalf("kustomize build %s: %v", dir, err)
			}
			built, err := m.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			if want := testutil.KustomizeStyle(t, manifests); !bytes.Equal(built, want) {
				t.Fatalf("kustomize build (%d bytes) differs from manifests.yaml as kustomize writes it (%d bytes) at %s",
					len(built), len(want), testutil.FirstDiff(built, want))
			}
			var sourced int
			for _, o := range objects(t, built) {
				md, _ := o["metadata"].(map[string]any)
				labels, _ := md["labels"].(map[string]any)
				ann, _ := md["annotations"].(map[string]any)
				if labels["dpps.ctao.org/generated"] != nil {
					continue // generated by dpps-render's transforms, from no template
				}
				if ann["dpps.ctao.org/source"] == nil || ann["dpps.ctao.org/component"] == nil {
					t.Errorf("kustomize build: %v %v lacks dpps.ctao.org/source or /component", o["kind"], md["name"])
				}
				sourced++
			}
			if sourced == 0 {
				t.Error("no object from a template in the build")
			}
		})
	}
}

// TestMakeRenderedUsage: without a known SITE the target fails with exit 2
// and writes nothing.
func TestMakeRenderedUsage(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testutil.Missing(t, "make not found")
	}
	out := t.TempDir()
	for _, site := range []string{"", "no-such-site"} {
		msg, err := makeRendered(t, site, out)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(msg), "usage: make rendered SITE=<site>") {
			t.Errorf("make rendered SITE=%q: %v\n%s", site, err, msg)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a failed make rendered wrote %d entries", len(entries))
	}
}
