package helmtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// upstreamCase is one render of the shared corpus's section "Upstream renders
// with credentials", with the site catalog a site admin writes for it. The
// credentials are the ones the corpus README lists for that file; the code
// below checks them with its own YAML walk and string search, sharing
// nothing with the transforms.
type upstreamCase struct {
	file, catalog string
	credentials   []string
	// converted lists the ConfigMaps that must come out as Secrets.
	converted []string
	// hooks: the render has hook objects, so it also goes through Helm 4,
	// which post-renders them, as a chart, and through Helm 3 and
	// dpps-render hooks, which must name hookCredentialHolders.
	hooks                 bool
	hookCredentialHolders []string
}

var upstreamCases = []upstreamCase{
	{
		file: "rucio-server.env-creds.yaml", catalog: "rucio-server.yaml",
		credentials:           []string{"Dev-Corpus-Pg-8812", "Dev-Corpus-Root-3307"},
		hooks:                 true, // the FTS proxy renewal Job is a post-install hook
		hookCredentialHolders: []string{"Job bdms-renew-fts-proxy-on-helm-install"},
	},
	{
		file: "rucio-daemons.env-creds.yaml", catalog: "rucio-daemons.yaml",
		credentials: []string{"Dev-Corpus-Pg-8812", "Dev-Corpus-Amq-5170"},
	},
	{
		file: "rucio-server.config-creds.yaml", catalog: "rucio-server.yaml",
		credentials: []string{"Dev-Corpus-Pg-8812", "Dev-Corpus-Root-3307"},
	},
	{
		file: "diracx.external-mysql.yaml", catalog: "diracx-external-db.yaml",
		credentials: []string{"Dev-Corpus-My-2291", "Dev-Corpus-MyRoot-6604", "Dev-Corpus-MySb-4158",
			"Dev-Corpus-Os-1375", "Dev-Corpus-OsRoot-9043", "Dev-Corpus-S3-7720"},
		converted:             []string{"wms-init-secrets"},
		hooks:                 true,
		hookCredentialHolders: []string{"ConfigMap wms-init-secrets"},
	},
	{
		file: "postgresql.initdb.yaml", catalog: "bitnami-postgresql.yaml",
		credentials: []string{"Dev-Corpus-PgAdmin-6021", "Dev-Corpus-Pg-8812", "Dev-Corpus-PgRead-2934"},
		converted:   []string{"bdms-db-postgresql-init-scripts"},
	},
}

// The transforms that hold on a chart nobody here wrote with a site catalog
// that declares no interfaces (netpol needs them: docs/netpol.md).
const upstreamTransforms = "--transforms=provenance,secretrefs,externals,guards"

