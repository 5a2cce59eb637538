package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/schema/schematest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const repoRoot = "../.."

func TestParseLintArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *lintConfig
		wantErr string
	}{
		{"one file", []string{"-f", "a.yaml"}, &lintConfig{files: stringList{"a.yaml"}, chart: "charts/dpps", output: "text"}, ""},
		{"files in order", []string{"-f", "a.yaml", "--values", "b.yaml", "-f=c.yaml"}, &lintConfig{files: stringList{"a.yaml", "b.yaml", "c.yaml"}, chart: "charts/dpps", output: "text"}, ""},
		{"chart and output", []string{"--chart", "x", "--output", "junit", "-f", "a.yaml"}, &lintConfig{files: stringList{"a.yaml"}, chart: "x", output: "junit"}, ""},
		{"no file", []string{"--output", "json"}, nil, "no values file"},
		{"bad output", []string{"-f", "a.yaml", "--output", "sarif"}, nil, `unknown --output "sarif"; valid formats: text, json, junit`},
		{"positional", []string{"-f", "a.yaml", "b.yaml"}, nil, "unexpected arguments"},
		{"set flags", []string{"--set", "a=1,b=2", "--set-file", "c=f", "--set-string", "d=1", "--set", "e=3"},
			&lintConfig{set: stringList{"a=1,b=2", "e=3"}, setString: stringList{"d=1"}, setFile: stringList{"c=f"}, chart: "charts/dpps", output: "text"}, ""},
		{"unknown flag", []string{"--set-json", "x=1"}, nil, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLintArgs(tt.args, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args      []string
		code      int
		out, errs string
	}{
		{nil, 2, "dpps-schemagen lint -f FILE", ""},
		{[]string{"--help"}, 0, "edit interfaces/*.cue, run 'make generate'", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"; valid commands: generate, lint, init`},
		{[]string{"init", "extra"}, 2, "", `unexpected arguments ["extra"]: name the file with -o`},
		{[]string{"--help"}, 0, "dpps-schemagen init [-o FILE] [--force] [--chart DIR]", ""},
		{[]string{"lint"}, 2, "", "no values file"},
		{[]string{"lint", "--output", "xml", "-f", "a.yaml"}, 2, "", `unknown --output "xml"`},
		{[]string{"generate", "extra"}, 2, "", "unexpected arguments"},
	}
	for _, tt := range tests {
		var out, errs bytes.Buffer
		if code := run(tt.args, &out, &errs); code != tt.code {
			t.Errorf("%q: exit %d, want %d; stderr %s", tt.args, code, tt.code, errs.String())
		}
		if !strings.Contains(out.String(), tt.out) || !strings.Contains(errs.String(), tt.errs) {
			t.Errorf("%q: stdout %q, stderr %q; want %q, %q", tt.args, out.String(), errs.String(), tt.out, tt.errs)
		}
	}
}

const fourErrors = schematest.FourErrors

// TestLint runs lint in a directory holding a chart and values files, and
// compares each output format with its golden file (-update rewrites them).
func TestLint(t *testing.T) {
	chart := schematest.Chart(t, repoRoot)
	golden, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(chart)
	os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(fourErrors), 0o644)
	os.WriteFile(filepath.Join(dir, "good.yaml"), []byte("testkit: {enabled: false}\n"), 0o644)
	t.Chdir(dir)
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string
	}{
		{"text", []string{"lint", "--chart", "dpps", "-f", "site.yaml"}, 1, "lint.txt"},
		{"json", []string{"lint", "--chart", "dpps", "-f", "site.yaml", "--output", "json"}, 1, "lint.json"},
		{"junit", []string{"lint", "--chart", "dpps", "-f", "site.yaml", "--output", "junit"}, 1, "lint.xml"},
		{"junit valid", []string{"lint", "--chart", "dpps", "-f", "good.yaml", "--output", "junit"}, 0, "lint-valid.xml"},
		{"valid", []string{"lint", "--chart", "dpps", "-f", "good.yaml"}, 0, ""},
		{"missing file", []string{"lint", "--chart", "dpps", "-f", "nope.yaml"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(tt.args, &out, &errs); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errs.String())
			}
			if tt.golden == "" {
				if out.Len() != 0 {
					t.Fatalf("stdout %q, want nothing", out.String())
				}
				return
			}
			compareGolden(t, filepath.Join(golden, tt.golden), out.Bytes())
		})
	}
}

func compareGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v; run go test -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from %s; run go test -update to accept:\n%s", file, got)
	}
}

