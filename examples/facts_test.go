package examples

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/interfaces"
	"github.com/ctao/dpps-deploy/schema"
)

// A fact is one interface fact of interfaces/*.cue as the mutation test
// changes it: its value before and after, both as the chart renders them
// for the release "dpps".
type fact struct {
	what     string // where it is written in the CUE
	old, new string
	// token: the old value is distinctive enough that any rendered
	// occurrence left after the mutation is a hand copy (unless the site's
	// own values file types it, or it is in coincidences).
	token bool
	// used: the chart renders it somewhere besides the catalog ConfigMap.
	used bool
	// branches: the chart takes another branch on the new value, so a
	// render where it shows up may gain or lose lines.
	branches bool
	// name: the name of a Service, shared object or Secret.
	name bool
	// key: the key of a credential in its Secret.
	key bool
	// oldRE finds the old value as a token (tokenRE).
	oldRE *regexp.Regexp
}

// mutation is the set of edits the test makes to a copy of interfaces/*.cue
// and the facts they change. The expected values are written here, not
// computed by the generator.
type mutation struct {
	edits map[string]func(string) string // file -> edit of its text
	facts []*fact
}

// sentinel ports: distinct, 5 digits, in no image or resource quantity.
const sentinelPortBase = 41100

func newMutation() *mutation {
	m := &mutation{edits: map[string]func(string) string{}}
	add := func(f *fact) { m.facts = append(m.facts, f) }

	portRE := regexp.MustCompile(`\bport: (\d+)`)
	settingRE := regexp.MustCompile(`\b(database|user|topic): "([^"]+)"`)
	secretRE := regexp.MustCompile(`secretName: "\{\{ \.Release\.Name \}\}-([a-z0-9-]+)"`)
	keyRE := regexp.MustCompile(`\bkey: +"([^"]+)"`)
	n := 0
	m.edits["internal.cue"] = func(s string) string {
		// Every interface port number.
		s = portRE.ReplaceAllStringFunc(s, func(x string) string {
			old := portRE.FindStringSubmatch(x)[1]
			p := strconv.Itoa(sentinelPortBase + n)
			n++
			add(&fact{what: "internal.cue port " + old + " (#" + p + ")", old: old, new: p, token: true, used: true})
			return "port: " + p
		})
		// Every interface setting: database and user names, the topic.
		i := 0
		s = settingRE.ReplaceAllStringFunc(s, func(x string) string {
			sm := settingRE.FindStringSubmatch(x)
			i++
			v := fmt.Sprintf("%sQ%d", sm[2], i)
			add(&fact{what: "internal.cue settings." + sm[1] + " " + sm[2], old: sm[2], new: v, token: true, used: true})
			return sm[1] + `: "` + v + `"`
		})
		// Every credential's Secret name and key.
		s = secretRE.ReplaceAllStringFunc(s, func(x string) string {
			name := secretRE.FindStringSubmatch(x)[1]
			add(&fact{what: "internal.cue credential secretName " + name, old: "dpps-" + name, new: "dpps-" + name + "-cs", token: true, name: true, used: true})
			return `secretName: "{{ .Release.Name }}-` + name + `-cs"`
		})
		i = 0
		s = keyRE.ReplaceAllStringFunc(s, func(x string) string {
			k := keyRE.FindStringSubmatch(x)[1]
			i++
			v := fmt.Sprintf("%s-k%d", k, i)
			add(&fact{what: "internal.cue credential key " + k, old: k, new: v, used: true, key: true})
			return `key: "` + v + `"`
		})
		return s
	}
	// Every Service and shared object name: the naming rule's default.
	m.edits["schema.cue"] = func(s string) string {
		s = mustReplace(s, `service: *"{{ .Release.Name }}-\(I)" | _`, `service: *"{{ .Release.Name }}-\(I)-sv" | _`)
		s = mustReplace(s, `name: *"{{ .Release.Name }}-\(S)" | _`, `name: *"{{ .Release.Name }}-\(S)-sh" | _`)
		return s
	}
	for _, i := range []string{"rucio-server", "rucio-db", "fts", "fts-db", "fts-broker", "iam", "rucio-storage-1", "rucio-storage-2", "rucio-storage-3", "dirac-server", "dirac-db", "dirac-ce"} {
		add(&fact{what: "interfaces." + i + ".service", old: "dpps-" + i, new: "dpps-" + i + "-sv", token: true, name: true, used: true})
	}
	for _, s := range []string{"rucio-client-config", "server-cafile", "dppsuser-certkey", "rucio-server-hostkey", "dirac-server-hostkey", "fts-hostkey", "rucio-storage-1-hostkey", "rucio-storage-2-hostkey", "rucio-storage-3-hostkey"} {
		add(&fact{what: "shared." + s + ".name", old: "dpps-" + s, new: "dpps-" + s + "-sh", token: true, name: true, used: true})
	}
	// The metrics endpoint of the Rucio daemons.
	m.edits["components.cue"] = func(s string) string {
		return mustReplace(s, `#RucioDaemonMetrics: #Metrics & {port: 8080}`, `#RucioDaemonMetrics: #Metrics & {port: 41199, path: "/metricsQ"}`)
	}
	add(&fact{what: "components.cue #RucioDaemonMetrics.port", old: "8080", new: "41199", token: true, used: true})
	add(&fact{what: "components.cue #RucioDaemonMetrics.path", old: "/metrics", new: "/metricsQ"})
	// Defaults of the external endpoints' own fields (port, database and
	// user defaults come from the interfaces above).
	m.edits["externals.cue"] = func(s string) string {
		s = mustReplace(s, `*"https://wlcg.cern.ch/jwt/v1/any"`, `*"https://wlcg.cern.ch/jwt/v1/anyQ"`)
		s = mustReplace(s, `scheme: *"root" | "davs"`, `scheme: *"rootQ" | "root" | "davs"`)
		s = mustReplace(s, `prefix: =~"^/" | *"/"`, `prefix: =~"^/" | *"/prefixQ"`)
		s = mustReplace(s, `type: *"SSH" | "HTCondorCE"`, `type: *"SSHQ" | "SSH" | "HTCondorCE"`)
		s = mustReplace(s, `sslmode: *"prefer" | "disable"`, `sslmode: *"preferQ" | "prefer" | "disable"`)
		s = mustReplace(s, `proxy: =~"^(DIRECT|http://\\S+)$" | *"DIRECT"`, `proxy: =~"^(DIRECTQ|DIRECT|http://\\S+)$" | *"DIRECTQ"`)
		return s
	}
	add(&fact{what: "#IAMEndpoint.audience default", old: "https://wlcg.cern.ch/jwt/v1/any", new: "https://wlcg.cern.ch/jwt/v1/anyQ", token: true, used: true})
	add(&fact{what: "#RSE.scheme default", old: "root", new: "rootQ", used: true})
	add(&fact{what: "#RSE.prefix default", old: "/", new: "/prefixQ", used: true})
	add(&fact{what: "#CE.type default", old: "SSH", new: "SSHQ", used: true, branches: true})
	add(&fact{what: "#RucioDatabaseEndpoint.sslmode default", old: "prefer", new: "preferQ", token: true, used: true})
	add(&fact{what: "#CVMFSEndpoint.proxy default", old: "DIRECT", new: "DIRECTQ", token: true})
	return m
}

