package krm_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// renderer returns the dpps-render binary in $DPPS_BIN (set by `make unit`).
func renderer(t *testing.T) string {
	t.Helper()
	return filepath.Join(testutil.Tool(t, "DPPS_BIN"), "dpps-render")
}

// helmTemplate renders charts/dpps with the values files, without a
// post-renderer: what a GitOps controller or kustomize's helmCharts start from.
func helmTemplate(t *testing.T, helm string, values ...string) []byte {
	t.Helper()
	root := testutil.RepoRoot(t)
	args := []string{"template", "dpps", filepath.Join(root, "charts/dpps"), "--skip-tests"}
	for _, v := range values {
		args = append(args, "-f", filepath.Join(root, v))
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// KustomizeFunction runs dpps-render as an exec KRM function through
// kustomize's own engine over a kustomization holding the rendered chart,
// with fnConfig as the transformer's config (its function annotation is
// added here), and returns krusty's output.
func KustomizeFunction(t *testing.T, render string, rendered []byte, fnConfig string) []byte {
	t.Helper()
	out, err := kustomizeRun(t, rendered, fnConfig)
	if err != nil {
		t.Fatalf("kustomize build with dpps-render as exec function: %v", err)
	}
	return out
}

func kustomizeRun(t *testing.T, rendered []byte, fnConfig string) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rendered.yaml", string(rendered))
	write("fn.yaml", fnConfig)
	write("kustomization.yaml", "resources: [rendered.yaml]\ntransformers: [fn.yaml]\n")
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.EnabledPluginConfig(types.BploUseStaticallyLinked)
	opts.PluginConfig.FnpLoadingOptions.EnableExec = true
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

func fnAnnotation(render string) string {
	return "  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: " + render + "\n"
}

// TestKustomizeExecFunction runs dpps-render as an exec function in
// kustomize's engine over the ci render, with each shape of function config,
// and compares the result with dpps-render as Helm's post-renderer.
//
// kustomize drops every comment (Helm's "# Source:" included) before the
// function runs, and writes every object through JSON (sorted keys, its own
// scalar style). The chart stamps each object's template path as the
// annotation dpps.ctao.org/source, which kustomize keeps, so the function
// still stamps dpps.ctao.org/component: its output must be byte-identical to
// the post-renderer's written as kustomize writes (testutil.KustomizeStyle),
// every transform's output, annotation, generated object and the order.
func TestKustomizeExecFunction(t *testing.T) {
	render := renderer(t)
	helm := testutil.Tool(t, "DPPS_HELM3")
	raw := helmTemplate(t, helm, "examples/ci/values.yaml")
	want := testutil.KustomizeStyle(t, postRender(t, render, raw))
	if !bytes.Contains(want, []byte("\n    dpps.ctao.org/component: bdms\n")) {
		t.Fatal("the post-renderer's output has no dpps.ctao.org/component: bdms")
	}
	configs := map[string]string{
		"typed":     "apiVersion: dpps.ctao.org/v1alpha1\nkind: RenderConfig\nmetadata:\n  name: dpps-render\n" + fnAnnotation(render) + "provenance: {partOf: dpps}\n",
		"configmap": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dpps-render\n" + fnAnnotation(render) + "data:\n  config.yaml: |\n    provenance: {partOf: dpps}\n",
	}
	for name, fc := range configs {
		t.Run(name, func(t *testing.T) {
			got := KustomizeFunction(t, render, raw, fc)
			if !bytes.Equal(got, want) {
				t.Errorf("kustomize with the function (%d bytes) differs from the post-renderer's output as kustomize writes it (%d bytes) at %s",
					len(got), len(want), testutil.FirstDiff(got, want))
			}
		})
	}
}

// TestKustomizeExecFunctionError: a failing transform fails kustomize's build.
func TestKustomizeExecFunctionError(t *testing.T) {
	render := renderer(t)
	fc := "apiVersion: dpps.ctao.org/v1alpha1\nkind: RenderConfig\nmetadata:\n  name: dpps-render\n" + fnAnnotation(render) + "transforms: [nope]\n"
	if _, err := kustomizeRun(t, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), fc); err == nil {
		t.Fatal("kustomize build succeeded with an invalid function config")
	}
}

func postRender(t *testing.T, render string, raw []byte) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(render)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(raw), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dpps-render: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}
