package interfaces

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"

	"github.com/ctao/dpps-deploy/catalog"
)

// TestVet is `cue vet` of the module on disk with the stock loader and
// evaluator: the language version is declared, nothing is fetched, every
// regular field is concrete and every definition is valid.
func TestVet(t *testing.T) {
	insts := load.Instances([]string{"."}, &load.Config{Dir: "."})
	if len(insts) != 1 {
		t.Fatalf("got %d instances, want 1", len(insts))
	}
	if err := insts[0].Err; err != nil {
		t.Fatalf("load: %v", err)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Validate(cue.Concrete(true)); err != nil {
		t.Fatalf("vet -c: %v", newError(err))
	}
	it, err := v.Fields(cue.Definitions(true))
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		if err := it.Value().Validate(); err != nil {
			t.Errorf("%s: %v", it.Selector(), newError(err))
		}
	}
}

// TestEmbedded checks that the binary carries every file of the module.
func TestEmbedded(t *testing.T) {
	disk, err := ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	emb := Files()
	if got, want := slices.Sorted(maps.Keys(emb)), slices.Sorted(maps.Keys(disk)); !slices.Equal(got, want) {
		t.Fatalf("embedded files %v, on disk %v", got, want)
	}
	for n, b := range disk {
		if string(emb[n]) != string(b) {
			t.Errorf("%s: embedded copy differs from the file", n)
		}
	}
}

// TestModel checks the model against the tables of docs/interfaces.md.
func TestModel(t *testing.T) {
	m, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	c := m.Catalog
	components := map[string]string{
		"rucio-server": "bdms", "conveyor-submitter": "bdms", "conveyor-poller": "bdms",
		"conveyor-receiver": "bdms", "conveyor-finisher": "bdms", "judge-evaluator": "bdms",
		"rucio-db": "bdms", "rucio-bootstrap": "bdms", "rucio-migrate": "bdms", "rucio-configure": "bdms", "rucio-db-backup": "bdms",
		"dirac-server": "wms", "dirac-ce": "wms", "dirac-client": "wms", "dirac-db": "wms", "dirac-db-backup": "wms",
		"fts": "fts", "fts-db": "fts", "fts-db-backup": "fts", "fts-broker": "fts",
		"rucio-storage-1": "storage", "rucio-storage-2": "storage", "rucio-storage-3": "storage",
		"iam": "iam", "cert-generator": "cert-generator-grid", "testkit": "testkit",
	}
	if got := slices.Sorted(maps.Keys(c.Components)); !slices.Equal(got, slices.Sorted(maps.Keys(components))) {
		t.Errorf("components %v", got)
	}
	for n, sub := range components {
		if got := c.Components[n].Subchart; got != sub {
			t.Errorf("components.%s.subchart = %q, want %q", n, got, sub)
		}
	}
	ports := map[string]int{
		"rucio-server": 443, "rucio-db": 5432, "fts": 8446, "fts-broker": 61613,
		"rucio-storage-1": 1094, "dirac-server": 9135, "dirac-db": 3306, "fts-db": 3306,
		"iam": 8080, "dirac-ce": 22,
	}
	for n, p := range ports {
		i, ok := c.Interfaces[n]
		if !ok {
			t.Errorf("no interface %s", n)
			continue
		}
		if !slices.ContainsFunc(i.Ports, func(x catalog.Port) bool { return x.Port == p }) {
			t.Errorf("interfaces.%s: no port %d in %+v", n, p, i.Ports)
		}
	}
	wantExternals := []string{"backup-target", "compute", "cvmfs", "dirac-database", "fts", "iam", "registry", "rucio-database", "rucio-database-peers", "storage"}
	if got := slices.Sorted(maps.Keys(c.Externals)); !slices.Equal(got, wantExternals) {
		t.Errorf("externals %v, want %v", got, wantExternals)
	}
	fixtures := map[string]string{
		"rucio-database": "bdms.rucio-db.enabled", "dirac-database": "wms.dirac-db.enabled",
		"compute": "wms.dirac-ce.enabled", "storage": "storage.enabled", "fts": "fts.enabled", "iam": "iam.enabled",
	}
	for n, toggle := range fixtures {
		if f := c.Externals[n].Fixture; f == nil || f.Toggle != toggle {
			t.Errorf("externals.%s.fixture = %+v, want toggle %s", n, f, toggle)
		}
	}
	if got := c.Externals["rucio-database"].Port; got != 5432 {
		t.Errorf("rucio-database port %d, want the fixture's 5432", got)
	}
	// Every name is a release-name template.
	for n, s := range c.Shared {
		if !strings.HasPrefix(s.Name, "{{ .Release.Name }}-") {
			t.Errorf("shared.%s.name %q", n, s.Name)
		}
	}
	for n, cr := range c.Credentials {
		if !strings.HasPrefix(cr.SecretName, "{{ .Release.Name }}-") {
			t.Errorf("credentials.%s.secretName %q", n, cr.SecretName)
		}
	}
	if len(m.Requirements) != 7 {
		t.Errorf("%d requirements, want 6 fixtures + secret store", len(m.Requirements))
	}
}

