package interfaces

import (
	"os"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue"
	cueyaml "cuelang.org/go/encoding/yaml"
)

// validValues reports whether the site values doc unify with #Values into
// concrete values.
func validValues(t *testing.T, m *Model, name string, doc []byte) error {
	t.Helper()
	f, err := cueyaml.Extract(name, doc)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m.Values.Unify(m.Values.Context().BuildFile(f)).Validate(cue.Concrete(true))
}

// TestSubchartValues checks what the subcharts' definitions accept: site
// values that the templates render, and refusals of values they would
// render wrongly or not at all.
func TestSubchartValues(t *testing.T) {
	m, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		yaml  string
		valid bool
	}{
		{"defaults", "", true},
		{"server stopped", "wms: {dirac-server: {replicas: 0}}", true},
		{"a probe's handler replaced", "wms: {dirac-db: {livenessProbe: {exec: null, tcpSocket: {port: mysql}}}}", true},
		{"a probe's handler with another command", "fts: {fts-db: {readinessProbe: {exec: {command: [/bin/true]}}}}", true},
		{"pod scheduling", "fts: {fts: {nodeSelector: {disk: ssd}, tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}], priorityClassName: dpps-high}}", true},
		{"an image by digest from a mirror", "wms: {dirac-ce: {image: {registry: 'registry.example.org:5000', digest: 'sha256:" + sha + "'}}}", true},
		{"one storage element", "storage: {elements: [rucio-storage-1]}", true},
		{"another DIRAC database", "wms: {dirac-server: {databases: [JobDB, StorageManagementDB]}}", true},
		{"a user in dpps_user only", "wms: {users: [{name: alice, dn: '/DC=org/CN=Alice', groups: [dpps_user]}]}", true},
		{"fts-db backup on", "fts: {fts-db: {backup: {enabled: true, persistence: {size: 1Gi}}}}", true},

		{"misspelt component key", "wms: {dirac-server: {replica: 2}}", false},
		{"negative replicas", "fts: {fts: {replicas: -1}}", false},
		{"service on a port the interface lacks", "wms: {dirac-server: {services: [{name: Framework/Monitoring, port: dips-monitoring}]}}", false},
		{"service without a port", "wms: {dirac-server: {services: [{name: Configuration/Server}]}}", false},
		{"no agent", "wms: {dirac-server: {agents: []}}", false},
		{"unknown DIRAC group", "wms: {users: [{name: alice, dn: '/CN=Alice', groups: [admins]}]}", false},
		{"DN not a DN", "wms: {users: [{name: alice, dn: 'CN=Alice', groups: [dpps_user]}]}", false},
		{"site name without grid and country", "wms: {site: DPPS}", false},
		{"container port of no interface port", "wms: {dirac-ce: {containerPorts: {http: 8080}}}", false},
		{"container port out of range", "wms: {dirac-ce: {containerPorts: {ssh: 70000}}}", false},
		{"credential the subchart does not own", "wms: {credentialValues: {rucio-db-password: x}}", false},
		{"install databases as a string", "wms: {dirac-server: {installDatabases: 'yes'}}", false},
		{"topic not a topic", "fts: {fts: {topics: {start: transfer.start}}}", false},
		{"size not a quantity", "fts: {fts-db: {persistence: {size: lots}}}", false},
		{"unknown storage element", "storage: {elements: [rucio-storage-4]}", false},
		{"host certificate of another host", "storage: {rucio-storage-1: {hostCert: fts-hostkey}}", false},
		{"no access mode", "storage: {persistence: {accessModes: []}}", false},
		{"size on the shared persistence", "storage: {persistence: {size: 1Gi}}", false},
		{"bad image tag", "testkit: {helmTest: {image: {tag: 'latest please'}}}", false},
		{"negative UID", "testkit: {securityContext: {runAsUser: -1}}", false},
		{"bad registry", "wms: {dirac-client: {image: {registry: 'harbor example'}}}", false},
		{"bad pull policy", "fts: {fts: {restImage: {pullPolicy: Sometimes}}}", false},
		{"unknown toleration operator", "testkit: {tolerations: [{key: a, operator: Matches}]}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validValues(t, m, "values.yaml", []byte(tt.yaml))
			if (err == nil) != tt.valid {
				t.Errorf("valid = %v, want %v (%v)", err == nil, tt.valid, err)
			}
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestExampleValues: every example's values are accepted by #Values.
// (examples/testdata holds inputs of other tests, some of which delete a
// default with null, as Helm allows: not site values.)
func TestExampleValues(t *testing.T) {
	m, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../examples/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example values: %v", err)
	}
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "testdata" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validValues(t, m, f, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
