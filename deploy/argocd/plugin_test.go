// Package argocd holds the Argo CD plugin and ApplicationSet of DPPS; its
// test runs the plugin's generate command as Argo CD's sidecar would.
package argocd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

type plugin struct {
	Kind     string
	Metadata struct{ Name string }
	Spec     struct {
		Version  string
		Generate struct {
			Command []string
			Args    []string
		}
		Parameters struct {
			Static []struct {
				Name           string
				CollectionType string
				Required       bool
			}
		}
	}
}

// loadPlugin reads deploy/argocd/plugin.yaml.
func loadPlugin(t *testing.T) plugin {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "deploy/argocd/plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p plugin
	if err := yaml.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "ConfigManagementPlugin" || len(p.Spec.Generate.Command) == 0 {
		t.Fatalf("plugin.yaml: kind %q, generate %v", p.Kind, p.Spec.Generate.Command)
	}
	return p
}

// Generate runs the plugin's generate command as Argo CD's sidecar does:
// the working directory is the app's source path (the repository root),
// ARGOCD_APP_NAME, ARGOCD_APP_NAMESPACE and one PARAM_VALUES_<i> per values
// file are in the environment, and helm and dpps-render are found on PATH
// only (a directory holding the two, as in the sidecar image).
func Generate(t *testing.T, values ...string) ([]byte, error) {
	t.Helper()
	return GenerateApp(t, "dpps", nil, values...)
}

// GenerateApp is Generate for the Application app with the plugin's
// string parameters params (PARAM_<NAME>, as Argo CD sets them).
func GenerateApp(t *testing.T, app string, params map[string]string, values ...string) ([]byte, error) {
	t.Helper()
	root := testutil.RepoRoot(t)
	helm := testutil.Tool(t, "DPPS_HELM3")
	render := filepath.Join(testutil.Tool(t, "DPPS_BIN"), "dpps-render")
	p := loadPlugin(t)
	bin := t.TempDir()
	for name, target := range map[string]string{"helm": helm, "dpps-render": render} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	g := p.Spec.Generate
	cmd := exec.Command(g.Command[0], append(g.Command[1:], g.Args...)...)
	cmd.Dir = root
	cmd.Env = []string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"HOME=" + t.TempDir(),
		"ARGOCD_APP_NAME=" + app,
		"ARGOCD_APP_NAMESPACE=dpps",
		"ARGOCD_APP_SOURCE_PATH=.",
		"ARGOCD_APP_SOURCE_REPO_URL=https://gitlab.cta-observatory.org/cta-computing/dpps/dpps-deploy.git",
		"ARGOCD_APP_SOURCE_TARGET_REVISION=main",
	}
	for i, v := range values {
		cmd.Env = append(cmd.Env, fmt.Sprintf("PARAM_VALUES_%d=%s", i, v))
	}
	for k, v := range params {
		cmd.Env = append(cmd.Env, "PARAM_"+strings.ToUpper(k)+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// PostRender is the Helm entry point: helm template with dpps-render as
// post-renderer, the same release, namespace and values.
func PostRender(t *testing.T, values ...string) []byte {
	t.Helper()
	root := testutil.RepoRoot(t)
	helm := testutil.Tool(t, "DPPS_HELM3")
	render := filepath.Join(testutil.Tool(t, "DPPS_BIN"), "dpps-render")
	args := []string{"template", "dpps", "charts/dpps", "--namespace", "dpps", "--skip-tests"}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	args = append(args, "--post-renderer", render)
	cmd := exec.Command(helm, args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func TestPluginGenerate(t *testing.T) {
	values := []string{"examples/prod-site/values.yaml"}
	got, err := Generate(t, values...)
	if err != nil {
		t.Fatal(err)
	}
	if want := PostRender(t, values...); !bytes.Equal(got, want) {
		t.Errorf("plugin output (%d bytes) differs from helm --post-renderer (%d bytes)", len(got), len(want))
	}
	for _, s := range []string{"dpps.ctao.org/rendered-by: dpps-render", "kind: ExternalSecret", "kind: NetworkPolicy"} {
		if !strings.Contains(string(got), s) {
			t.Errorf("plugin output lacks %q", s)
		}
	}
}

func TestPluginGenerateWithoutValues(t *testing.T) {
	if _, err := Generate(t); err == nil || !strings.Contains(err.Error(), "set the 'values' parameter") {
		t.Errorf("generate without values: %v", err)
	}
}

func TestPluginGenerateFailsOnBadValues(t *testing.T) {
	// A failing render must fail generate (Argo CD then shows the error and
	// syncs nothing) rather than produce a partial stream.
	if out, err := Generate(t, "examples/prod-site/values.yaml", "no-such-file.yaml"); err == nil {
		t.Errorf("generate succeeded with a missing values file (%d bytes)", len(out))
	}
}
