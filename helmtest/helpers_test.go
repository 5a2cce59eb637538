package helmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The annotations and label dpps-render's provenance transform sets
// (transforms/provenance). They are spelled out here so that a rename there
// shows up as a failing contract, not as a silently updated test.
const (
	partOfLabel    = "app.kubernetes.io/part-of"
	annSource      = "dpps.ctao.org/source"
	annComponent   = "dpps.ctao.org/component"
	annChart       = "dpps.ctao.org/chart"
	annRenderedBy  = "dpps.ctao.org/rendered-by"
	annImages      = "dpps.ctao.org/images"
	dppsPrefix     = "dpps.ctao.org/"
	helm4Filename  = "postrenderer.helm.sh/postrender-filename"
	releaseName    = "rel"
	helmRunTimeout = 2 * time.Minute
)

// envOrSkip returns the value of an environment variable the tests need.
// Unset, the test is skipped, or fails when CI is set: CI must run it.
func envOrSkip(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: run the tests with `make unit`, which sets DPPS_HELM3, DPPS_HELM4 and DPPS_BIN", name)
		}
		t.Skipf("%s is not set: run `make unit` to run this test against the real binaries", name)
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return abs
}

func mustBeExecutable(t *testing.T, envName, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s: %v", envName, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s: %s is not an executable file", envName, path)
	}
}

// helm3Bin, helm4Bin and binDir return the binaries under test.
func helm3Bin(t *testing.T) string {
	t.Helper()
	p := envOrSkip(t, "DPPS_HELM3")
	mustBeExecutable(t, "DPPS_HELM3", p)
	return p
}

func helm4Bin(t *testing.T) string {
	t.Helper()
	p := envOrSkip(t, "DPPS_HELM4")
	mustBeExecutable(t, "DPPS_HELM4", p)
	return p
}

// binDir is the directory holding dpps-render, as DPPS_BIN says.
func binDir(t *testing.T) string {
	t.Helper()
	dir := envOrSkip(t, "DPPS_BIN")
	mustBeExecutable(t, "DPPS_BIN", filepath.Join(dir, "dpps-render"))
	return dir
}

// testdata returns the absolute path of a file or chart under testdata/.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// helmEnv is the whole environment Helm runs with: its own homes in a fresh
// temp dir, no kubeconfig, and PATH with the dpps-render directory first so
// that a plugin running "dpps-render" finds the binary under test.
func helmEnv(t *testing.T, bin string) []string {
	t.Helper()
	home := t.TempDir()
	return []string{
		"HOME=" + home,
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"),
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
}

// result is what one command did.
type result struct {
	stdout, stderr string
	err            error
}

// run runs a command with exactly env as its environment.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), helmRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v", filepath.Base(name), strings.Join(args, " "), helmRunTimeout)
	}
	return result{stdout.String(), stderr.String(), err}
}

// mustRun runs a command that has to succeed and returns its stdout.
func mustRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	r := run(t, env, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

// mustFail runs a command that has to fail and returns its result.
func mustFail(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	r := run(t, env, name, args...)
	if r.err == nil {
		t.Fatalf("%s %s succeeded, want an error\nstdout:\n%s", filepath.Base(name), strings.Join(args, " "), r.stdout)
	}
	return r
}

// object is one Kubernetes object of a rendered stream.
type object struct {
	document
	Kind, Name  string
	Labels      map[string]string
	Annotations map[string]string
}

func (o object) String() string { return o.Kind + "/" + o.Name }

type objectYAML struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Items []map[string]any `json:"items"`
}

// document is one YAML document of a rendered stream.
type document struct {
	Source    string // Helm's "# Source:" comment
	Raw       string // the document's text, without its `---` line
	FirstLine int    // 1-based line of the document's first line in the stream
	LastLine  int
}

// splitDocuments cuts a stream at its `---` lines, skipping documents that
// hold only comments or blank lines.
func splitDocuments(stream string) []document {
	lines := strings.SplitAfter(stream, "\n")
	var docs []document
	start := 0
	flush := func(end int) {
		d := document{Raw: strings.Join(lines[start:end], ""), FirstLine: start + 1, LastLine: end}
		if start < end && isSeparator(lines[start]) {
			d.Raw = strings.Join(lines[start+1:end], "")
			d.FirstLine++
		}
		if strings.TrimSpace(stripComments(d.Raw)) == "" {
			return
		}
		for _, l := range strings.Split(d.Raw, "\n") {
			if s, ok := strings.CutPrefix(l, "# Source: "); ok {
				d.Source = strings.TrimSpace(s)
				break
			}
		}
		docs = append(docs, d)
	}
	for i, l := range lines {
		if i > start && isSeparator(l) {
			flush(i)
			start = i
		}
	}
	flush(len(lines))
	return docs
}

// parseStream splits Helm's output into objects. The items of a `kind:
// List` become objects of their own, with the List's source and text, the
// way Helm's client and dpps-render see them.
func parseStream(t *testing.T, stream string) []object {
	t.Helper()
	var objs []object
	for _, d := range splitDocuments(stream) {
		var y objectYAML
		if err := yaml.Unmarshal([]byte(d.Raw), &y); err != nil {
			t.Fatalf("document at line %d does not parse: %v\n%s", d.FirstLine, err, d.Raw)
		}
		items := []objectYAML{y}
		if y.Kind == "List" {
			items = nil
			for _, it := range y.Items {
				b, err := yaml.Marshal(it)
				if err != nil {
					t.Fatal(err)
				}
				var iy objectYAML
				if err := yaml.Unmarshal(b, &iy); err != nil {
					t.Fatalf("List item at line %d: %v", d.FirstLine, err)
				}
				items = append(items, iy)
			}
		}
		for _, it := range items {
			objs = append(objs, object{
				document: d,
				Kind:     it.Kind, Name: it.Metadata.Name,
				Labels: it.Metadata.Labels, Annotations: it.Metadata.Annotations,
			})
		}
	}
	return objs
}

