package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/benchdata"
	"github.com/ctao/dpps-deploy/internal/testutil"
)

// sameTreeAsYAMLv3 fails when the fast parser takes a chunk and builds
// another tree than yaml.v3 does; it reports whether the parser took it.
func sameTreeAsYAMLv3(t *testing.T, chunk []byte) bool {
	t.Helper()
	got, ok := fastParse(chunk)
	if !ok {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(chunk))
	var want yaml.Node
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("the fast parser took a chunk yaml.v3 refuses (%v):\n%s", err, chunk)
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		t.Fatalf("the fast parser took a chunk of more than one document (%v):\n%s", err, chunk)
	}
	if diff := treeDiff(got, &want, "document"); diff != "" {
		t.Fatalf("the fast parser differs from yaml.v3 at %s\n%s", diff, chunk)
	}
	return true
}

// treeDiff names the first field in which two trees differ, or is empty.
func treeDiff(got, want *yaml.Node, path string) string {
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("%s: node %v, want %v", path, got, want)
	}
	if got == nil {
		return ""
	}
	fields := []struct {
		name      string
		got, want any
	}{
		{"Kind", got.Kind, want.Kind},
		{"Style", got.Style, want.Style},
		{"Tag", got.Tag, want.Tag},
		{"Value", got.Value, want.Value},
		{"Anchor", got.Anchor, want.Anchor},
		{"HeadComment", got.HeadComment, want.HeadComment},
		{"LineComment", got.LineComment, want.LineComment},
		{"FootComment", got.FootComment, want.FootComment},
		{"Line", got.Line, want.Line},
		{"Column", got.Column, want.Column},
		{"len(Content)", len(got.Content), len(want.Content)},
		{"Content is nil", got.Content == nil, want.Content == nil},
	}
	for _, f := range fields {
		if f.got != f.want {
			return fmt.Sprintf("%s: %s is %#v, want %#v", path, f.name, f.got, f.want)
		}
	}
	if got.Alias != nil || want.Alias != nil {
		return path + ": an alias"
	}
	for i := range got.Content {
		if d := treeDiff(got.Content[i], want.Content[i], fmt.Sprintf("%s/%d(line %d)", path, i, want.Content[i].Line)); d != "" {
			return d
		}
	}
	return ""
}

// TestFastParseMatchesYAMLv3 holds the fast parser to yaml.v3's trees on
// every document of the real charts' renders, the benchmark stream and
// hand-made cases, and checks that it takes most real documents (or it
// would be dead weight).
func TestFastParseMatchesYAMLv3(t *testing.T) {
	streams := map[string][]byte{
		"bench": benchdata.StreamWithCatalog(200),
	}
	addCorpus(t, streams)
	var took, total int
	for name, stream := range streams {
		t.Run(name, func(t *testing.T) {
			for _, c := range splitDocuments(stream) {
				total++
				if sameTreeAsYAMLv3(t, c.text) {
					took++
				}
			}
		})
	}
	t.Logf("the fast parser took %d of %d documents", took, total)
	if took*10 < total*9 {
		t.Errorf("the fast parser took only %d of %d documents", took, total)
	}
}