// Every credential of the upstream renders ends up only in Secrets (or
// ExternalSecrets), no object is lost, and the output is deterministic and
// idempotent: piped through dpps-render, and through Helm 4's plugin where
// the render has hooks.
func TestUpstreamCredentials(t *testing.T) {
	bin := filepath.Join(binDir(t), "dpps-render")
	corpus := testutil.CorpusDir(t)
	catalogs := filepath.Join(testutil.RepoRoot(t), "docs", "site-catalogs")
	for _, c := range upstreamCases {
		t.Run(c.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(corpus, c.file))
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"--catalog=" + filepath.Join(catalogs, c.catalog), upstreamTransforms}
			if n := leaks(t, string(in), c.credentials); n == 0 && c.file != "rucio-server.config-creds.yaml" {
				t.Fatalf("the input holds no credential outside a Secret: the case tests nothing")
			}
			// The check sees what is there: without secretrefs, every leak of
			// the input is still in the output.
			if n := leaks(t, pipe(t, bin, in, "--transforms=provenance"), c.credentials); n != leaks(t, string(in), c.credentials) {
				t.Errorf("provenance alone: %d leaks, the input has %d", n, leaks(t, string(in), c.credentials))
			}
			out := pipe(t, bin, in, args...)
			if l := leakList(t, out, c.credentials); len(l) > 0 {
				t.Errorf("credentials outside Secrets after dpps-render:\n  %s", strings.Join(l, "\n  "))
			}
			checkNothingLost(t, string(in), out, c.converted)
			if again := pipe(t, bin, in, args...); again != out {
				t.Error("two runs on the same input differ")
			}
			if twice := pipe(t, bin, []byte(out), args...); twice != out {
				t.Error("the output fed back in changes")
			}
			t.Logf("%s: credentials outside Secrets in %d places (object and credential) before, %d after; %d objects in, %d out",
				c.file, leaks(t, string(in), c.credentials), leaks(t, out, c.credentials),
				countObjects(t, string(in)), countObjects(t, out))
			if c.hooks {
				t.Run("helm 4 plugin", func(t *testing.T) {
					helm, env := helm4WithPlugin(t)
					chart := wrapperChart(t, in)
					release := releaseOf(t, string(in))
					got := mustRun(t, env, helm, "template", release, chart,
						"--post-renderer", "dpps-render", "--post-renderer-args", args[0], "--post-renderer-args", args[1])
					if l := leakList(t, got, c.credentials); len(l) > 0 {
						t.Errorf("credentials outside Secrets after helm template with the plugin:\n  %s", strings.Join(l, "\n  "))
					}
					checkNothingLost(t, string(in), got, c.converted)
				})
				// Helm 3 leaves hooks out of the post-render: dpps-render
				// hooks reads its plain output and names each hook that
				// holds a credential, never the value.
				t.Run("helm 3 and dpps-render hooks", func(t *testing.T) {
					helm, env := helm3Bin(t), helmEnv(t, binDir(t))
					plain := mustRun(t, env, helm, "template", releaseOf(t, string(in)), wrapperChart(t, in))
					cmd := exec.Command(bin, "hooks", args[0])
					cmd.Stdin = strings.NewReader(plain)
					report, err := cmd.Output()
					if err == nil {
						t.Fatalf("dpps-render hooks found nothing:\n%s", report)
					}
					for _, name := range c.hookCredentialHolders {
						if !strings.Contains(string(report), name) {
							t.Errorf("dpps-render hooks does not name %s:\n%s", name, report)
						}
					}
					for _, cred := range c.credentials {
						for form, needle := range encodedForms(cred) {
							if strings.Contains(string(report), needle) {
								t.Errorf("dpps-render hooks printed a credential (%s)", form)
							}
						}
					}
				})
			}
		})
	}
}

// pipe runs dpps-render with the input on stdin and returns its stdout.
func pipe(t *testing.T, bin string, in []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dpps-render %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// wrapperChart is a chart whose one template prints a corpus render as it
// is, so that Helm 4 splits it, sorts its hooks and post-renders it all as
// it would the upstream chart.
func wrapperChart(t *testing.T, render []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "upstream")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "Chart.yaml"), 0o644, "apiVersion: v2\nname: upstream\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(dir, "render.yaml"), 0o644, string(render))
	writeFile(t, filepath.Join(dir, "templates", "render.yaml"), 0o644, `{{ .Files.Get "render.yaml" }}`)
	return dir
}

// releaseOf is the release a corpus render was made for: the instance or
// release label of its objects.
func releaseOf(t *testing.T, stream string) string {
	t.Helper()
	for _, o := range objectsOf(t, stream) {
		for _, k := range []string{"app.kubernetes.io/instance", "release"} {
			if r := o.labels[k]; r != "" {
				return r
			}
		}
	}
	t.Fatal("no release label in the render")
	return ""
}

// leaks counts the places outside Secrets that hold a credential.
func leaks(t *testing.T, stream string, creds []string) int {
	return len(leakList(t, stream, creds))
}