func mustReplace(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("mutation: %q is not in the CUE: update the test", old))
	}
	return strings.Replace(s, old, new, 1)
}

// coincidences are rendered occurrences of a fact's old value that are not
// that fact: each a fact's old value, a pattern of the line and why.
var coincidences = []coincidence{
	{"rucio", "", regexp.MustCompile(`/opt/rucio/|docker\.io/rucio/|rucio whoami`), "Rucio's paths, images and client command"},
	{"rucio", "", regexp.MustCompile(`"(client_id|expected_audience)": "rucio"`), "the OIDC client id of Rucio at the test IAM (bdms.rucio-server.oidcClientId)"},
	{"rucio", "", regexp.MustCompile(`^\s*add_rse "STORAGE-\d" .* "/rucio"$|/data/rucio|all\.export /rucio|u \* /rucio a`), "the path prefix of the fixture RSEs (bdms.rucio-configure.rses)"},
	{"fts", "", regexp.MustCompile(`/fts/|app\.kubernetes\.io/(name|component): fts$|tests-interface: fts$|--key fts |container of fts:`), "the component fts: its templates, images, labels and Rucio's RSE attribute"},
	{"dpps-iam", "", regexp.MustCompile(`"dpps-iam": \{|"admin_issuer": "dpps-iam"|Provider1Name=dpps-iam`), "the name Rucio and FTS give the OIDC provider"},
	{"dpps-iam", "dpps/templates/inbound.yaml", regexp.MustCompile(`^  name: dpps-iam$`), "the Ingress of the inbound interface iam, <release>-<inbound interface>"},
	{"fts", "dpps/templates/tests/answers.yaml", regexp.MustCompile(`^\s*value: "fts"$`), "the name of the interface fts (INTERFACE)"},
}