// fastParseCases are hand-made documents: take says whether the fast parser
// must take the document (the rest it must leave to yaml.v3); either way,
// what it builds must be yaml.v3's tree.
var fastParseCases = []struct {
	name string
	doc  string
	take bool
}{
	{"helm document", "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", true},
	{"no document marker", "apiVersion: v1\nkind: A\n", true},
	{"head comment of two lines", "---\n# Source: a\n# more\nk: v\n", true},
	{"scalars", "a: 1\nb: -2\nc: 1.5\nd: true\ne: ~\nf: null\ng: 0x1F\ni: .inf\nj: yes\nk: -x\nl: a b  c\nm: a:b\nn: http://x/#y\no: +1\np: .5\nq: 1_000\n", true},
	{"quoted scalars", "a: \"x\"\nb: 'y'\nc: \"say \\\"hi\\\" \\\\ \\n\\t\"\nd: 'it''s'\ne: \"\"\nf: ''\ng: \"a #b\"\nh: \"x\"   \n", true},
	{"quoted keys", "\"a b\": 1\n'c': 2\n\"helm.sh/hook\": pre-install\n", true},
	{"empty values", "a:\nb:   \nc: {}\nd: []\n", true},
	{"nested", "a:\n  b:\n    c: d\n  e: f\ng: h\n", true},
	{"sequences", "a:\n- x\n- y: 1\n  z: 2\n- 'q'\nb:\n  - p\n  -   r: s\n      t: u\nc: d\n", true},
	{"literal blocks", "a: |\n  x\n\n  y\nb: |-\n    deep\n    text\n\n\nc: |\n  #!/bin/sh\n  echo \"a: b\" # not a comment\n  \tind\n", true},
	{"literal in a sequence", "a:\n- |\n  x\n- |-\n  y\n", true},
	{"flow collections", "a: [x, \"y z\", 'w', 1]\nb: {cpu: 10m, memory: 16Mi}\nc: [ ]\nd: {a: [1, 2], b: {}}\n", true},
	{"flow on the next line", "a:\n  {}\nb:\n  [x]\n", true},
	{"comments above keys and entries", "a:\n  # c1\n  # c2\n  b: 1\n  # c3\n  c: 2\nl:\n# c4\n- x: 1\n  # c5\n  y: 2\n# c6\n- z\n", true},
	{"comment after a literal block", "a: |\n  x\n# c\nb: 1\n", true},
	{"utf-8", "a: é\nb: \"日本\"\nc: x\n", true},
	{"utf-8 key", "é: a\nb: c\n", true},
	{"utf-8 in flow entries", "a:\n- é: [ü, \"日本\", x, {ö: y}]\n  b: c\n", true},
	{"value on the next line", "a:\n  x\nb: c\n", true},

	{"timestamp", "a: 2001-12-14\n", false},
	{"line comment", "a: b # c\n", false},
	{"foot comment", "a: b\n# c\n", false},
	{"comment after a blank line", "a: b\n\n# c\nd: e\n", false},
	{"comment at another indentation", "a:\n    # c\n  b: 1\n", false},
	{"multi-line plain", "a: b\n  c\n", false},
	{"multi-line quoted", "a: \"b\n  c\"\n", false},
	{"anchor and alias", "a: &x b\nc: *x\n", false},
	{"tag", "a: !!str 1\n", false},
	{"merge key", "a: {}\n<<: {}\n", false},
	{"folded block", "a: >\n  b\n", false},
	{"keep chomping", "a: |+\n  b\n\n", false},
	{"indentation indicator", "a: |2\n   b\n", false},
	{"tab indentation", "a:\n\tb: c\n", false},
	{"tab in a plain scalar", "a: b\tc\n", false},
	{"two documents", "a: b\n...\n---\nc: d\n", false},
	{"sequence in a sequence", "a:\n- - b\n", false},
	{"empty entry", "a:\n-\n  b\n", false},
	{"root sequence", "- a\n", false},
	{"root scalar", "a\n", false},
	{"no final newline", "a: b", false},
	{"complex key", "? a\n: b\n", false},
	{"flow with a colon", "a: [b: c]\n", false},
	{"trailing comma", "a: [b, ]\n", false},
	{"unclosed flow", "a: [b\n", false},
	{"bad indentation", "a:\n    b: 1\n  c: 2\n", false},
	{"key: value: value", "a: b: c\n", false},
	{"control character", "a: \x01\n", false},
	{"byte order mark inside", "a: \ufeff\n", false},
	{"invalid UTF-8", "a: \xff\n", false},
	{"unknown escape", "a: \"\\q\"\n", false},
	{"hex escape", "a: \"\\x41\"\n", false},
	{"leading blank lines deeper than the text", "a: |\n     \n  b\n", false},
	{"a flow key with '?' (yaml.v3 refuses it)", "a: {0?: {}}\n", false},
	{"a flow entry with '?'", "a: [0?]\n", false},
	{"a value that is only U+2028", "a: \u2028\n", false},
	{"a value that is only U+0085", "a: \u0085\n", false},
	{"U+2029 inside a value", "a: b\u2029c\n", false},
	{"a backslash in a flow entry", "a: [b\\c]\n", false},
}

func TestFastParseCases(t *testing.T) {
	for _, c := range fastParseCases {
		t.Run(c.name, func(t *testing.T) {
			if took := sameTreeAsYAMLv3(t, []byte(c.doc)); took != c.take {
				t.Errorf("took the document: %v, want %v", took, c.take)
			}
		})
	}
}

// FuzzFastParse: whatever the input, the fast parser either leaves it to
// yaml.v3 or builds exactly yaml.v3's tree of a single document.
func FuzzFastParse(f *testing.F) {
	for _, c := range fastParseCases {
		f.Add(c.doc)
	}
	for _, stream := range testutil.RepositorySeeds(f, 4<<10) {
		for _, c := range splitDocuments([]byte(stream)) {
			f.Add(string(c.text))
		}
	}
	f.Fuzz(func(t *testing.T, doc string) {
		sameTreeAsYAMLv3(t, []byte(doc))
	})
}

// TestResolveTagAsYAMLv3: resolveTag answers as yaml.v3's resolver, on the
// words it looks up and on each kind of first byte, or declines (merge
// keys, what may be a timestamp).
func TestResolveTagAsYAMLv3(t *testing.T) {
	declined := map[string]bool{"<<": true, "2001-12-14": true, "2001-12-14T21:59:43.10-05:00": true, "1234-x": true}
	for _, v := range []string{"", "y", "yes", "Yes", "on", "ON", "n", "no", "true", "True", "TRUE", "tRue",
		"false", "FALSE", "null", "Null", "NULL", "nil", "nginx", "off", "o", "t", "f", "Y", "N", "O",
		"~", ".inf", ".NaN", ".5", ".x", "-.inf", "+1", "-x", "-", "1", "-1", "0777", "08", "0x1F", "0b101", "-0b1",
		"0o17", "1_000", "1e3", "1.5", "1.2.3", "10.0.0.0/8", "18446744073709551615", "99999999999999999999",
		"<<", "<x", "x", "Deployment", "é", "2001-12-14", "2001-12-14T21:59:43.10-05:00", "1234-x"} {
		tag, ok := resolveTag(v)
		n := yaml.Node{Kind: yaml.ScalarNode, Value: v}
		switch want := n.ShortTag(); {
		case ok == declined[v]:
			t.Errorf("resolveTag(%q): ok = %v", v, ok)
		case ok && tag != want:
			t.Errorf("resolveTag(%q) = %s, yaml.v3 resolves %s", v, tag, want)
		}
	}
}
