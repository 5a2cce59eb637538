package transforms_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
	"github.com/ctao/dpps-deploy/transforms/provenance"
)

// render runs every registered transform over in.
func render(t *testing.T, in []byte) []byte {
	t.Helper()
	return renderWith(t, &transforms.Config{}, in)
}

func renderWith(t *testing.T, cfg *transforms.Config, in []byte) []byte {
	t.Helper()
	steps, err := transforms.Steps(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := pipeline.Run(bytes.NewReader(in), &out, steps); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// refusedWithoutCatalog are the corpus renders that hold credentials
// outside Secrets (its README, "Where each credential sits"; the demo S3
// key of diracx.demo.yaml in a ConfigMap): without a catalog, guards
// refuses them.
var refusedWithoutCatalog = map[string]bool{
	"diracx.demo.yaml":             true,
	"diracx.external-mysql.yaml":   true,
	"postgresql.initdb.yaml":       true,
	"rucio-daemons.env-creds.yaml": true,
	"rucio-server.env-creds.yaml":  true,
}

// TestCorpusInvariants checks, on real rendered charts, what users rely on:
// nothing lost or reordered, object content unchanged but for what the
// transforms add, comments and annotations kept, same bytes every time, and
// a second run changes nothing. A render guards refuses is checked with
// the other transforms.
func TestCorpusInvariants(t *testing.T) {
	for _, file := range testutil.CorpusFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			render := render
			if refusedWithoutCatalog[filepath.Base(file)] {
				steps, err := transforms.Steps(&transforms.Config{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pipeline.Run(bytes.NewReader(in), io.Discard, steps); err == nil || !strings.HasPrefix(err.Error(), "guards: ") || !strings.Contains(err.Error(), " outside a Secret: ") {
					t.Fatalf("guards does not refuse a credential outside a Secret: %v", err)
				}
				cfg := &transforms.Config{Transforms: slices.DeleteFunc(transforms.Names(), func(n string) bool { return n == "guards" })}
				render = func(t *testing.T, in []byte) []byte { t.Helper(); return renderWith(t, cfg, in) }
			}
			out := render(t, in)
			checkPreserved(t, in, out)
			checkKubernetesStrings(t, out)
			checkMetadataKept(t, in, out)
			if again := render(t, in); !bytes.Equal(again, out) {
				t.Error("two runs on the same input differ")
			}
			if second := render(t, out); !bytes.Equal(second, out) {
				t.Errorf("not idempotent: a second run changed the output\n%s", firstDiff(out, second))
			}
			crlf := append([]byte("\ufeff"), bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n"))...)
			if got := render(t, crlf); !bytes.Equal(got, out) {
				t.Errorf("BOM + CRLF input renders differently\n%s", firstDiff(out, got))
			}
		})
	}
}

// checkPreserved compares input and output object by object with an
// independent reader (kyaml's), so a bug in our reader cannot hide itself.
func checkPreserved(t *testing.T, in, out []byte) {
	t.Helper()
	before, err := kio.FromBytes(in)
	if err != nil {
		t.Fatalf("kyaml cannot read the input: %v", err)
	}
	after, err := kio.FromBytes(out)
	if err != nil {
		t.Fatalf("kyaml cannot read the output: %v", err)
	}
	if len(after) < len(before) {
		t.Fatalf("objects lost: %d in, %d out", len(before), len(after))
	}
	for i, b := range before {
		a := after[i]
		if id(a) != id(b) {
			t.Fatalf("object %d: got %s, want %s (order changed)", i+1, id(a), id(b))
		}
		for k, v := range b.GetAnnotations() {
			if a.GetAnnotations()[k] != v {
				t.Errorf("%s: annotation %s changed or lost", id(b), k)
			}
		}
		for k, v := range b.GetLabels() {
			if a.GetLabels()[k] != v {
				t.Errorf("%s: label %s changed or lost", id(b), k)
			}
		}
		if !reflect.DeepEqual(withoutMetadata(t, b), withoutMetadata(t, a)) {
			t.Errorf("%s: content outside labels and annotations changed", id(b))
		}
	}
	if got, want := bytes.Count(out, []byte("\n# Source: ")), sourcesOfObjects(in); got != want {
		t.Errorf("# Source: comments: %d in output, %d on objects in the input", got, want)
	}
}

// sourcesOfObjects counts "# Source:" comments of documents that hold more
// than comments (comment-only documents are dropped, as Helm drops them).
func sourcesOfObjects(in []byte) int {
	n := 0
	for _, doc := range strings.Split("\n"+string(in), "\n---") {
		hasContent := false
		for _, line := range strings.Split(doc, "\n")[1:] {
			if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#") {
				hasContent = true
				break
			}
		}
		if hasContent {
			n += strings.Count(doc, "\n# Source: ")
		}
	}
	return n
}

func id(n *kyaml.RNode) string {
	return fmt.Sprintf("%s/%s %s/%s", n.GetApiVersion(), n.GetKind(), n.GetNamespace(), n.GetName())
}

// withoutMetadata decodes an object with its labels and annotations removed.
func withoutMetadata(t *testing.T, n *kyaml.RNode) any {
	t.Helper()
	s, err := n.String()
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(s), &obj); err != nil {
		t.Fatal(err)
	}
	if meta, ok := obj["metadata"].(map[string]any); ok {
		delete(meta, "labels")
		delete(meta, "annotations")
	}
	return obj
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// checkKubernetesStrings reads every document of a rendered stream as
// Kubernetes does (sigs.k8s.io/yaml, YAML 1.1's booleans and all) and
// fails when a label or an annotation, anywhere in an object (its own
// metadata, a pod template's, a claim template's), is not a string:
// Kubernetes would refuse the object.
func checkKubernetesStrings(t testing.TB, out []byte) {
	t.Helper()
	for i, doc := range bytes.Split(out, []byte("\n---\n")) {
		var obj any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("document %d: Kubernetes' reader refuses it: %v", i+1, err)
		}
		walkMetadata(obj, func(field string, v any) {
			m, ok := v.(map[string]any)
			if v != nil && !ok {
				t.Fatalf("document %d: %s is %T to Kubernetes, not a map of strings", i+1, field, v)
			}
			for k, s := range m {
				if _, ok := s.(string); !ok {
					t.Fatalf("document %d: %s %q is %T to Kubernetes, not a string", i+1, field, k, s)
				}
			}
		})
	}
}

