package pipeline

import (
	"bytes"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// roundTripCases are streams whose comments, blank lines and document
// markers the reader and the writers place in different ways: the output
// must read back to itself, byte for byte.
var roundTripCases = map[string]string{
	"leading comment, blank line":           "# leading\n\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"leading comment, two blank lines":      "# leading\n\n\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"marker, comment, blank line":           "---\n# leading\n\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"two comment blocks":                    "# one\n\n# two\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"marker, two comment blocks":            "---\n# Source: a\n# one\n\n# two\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"comment, blank line, flow object":      "# leading\n\n{apiVersion: v1, kind: A, metadata: {name: a}}\n",
	"comment, blank line, second document":  "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n# leading\n\napiVersion: v1\nkind: A\nmetadata: {name: b}\n",
	"comment, blank line, List":             "# leading\n\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n  metadata: {name: a}\n",
	"comment, blank line, comment on a key": "# leading\n\n# key\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"blank line, comment":                   "\n# leading\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"comment, blank line, non-ASCII":        "# é\n\napiVersion: v1\nkind: A\nmetadata: {name: é}\n",
}

func TestRoundTrip(t *testing.T) {
	for name, in := range roundTripCases {
		t.Run(name, func(t *testing.T) {
			first := writeStream(t, readAll(t, []byte(in)))
			second := writeStream(t, readAll(t, first))
			if !bytes.Equal(first, second) {
				t.Errorf("the output does not read back to itself:\n%s---- read back and written again ----\n%s", first, second)
			}
		})
	}
}

func writeStream(t *testing.T, nodes []*yaml.RNode) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Write(&out, nodes); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
