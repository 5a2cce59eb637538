package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// kubernetesJSON is what Kubernetes and Helm make of one YAML document:
// sigs.k8s.io/yaml's JSON, re-encoded so that maps compare in key order.
func kubernetesJSON(doc []byte) (string, error) {
	j, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return "", err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

// treeJSON is what dpps-render's transforms see in a tree: keys by their
// text, scalars by yaml.v3's tags, merge keys resolved. It is written here,
// from the YAML spec, not taken from the code under test.
func treeJSON(t testing.TB, n *yaml.Node) string {
	t.Helper()
	v := treeValue(t, n)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("tree to JSON: %v", err)
	}
	// Numbers as sigs.k8s.io/yaml writes them.
	var norm any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&norm); err != nil {
		t.Fatal(err)
	}
	out, _ = json.Marshal(norm)
	return string(out)
}

func treeValue(t testing.TB, n *yaml.Node) any {
	t.Helper()
	switch n.Kind {
	case yaml.DocumentNode:
		return treeValue(t, n.Content[0])
	case yaml.AliasNode:
		return treeValue(t, n.Alias)
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			out = append(out, treeValue(t, c))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				t.Fatalf("a merge key is left in the tree at line %d", k.Line)
			}
			out[k.Value] = treeValue(t, v)
		}
		return out
	}
	switch n.Tag {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	}
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatalf("decoding the scalar at line %d: %v", n.Line, err)
	}
	return v
}

// readersAgree checks the contract between dpps-render's reader, its
// writer and Kubernetes': for an input of one object that dpps-render
// accepts, Kubernetes accepts it too and reads what the transforms see,
// and reads the same from dpps-render's output.
func readersAgree(t *testing.T, in []byte) {
	nodes, err := (&Reader{Input: bytes.NewReader(in)}).Read()
	if err != nil || len(nodes) != 1 || len(splitDocuments(in)) != 1 {
		return
	}
	if nodes[0].GetKind() == "List" || bytes.Contains(in, []byte("\r")) || bytes.HasPrefix(in, bom) {
		return
	}
	fromInput, err := kubernetesJSON(in)
	if err != nil {
		t.Fatalf("dpps-render reads an input that Kubernetes refuses (%v):\n%s", err, in)
	}
	if strings.Contains(fromInput, `"kind":"List"`) {
		return // dpps-render reads a List's items
	}
	seen := treeJSON(t, nodes[0].Document())
	if seen != fromInput {
		t.Fatalf("dpps-render sees another object than Kubernetes:\n  dpps-render: %s\n  Kubernetes:  %s\ninput:\n%s", seen, fromInput, in)
	}
	var out bytes.Buffer
	if err := Write(&out, nodes); err != nil {
		t.Fatalf("write: %v", err)
	}
	fromOutput, err := kubernetesJSON(out.Bytes())
	if err != nil {
		t.Fatalf("Kubernetes refuses dpps-render's output (%v):\n%s", err, out.Bytes())
	}
	if fromOutput != fromInput {
		t.Fatalf("Kubernetes reads the output otherwise than the input:\n  input:  %s\n  output: %s\n%s", fromInput, fromOutput, out.Bytes())
	}
}

// kubernetesCases are single objects where yaml.v3, the fast parser,
// the writers and Kubernetes' reader could part.
var kubernetesCases = []string{
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {x: \"yes\", y: 'on', z: \"1:20\"}}\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  s: 1:20\n  t: 2001-12-14 21:59:43.10 -5\n  u: 0o17\n  v: 0b101\n  w: 1_000\n  x: +.INF\n  y: .NaN\n  z: 0x1F\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  a: \u2028\n  b: \u0085\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec: {0?: {}}\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  a: [x?y, \"z\"]\n  b: ~\n  c: Null\n  d: 'null'\n  e: NuLL\n",
	"apiVersion: v1\nkind: A\nmetadata: &m\n  name: a\n  labels: {x: y1}\nspec:\n  m: *m\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  <<: {labels: {x: a}}\n",
	"apiVersion: v1\nkind: A\nbase: &b {labels: {x: a}, name: b}\nmetadata:\n  <<: *b\n  name: a\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  a: 2001-12-14\n  b: 1e3\n  c: 0777\n  d: -0\n  e: 1.0\n",
}

func TestReadersAgree(t *testing.T) {
	for i, c := range kubernetesCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { readersAgree(t, []byte(c)) })
	}
	for name, stream := range testutil.RepositoryStreams(t) {
		for j, c := range splitDocuments(stream) {
			t.Run(fmt.Sprintf("%s/%d", name, j+1), func(t *testing.T) { readersAgree(t, c.text) })
		}
	}
}

// FuzzReadersAgree is the differential fuzz target of dpps-render's reader
// (the fast parser and yaml.v3) and writers against sigs.k8s.io/yaml, the
// reader of Kubernetes and Helm. Its seeds are the cases above and every
// document of the goldens' streams.
func FuzzReadersAgree(f *testing.F) {
	for _, c := range kubernetesCases {
		f.Add(c)
	}
	for _, stream := range testutil.RepositoryStreams(f) {
		for _, c := range splitDocuments(stream) {
			f.Add(string(c.text))
		}
	}
	f.Fuzz(func(t *testing.T, in string) { readersAgree(t, []byte(in)) })
}