// walkMetadata calls f with the labels and annotations of every
// "metadata" mapping in v.
func walkMetadata(v any, f func(field string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if meta, ok := c.(map[string]any); ok && k == "metadata" {
				for _, field := range []string{"labels", "annotations"} {
					if x, ok := meta[field]; ok {
						f(field, x)
					}
				}
			}
			walkMetadata(c, f)
		}
	case []any:
		for _, c := range v {
			walkMetadata(c, f)
		}
	}
}

// TestGoldenOutputsReadAsStrings renders every stream of the CLI's golden
// archives that renders, with every transform and YAML 1.1's words as
// --part-of, and reads the result as Kubernetes does.
func TestGoldenOutputsReadAsStrings(t *testing.T) {
	for name, in := range testutil.RepositoryStreams(t) {
		t.Run(name, func(t *testing.T) {
			// Valid label values only: --part-of refuses the rest (1:20, ~, .inf).
			for _, partOf := range []string{"", "yes", "on", "N", "Off", "NULL", "0o17", "0x1F", "1_000", "1e3", "2001-12-14"} {
				steps, err := transforms.Steps(&transforms.Config{Provenance: provenance.Config{PartOf: partOf}})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				if _, err := pipeline.Run(bytes.NewReader(in), &out, steps); err != nil {
					return // a bad input: its golden pins the error
				}
				checkKubernetesStrings(t, out.Bytes())
				checkMetadataKept(t, in, out.Bytes())
			}
		})
	}
}

// TestExampleOutputsReadAsStrings renders every example with the real
// Helm 3 and every transform, reads the result as Kubernetes does and
// checks labels and annotations are strings, and that none Kubernetes
// reads in the input is lost.
func TestExampleOutputsReadAsStrings(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	root := testutil.RepoRoot(t)
	for _, ex := range []string{"ci", "dev", "staging", "prod-site"} {
		t.Run(ex, func(t *testing.T) {
			var in, stderr bytes.Buffer
			cmd := exec.Command(helm, "template", "dpps", filepath.Join(root, "charts", "dpps"), "-f", filepath.Join(root, "examples", ex, "values.yaml"))
			cmd.Stdout, cmd.Stderr = &in, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("helm template: %v\n%s", err, stderr.String())
			}
			out := render(t, in.Bytes())
			checkKubernetesStrings(t, out)
			checkMetadataKept(t, in.Bytes(), out)
		})
	}
}

// checkMetadataKept fails when a label or an annotation that Kubernetes
// reads on an input object (merge keys resolved its way) is missing or
// changed on the output object of the same kind and name: provenance may
// add, never take away. Values dpps-render sets itself are left out.
func checkMetadataKept(t testing.TB, in, out []byte) {
	t.Helper()
	read := func(stream []byte) map[string]map[string]any {
		objs := map[string]map[string]any{}
		for _, doc := range bytes.Split(stream, []byte("\n---")) {
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil || obj == nil {
				continue
			}
			meta, _ := obj["metadata"].(map[string]any)
			objs[fmt.Sprint(obj["kind"], "/", meta["name"])] = meta
		}
		return objs
	}
	after := read(out)
	for id, meta := range read(in) {
		outMeta, ok := after[id]
		if !ok {
			continue // the transforms' own tests account for removals
		}
		for _, field := range []string{"labels", "annotations"} {
			was, _ := meta[field].(map[string]any)
			now, _ := outMeta[field].(map[string]any)
			for k, v := range was {
				if strings.HasPrefix(k, "dpps.ctao.org/") || k == "app.kubernetes.io/part-of" {
					continue
				}
				if now[k] != v {
					t.Errorf("%s: %s %q was %v to Kubernetes, is %v after dpps-render", id, field, k, v, now[k])
				}
			}
		}
	}
}
