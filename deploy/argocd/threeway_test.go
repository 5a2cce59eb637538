package argocd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

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

// The provenance every object rendered from a template carries: the
// chart's dpps.ctao.org/source (its "# Source:"), and the component
// dpps-render derives from it. dpps-render's transforms label the objects
// they generate, which come from no template.
const (
	annSource      = "dpps.ctao.org/source"
	annComponent   = "dpps.ctao.org/component"
	labelGenerated = "dpps.ctao.org/generated"
)

var sourceComment = regexp.MustCompile(`(?m)^# Source: (.+?)\s*$`)

// checkProvenance fails unless every object of stream but the generated
// ones carries dpps.ctao.org/source and /component, equal to Helm's
// "# Source:" comment where the document still has one.
func checkProvenance(t *testing.T, what string, stream []byte) {
	t.Helper()
	var sourced, generated int
	var bad []string
	for i, doc := range testutil.Documents(stream) {
		var obj struct {
			Kind     string
			Metadata struct {
				Name        string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: document %d: %v", what, i+1, err)
		}
		if obj.Kind == "" {
			continue // before the first "---"
		}
		md := obj.Metadata
		if md.Labels[labelGenerated] != "" {
			generated++
			continue
		}
		var lacks []string
		for _, a := range []string{annSource, annComponent} {
			if md.Annotations[a] == "" {
				lacks = append(lacks, a)
			}
		}
		src := md.Annotations[annSource]
		m := sourceComment.FindStringSubmatch(doc)
		switch {
		case len(lacks) > 0:
			bad = append(bad, fmt.Sprintf("%s %s lacks %v", obj.Kind, md.Name, lacks))
		case m != nil && m[1] != src:
			bad = append(bad, fmt.Sprintf("%s %s: %s %q, but # Source: %q", obj.Kind, md.Name, annSource, src, m[1]))
		default:
			sourced++
		}
	}
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
		}
		t.Errorf("%s:\n  %s", what, strings.Join(bad, "\n  "))
	}
	if sourced == 0 || generated == 0 {
		t.Errorf("%s: %d objects from templates with their provenance, %d generated: want some of each", what, sourced, generated)
	}
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
// 1 and 2 must be byte-identical. 3 must be byte-identical to what
// kustomize makes of 1 (the same engine over 1, without a function): every
// annotation, dpps.ctao.org/source and /component included (the chart
// stamps the template path as an annotation, which kustomize keeps where
// it drops Helm's "# Source:" comment), every label, field and generated
// object, in the same order. And kustomize must change nothing in 1 but the
// serialisation: its output over 1 is byte-identical to 1 decoded and
// re-encoded independently (testutil.KustomizeStyle). 3 cannot equal 1
// itself byte for byte, for a reason inside kustomize: it writes every
// object through JSON (resource.AsYAML), so comments are gone, keys come
// out sorted and scalars and lists in sigs.k8s.io/yaml's style, whatever
// the input; 1 keeps Helm's comments and the chart's key order. The two
// annotations are on every object from a template, in 1 (equal to its
// "# Source:" comment), 2 (same bytes) and 3. Last, 3 through kustomize
// with the function again (no comment left, the template path read from
// dpps.ctao.org/source) comes out unchanged.
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
				t.Errorf("Argo CD plugin output (%d bytes) differs from helm --post-renderer (%d bytes) at %s",
					len(argoOut), len(helmOut), testutil.FirstDiff(argoOut, helmOut))
			}
			if !bytes.Contains(helmOut, []byte("."+app.Site+".example.org")) {
				t.Errorf("the render holds no endpoint of %s", app.Site)
			}
			checkProvenance(t, "helm --post-renderer", helmOut)

			krmOut := kustomize(t, helmRaw(t, app.Values...), true)
			want := kustomize(t, helmOut, false)
			if !bytes.Equal(krmOut, want) {
				t.Errorf("the KRM function through kustomize (%d bytes) differs from kustomize over helm --post-renderer (%d bytes) at %s",
					len(krmOut), len(want), testutil.FirstDiff(krmOut, want))
			}
			if style := testutil.KustomizeStyle(t, helmOut); !bytes.Equal(want, style) {
				t.Errorf("kustomize changed more than the serialisation of helm --post-renderer's output: at %s",
					testutil.FirstDiff(want, style))
			}
			checkProvenance(t, "KRM function through kustomize", krmOut)
			if again := kustomize(t, krmOut, true); !bytes.Equal(again, krmOut) {
				t.Errorf("the KRM function over its own output through kustomize changed it at %s", testutil.FirstDiff(again, krmOut))
			}
		})
	}
}
