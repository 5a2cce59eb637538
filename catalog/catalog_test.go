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
			_, err := loadEdited(t, tt.edit)
			if err == nil {
				t.Fatal("loaded a broken catalog")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// loadEdited loads the committed catalog after edit has changed it.
func loadEdited(t *testing.T, edit func(map[string]any)) (*Catalog, error) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readCommitted(t), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return Load(data)
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
		// It writes the Service names of rucio-server into its host
		// certificate, and connects to nothing.
		{"cert-generator-grid", []string{"rucio-server", "fts"}, []string{"rucio-db", "iam"}},
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
	bdms := c.ForSubchart("bdms")
	if _, ok := bdms.Externals["rucio-database"]; !ok {
		t.Error("bdms consumes the external rucio-database")
	}
	if _, ok := bdms.Externals["compute"]; ok {
		t.Error("bdms does not consume the external compute")
	}
	if m, ok := bdms.Metrics["judge-evaluator"]; !ok || m.Port == 0 {
		t.Errorf("bdms: metrics of judge-evaluator = %+v", m)
	}
	if m := c.ForSubchart("wms").Metrics; len(m) != 1 || m["dirac-db"].Exporter != "mysqld_exporter" {
		t.Errorf("wms: only dirac-db declares metrics, through mysqld_exporter; got %+v", m)
	}
	if len(c.ForSubchart("iam").Metrics) != 0 {
		t.Error("iam: no component declares metrics")
	}
}

func credential(m map[string]any) map[string]any {
	return section(m, "credentials")["rucio-db-password"].(map[string]any)
}

func locations(l ...any) []any { return l }

// TestLocationsSecretsNotSecret: the site-catalog additions load when well
// formed and are refused, naming the entry, when not.
func TestLocationsSecretsNotSecret(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string // "" loads
	}{
		{"every kind of location", func(m map[string]any) {
			credential(m)["locations"] = locations(
				map[string]any{"env": "RUCIO_CFG_BOOTSTRAP_USERPASS_PWD"},
				map[string]any{"env": "RUCIO_CFG_DATABASE_DEFAULT", "extract": "url-password", "workload": "w", "container": "c"},
				map[string]any{"object": map[string]any{"kind": "ConfigMap", "name": "cfg"}, "key": "rucio.cfg", "format": "ini", "field": "database.default", "extract": "url-password"},
				map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}, "key": "common.json", "format": "json", "field": "bootstrap.userpass_pwd"},
				map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}, "key": "password"},
				map[string]any{"flag": "--password", "workload": "job"},
			)
			m["secrets"] = map[string]any{"backend": "external-secrets", "secretStore": map[string]any{"name": "vault"}}
			m["notSecret"] = []any{map[string]any{"env": "POSTGRES_PASSWORD_FILE", "reason": "a file path"}}
		}, ""},
		{"two kinds", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"env": "A", "flag": "--a"})
		}, "credentials.rucio-db-password.locations[0]: needs exactly one of env, flag, object"},
		{"none", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"extract": "url-password"})
		}, "credentials.rucio-db-password.locations[0]: needs exactly one of env, flag, object"},
		{"object without key", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"env": "A"}, map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}})
		}, "credentials.rucio-db-password.locations[1]: object needs key"},
		{"key without object", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"env": "A", "key": "k"})
		}, "credentials.rucio-db-password.locations[0]: key needs object"},
		{"format without object", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"env": "A", "format": "ini", "field": "a.b"})
		}, "credentials.rucio-db-password.locations[0]: format needs object"},
		{"field without format", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}, "key": "k", "field": "a.b"})
		}, "credentials.rucio-db-password.locations[0]: field needs format"},
		{"format without field", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}, "key": "k", "format": "json"})
		}, "credentials.rucio-db-password.locations[0]: format needs field"},
		{"workload on an object", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}, "key": "k", "workload": "w"})
		}, "credentials.rucio-db-password.locations[0]: workload and container apply to env and flag only"},
		{"unknown format", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"object": map[string]any{"kind": "Secret", "name": "s"}, "key": "k", "format": "toml", "field": "a"})
		}, "/credentials/rucio-db-password/locations/0/format: value must be one of"},
		{"unknown extract", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"env": "A", "extract": "user"})
		}, "/credentials/rucio-db-password/locations/0/extract: value must be 'url-password'"},
		{"object of another kind", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"object": map[string]any{"kind": "Deployment", "name": "d"}, "key": "k"})
		}, "/credentials/rucio-db-password/locations/0/object/kind: value must be one of"},
		{"flag without dash", func(m map[string]any) {
			credential(m)["locations"] = locations(map[string]any{"flag": "password"})
		}, "/credentials/rucio-db-password/locations/0/flag: 'password' does not match pattern '^-'"},
		{"notSecret without reason", func(m map[string]any) {
			m["notSecret"] = []any{map[string]any{"env": "A"}}
		}, "notSecret[0]: needs a reason"},
		{"notSecret object without key", func(m map[string]any) {
			m["notSecret"] = []any{map[string]any{"object": map[string]any{"kind": "ConfigMap", "name": "x"}, "reason": "r"}}
		}, "notSecret[0]: object needs key"},
		{"notSecret a whole config file", func(m map[string]any) {
			m["notSecret"] = []any{map[string]any{"object": map[string]any{"kind": "ConfigMap", "name": "x"}, "key": "app.ini", "format": "ini", "reason": "no secrets"}}
		}, ""},
		{"unknown backend", func(m map[string]any) {
			m["secrets"] = map[string]any{"backend": "vault"}
		}, "/secrets/backend: value must be one of"},
		{"external-secrets without store", func(m map[string]any) {
			m["secrets"] = map[string]any{"backend": "external-secrets"}
		}, "secrets.secretStore: backend external-secrets needs secretStore.name"},
		{"a store for another backend", func(m map[string]any) {
			m["secrets"] = map[string]any{"backend": "existing", "secretStore": map[string]any{"name": "vault"}}
		}, "secrets.secretStore: only backend external-secrets uses a secret store"},
		{"unknown store kind", func(m map[string]any) {
			m["secrets"] = map[string]any{"backend": "external-secrets", "secretStore": map[string]any{"name": "vault", "kind": "Vault"}}
		}, "/secrets/secretStore/kind: value must be one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadEdited(t, tt.edit)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Marshal(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded a broken catalog")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
