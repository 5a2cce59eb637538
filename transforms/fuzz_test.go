package transforms_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/imagelock"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// The fuzz targets below run each registered transform alone, and all of
// them together, over fuzzed streams, and check the invariants users rely
// on (not just "no panic"):
//
//   - input that reads gives output that reads;
//   - every input object's kind and name is still in the output, but for
//     the removals secretrefs documents (a Secret that only repeats the
//     declared Secret's credentials; a ConfigMap holding a credential comes
//     out as a Secret of the same name, removed in turn when it only
//     repeats the declared Secret);
//   - a second run on the output changes nothing;
//   - a credential value (plain or base64) never appears in an error.
//
// Half of the inputs are preceded by a catalog ConfigMap built from
// secretrefs' test catalog and the Secret it declares, so that the
// catalog-driven transforms have work.

// fuzzCredentials are the values of the Secret "creds" the test catalog
// declares.
var fuzzCredentials = []string{"s3cret-db-passw0rd", "tok-0123456789abcdef"}

func fuzzPrefix(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("secretrefs", "testdata", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	quoted, _ := json.Marshal(string(cat))
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return fmt.Sprintf(`---
# Source: app/templates/catalog.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: rel-dpps-catalog
  labels:
    dpps.ctao.org/catalog: "true"
data:
  catalog.json: %s
  site.json: '{"externals": {}, "secrets": {"backend": "chart"}}'
---
# Source: app/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  db-password: %s
  token: %s
`, quoted, b64(fuzzCredentials[0]), b64(fuzzCredentials[1]))
}

// fuzzSeeds are the test fixtures the targets start from, before the
// corpus's small files.
var fuzzSeeds = []string{
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
	`---
# Source: app/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-web
  labels: {helm.sh/chart: app-0.1.0}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: web}}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: rel, app.kubernetes.io/component: web}
    spec:
      containers:
      - name: web
        image: web:1
        env:
        - name: DB_PASSWORD
          value: s3cret-db-passw0rd
        - name: DSN
          value: postgresql://u:s3cret-db-passw0rd@rel-db/x
        envFrom:
        - configMapRef: {name: web-config}
`,
	`---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  TOKEN: tok-0123456789abcdef
---
apiVersion: v1
kind: Secret
metadata:
  name: copy
stringData:
  password: s3cret-db-passw0rd
`,
	`---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: rel-db
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/instance: rel, app.kubernetes.io/component: db}
    spec:
      containers:
      - name: db
        image: postgres:16
        args: ["--password", "s3cret-db-passw0rd"]
`,
	"---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: rel-web}}\n",
	"a: &x {apiVersion: v1}\n",
}

func fuzzTransforms(f *testing.F, names ...string) { fuzzTransformsWith(f, fuzzPrefix(f), names...) }

// fuzzTransformsWith is fuzzTransforms with another catalog prefix.
func fuzzTransformsWith(f *testing.F, prefix string, names ...string) {
	for _, s := range fuzzSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	// Small seeds only, from the repository's goldens and, when present,
	// the shared corpus: the fuzzer minimises every new input, and a
	// large one runs slowly and stalls it.
	for _, seed := range testutil.RepositorySeeds(f, 4<<10) {
		f.Add(seed, false)
	}
	for _, seed := range testutil.CorpusSeeds(6 << 10) {
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, body string, withCatalog bool) {
		in := body
		if withCatalog {
			in = prefix + "---\n" + body
		}
		before, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
		if err != nil {
			return // the reader's own target, pipeline.FuzzReadWrite, covers this
		}
		lock := ""
		if contains(names, "imagelock") {
			lock = lockEveryImage(t, before)
		}
		out, err := runTransforms(names, lock, []byte(in))
		if err != nil {
			for _, c := range fuzzCredentials {
				b64 := base64.StdEncoding.EncodeToString([]byte(c))
				if strings.Contains(err.Error(), c) || strings.Contains(err.Error(), b64) {
					t.Fatalf("a credential value is in the error message: %v", err)
				}
			}
			if strings.Contains(err.Error(), "goroutine ") {
				t.Fatalf("stack trace in the error: %v", err)
			}
			return
		}
		after, err := (&pipeline.Reader{Input: bytes.NewReader(out)}).Read()
		if err != nil {
			t.Fatalf("output does not read: %v\n%s", err, out)
		}
		present := map[string]bool{}
		for _, n := range after {
			present[n.GetKind()+"/"+n.GetName()] = true
		}
		removes := contains(names, "secretrefs")
		for _, n := range before {
			k, name := n.GetKind(), n.GetName()
			if name == "" || present[k+"/"+name] {
				continue // generateName objects are checked by the count below
			}
			if removes && (k == "Secret" || k == "ConfigMap") {
				continue
			}
			t.Fatalf("%s/%s lost by %v", k, name, names)
		}
		if !removes && len(after) < len(before) {
			t.Fatalf("%d objects in, %d out", len(before), len(after))
		}
		if lock != "" {
			for _, u := range imagelock.Uses(after) {
				if !strings.Contains(u.Ref, "@sha256:") {
					t.Fatalf("%s: container %s: image %q is not pinned", u.Object, u.Container, u.Ref)
				}
			}
		}
		again, err := runTransforms(names, lock, out)
		if err != nil {
			t.Fatalf("a second run fails: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("a second run changed the output:\n%s\n---- vs ----\n%s", out, again)
		}
	})
}

// lockEveryImage writes a lock of every image of nodes: the digest an
// image carries, else one made up from its name.
func lockEveryImage(t *testing.T, nodes []*kyaml.RNode) string {
	digests := map[string]string{}
	for _, u := range imagelock.Uses(nodes) {
		image, written := imagelock.Split(u.Ref)
		if _, ok := digests[image]; ok {
			continue
		}
		if d := sha256.Sum256([]byte(image)); len(written) == 71 {
			digests[image] = written
		} else {
			digests[image] = "sha256:" + hex.EncodeToString(d[:])
		}
	}
	var entries []imagelock.Entry
	for image, d := range digests {
		entries = append(entries, imagelock.Entry{Image: image, Digest: d})
	}
	p := filepath.Join(t.TempDir(), "images.lock.yaml")
	if err := os.WriteFile(p, imagelock.Marshal(entries), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runTransforms(names []string, lock string, in []byte) ([]byte, error) {
	steps, err := transforms.Steps(&transforms.Config{Transforms: names, ImageLock: lock})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := pipeline.Run(bytes.NewReader(in), &out, steps); err != nil {
		var ie *pipeline.InputError
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, err
	}
	return out.Bytes(), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzProvenance(f *testing.F) { fuzzTransforms(f, "provenance") }
func FuzzSecretrefs(f *testing.F) { fuzzTransforms(f, "secretrefs") }
func FuzzNetpol(f *testing.F)     { fuzzTransforms(f, "netpol") }
func FuzzExternals(f *testing.F)  { fuzzTransforms(f, "externals") }
func FuzzGuards(f *testing.F)     { fuzzTransforms(f, "guards") }

// FuzzMonitoring runs externals, whose metrics mode monitoring shares, and
// monitoring.
func FuzzMonitoring(f *testing.F) { fuzzTransforms(f, "externals", "monitoring") }

// FuzzImagelock runs imagelock and provenance with a lock of every image
// the input names (their own digest when they carry one): besides the
// invariants above, every container image comes out pinned.
func FuzzImagelock(f *testing.F)     { fuzzTransforms(f, "imagelock", "provenance") }
func FuzzAllTransforms(f *testing.F) { fuzzTransforms(f, transforms.Names()...) }

// TestEveryTransformFuzzed fails when a transform is registered without a
// fuzz target above (and in the Makefile's fuzz target).
func TestEveryTransformFuzzed(t *testing.T) {
	fuzzed := map[string]bool{"imagelock": true, "provenance": true, "secretrefs": true, "netpol": true, "externals": true, "monitoring": true, "guards": true,
		"otel": true, "dashboards": true}
	for _, n := range transforms.Names() {
		if !fuzzed[n] {
			t.Errorf("transform %q has no fuzz target in fuzz_test.go", n)
		}
	}
}
