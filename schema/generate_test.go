package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/interfaces"
)

const repoRoot = ".."

func outputs(t *testing.T, files map[string][]byte) map[string][]byte {
	t.Helper()
	outs, err := OutputsFrom(repoRoot, files)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, o := range outs {
		m[o.Path] = o.Data
	}
	return m
}

// TestGeneratedFilesCurrent is `generate --check` on the repository.
func TestGeneratedFilesCurrent(t *testing.T) {
	outs, err := Outputs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Drift(repoRoot, outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) > 0 {
		t.Fatalf("generated files are stale; run make generate:\n%s", d)
	}
}

// TestDriftDetectsStale: a changed or missing generated file shows in the
// diff, named.
func TestDriftDetectsStale(t *testing.T) {
	outs, err := Outputs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, outs); err != nil {
		t.Fatal(err)
	}
	if d, err := Drift(dir, outs); err != nil || len(d) != 0 {
		t.Fatalf("fresh copy reported stale: %v\n%s", err, d)
	}
	stale := filepath.Join(dir, SubchartValuesFile("bdms"))
	data, _ := os.ReadFile(stale)
	os.WriteFile(stale, bytes.Replace(data, []byte("5432"), []byte("5433"), 1), 0o644)
	os.Remove(filepath.Join(dir, CatalogFile))
	d, err := Drift(dir, outs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{SubchartValuesFile("bdms") + " (committed)", "-      - {name: postgresql, port: 5433, protocol: TCP}", "+      - {name: postgresql, port: 5432, protocol: TCP}", CatalogFile + " (generated)"} {
		if !strings.Contains(string(d), want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
}

// TestOneCUEChangeFlows changes the PostgreSQL port of the rucio-db fixture,
// once, in internal.cue, through load.Config.Overlay, and follows it into
// the schema (the default port of the external rucio-database), the values
// of the subchart that consumes it (bdms, not wms) and the catalog.
func TestOneCUEChangeFlows(t *testing.T) {
	files := interfaces.Files()
	before := outputs(t, files)
	src := string(files["internal.cue"])
	changed := strings.Replace(src, `ports: [{name: "postgresql", port: 5432}]`, `ports: [{name: "postgresql", port: 6432}]`, 1)
	if changed == src {
		t.Fatal("internal.cue has no rucio-db port 5432 to change")
	}
	files["internal.cue"] = []byte(changed)
	after := outputs(t, files)

	var schemaDoc map[string]any
	if err := json.Unmarshal(after[ValuesSchemaFile], &schemaDoc); err != nil {
		t.Fatal(err)
	}
	port := dig(schemaDoc, "$defs", "RucioDatabaseEndpoint", "properties", "port", "default")
	if port != 6432.0 {
		t.Errorf("values schema: rucio-database port default %v, want 6432", port)
	}
	if p := dig(schemaDoc, "$defs", "Externals", "properties", "rucio-database", "x-dpps-external", "port"); p != 6432.0 {
		t.Errorf("values schema: %s port %v, want 6432", ExternalKeyword, p)
	}
	if !strings.Contains(string(after[SubchartValuesFile("bdms")]), "{name: postgresql, port: 6432, protocol: TCP}") {
		t.Errorf("bdms values:\n%s", after[SubchartValuesFile("bdms")])
	}
	if !bytes.Equal(before[SubchartValuesFile("wms")], after[SubchartValuesFile("wms")]) {
		t.Error("wms does not consume rucio-db, yet its values changed")
	}
	c, err := catalog.Load(after[CatalogFile])
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Interfaces["rucio-db"].Ports[0].Port; got != 6432 {
		t.Errorf("catalog: rucio-db port %d", got)
	}
	if got := c.Externals["rucio-database"].Port; got != 6432 {
		t.Errorf("catalog: rucio-database port %d", got)
	}
	// The subcharts' schemas change too: each types global, which holds
	// the external's default port.
	want := []string{CatalogFile, SubchartValuesFile("bdms"), ValuesSchemaFile}
	for name := range c.Subcharts {
		want = append(want, SubchartSchemaFile(name))
	}
	var changedFiles []string
	for p := range after {
		if !bytes.Equal(before[p], after[p]) {
			changedFiles = append(changedFiles, p)
		}
	}
	slices.Sort(want)
	slices.Sort(changedFiles)
	if !slices.Equal(changedFiles, want) {
		t.Errorf("changed files %v, want %v", changedFiles, want)
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestSubchartValuesReadBack: every generated values file reads back, with a
// YAML parser, to the catalog entries of its subchart.
func TestSubchartValuesReadBack(t *testing.T) {
	m, err := interfaces.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	type port struct {
		Name     string `yaml:"name"`
		Port     int    `yaml:"port"`
		Protocol string `yaml:"protocol"`
	}
	type values struct {
		Interfaces map[string]struct {
			Service  string            `yaml:"service"`
			Ports    []port            `yaml:"ports"`
			Settings map[string]string `yaml:"settings"`
		} `yaml:"interfaces"`
		Shared map[string]struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"shared"`
		Credentials map[string]struct {
			SecretName string `yaml:"secretName"`
			Key        string `yaml:"key"`
		} `yaml:"credentials"`
		ExternalDefaults map[string]map[string]any `yaml:"externalDefaults"`
		Metrics          map[string]struct {
			Port int    `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"metrics"`
	}
	for name := range m.Catalog.Subcharts {
		data := SubchartValues(m.Catalog, name)
		if !bytes.HasPrefix(data, []byte("# "+GeneratedHeader+"\n")) {
			t.Errorf("%s: no header", name)
		}
		var v values
		dec := yamlv3.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sel := m.Catalog.ForSubchart(name)
		if len(v.Interfaces) != len(sel.Interfaces) || len(v.Shared) != len(sel.Shared) || len(v.Credentials) != len(sel.Credentials) {
			t.Errorf("%s: read back %d/%d/%d entries, want %d/%d/%d", name, len(v.Interfaces), len(v.Shared), len(v.Credentials), len(sel.Interfaces), len(sel.Shared), len(sel.Credentials))
		}
		for n, i := range sel.Interfaces {
			got := v.Interfaces[n]
			if got.Service != i.Service || len(got.Ports) != len(i.Ports) {
				t.Errorf("%s: interfaces.%s = %+v", name, n, got)
				continue
			}
			for k, p := range i.Ports {
				if got.Ports[k] != (port{p.Name, p.Port, p.Protocol}) {
					t.Errorf("%s: interfaces.%s.ports[%d] = %+v", name, n, k, got.Ports[k])
				}
			}
			for k, s := range i.Settings {
				if got.Settings[k] != s {
					t.Errorf("%s: interfaces.%s.settings.%s = %q", name, n, k, got.Settings[k])
				}
			}
		}
		for n, s := range sel.Shared {
			if got := v.Shared[n]; got.Kind != s.Kind || got.Name != s.Name {
				t.Errorf("%s: shared.%s = %+v", name, n, got)
			}
		}
		for n, c := range sel.Credentials {
			if got := v.Credentials[n]; got.SecretName != c.SecretName || got.Key != c.Key {
				t.Errorf("%s: credentials.%s = %+v", name, n, got)
			}
		}
		if len(v.Metrics) != len(sel.Metrics) {
			t.Errorf("%s: read back %d metrics endpoints, want %d", name, len(v.Metrics), len(sel.Metrics))
		}
		for n, mt := range sel.Metrics {
			if got := v.Metrics[n]; got.Port != mt.Port || got.Path != mt.Path {
				t.Errorf("%s: metrics.%s = %+v", name, n, got)
			}
		}
		for n, e := range sel.Externals {
			for _, f := range e.Fields {
				got := v.ExternalDefaults[n][f.Name]
				want := f.Default
				if f.Items != nil {
					items := map[string]any{}
					for _, it := range f.Items {
						if it.Default != nil {
							items[it.Name] = it.Default
						}
					}
					if len(items) > 0 {
						want = items
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: externalDefaults.%s.%s = %v, want %v", name, n, f.Name, got, want)
				}
			}
		}
	}
}

// TestValuesParity: the CUE #Values and the generated values.schema.json
// give the same verdict on the same values.
func TestValuesParity(t *testing.T) {
	m, err := interfaces.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := ValuesSchema(m)
	if err != nil {
		t.Fatal(err)
	}
	sch := compileSchema(t, schemas.Umbrella)
	ctx := m.Root.Context()
	tests := []struct {
		name  string
		yaml  string
		valid bool
	}{
		{"empty", "{}", true},
		{"a subchart's keys are closed", "bdms: {enabled: true, imageX: {tag: x}}", false},
		{"global is closed", "global: {imageRegistry: x}", false},
		{"the schema key", "$schema: ../charts/dpps/values.schema.json", true},
		{"fixture off, endpoint set", "storage: {enabled: false}\nglobal: {externals: {storage: {rses: [{name: SITE_DISK, host: se.example.org}]}}}", true},
		{"fixture off, no endpoint", "storage: {enabled: false}", false},
		{"component fixture off, no endpoint", "bdms: {rucio-db: {enabled: false}}", false},
		{"component fixture off, endpoint set", "bdms: {rucio-db: {enabled: false}}\nglobal: {externals: {rucio-database: {host: db.example.org}}}", true},
		{"endpoint without required field", "global: {externals: {fts: {}}}", false},
		{"port out of bounds", "global: {externals: {rucio-database: {host: db, port: 70000}}}", false},
		{"unknown top-level key", "bdsm: {}", false},
		{"unknown external", "global: {externals: {smtp: {}}}", false},
		{"wrong type", "wms: {enabled: \"no\"}", false},
		{"bad enum", "global: {secrets: {backend: vault}}", false},
		{"external-secrets without store", "global: {secrets: {backend: external-secrets}}", false},
		{"external-secrets with store", "global: {secrets: {backend: external-secrets, secretStore: {name: vault}}}", true},
		{"bad pattern", "global: {externals: {iam: {issuer: http://iam}}}", false},
		{"empty list", "global: {externals: {cvmfs: {repositories: []}}}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cueErr := validateCUE(ctx, m.Values, "values.yaml", []byte(tt.yaml))
			jsErr := validateJSON(sch, []byte(tt.yaml))
			if (cueErr == nil) != tt.valid {
				t.Errorf("CUE: %v", cueErr)
			}
			if (jsErr == nil) != tt.valid {
				t.Errorf("JSON Schema: %v", jsErr)
			}
		})
	}
}

// TestValuesCoverage holds the coverage of the chart's defaults by its
// schemas at 100%: a value added to the CUE without a type fails here.
func TestValuesCoverage(t *testing.T) {
	c, err := MeasureCoverage(filepath.Join(repoRoot, "charts/dpps"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Values < 500 || c.Typed != c.Values {
		t.Fatalf("%v; untyped: %v", c, c.Untyped)
	}
}

// TestCoverageFindsUntyped: coverage reads the schema files, so a value the
// schema stops typing (here: its property replaced by an empty schema, and
// a subchart schema that accepts anything under a key) is counted and named.
func TestCoverageFindsUntyped(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(repoRoot, "charts/dpps"))); err != nil {
		t.Fatal(err)
	}
	edit := func(file string, f func(doc map[string]any)) {
		t.Helper()
		var doc map[string]any
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		f(doc)
		if b, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	props := func(doc map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			doc = doc[k].(map[string]any)
		}
		return doc
	}
	edit(filepath.Join(dir, "values.schema.json"), func(doc map[string]any) {
		props(doc, "$defs", "Secrets", "properties")["backend"] = map[string]any{"description": "untyped"}
	})
	edit(filepath.Join(dir, "charts/iam/values.schema.json"), func(doc map[string]any) {
		props(doc, "properties")["replicas"] = map[string]any{}
	})
	c, err := MeasureCoverage(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/global/secrets/backend", "/iam/replicas"}
	if c.Typed != c.Values-2 || strings.Join(c.Untyped, " ") != strings.Join(want, " ") {
		t.Fatalf("%v; untyped %v, want %v", c, c.Untyped, want)
	}
}

// TestValuesYAMLIsTheDefaults: the generated values.yaml, read by the YAML
// reader Helm uses, is exactly what CUE itself exports as #Values' defaults.
func TestValuesYAMLIsTheDefaults(t *testing.T) {
	m, err := interfaces.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Values.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(repoRoot, ValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := sigsyaml.YAMLToJSON(file)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%s differs from the CUE defaults:\n%s\nwant\n%s", ValuesFile, got, want)
	}
	// A YAML 1.2 reader sees the same values.
	var v3 any
	if err := yamlv3.Unmarshal(file, &v3); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v3)
	if err != nil {
		t.Fatal(err)
	}
	var c any
	if err := json.Unmarshal(j, &c); err != nil || !reflect.DeepEqual(b, c) {
		t.Fatalf("yaml.v3 reads %s differently:\n%s", ValuesFile, j)
	}
}
