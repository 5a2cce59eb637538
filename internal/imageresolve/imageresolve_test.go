package imageresolve

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestResolve(t *testing.T) {
	host := testutil.Registry(t)
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/dpps/server:1.0"
	if err := remote.Write(must(name.ParseReference(ref)), img); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxRef := host + "/dpps/multi:2"
	if err := remote.WriteIndex(must(name.ParseReference(idxRef)), idx); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	wantIdx, _ := idx.Digest()

	r := New(Options{Keychain: authn.NewMultiKeychain()})
	for ref, want := range map[string]string{ref: want.String(), idxRef: wantIdx.String(), host + "/dpps/server@" + want.String(): want.String()} {
		got, err := r.Resolve(context.Background(), ref)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %s", ref, got, err, want)
		}
	}

	for _, tc := range []struct{ ref, answer string }{
		{host + "/dpps/server:2.0", "MANIFEST_UNKNOWN"},
		{host + "/dpps/nothing:1", "NAME_UNKNOWN"},
	} {
		_, err := r.Resolve(context.Background(), tc.ref)
		if err == nil || !strings.Contains(err.Error(), `image "`+tc.ref+`": registry `+host+` answered: `) ||
			!strings.Contains(err.Error(), tc.answer) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with the registry's answer %s", tc.ref, err, tc.answer)
		}
	}
}

// TestUnreachable: a registry nobody listens on fails with one line, and
// its other images fail at once instead of waiting again.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	r := New(Options{Keychain: authn.NewMultiKeychain(), Timeout: 20 * time.Second})
	_, err = r.Resolve(context.Background(), host+"/dpps/server:1")
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "registry "+host+" answered") {
		t.Fatalf("error %v", err)
	}
	start := time.Now()
	_, err = r.Resolve(context.Background(), host+"/dpps/other:1")
	if err == nil || !strings.Contains(err.Error(), "connection refused") || time.Since(start) > time.Second {
		t.Fatalf("second image: %v after %s", err, time.Since(start))
	}
}

func TestParseInsecure(t *testing.T) {
	r := New(Options{Insecure: []string{"harbor.example.org:5000"}})
	for ref, scheme := range map[string]string{
		"harbor.example.org:5000/a:1": "http",
		"harbor.example.org/a:1":      "https",
		"other.example.org:5000/a:1":  "https",
	} {
		p, err := r.Parse(ref)
		if err != nil || p.Context().Scheme() != scheme {
			t.Errorf("%s: %v, scheme %s, want %s", ref, err, p.Context().Scheme(), scheme)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