// leakList names every document that holds a credential outside a Secret
// or ExternalSecret, once per credential, with the forms it takes there: in
// the document's text (comments included), percent-encoded, base64-encoded
// at any alignment, or inside any scalar or key that decodes from base64.
func leakList(t *testing.T, stream string, creds []string) []string {
	t.Helper()
	var out []string
	for i, o := range objectsOf(t, stream) {
		if o.kind == "Secret" || o.kind == "ExternalSecret" {
			continue
		}
		for _, c := range creds {
			var found []string
			for form, needle := range encodedForms(c) {
				if strings.Contains(o.text, needle) {
					found = append(found, form)
				}
			}
			for _, s := range o.strings {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil && strings.Contains(string(b), c) {
					found = append(found, "inside a base64 value")
					break
				}
			}
			if len(found) > 0 {
				slices.Sort(found)
				out = append(out, fmt.Sprintf("document %d (%s %s): %s (%s)", i+1, o.kind, o.name, c, strings.Join(found, ", ")))
			}
		}
	}
	return out
}

// encodedForms are the texts a credential can take in a manifest.
func encodedForms(c string) map[string]string {
	forms := map[string]string{"plain": c, "query-escaped": url.QueryEscape(c), "path-escaped": url.PathEscape(c)}
	// base64 at the three alignments a value can start at inside a longer
	// encoded text: encode with 0, 1 or 2 bytes before it and keep the
	// characters that depend on the value alone.
	for pad := 0; pad < 3; pad++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x00", pad) + c))
		start := (pad*8 + 5) / 6 // first character free of the padding bytes
		end := len(enc) - 4      // the last group may depend on what follows
		if end > start {
			forms[fmt.Sprintf("base64 at offset %d", pad)] = enc[start:end]
		}
	}
	return forms
}

// upstreamObject is one document as this test reads it.
type upstreamObject struct {
	kind, name, text string
	labels           map[string]string
	strings          []string // every string scalar and key
}

// objectsOf splits a stream at "---" lines and reads each document with
// sigs.k8s.io/yaml, as Kubernetes does. A document of comments alone is
// kept, without a kind: its text is searched too.
func objectsOf(t *testing.T, stream string) []upstreamObject {
	t.Helper()
	var out []upstreamObject
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(stream, "\n") {
		if strings.TrimRight(line, " \r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	docs = append(docs, cur.String())
	for i, text := range docs {
		if strings.TrimSpace(text) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(text), &m); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		o := upstreamObject{text: text, labels: map[string]string{}}
		o.kind, _ = m["kind"].(string)
		if md, ok := m["metadata"].(map[string]any); ok {
			o.name, _ = md["name"].(string)
			if l, ok := md["labels"].(map[string]any); ok {
				for k, v := range l {
					o.labels[k] = fmt.Sprint(v)
				}
			}
		}
		collectStrings(m, &o.strings)
		out = append(out, o)
	}
	return out
}

func collectStrings(v any, into *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			*into = append(*into, k)
			collectStrings(x, into)
		}
	case []any:
		for _, x := range v {
			collectStrings(x, into)
		}
	case string:
		*into = append(*into, v)
	}
}

// countObjects counts the documents that are objects.
func countObjects(t *testing.T, stream string) int {
	n := 0
	for _, o := range objectsOf(t, stream) {
		if o.kind != "" {
			n++
		}
	}
	return n
}

// checkNothingLost requires every input object in the output, by kind and
// name; a ConfigMap listed in converted comes out as a Secret.
func checkNothingLost(t *testing.T, in, out string, converted []string) {
	t.Helper()
	have := map[string]bool{}
	for _, o := range objectsOf(t, out) {
		have[o.kind+"/"+o.name] = true
	}
	for _, o := range objectsOf(t, in) {
		if o.kind == "" {
			continue // comments alone: Helm and dpps-render drop them
		}
		want := o.kind + "/" + o.name
		if o.kind == "ConfigMap" && slices.Contains(converted, o.name) {
			want = "Secret/" + o.name
			if have[o.kind+"/"+o.name] {
				t.Errorf("ConfigMap %s is still a ConfigMap", o.name)
			}
		}
		if !have[want] {
			t.Errorf("%s is missing from the output", want)
		}
	}
}