// coincidence: a line (of a template, when source is set) where the old
// value of a fact is rendered but is not that fact.
type coincidence struct {
	old, source string
	re          *regexp.Regexp
	why         string
}

// renderDoc is one document of a helm template stream.
type renderDoc struct {
	source string
	lines  []string
}

func splitRender(out []byte) []renderDoc {
	var docs []renderDoc
	for _, d := range strings.Split("\n"+string(out), "\n---\n") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		lines := strings.Split(d, "\n")
		src := ""
		for _, l := range lines {
			if s, ok := strings.CutPrefix(l, "# Source: "); ok {
				src = s
				break
			}
		}
		docs = append(docs, renderDoc{source: src, lines: lines})
	}
	return docs
}

const catalogSource = "dpps/templates/catalog.yaml"

// tokenRE finds value as a whole token: not inside a longer name, number or
// path segment made of letters, digits, '_', '.' and '-'.
func tokenRE(value string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_.-])` + regexp.QuoteMeta(value) + `($|[^A-Za-z0-9_.-])`)
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInterfaceFactsFlow changes every interface fact of interfaces/*.cue
// at once to a sentinel in a copy of the repository's interfaces/ and
// charts/, regenerates there and renders every example (and
// testdata/external-defaults.yaml, which leaves every external endpoint
// field with a default unset) with the original and the mutated chart. Then:
// every rendered line that changed is the original line with old values
// replaced by new ones; no old value is left in the mutated render (a hand
// copy in a template or the chart's values), except where the site's values
// file types it itself; every reference to a credential Secret uses a new
// key; and every fact the chart uses shows up outside the catalog
// ConfigMap. The mutation covers every Service, shared object and
// credential of the committed catalog.
func TestInterfaceFactsFlow(t *testing.T) {
	helm := os.Getenv("DPPS_HELM3")
	if helm == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DPPS_HELM3 is not set")
		}
		t.Skip("DPPS_HELM3 (a Helm 3 binary) is not set; `make unit` sets it")
	}
	tmp := t.TempDir()
	copyTree(t, "../charts", filepath.Join(tmp, "charts"))
	files, err := interfaces.ReadDir("../interfaces")
	if err != nil {
		t.Fatal(err)
	}
	mut := newMutation()
	for name, edit := range mut.edits {
		files[name] = []byte(edit(string(files[name])))
	}
	for _, f := range mut.facts {
		f.oldRE = tokenRE(f.old)
	}
	checkCoverage(t, mut.facts)
	outs, err := schema.OutputsFrom("..", files)
	if err != nil {
		t.Fatalf("regenerate from the mutated CUE: %v", err)
	}
	for _, o := range outs {
		if strings.HasPrefix(o.Path, "charts/") {
			if err := schema.Write(tmp, []schema.Output{o}); err != nil {
				t.Fatal(err)
			}
		}
	}

	valueFiles := map[string]string{
		"external-defaults": "testdata/external-defaults.yaml",
		"fixture-defaults":  "testdata/fixture-defaults.yaml",
	}
	for _, env := range environments(t) {
		valueFiles[env] = filepath.Join(env, "values.yaml")
	}
	seen := map[*fact]bool{}
	for _, env := range slices.Sorted(maps.Keys(valueFiles)) {
		vf, _ := filepath.Abs(valueFiles[env])
		site, err := typedValues(vf)
		if err != nil {
			t.Fatal(err)
		}
		render := func(chart string) []renderDoc {
			out, err := exec.Command(helm, "template", release, chart, "-f", vf).Output()
			if err != nil {
				msg := err.Error()
				if ee, ok := err.(*exec.ExitError); ok {
					msg += "\n" + string(ee.Stderr)
				}
				t.Errorf("%s: helm template %s: %s", env, chart, msg)
				return nil
			}
			return splitRender(out)
		}
		before, after := render(chart), render(filepath.Join(tmp, "charts", "dpps"))
		if before == nil || after == nil {
			continue
		}
		checkCredentialKeys(t, env, after, mut.facts)
		// A fact the chart branches on may add or remove lines anywhere.
		branched := false
		for _, d := range after {
			text := strings.Join(d.lines, "\n")
			branched = branched || slices.ContainsFunc(mut.facts, func(f *fact) bool { return f.branches && strings.Contains(text, f.new) })
		}
		if len(before) != len(after) {
			t.Errorf("%s: %d documents before the mutation, %d after", env, len(before), len(after))
			continue
		}
		for d := range before {
			b, a := before[d], after[d]
			if len(b.lines) == len(a.lines) {
				for l := range b.lines {
					checkChange(t, env, b.source, mut.facts, b.lines[l], a.lines[l], seen)
				}
			} else if !branched {
				t.Errorf("%s: %s: %d lines before the mutation, %d after", env, b.source, len(b.lines), len(a.lines))
			}
			workload := slices.ContainsFunc(a.lines, func(l string) bool {
				return l == "kind: Deployment" || l == "kind: StatefulSet" || l == "kind: Job"
			})
			for l, line := range a.lines {
				// A workload is named <release>-<component>, which may be
				// the old name of its Service or Secret.
				named := workload && l > 0 && a.lines[l-1] == "metadata:" && strings.HasPrefix(line, "  name: ")
				checkLeft(t, env, b.source, site, mut.facts, line, named, seen)
			}
		}
	}
	for _, f := range mut.facts {
		if f.used && !seen[f] {
			t.Errorf("%s: the new value %q is rendered nowhere but in the catalog: the chart does not use the fact", f.what, f.new)
		}
	}
}

// typedValues is the text of a values file without comments and keys: the
// values a site types itself.
func typedValues(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l, _, _ = strings.Cut(l, "#")
		out = append(out, yamlKey.ReplaceAllString(l, ""))
	}
	return strings.ReplaceAll(strings.Join(out, "\n"), "{{ .Release.Name }}", release), nil
}

var yamlKey = regexp.MustCompile(`[A-Za-z0-9_.-]+:(\s|$)`)

var checksumLine = regexp.MustCompile(`^\s*checksum/[a-z-]+: [0-9a-f]{64}$`)

// checkCoverage: the mutation changes every Service, shared object and
// credential of the committed catalog, so a new one is not left out.
func checkCoverage(t *testing.T, facts []*fact) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chart, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Interfaces  map[string]struct{ Service string }    `json:"interfaces"`
		Shared      map[string]struct{ Name string }       `json:"shared"`
		Credentials map[string]struct{ SecretName string } `json:"credentials"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	what, secrets, keys := map[string]string{}, 0, 0
	for _, f := range facts {
		what[f.what] = f.old
		if f.key {
			keys++
		}
		if strings.HasPrefix(f.what, "internal.cue credential secretName ") {
			secrets++
		}
	}
	rendered := func(s string) string { return strings.ReplaceAll(s, "{{ .Release.Name }}", release) }
	for n, i := range c.Interfaces {
		if what["interfaces."+n+".service"] != rendered(i.Service) {
			t.Errorf("interfaces.%s: the mutation does not change its Service name %s", n, i.Service)
		}
	}
	for n, sh := range c.Shared {
		if what["shared."+n+".name"] != rendered(sh.Name) {
			t.Errorf("shared.%s: the mutation does not change its name %s", n, sh.Name)
		}
	}
	if secrets != len(c.Credentials) || keys != len(c.Credentials) {
		t.Errorf("the mutation changes %d credential Secret names and %d keys, the catalog has %d credentials", secrets, keys, len(c.Credentials))
	}
}

