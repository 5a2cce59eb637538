// Package schematest builds, for tests, a small umbrella chart that carries
// what dpps-schemagen generates (values.schema.json and each subchart's
// values.yaml) and nothing else, so lint and Helm can be tested against
// the real schema without the full chart.
package schematest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/schema"
)

// Chart writes the chart under t.TempDir() from the outputs of
// schema.Outputs(root) and returns its directory: the generated values.yaml
// and values.schema.json of the umbrella and of each subchart, with a
// Chart.yaml that lists the subcharts.
func Chart(t testing.TB, root string) string {
	t.Helper()
	outs, err := schema.Outputs(root)
	if err != nil {
		t.Fatal(err)
	}
	return ChartFrom(t, outs)
}

// ChartFrom is Chart from given outputs.
func ChartFrom(t testing.TB, outs []schema.Output) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dpps")
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var subcharts []string
	for _, o := range outs {
		switch {
		case o.Path == schema.ValuesSchemaFile:
			write("values.schema.json", string(o.Data))
		case o.Path == schema.ValuesFile:
			write("values.yaml", string(o.Data))
		case strings.HasPrefix(o.Path, "charts/dpps/charts/"):
			name, file, _ := strings.Cut(strings.TrimPrefix(o.Path, "charts/dpps/charts/"), "/")
			write(filepath.Join("charts", name, file), string(o.Data))
			if file == "values.yaml" {
				subcharts = append(subcharts, name)
				write(filepath.Join("charts", name, "Chart.yaml"), fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.1.0\n", name))
			}
		}
	}
	sort.Strings(subcharts)
	var chart strings.Builder
	chart.WriteString("apiVersion: v2\nname: dpps\nversion: 0.1.0\ndependencies:\n")
	for _, s := range subcharts {
		fmt.Fprintf(&chart, "  - name: %s\n    version: 0.1.0\n    condition: %s.enabled\n", s, s)
	}
	write("Chart.yaml", chart.String())
	return dir
}

// FourErrors is a values file for charts/dpps with one error of each kind
// lint reports: a value out of bounds (line 5), a wrong type (line 10), an
// unknown key (line 13) and, the storage fixture being off (line 12), a
// missing external endpoint: global.externals (line 2) lacks storage.
const FourErrors = `global:
  externals:
    dirac-database:
      host: db.example.org
      port: 70000
  secrets:
    backend: chart
bdms:
  rucio-db:
    enabled: "no"
storage:
  enabled: false
bdsm:
  enabled: true
`