// copyTree copies the Go and CUE sources dpps-schemagen reads.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".cue")) {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGenerate: generate writes into a fresh root, --check passes on it,
// detects a stale file (exit 1, diff on stdout) and a broken CUE model is
// reported at file:line:col (exit 2).
func TestGenerate(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"transforms", "catalog", "interfaces"} {
		copyTree(t, filepath.Join(repoRoot, d), filepath.Join(root, d))
	}
	var out, errs bytes.Buffer
	if code := run([]string{"generate", "--root", root}, &out, &errs); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errs.String())
	}
	if code := run([]string{"generate", "--check", "--root", root}, &out, &errs); code != 0 {
		t.Fatalf("generate --check on fresh files: exit %d: %s%s", code, out.String(), errs.String())
	}
	// The files are those of the repository.
	for _, f := range []string{"charts/dpps/values.schema.json", "charts/dpps/catalog.json", "charts/dpps/charts/bdms/values.yaml", "schema/catalog.schema.json"} {
		a, _ := os.ReadFile(filepath.Join(root, f))
		b, _ := os.ReadFile(filepath.Join(repoRoot, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: generated in a fresh root differs from the repository's", f)
		}
	}

	stale := filepath.Join(root, "charts/dpps/catalog.json")
	data, _ := os.ReadFile(stale)
	os.WriteFile(stale, bytes.Replace(data, []byte(`"port": 5432`), []byte(`"port": 5433`), 1), 0o644)
	out.Reset()
	errs.Reset()
	if code := run([]string{"generate", "--check", "--root", root}, &out, &errs); code != 1 {
		t.Fatalf("generate --check on a stale file: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), "--- charts/dpps/catalog.json (committed)") || !strings.Contains(out.String(), `-          "port": 5433,`) {
		t.Errorf("diff:\n%s", out.String())
	}
	if !strings.Contains(errs.String(), "run 'make generate'") {
		t.Errorf("stderr: %s", errs.String())
	}

	os.WriteFile(filepath.Join(root, "interfaces", "broken.cue"), []byte("package interfaces\n\ncomponents: testkit: workload: \"Pod\"\n"), 0o644)
	out.Reset()
	errs.Reset()
	if code := run([]string{"generate", "--check", "--root", root}, &out, &errs); code != 2 {
		t.Fatalf("generate with a broken model: exit %d, want 2", code)
	}
	if !strings.Contains(errs.String(), "interfaces/broken.cue:3:32: ") {
		t.Errorf("stderr lacks the position of the error:\n%s", errs.String())
	}
}

// TestInit: the skeleton init writes, pinned by testdata/init.yaml
// (-update rewrites it), starts with a modeline that resolves to the
// chart's schema, passes lint and helm lint as written, names every
// external interface and subchart of the catalog, and, uncommented
// whole, is YAML whose keys the schema all knows.
func TestInit(t *testing.T) {
	chart, err := filepath.Abs(filepath.Join(repoRoot, "charts", "dpps"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run([]string{"init", "--chart", "../../charts/dpps"}, &out, &errs); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errs.String())
	}
	compareGolden(t, filepath.Join("testdata", "init.yaml"), out.Bytes())

	dir := t.TempDir()
	site := filepath.Join(dir, "site", "values.yaml")
	os.MkdirAll(filepath.Dir(site), 0o755)
	if code := run([]string{"init", "-o", site, "--chart", chart}, &out, &errs); code != 0 {
		t.Fatalf("init -o: exit %d: %s", code, errs.String())
	}
	data, err := os.ReadFile(site)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(data), "\n")
	ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
	if !ok {
		t.Fatalf("first line %q is not the modeline", first)
	}
	got, err1 := os.Stat(filepath.Join(filepath.Dir(site), filepath.FromSlash(ref)))
	want, err2 := os.Stat(filepath.Join(chart, "values.schema.json"))
	if err1 != nil || err2 != nil || !os.SameFile(got, want) {
		t.Errorf("the modeline's %s does not resolve to the chart's schema: %v %v", ref, err1, err2)
	}
	errs.Reset()
	if code := run([]string{"lint", "--chart", chart, "-f", site}, &out, &errs); code != 0 {
		t.Errorf("lint of the skeleton: exit %d: %s", code, errs.String())
	}
	for _, env := range []string{"DPPS_HELM3", "DPPS_HELM4"} {
		helm := os.Getenv(env)
		if helm == "" {
			continue
		}
		cmd := exec.Command(helm, "lint", "--strict", chart, "-f", site)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s lint of the skeleton: %v\n%s", env, err, b)
		}
	}

	// Uncommented whole (the first "# " of every line after the header
	// removed), the skeleton is YAML with every external interface and
	// every subchart of the catalog, and lint finds no key the schema does
	// not know: only the <...> placeholders are wrong.
	_, body, ok := strings.Cut(rest, "\n#\n")
	if !ok {
		t.Fatal("no '#' line after the header")
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if l == "#" {
			b.WriteString("\n")
			continue
		}
		u, ok := strings.CutPrefix(l, "# ")
		if !ok {
			t.Fatalf("line %q does not start with '# '", l)
		}
		b.WriteString(u + "\n")
	}
	var vals struct {
		Global struct {
			Externals map[string]any `json:"externals"`
		} `json:"global"`
	}
	var top map[string]any
	if err := yaml.Unmarshal([]byte(b.String()), &vals); err != nil {
		t.Fatalf("uncommented skeleton: %v\n%s", err, b.String())
	}
	yaml.Unmarshal([]byte(b.String()), &top)
	var cat struct {
		Subcharts map[string]any `json:"subcharts"`
		Externals map[string]any `json:"externals"`
	}
	catJSON, err := os.ReadFile(filepath.Join(chart, "catalog.json"))
	if err != nil || json.Unmarshal(catJSON, &cat) != nil {
		t.Fatalf("catalog.json: %v", err)
	}
	if g, w := slices.Sorted(maps.Keys(vals.Global.Externals)), slices.Sorted(maps.Keys(cat.Externals)); !slices.Equal(g, w) || len(w) == 0 {
		t.Errorf("skeleton's global.externals %v, the catalog's externals %v", g, w)
	}
	for s := range cat.Subcharts {
		if _, ok := top[s]; !ok {
			t.Errorf("skeleton lacks the subchart %s", s)
		}
	}
	full := filepath.Join(dir, "full.yaml")
	os.WriteFile(full, []byte(b.String()), 0o644)
	out.Reset()
	if code := run([]string{"lint", "--chart", chart, "-f", full, "--output", "json"}, &out, &errs); code != 1 {
		t.Fatalf("lint of the uncommented skeleton: exit %d, want 1 (placeholders)", code)
	}
	var res struct {
		Problems []struct{ Pointer, Keyword, Message string }
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		if p.Keyword == "additionalProperties" {
			t.Errorf("the skeleton has a key the schema does not know: %s: %s", p.Pointer, p.Message)
		}
	}
}