func isSeparator(line string) bool {
	line = strings.TrimRight(line, "\r\n")
	return line == "---" || strings.HasPrefix(line, "--- ")
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// find returns the object of that kind and name, failing the test if there
// is not exactly one.
func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s/%s in the output, found %d (objects: %v)", kind, name, len(found), objs)
	}
	return found[0]
}

func names(objs []object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.String()
	}
	return out
}

// dppsKeys lists the dpps.ctao.org/ annotations of an object.
func dppsKeys(o object) []string {
	var keys []string
	for k := range o.Annotations {
		if strings.HasPrefix(k, dppsPrefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// provenance is what dpps-render should have stamped on one object of the
// test chart.
type provenance struct {
	kind, name string
	source     string // also the `# Source:` comment
	component  string
	chart      string
	images     string // "" for objects without pods
	partOf     string
}

// checkProvenance compares an object with what dpps-render should have
// stamped on it.
func checkProvenance(t *testing.T, objs []object, want provenance, renderedBy string) {
	t.Helper()
	o := find(t, objs, want.kind, want.name)
	if o.Source != want.source {
		t.Errorf("%s: # Source: comment is %q, want %q", o, o.Source, want.source)
	}
	checks := []struct{ key, got, want string }{
		{annSource, o.Annotations[annSource], want.source},
		{annComponent, o.Annotations[annComponent], want.component},
		{annChart, o.Annotations[annChart], want.chart},
		{annRenderedBy, o.Annotations[annRenderedBy], renderedBy},
		{annImages, o.Annotations[annImages], want.images},
		{"label " + partOfLabel, o.Labels[partOfLabel], want.partOf},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %s = %q, want %q", o, c.key, c.got, c.want)
		}
	}
}

// umbrellaObjects is what the test chart renders, hooks aside, with what
// dpps-render stamps on each object when run with --part-of=x.
var umbrellaObjects = []provenance{
	{"ConfigMap", "rel-settings", "umbrella/templates/configmap.yaml", "umbrella", "umbrella-1.2.3", "", "x"},
	// The subchart's Service sets part-of itself: dpps-render keeps it.
	{"Service", "rel-sub", "umbrella/charts/sub/templates/service.yaml", "sub", "sub-0.4.0", "", "kept-as-is"},
	{"Deployment", "rel-sub", "umbrella/charts/sub/templates/deployment.yaml", "sub", "sub-0.4.0",
		"registry.example.org/sub/migrate:2.1.0,registry.example.org/sub/server:2.1.0", "x"},
	// The two items of templates/list.yaml's `kind: List`.
	{"ServiceAccount", "rel-runner", "umbrella/templates/list.yaml", "umbrella", "umbrella-1.2.3", "", "x"},
	{"ConfigMap", "rel-extra", "umbrella/templates/list.yaml", "umbrella", "umbrella-1.2.3", "", "x"},
}

// hookJob is the chart's helm.sh/hook Job, as dpps-render stamps it when
// Helm hands it over (Helm 4 does, Helm 3 does not).
var hookJob = provenance{"Job", "rel-bootstrap", "umbrella/templates/hook-job.yaml", "umbrella", "umbrella-1.2.3",
	"registry.example.org/tools/busybox:1.36", "x"}

// checkChartAnnotationsKept checks that the chart's own annotations and
// labels survive post-rendering.
func checkChartAnnotationsKept(t *testing.T, objs []object) {
	t.Helper()
	cm := find(t, objs, "ConfigMap", "rel-settings")
	if got := cm.Annotations["example.org/note"]; got != "keep me" {
		t.Errorf("ConfigMap/rel-settings annotation example.org/note = %q, want the chart's %q", got, "keep me")
	}
	if got := cm.Labels["example.org/tier"]; got != "config" {
		t.Errorf("ConfigMap/rel-settings label example.org/tier = %q, want the chart's %q", got, "config")
	}
	if got := cm.Labels["helm.sh/chart"]; got != "umbrella-1.2.3" {
		t.Errorf("ConfigMap/rel-settings label helm.sh/chart = %q, want %q", got, "umbrella-1.2.3")
	}
	dep := find(t, objs, "Deployment", "rel-sub")
	if got := dep.Annotations["example.org/owner"]; got != "team-sub" {
		t.Errorf("Deployment/rel-sub annotation example.org/owner = %q, want the chart's %q", got, "team-sub")
	}
	job := find(t, objs, "Job", "rel-bootstrap")
	if got := job.Annotations["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
		t.Errorf("Job/rel-bootstrap annotation helm.sh/hook = %q, want %q", got, "pre-install,pre-upgrade")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lineAt returns line n (1-based) of s.
func lineAt(s string, n int) string {
	lines := strings.Split(s, "\n")
	if n < 1 || n > len(lines) {
		return fmt.Sprintf("<no line %d>", n)
	}
	return lines[n-1]
}
