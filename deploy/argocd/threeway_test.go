package argocd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// The annotations dpps-render derives from Helm's "# Source:" comments.
// kustomize parses resources into maps before a function runs, dropping
// every comment, so through kustomize dpps-render cannot stamp them.
var sourceAnnotations = []string{"dpps.ctao.org/source", "dpps.ctao.org/component"}

// helmRaw is helm template without a post-renderer: what kustomize's
// resources (or helmCharts) start from.
func helmRaw(t *testing.T, values ...string) []byte {
	t.Helper()
	args := []string{"template", "dpps", "charts/dpps", "--namespace", "dpps", "--skip-tests"}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	cmd := exec.Command(testutil.Tool(t, "DPPS_HELM3"), args...)
	cmd.Dir = testutil.RepoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// kustomize builds a kustomization holding stream as its one resource,
// with dpps-render as exec transformer when fn is set (a ConfigMap without
// data: dpps-render's defaults, as the post-renderer runs without flags),
// in kustomize's own engine.
func kustomize(t *testing.T, stream []byte, fn bool) []byte {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rendered.yaml", string(stream))
	k := "resources: [rendered.yaml]\n"
	if fn {
		render := filepath.Join(testutil.Tool(t, "DPPS_BIN"), "dpps-render")
		write("fn.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dpps-render\n"+
			"  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: "+render+"\n")
		k += "transformers: [fn.yaml]\n"
	}
	write("kustomization.yaml", k)
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.EnabledPluginConfig(types.BploUseStaticallyLinked)
	opts.PluginConfig.FnpLoadingOptions.EnableExec = true
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build (function %v): %v", fn, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canonical decodes a kustomize output into one JSON document per object,
// in order (keys sorted: kustomize keeps the key order it parsed, and adds
// its own internal annotations to metadata before a function runs, so a
// function's annotations land before the labels where the post-renderer's
// come after them), without the two annotations; it returns how many
// objects carried them.
func canonical(t *testing.T, stream []byte) ([]string, int) {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(stream), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var stamped int
	for _, n := range nodes {
		m, err := n.Map()
		if err != nil {
			t.Fatal(err)
		}
		md, _ := m["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		var had bool
		for _, a := range sourceAnnotations {
			if _, ok := ann[a]; ok {
				had = true
				delete(ann, a)
			}
		}
		if had {
			stamped++
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out, stamped
}

// TestThreeEntryPoints is the proof of docs/gitops.md for every site of the
// ApplicationSet: the same chart and values through
//
//  1. Helm: helm template --post-renderer dpps-render;
//  2. Argo CD: the plugin's generate command, with the Application's name,
//     namespace and parameters as the ApplicationSet generates them;
//  3. kustomize: helm template's plain output as a resource, dpps-render as
//     an exec KRM function, in kustomize's own engine (krusty).
//
// 1 and 2 must be byte-identical. 3 cannot be: kustomize drops comments
// (Helm's "# Source:") and reserialises objects (sorted keys, its own
// style) before the function runs, so dpps-render cannot stamp
// dpps.ctao.org/source and dpps.ctao.org/component there. 3 is therefore
// compared with 1 after kustomize's own normalisation (1 built by the same
// engine without a function), object by object in canonical JSON (sorted
// keys: see canonical for why key order differs), with those two
// annotations removed from 1; then every object must be byte-identical:
// every other annotation, label, field, generated object and the order.
func TestThreeEntryPoints(t *testing.T) {
	for _, app := range SiteApps(t) {
		t.Run(app.Site, func(t *testing.T) {
			if app.Namespace != "dpps" {
				t.Fatalf("namespace %q: the comparison renders into dpps", app.Namespace)
			}
			helmOut := PostRender(t, app.Values...)
			argoOut, err := GenerateApp(t, app.Name, app.Params, app.Values...)
			if err != nil {
				t.Fatalf("plugin generate: %v", err)
			}
			if !bytes.Equal(argoOut, helmOut) {
				t.Errorf("Argo CD plugin output (%d bytes) differs from helm --post-renderer (%d bytes)", len(argoOut), len(helmOut))
			}
			if !bytes.Contains(helmOut, []byte("."+app.Site+".example.org")) {
				t.Errorf("the render holds no endpoint of %s", app.Site)
			}

			want, stamped := canonical(t, kustomize(t, helmOut, false))
			if stamped == 0 {
				t.Fatalf("no object of the post-renderer's output carries %v", sourceAnnotations)
			}
			got, n := canonical(t, kustomize(t, helmRaw(t, app.Values...), true))
			if n != 0 {
				t.Errorf("%d objects of the KRM function's output carry %v, which kustomize makes impossible: the premise changed, update this test and docs/gitops.md",
					n, sourceAnnotations)
			}
			if len(got) != len(want) {
				t.Errorf("KRM function through kustomize: %d objects, post-renderer: %d", len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("object %d: KRM function through kustomize differs from the post-renderer (after kustomize, minus %v):\n got %s\nwant %s",
						i+1, sourceAnnotations, got[i], want[i])
				}
			}
		})
	}
}