// checkCredentialKeys: a credential's key is too common a word to look for
// in the text, so every reference to a credential Secret, and every key of
// one the chart creates, must be one of the new keys.
func checkCredentialKeys(t *testing.T, env string, docs []renderDoc, facts []*fact) {
	t.Helper()
	secrets, keys := map[string]bool{}, map[string]bool{}
	for _, f := range facts {
		if f.key {
			keys[f.new] = true
		}
		if f.name && strings.HasSuffix(f.new, "-cs") {
			secrets[f.new] = true
		}
	}
	var walk func(source string, v any)
	walk = func(source string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["secretKeyRef"].(map[string]any); ok && secrets[str(ref["name"])] && !keys[str(ref["key"])] {
				t.Errorf("%s: %s: secretKeyRef %s key %q: not a credential's key in the mutated CUE (a hand copy?)", env, source, ref["name"], ref["key"])
			}
			for _, x := range v {
				walk(source, x)
			}
		case []any:
			for _, x := range v {
				walk(source, x)
			}
		}
	}
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(strings.Join(d.lines, "\n")), &m); err != nil {
			t.Fatalf("%s: %s: %v", env, d.source, err)
		}
		walk(d.source, m)
		if m["kind"] == "Secret" && secrets[str(dig(m, "metadata", "name"))] {
			for k := range m["data"].(map[string]any) {
				if !keys[k] {
					t.Errorf("%s: %s: Secret %s has the key %q: not a credential's key in the mutated CUE (a hand copy?)", env, d.source, dig(m, "metadata", "name"), k)
				}
			}
		}
	}
}

