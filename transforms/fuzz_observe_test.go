package transforms_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/transforms"
)

// observePrefix is fuzzPrefix with observability to act on: the test
// catalog's web component declares metrics and traces, and the site
// declares an OTLP endpoint and wants the dashboards.
func observePrefix(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("secretrefs", "testdata", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]any
	if err := yaml.Unmarshal(data, &cat); err != nil {
		t.Fatal(err)
	}
	web := cat["components"].(map[string]any)["web"].(map[string]any)
	web["metrics"] = map[string]any{"port": 8080, "path": "/metrics"}
	web["traces"] = map[string]any{"protocols": []string{"grpc"}}
	js, err := json.Marshal(cat)
	if err != nil {
		t.Fatal(err)
	}
	quoted, _ := json.Marshal(string(js))
	site := `{"externals": {}, "secrets": {"backend": "chart"}, "observability": {"otlp": {"endpoint": "http://otel-collector.monitoring:4317"}, "grafana": {"dashboards": true}}}`
	prefix := fuzzPrefix(t)
	head, rest, ok := strings.Cut(prefix, "data:\n")
	if !ok {
		t.Fatal("fuzzPrefix has no data")
	}
	_, secret, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		t.Fatal("fuzzPrefix has no Secret")
	}
	return fmt.Sprintf("%sdata:\n  catalog.json: %s\n  site.json: '%s'\n---\n%s", head, quoted, site, secret)
}

func FuzzOtel(f *testing.F)       { fuzzTransformsWith(f, observePrefix(f), "otel") }
func FuzzDashboards(f *testing.F) { fuzzTransformsWith(f, observePrefix(f), "dashboards") }

// FuzzObservability runs every transform with the observability prefix.
func FuzzObservability(f *testing.F) {
	fuzzTransformsWith(f, observePrefix(f), transforms.Names()...)
}
