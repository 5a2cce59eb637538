package benchdata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// The benchmark figures in docs/bench.md were measured on this stream: a
// change here makes them incomparable, so it must be deliberate.
const stream5000SHA256 = "3ab6ba5cf4c19b669afdb3aaefed22a83f825c5ad744565f86b432d4388c1844"

func TestSize(t *testing.T) {
	const n = 5000
	s := Stream(n)
	t.Logf("%d objects: %d bytes, %d bytes an object", n, len(s), len(s)/n)
	if len(s) < 2_300_000 || len(s) > 2_500_000 {
		t.Errorf("Stream(%d) is %d bytes, want 2.4 MB (2.3-2.5 MB)", n, len(s))
	}
}

func TestObjects(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 500, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := Stream(n)
			if got := bytes.Count(s, []byte("---\n# Source: dpps/charts/")); got != n {
				t.Errorf("%d documents with a # Source: comment, want %d", got, n)
			}
			// The strict reader of dpps-render: no duplicate keys, every object
			// has apiVersion, kind and a name.
			r := &pipeline.Reader{Input: bytes.NewReader(s)}
			nodes, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != n || r.Dropped != 0 {
				t.Fatalf("read %d objects (%d dropped), want %d", len(nodes), r.Dropped, n)
			}
			names := map[string]bool{}
			for i, node := range nodes {
				want := "Deployment"
				if i%2 == 1 {
					want = "Service"
				}
				if node.GetKind() != want {
					t.Errorf("object %d is a %s, want a %s", i, node.GetKind(), want)
				}
				id := node.GetKind() + "/" + node.GetName()
				if names[id] {
					t.Errorf("object %d: %s appears twice", i, id)
				}
				names[id] = true
				if src := manifest.Source(node); manifest.ParseSource(src).Subchart == "" {
					t.Errorf("object %d: source %q names no subchart", i, src)
				}
				if i%2 == 0 {
					spec := manifest.PodSpec(node.YNode())
					if got := len(manifest.Images(spec)); got != 2 {
						t.Errorf("object %d: %d images, want 2", i, got)
					}
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	a, b := Stream(5000), Stream(5000)
	if !bytes.Equal(a, b) {
		t.Fatal("two calls of Stream(5000) differ")
	}
	if !bytes.HasPrefix(a, Stream(500)) {
		t.Error("Stream(500) is not a prefix of Stream(5000)")
	}
	sum := sha256.Sum256(a)
	if got := hex.EncodeToString(sum[:]); got != stream5000SHA256 {
		t.Errorf("Stream(5000) has sha256 %s, want %s: the stream changed, so the recorded benchmark figures no longer apply", got, stream5000SHA256)
	}
}
