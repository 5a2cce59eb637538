package pipeline

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// FuzzReadWrite checks the stream's round trip: input that reads writes out
// as a stream that reads back to the same objects, and writing that again
// gives the same bytes. Input that does not read fails with one located
// line and no objects.
func FuzzReadWrite(f *testing.F) {
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	f.Add("---\n# Source: c/templates/x.yaml\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A, metadata: {name: x}}\n")
	f.Add("a: &x [1]\nb: *x\n")
	f.Add("\ufeffapiVersion: v1\r\nkind: A\r\nmetadata: {name: a}\r\n...\r\n")
	for _, c := range roundTripCases {
		f.Add(c)
	}
	// Small seeds only: the fuzzer minimises every new input, and a
	// large one runs at tens of executions a second and stalls it.
	for _, seed := range testutil.RepositorySeeds(f, 4<<10) {
		f.Add(seed)
	}
	for _, seed := range testutil.CorpusSeeds(4 << 10) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		nodes, err := (&Reader{Input: strings.NewReader(in)}).Read()
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error is %T, not *InputError: %v", err, err)
			}
			if nodes != nil || strings.ContainsRune(err.Error(), '\n') {
				t.Fatalf("bad failure: %d objects, message %q", len(nodes), err)
			}
			return
		}
		var first bytes.Buffer
		if err := Write(&first, nodes); err != nil {
			t.Fatalf("write: %v", err)
		}
		again, err := (&Reader{Input: bytes.NewReader(first.Bytes())}).Read()
		if err != nil {
			t.Fatalf("output does not read back: %v\n%s", err, first.String())
		}
		if len(again) != len(nodes) {
			t.Fatalf("%d objects in, %d after a round trip", len(nodes), len(again))
		}
		for i := range nodes {
			if nodes[i].GetKind() != again[i].GetKind() || nodes[i].GetName() != again[i].GetName() {
				t.Fatalf("object %d changed identity in a round trip", i+1)
			}
		}
		var second bytes.Buffer
		if err := Write(&second, again); err != nil {
			t.Fatalf("second write: %v", err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("round trip not stable:\n%s\n---- vs ----\n%s", first.String(), second.String())
		}
	})
}
