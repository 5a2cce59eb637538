package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const committed = "../charts/dpps/catalog.json"

func readCommitted(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadCommitted: the generated catalog loads and encodes back to the
// same bytes.
func TestLoadCommitted(t *testing.T) {
	data := readCommitted(t)
	c, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("Marshal(Load(%s)) differs from the file", committed)
	}
	if c.Release != ReleaseName {
		t.Errorf("release %q", c.Release)
	}
}

// TestLoadRejects: each broken catalog fails with a message that names the
// problem.
func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"unknown top-level field", func(m map[string]any) { m["extra"] = 1 }, "additional properties 'extra' not allowed"},
		{"wrong kind", func(m map[string]any) { m["kind"] = "Catalog" }, "/kind: value must be 'InterfaceCatalog'"},
		{"port out of range", func(m map[string]any) {
			port(m, "rucio-db")["port"] = 70000
		}, "/interfaces/rucio-db/ports/0/port: maximum"},
		{"unknown consumer", func(m map[string]any) {
			section(m, "interfaces")["rucio-db"].(map[string]any)["consumers"] = []any{"nobody"}
		}, `interfaces.rucio-db.consumers[0]: unknown component "nobody"`},
		{"unknown owner", func(m map[string]any) {
			section(m, "credentials")["rucio-db-password"].(map[string]any)["owner"] = "nobody"
		}, `credentials.rucio-db-password.owner: unknown component "nobody"`},
		{"name not a label", func(m map[string]any) {
			section(m, "shared")["Bad_Name"] = section(m, "shared")["server-cafile"]
		}, "'Bad_Name' does not match pattern"},
		{"missing field", func(m map[string]any) {
			delete(section(m, "components")["iam"].(map[string]any), "workload")
		}, "/components/iam: missing property 'workload'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(readCommitted(t), &m); err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			data, _ := json.Marshal(m)
			_, err := Load(data)
			if err == nil {
				t.Fatal("loaded a broken catalog")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func section(m map[string]any, name string) map[string]any { return m[name].(map[string]any) }

func port(m map[string]any, iface string) map[string]any {
	return section(m, "interfaces")[iface].(map[string]any)["ports"].([]any)[0].(map[string]any)
}

// TestForSubchart selects what a subchart provides or consumes.
func TestForSubchart(t *testing.T) {
	c, err := Load(readCommitted(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		subchart          string
		interfaces, notIn []string
	}{
		{"bdms", []string{"rucio-server", "rucio-db", "fts", "fts-broker"}, []string{"dirac-db", "fts-db"}},
		{"wms", []string{"dirac-server", "dirac-db", "dirac-ce", "rucio-server"}, []string{"rucio-db", "fts-db"}},
		{"cert-generator-grid", nil, []string{"rucio-server"}},
	}
	for _, tt := range tests {
		sel := c.ForSubchart(tt.subchart)
		for _, n := range tt.interfaces {
			if _, ok := sel.Interfaces[n]; !ok {
				t.Errorf("%s: interface %s missing", tt.subchart, n)
			}
		}
		for _, n := range tt.notIn {
			if _, ok := sel.Interfaces[n]; ok {
				t.Errorf("%s: interface %s should not be there", tt.subchart, n)
			}
		}
	}
	if _, ok := c.ForSubchart("cert-generator-grid").Shared["server-cafile"]; !ok {
		t.Error("cert-generator-grid owns server-cafile")
	}
}