// TestLoadErrors: a broken model is reported at file:line:col.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		file     string // replaced or added file
		src      string
		old, new string // or: replace old with new in file
		want     string // substring of the error
	}{{
		name: "syntax",
		file: "broken.cue",
		src:  "package interfaces\n\nx: {\n",
		want: "interfaces/broken.cue:3:6: expected '}', found 'EOF'",
	}, {
		name: "unknown consumer",
		file: "extra.cue",
		src:  "package interfaces\n\n// A thing.\ninterfaces: thing: {provider: \"testkit\", ports: [{name: \"x\", port: 7000}], consumers: [\"nobody\"]}\n",
		want: `interfaces/extra.cue:4:88: interfaces.thing.consumers[0]: "nobody" is not a component (one of: cert-generator, conveyor-finisher, `,
	}, {
		// A misspelt name is one line at the name, not one "conflicting
		// values" error per name it could have been.
		name: "misspelt consumer",
		file: "internal.cue",
		old:  `consumers: ["rucio-server", "conveyor-submitter",`,
		new:  `consumers: ["rucio-server", "rucio-sever",`,
		want: `interfaces/internal.cue:16:31: interfaces.rucio-db.consumers[1]: "rucio-sever" is not a component (one of: cert-generator, conveyor-finisher, conveyor-poller, `,
	}, {
		name: "misspelt subchart",
		file: "components.cue",
		old:  `"rucio-server": {subchart: "bdms"`,
		new:  `"rucio-server": {subchart: "bdsm"`,
		want: `interfaces/components.cue:33:29: components.rucio-server.subchart: "bdsm" is not a subchart (one of: bdms, cert-generator-grid, fts, iam, storage, testkit, wms)`,
	}, {
		name: "misspelt subchart of a toggle",
		file: "externals.cue",
		old:  `toggle: ["bdms", "rucio-db", "enabled"]`,
		new:  `toggle: ["bdsm", "rucio-db", "enabled"]`,
		want: `interfaces/externals.cue:61:13: externals.rucio-database.fixture.toggle[0]: "bdsm" is not a subchart (one of: bdms, `,
	}, {
		name: "misspelt external",
		file: "components.cue",
		old:  `fixtureFor: "rucio-database"`,
		new:  `fixtureFor: "rucio-databse"`,
		want: `interfaces/components.cue:45:70: components.rucio-db.fixtureFor: "rucio-databse" is not an external interface (one of: backup-target, compute, cvmfs, dirac-database, fts, iam, registry, rucio-database, rucio-database-peers, storage)`,
	}, {
		name: "misspelt credential",
		file: "externals.cue",
		old:  `credentials: ["rucio-db-password"]`,
		new:  `credentials: ["rucio-db-pasword"]`,
		want: `interfaces/externals.cue:57:17: externals.rucio-database.credentials[0]: "rucio-db-pasword" is not a credential (one of: dirac-ce-ssh-password, `,
	}, {
		name: "misspelt interface",
		file: "inbound.cue",
		old:  `interface: "rucio-server"`,
		new:  `interface: "rucio-sever"`,
		want: `interfaces/inbound.cue:18:30: inbound.rucio-server.interface: "rucio-sever" is not an interface (one of: dirac-ce, dirac-db, `,
	}, {
		name: "port out of bounds",
		file: "extra.cue",
		src:  "package interfaces\n\n// A thing.\ninterfaces: thing: {provider: \"testkit\", ports: [{name: \"x\", port: 70000}], consumers: []}\n",
		want: "interfaces/extra.cue:4:",
	}, {
		name: "no doc comment",
		file: "extra.cue",
		src:  "package interfaces\n\ninterfaces: thing: {provider: \"testkit\", ports: [{name: \"x\", port: 7000}], consumers: []}\n",
		want: "interfaces/extra.cue:3:13: interfaces.thing: no description",
	}, {
		name: "external without endpoint",
		file: "extra.cue",
		src:  "package interfaces\n\n// A mail relay.\nexternals: smtp: {direction: \"outbound\", protocol: \"smtp\", port: 25, auth: \"none\", consumers: []}\n",
		want: `no endpoint for the external interface "smtp"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := Files()
			if tt.old != "" {
				if !strings.Contains(string(files[tt.file]), tt.old) {
					t.Fatalf("%s does not contain %q", tt.file, tt.old)
				}
				files[tt.file] = []byte(strings.Replace(string(files[tt.file]), tt.old, tt.new, 1))
			} else {
				files[tt.file] = []byte(tt.src)
			}
			_, err := Load(files)
			if err == nil {
				t.Fatal("loaded a broken model")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error\n%v\ndoes not contain %q", err, tt.want)
			}
			if strings.Contains(tt.want, "is not") && strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("a misspelt name gives more than one line:\n%v", err)
			}
		})
	}
}
