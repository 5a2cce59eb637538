package pipeline

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/benchdata"
	"github.com/ctao/dpps-deploy/internal/testutil"
)

// sameAsYAMLv3 fails when the direct writer takes a document and writes
// other bytes than yaml.v3; it reports whether the writer took it.
func sameAsYAMLv3(t *testing.T, n *yaml.RNode) bool {
	t.Helper()
	doc := n.Document()
	prepareForWriting(doc) // as encode does before either writer
	want, err := encodeYAMLv3(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := fastEncode(doc)
	if ok && !bytes.Equal(got, want) {
		t.Fatalf("the direct writer differs from yaml.v3: %s\n--- direct\n%s--- yaml.v3\n%s", testutil.FirstDiff(got, want), got, want)
	}
	return ok
}

func readAll(t testing.TB, stream []byte) []*yaml.RNode {
	t.Helper()
	nodes, err := (&Reader{Input: bytes.NewReader(stream)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// addCorpus adds every file of the shared corpus to streams, by path.
func addCorpus(t *testing.T, streams map[string][]byte) {
	t.Helper()
	for _, f := range testutil.CorpusFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		streams[f] = data
	}
}

// TestFastEncodeMatchesYAMLv3 holds the direct writer to yaml.v3's bytes on
// every document of the real charts' renders, the benchmark streams and
// hand-made edge cases, and checks that it takes most real documents (or
// it would be dead weight).
func TestFastEncodeMatchesYAMLv3(t *testing.T) {
	streams := map[string][]byte{
		"bench": benchdata.StreamWithCatalog(200),
		"edge cases": []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: edge
  # a comment
  labels: {}
data:
  empty: ""
  null1:
  null2: null
  bool: true
  strbool: "true"
  strint: "8080"
  int: 8080
  neg: -1
  zero: 0
  octal: 0777
  float: 1.5
  version: 1.2.3
  colon: "a: b"
  hash: "a #b"
  lead: " x"
  trail: "x "
  quote: it's
  dq: "say \"hi\""
  star: "*x"
  dash: "- x"
  dashword: -x
  "yes": "y"
  sexagesimal: 1:20
  sexafloat: 1:20.5
  timestamp11: 2001-12-14 21:59:43.10 -5
  tilde: "~"
  key with spaces: v
  "quoted: key": v
  long: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp
  longword: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  script: |
    #!/bin/sh
    echo hi

    exit 0
  nofinal: |-
    a
    b
  leading: |2
     indented
  keep: |+
    a

  tabs: "a\tb"
  utf8: "é"
  list:
  - a
  - - b
    - c
  - {}
  - []
  - k: v
    l:
    - m
  flow: [a, b]
  flowmap: {a: 1, "b c": [x, "y,z", ""], d: {}}
  merge:
    <<: {a: b}
  date: 2001-12-14
  hex: 0x1F
  under: 1_000
  dot: .5
  dotword: .x
  plus: +1
  exp: 1e3
  ip: 10.0.0.0/8
  seqval:
  - name: x
    # before image
    image: z
  # before an item
  - a
  # before a mapping item
  - k: v
  longsq: 'aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq'
  longdq: "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq"
  longdq2: "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo  pppp qqqq  rrrr"
  longkey aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq: v
  longflow: [aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp, b]
  longmany: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp aaaa bbbb cccc dddd eeee ffff gggg
`),
	}
	addCorpus(t, streams)
	var took, total int
	for name, stream := range streams {
		t.Run(name, func(t *testing.T) {
			for _, n := range readAll(t, stream) {
				total++
				if sameAsYAMLv3(t, n) {
					took++
				}
			}
		})
	}
	t.Logf("the direct writer took %d of %d documents", took, total)
	if took*2 < total {
		t.Errorf("the direct writer took only %d of %d documents", took, total)
	}
}

// FuzzFastEncode: for every document that reads, the direct writer either
// declines it or writes yaml.v3's bytes.
func FuzzFastEncode(f *testing.F) {
	f.Add("apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  labels: {x: 'y'}\ndata:\n  k: |\n    v\n")
	f.Add("apiVersion: v1\nkind: A\nmetadata: {name: a}\nspec:\n  l:\n  - - a\n    - b: c\n  s: \"x: y\"\n")
	f.Add("# Source: c/templates/x.yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n  # c\n  n: -1\n")
	for _, seed := range testutil.RepositorySeeds(f, 4<<10) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		nodes, err := (&Reader{Input: strings.NewReader(in)}).Read()
		if err != nil {
			return
		}
		for _, n := range nodes {
			sameAsYAMLv3(t, n)
		}
	})
}
