package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestReadErrors(t *testing.T) {
	tests := map[string]struct {
		in   string
		want InputError
	}{
		"invalid yaml points at the broken line": {
			in:   "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: [\n",
			want: InputError{Doc: 1, Source: "c/templates/a.yaml", Line: 7},
		},
		"without comments, the chart's source annotation names the template": {
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    dpps.ctao.org/source: dpps/templates/a.yaml\ndata: [\n",
			want: InputError{Doc: 1, Source: "dpps/templates/a.yaml", Line: 7},
		},
		"tab indentation": {
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n",
			want: InputError{Doc: 1, Line: 4},
		},
		"second document counts lines from the stream start": {
			in:   "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: [}\n",
			want: InputError{Doc: 2, Line: 7},
		},
		"scalar document": {
			in:   "hello\n",
			want: InputError{Doc: 1, Line: 1},
		},
		"sequence document": {
			in:   "---\n- a\n",
			want: InputError{Doc: 1, Line: 2},
		},
		"missing apiVersion": {
			in:   "kind: A\nmetadata: {name: a}\n",
			want: InputError{Doc: 1, Line: 1},
		},
		"missing metadata": {
			in:   "apiVersion: v1\nkind: A\n",
			want: InputError{Doc: 1, Line: 1},
		},
		"empty name": {
			in:   "apiVersion: v1\nkind: A\nmetadata:\n  name: \"\"\n",
			want: InputError{Doc: 1, Line: 4},
		},
		"duplicate key deep inside": {
			in:   "apiVersion: v1\nkind: A\nmetadata: {name: a}\ndata:\n  x: 1\n  x: 2\n",
			want: InputError{Doc: 1, Line: 6, FirstLine: 5},
		},
		"duplicate key in a large mapping": {
			in:   "apiVersion: v1\nkind: A\nmetadata: {name: a}\ndata:\n" + manyKeys(40) + "  k7: dup\n",
			want: InputError{Doc: 1, Line: 45, FirstLine: 12},
		},
		"duplicate key in a third document: both lines from the stream start": {
			in:   "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: A\nmetadata: {name: b}\n---\napiVersion: v1\nkind: A\nmetadata: {name: c}\ndata:\n  x: 1\n  z: 2\n  x: 3\n",
			want: InputError{Doc: 3, Line: 15, FirstLine: 13},
		},
		"duplicate key in a large mapping of a later document": {
			in:   "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: A\nmetadata: {name: b}\ndata:\n" + manyKeys(40) + "  k7: dup\n",
			want: InputError{Doc: 2, Line: 49, FirstLine: 16},
		},
		"list item that is not an object": {
			in:   "apiVersion: v1\nkind: List\nitems:\n- 3\n",
			want: InputError{Doc: 1, Line: 4},
		},
		"list item without kind": {
			in:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  metadata: {name: a}\n",
			want: InputError{Doc: 1, Line: 4},
		},
		"list nested too deep": {
			in:   nestedList(maxListDepth + 1),
			want: InputError{Doc: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			nodes, err := (&Reader{Input: strings.NewReader(tc.in)}).Read()
			if err == nil {
				t.Fatalf("no error; read %d objects", len(nodes))
			}
			if nodes != nil {
				t.Errorf("objects returned with the error: %d", len(nodes))
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not an *InputError", err, err)
			}
			if ie.Doc != tc.want.Doc || ie.Source != tc.want.Source || (tc.want.Line != 0 && ie.Line != tc.want.Line) || ie.FirstLine != tc.want.FirstLine {
				t.Errorf("got %+v, want doc %d source %q line %d first at line %d", *ie, tc.want.Doc, tc.want.Source, tc.want.Line, tc.want.FirstLine)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	return b.String()
}

func nestedList(depth int) string {
	var b strings.Builder
	indent := ""
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for range depth {
		b.WriteString(indent + "- apiVersion: v1\n" + indent + "  kind: List\n" + indent + "  items:\n")
		indent += "  "
	}
	b.WriteString(indent + "- apiVersion: v1\n" + indent + "  kind: ConfigMap\n" + indent + "  metadata: {name: deep}\n")
	return b.String()
}

func TestReadShapes(t *testing.T) {
	tests := map[string]struct {
		in          string
		wantNames   []string
		wantDropped int
	}{
		"empty input":              {in: "", wantNames: nil},
		"only separators":          {in: "---\n---\n", wantNames: nil, wantDropped: 2},
		"comment-only document":    {in: "---\n# nothing\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n", wantNames: []string{"a"}, wantDropped: 1},
		"null document":            {in: "---\nnull\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n", wantNames: []string{"a"}, wantDropped: 1},
		"BOM and CRLF":             {in: "\ufeffapiVersion: v1\r\nkind: A\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: A\r\nmetadata: {name: b}\r\n", wantNames: []string{"a", "b"}},
		"List items in order":      {in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A, metadata: {name: x}}\n- {apiVersion: v1, kind: A, metadata: {name: z}}\n", wantNames: []string{"x", "z"}},
		"generateName is a name":   {in: "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: j-}\n", wantNames: []string{""}},
		"separator with a comment": {in: "--- # first\napiVersion: v1\nkind: A\nmetadata: {name: a}\n", wantNames: []string{"a"}},
		"document end marker":      {in: "apiVersion: v1\nkind: A\nmetadata: {name: a}\n...\n---\napiVersion: v1\nkind: A\nmetadata: {name: b}\n", wantNames: []string{"a", "b"}},
		"dashes inside a block":    {in: "apiVersion: v1\nkind: A\nmetadata: {name: a}\ndata:\n  x: |\n    ---\n    not a separator\n", wantNames: []string{"a"}},
		"kind List without items":  {in: "apiVersion: v1\nkind: List\nmetadata: {name: l}\n", wantNames: []string{"l"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &Reader{Input: strings.NewReader(tc.in)}
			nodes, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, n := range nodes {
				names = append(names, n.GetName())
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") || len(names) != len(tc.wantNames) {
				t.Errorf("names %q, want %q", names, tc.wantNames)
			}
			if r.Dropped != tc.wantDropped {
				t.Errorf("dropped %d, want %d", r.Dropped, tc.wantDropped)
			}
		})
	}
}

func TestReaderIdentitiesAndCaps(t *testing.T) {
	twice := "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n" +
		"---\n# Source: c/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	if _, err := (&Reader{Input: strings.NewReader(twice)}).Read(); err != nil {
		t.Errorf("duplicates are refused only on request: %v", err)
	}
	_, err := (&Reader{Input: strings.NewReader(twice), RejectDuplicates: true}).Read()
	const want = "document 2 (c/templates/b.yaml), line 8: ConfigMap a is defined twice, first in document 1 (c/templates/a.yaml)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	others := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: example.org/v1\nkind: ConfigMap\nmetadata: {name: a}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}\n---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}\n"
	if _, err := (&Reader{Input: strings.NewReader(others), RejectDuplicates: true}).Read(); err != nil {
		t.Errorf("another group or namespace is another object: %v", err)
	}
	var le *LimitError
	if _, err := (&Reader{Input: strings.NewReader(twice), MaxBytes: 10}).Read(); !errors.As(err, &le) {
		t.Errorf("over MaxBytes: got %v", err)
	}
	for _, in := range []io.Reader{strings.NewReader(twice), bytes.NewBufferString(twice)} {
		if nodes, err := (&Reader{Input: in, MaxBytes: -1}).Read(); err != nil || len(nodes) != 2 {
			t.Errorf("no byte cap (%T): %d objects, %v", in, len(nodes), err)
		}
	}
	if _, err := (&Reader{Input: bytes.NewBufferString(twice), MaxBytes: 10}).Read(); !errors.As(err, &le) {
		t.Errorf("over MaxBytes, from a buffer: got %v", err)
	}
	if _, err := (&Reader{Input: strings.NewReader(twice), MaxObjects: 1}).Read(); !errors.As(err, &le) {
		t.Errorf("over MaxObjects: got %v", err)
	}
	if _, err := (&Reader{Input: strings.NewReader(twice), MaxObjects: 2}).Read(); err != nil {
		t.Errorf("at MaxObjects: %v", err)
	}
	list := "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A, metadata: {name: a}}\n- {apiVersion: v1, kind: A, metadata: {name: b}}\n"
	if _, err := (&Reader{Input: strings.NewReader(list), MaxObjects: 1}).Read(); !errors.As(err, &le) {
		t.Errorf("List items count against MaxObjects: got %v", err)
	}
}

// TestAliasesExpanded is the regression test for a bug found with the
// bad-input corpus: an anchored metadata.labels aliased as the selector
// got provenance's label in the selector too (an immutable field) because
// the alias shared the node. Aliases are now copies, within a budget.
func TestAliasesExpanded(t *testing.T) {
	in := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: &l {app: a}\nspec:\n  selector: {matchLabels: *l}\n"
	nodes, err := (&Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := nodes[0].Pipe(yaml.Lookup("metadata", "labels"))
	sel, _ := nodes[0].Pipe(yaml.Lookup("spec", "selector", "matchLabels"))
	if labels.YNode() == sel.YNode() || sel.YNode().Kind != yaml.MappingNode || labels.YNode().Anchor != "" {
		t.Fatalf("the alias still shares the anchored node")
	}
	bomb := "apiVersion: v1\nkind: A\nmetadata: {name: a}\nx:\n  a: &a [1,1,1,1,1,1,1,1,1,1]\n"
	prev := "a"
	for _, c := range []string{"b", "c", "d", "e", "f"} {
		bomb += "  " + c + ": &" + c + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = c
	}
	if _, err := (&Reader{Input: strings.NewReader(bomb)}).Read(); err == nil || !strings.Contains(err.Error(), "aliases expand to more YAML nodes than the budget has left") {
		t.Fatalf("an alias bomb: got %v", err)
	}
}

// TestNodeBudget: the YAML nodes of the whole stream, aliases counted as
// the copies they expand to, are bounded by its size; what is over is
// refused before the aliases are expanded, and a large document that may
// be over before it is parsed.
func TestNodeBudget(t *testing.T) {
	doc := func(i int, body string) string {
		return fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n%s", i, body)
	}
	// 9^5 = 59,049 nodes a document, under the old per-document budget of
	// 100,000: 60 of them took 1.1 GB. 1,500 plain nodes beside them keep
	// each document under Kubernetes' own limit on aliasing (aliases at
	// most 99% of what it decodes), so only the stream's budget refuses.
	aliases := "x:\n  pad: [" + strings.Repeat("l,", 1500) + "l]\n  a: &a [l,l,l,l,l,l,l,l,l]\n"
	prev := "a"
	for _, c := range []string{"b", "c", "d", "e"} {
		aliases += "  " + c + ": &" + c + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = c
	}
	var many strings.Builder
	for i := range 60 {
		many.WriteString(doc(i, aliases))
	}
	dense := doc(0, "x: ["+strings.Repeat("a,", 400_000)+"a]\n") + doc(1, "x: ["+strings.Repeat("a,", 400_000)+"a]\n") + doc(2, "x: ["+strings.Repeat("a,", 400_000)+"a]\n")
	huge := doc(0, "x: ["+strings.Repeat("a,", 1_200_000)+"a]\n")
	plain := doc(0, "x: ["+strings.Repeat("abcdefghij,", 100_000)+"a]\n") // one node per 11 bytes
	for _, tc := range []struct {
		name, in, want string
		maxAlloc       uint64
	}{
		{"aliases over many documents", many.String(), "document 4, line 45: aliases expand to more YAML nodes than the budget has left, refused before expanding them: the stream may hold 288962 YAML nodes (one per 5 input bytes, plus 250000)",
			// Each document is read once more by Kubernetes' reader, to
			// refuse aliasing it refuses; the old per-document budget
			// allocated 1.1 GB here.
			192 << 20},
		{"dense", dense, "document 2, line 8: more YAML nodes than the budget allows: the stream may hold 730037 YAML nodes (one per 5 input bytes, plus 250000)", 0},
		{"large and dense, before parsing", huge, "document 1, line 1: a document of 2400063 bytes may hold up to 2400032 YAML nodes, more than are left: the stream may hold 730012 YAML nodes (one per 5 input bytes, plus 250000); split it", 16 << 20},
		{"large, not dense", plain, "", 0},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := (&Reader{Input: strings.NewReader(tc.in)}).Read()
		runtime.ReadMemStats(&after)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s: error %v\nwant %s", tc.name, err, tc.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; tc.maxAlloc > 0 && alloc > tc.maxAlloc {
			t.Errorf("%s: %d MB allocated before refusing, want at most %d MB", tc.name, alloc>>20, tc.maxAlloc>>20)
		}
	}
}