// checkChange compares one rendered line before and after the mutation.
func checkChange(t *testing.T, env, source string, facts []*fact, before, after string, seen map[*fact]bool) {
	t.Helper()
	if checksumLine.MatchString(before) && checksumLine.MatchString(after) {
		return
	}
	// Every change is a fact's new value where its old value was: put the
	// old values back and the line is the original. Longest first, so a
	// value inside another is not replaced on its own.
	back := after
	byLen := slices.Clone(facts)
	slices.SortStableFunc(byLen, func(x, y *fact) int { return len(y.new) - len(x.new) })
	for _, f := range byLen {
		if source != catalogSource && strings.Contains(after, f.new) {
			seen[f] = true
		}
		back = strings.ReplaceAll(back, f.new, f.old)
	}
	if back != before {
		t.Errorf("%s: %s: a change the facts do not explain:\n  before: %s\n  after:  %s", env, source, strings.TrimSpace(before), strings.TrimSpace(after))
	}
}

// checkLeft looks for old values in one line of the mutated render: none is
// left where the new one belongs.
func checkLeft(t *testing.T, env, source, site string, facts []*fact, after string, workloadName bool, seen map[*fact]bool) {
	t.Helper()
	for _, f := range facts {
		if source != catalogSource && strings.Contains(after, f.new) {
			seen[f] = true
		}
	}
	for _, f := range facts {
		if !f.token {
			continue
		}
		if source == catalogSource || (workloadName && f.name) || !f.oldRE.MatchString(after) || f.oldRE.MatchString(site) {
			continue
		}
		if slices.ContainsFunc(coincidences, func(c coincidence) bool {
			return c.old == f.old && (c.source == "" || c.source == source) && c.re.MatchString(after)
		}) {
			continue
		}
		t.Errorf("%s: %s: %s: the old value %q is still rendered (a hand copy?): %s", env, source, f.what, f.old, strings.TrimSpace(after))
	}
}
