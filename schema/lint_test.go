package schema_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/schema"
	"github.com/ctao/dpps-deploy/schema/schematest"
)

// fourErrors is schematest.FourErrors, the values file with one error of
// each kind.
const fourErrors = schematest.FourErrors

var fourErrorsWant = []string{
	"site.yaml:2:3: /global/externals: missing property 'storage' (storage.enabled is false: the storage fixture is off, so the site sets global.externals.storage)",
	"site.yaml:5:13: /global/externals/dirac-database/port: maximum: got 70,000, want 65,535",
	"site.yaml:10:14: /bdms/rucio-db/enabled: got string, want boolean",
	"site.yaml:13:1: /bdsm: additional properties 'bdsm' not allowed",
}

func TestLint(t *testing.T) {
	chart := schematest.Chart(t, "..")
	tests := []struct {
		name           string
		files          []string // name, content, name, content...
		set, setString []string
		want           []string // "file:line:col: /pointer: message"; file relative to the temp dir
	}{{
		name:  "valid",
		files: []string{"a.yaml", "bdms: {enabled: true, rucio-server: {image: {tag: x}}}\nglobal: {externals: {fts: {url: 'https://fts.example.org:8446'}}}\n"},
	}, {
		name:  "four errors",
		files: []string{"site.yaml", fourErrors},
		want:  fourErrorsWant,
	}, {
		name: "the last file that sets a value wins",
		files: []string{
			"a.yaml", "global:\n  externals:\n    fts:\n      url: http://fts\n",
			"b.yaml", "storage:\n  enabled: false\nglobal:\n  externals:\n    fts:\n      url: ftp://fts\n",
		},
		want: []string{
			"b.yaml:4:3: /global/externals: missing property 'storage' (storage.enabled is false: the storage fixture is off, so the site sets global.externals.storage)",
			`b.yaml:6:12: /global/externals/fts/url: 'ftp://fts' does not match pattern '^https://[^\\s/]+(/\\S*)?$'`,
		},
	}, {
		// A missing key the site must add is reported in the site's file,
		// not at the chart's values.yaml that holds its parent.
		name:  "a parent only the chart sets",
		files: []string{"a.yaml", "wms:\n  dirac-ce:\n    enabled: false\n"},
		want:  []string{"a.yaml:1:1: /global/externals: missing property 'compute' (wms.dirac-ce.enabled is false: the compute fixture is off, so the site sets global.externals.compute)"},
	}, {
		name: "a parent an earlier file sets",
		files: []string{
			"a.yaml", "testkit:\n  enabled: true\nglobal:\n  externals:\n    fts:\n      url: https://fts.example.org\n",
			"b.yaml", "wms:\n  dirac-ce:\n    enabled: false\n",
		},
		want: []string{"a.yaml:4:3: /global/externals: missing property 'compute' (wms.dirac-ce.enabled is false: the compute fixture is off, so the site sets global.externals.compute)"},
	}, {
		name: "an ancestor of the parent",
		files: []string{
			"a.yaml", "wms:\n  dirac-ce:\n    enabled: false\nglobal:\n  secrets:\n    backend: chart\n",
		},
		want: []string{"a.yaml:4:1: /global/externals: missing property 'compute' (wms.dirac-ce.enabled is false: the compute fixture is off, so the site sets global.externals.compute)"},
	}, {
		name:  "--set wins over the files",
		files: []string{"a.yaml", "bdms:\n  rucio-db:\n    enabled: true\n"},
		set:   []string{"bdms.rucio-db.enabled=no"},
		want:  []string{"--set bdms.rucio-db.enabled=no:1:1: /bdms/rucio-db/enabled: got string, want boolean"},
	}, {
		name: "the column of the assignment in a --set",
		set:  []string{"testkit.enabled=false", "testkit.enabled=false,bdms.rucio-db.enabled=no"},
		want: []string{"--set testkit.enabled=false,bdms.rucio-db.enabled=no:1:23: /bdms/rucio-db/enabled: got string, want boolean"},
	}, {
		name:      "--set-string comes after every --set",
		setString: []string{"testkit.enabled=false"},
		set:       []string{"testkit.enabled=false"},
		want:      []string{"--set-string testkit.enabled=false:1:1: /testkit/enabled: got string, want boolean"},
	}, {
		name:  "a missing key with --set: the parent in a file",
		files: []string{"a.yaml", "global:\n  externals: {}\n"},
		set:   []string{"storage.enabled=false"},
		want:  []string{"a.yaml:2:3: /global/externals: missing property 'storage' (storage.enabled is false: the storage fixture is off, so the site sets global.externals.storage)"},
	}, {
		name: "a credential set by --set is not printed",
		set:  []string{"testkit.enabled=true,global.secrets.backend=external-secrets,global.secrets.secretStore.name=S3cret_Value!"},
		want: []string{`--set testkit.enabled=true,global.secrets.backend=(not shown),global.secrets.secretStore.name=(not shown):1:57: /global/secrets/secretStore/name: value (not shown) does not match pattern "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`},
	}, {
		name:  "a credential-like value is not printed",
		files: []string{"a.yaml", "global:\n  secrets:\n    backend: external-secrets\n    secretStore:\n      name: S3cret_Value!\n"},
		want:  []string{`a.yaml:5:13: /global/secrets/secretStore/name: value (not shown) does not match pattern "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`},
	}, {
		name:  "YAML syntax error",
		files: []string{"a.yaml", "global:\n  externals: [1, 2\n"},
		want:  []string{"a.yaml:2:1: /: not a YAML mapping of values: error converting YAML to JSON: yaml: line 2: did not find expected ',' or ']'"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []string
			for i := 0; i < len(tt.files); i += 2 {
				p := filepath.Join(dir, tt.files[i])
				if err := os.WriteFile(p, []byte(tt.files[i+1]), 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, p)
			}
			problems, err := schema.LintValues(chart, schema.Values{Files: files, Set: tt.set, SetString: tt.setString})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, strings.TrimPrefix(p.String(), dir+string(filepath.Separator)))
			}
			if strings.Contains(strings.Join(got, "\n"), "S3cret") {
				t.Errorf("a credential value is printed: %s", got)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLintErrors(t *testing.T) {
	chart := schematest.Chart(t, "..")
	var le *schema.LintError
	if _, err := schema.Lint(chart, []string{filepath.Join(t.TempDir(), "missing.yaml")}); !errors.As(err, &le) {
		t.Errorf("missing file: %v, want a LintError", err)
	}
	if _, err := schema.Lint(filepath.Join(t.TempDir(), "nochart"), nil); !errors.As(err, &le) {
		t.Errorf("missing chart: %v, want a LintError", err)
	}
	// A --set Helm cannot parse is a usage error, in Helm's words.
	if _, err := schema.LintValues(chart, schema.Values{Set: []string{"testkit.enabled=true,bdms"}}); !errors.As(err, &le) ||
		err.Error() != `failed parsing --set data: key "bdms" has no value` {
		t.Errorf("bad --set: %v, want a LintError", err)
	}
	if _, err := schema.LintValues(chart, schema.Values{SetFile: []string{"testkit.x=" + filepath.Join(t.TempDir(), "missing")}}); !errors.As(err, &le) ||
		!strings.HasPrefix(err.Error(), "failed parsing --set-file data: open ") {
		t.Errorf("missing --set-file: %v, want a LintError", err)
	}
	os.Remove(filepath.Join(chart, "values.schema.json"))
	if _, err := schema.Lint(chart, nil); !errors.As(err, &le) || !strings.Contains(err.Error(), "no values.schema.json") {
		t.Errorf("chart without schema: %v, want a LintError", err)
	}
}

// TestHelmAgrees: the real Helm 3 rejects the file lint rejects, for the
// same four reasons, and accepts a valid one.
func TestHelmAgrees(t *testing.T) {
	helm := os.Getenv("DPPS_HELM3")
	if helm == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DPPS_HELM3 is not set (make unit sets it)")
		}
		t.Skip("DPPS_HELM3 is not set; run make unit")
	}
	chart := schematest.Chart(t, "..")
	dir := t.TempDir()
	bad := filepath.Join(dir, "site.yaml")
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(bad, []byte(fourErrors), 0o644)
	// An editor's $schema key is part of the schema Helm applies.
	os.WriteFile(good, []byte("$schema: ../charts/dpps/values.schema.json\nstorage: {enabled: false}\nglobal: {externals: {storage: {rses: [{name: SITE_DISK, host: se.example.org}]}}}\n"), 0o644)
	env := append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))

	cmd := exec.Command(helm, "template", "dpps", chart, "-f", bad)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("helm template accepted the values lint rejects")
	}
	for _, want := range []string{
		"- at '/global/externals': missing property 'storage'",
		"- at '/global/externals/dirac-database/port': maximum: got 70,000, want 65,535",
		"- at '/bdms/rucio-db/enabled': got string, want boolean",
		"additional properties 'bdsm' not allowed",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("helm's error lacks %q:\n%s", want, stderr.String())
		}
	}
	problems, err := schema.Lint(chart, []string{bad})
	if err != nil || len(problems) != 4 {
		t.Errorf("lint: %v, %d problems, want 4", err, len(problems))
	}

	// ... and a $schema that is not a string is refused by both.
	badSchema := filepath.Join(dir, "bad-schema.yaml")
	os.WriteFile(badSchema, []byte("$schema: 1\n"), 0o644)
	cmd = exec.Command(helm, "template", "dpps", chart, "-f", badSchema)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "- at '/$schema': got number, want string") {
		t.Errorf("helm template on a number $schema: %v\n%s", err, out)
	}
	if problems, err := schema.Lint(chart, []string{badSchema}); err != nil || len(problems) != 1 || problems[0].Pointer != "/$schema" {
		t.Errorf("lint on a number $schema: %v %v", err, problems)
	}

	// --set flags: Helm applies every --set, then every --set-string,
	// then every --set-file, whatever their order on the command line.
	off := filepath.Join(dir, "off.txt")
	os.WriteFile(off, []byte("off\n"), 0o644)
	in := schema.Values{Files: []string{good}, Set: []string{"bdms.enabled=true,fts.enabled=1", "wms.enabled=false"},
		SetString: []string{"bdms.enabled=true"}, SetFile: []string{"testkit.enabled=" + off}}
	cmd = exec.Command(helm, "template", "dpps", chart, "-f", good, "--set-file", in.SetFile[0], "--set-string", in.SetString[0],
		"--set", in.Set[0], "--set", in.Set[1])
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("helm template accepted the --set values lint rejects")
	}
	problems, err = schema.LintValues(chart, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/testkit/enabled: got string", "/bdms/enabled: got string", "/fts/enabled: got number"} {
		ptr, msg, _ := strings.Cut(want, ": ")
		if !strings.Contains(string(out), "- at '"+ptr+"': "+msg) {
			t.Errorf("helm's error lacks %s:\n%s", want, out)
		}
		if !slices.ContainsFunc(problems, func(p schema.Problem) bool { return p.Pointer == ptr && strings.HasPrefix(p.Message, msg) }) {
			t.Errorf("lint lacks %s: %v", want, problems)
		}
	}
	if len(problems) != 3 {
		t.Errorf("lint: %d problems, want 3: %v", len(problems), problems)
	}

	cmd = exec.Command(helm, "template", "dpps", chart, "-f", good)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("helm template rejected valid values: %v\n%s", err, out)
	}
	if problems, err := schema.Lint(chart, []string{good}); err != nil || len(problems) != 0 {
		t.Errorf("lint rejected valid values: %v %v", err, problems)
	}
}
