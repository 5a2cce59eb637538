package imagelock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParse(t *testing.T) {
	head := "apiVersion: dpps.ctao.org/v1alpha1\nkind: ImageLock\n"
	for _, tc := range []struct {
		name, in, err string
	}{
		{"ok", head + "images:\n- image: r.example.org/a:1\n  digest: " + digestA + "\n", ""},
		{"empty", head + "images: []\n", ""},
		{"wrong kind", "apiVersion: dpps.ctao.org/v1alpha1\nkind: Lock\nimages: []\n", "not an image lock"},
		{"unknown field", head + "images: []\nextra: 1\n", `unknown field "extra"`},
		{"no image", head + "images:\n- digest: " + digestA + "\n", "images[0] has no image"},
		{"digest in image", head + "images:\n- image: r/a:1@" + digestA + "\n  digest: " + digestA + "\n", "carries a digest"},
		{"bad digest", head + "images:\n- image: r/a:1\n  digest: sha256:abc\n", `digest "sha256:abc" is not sha256`},
		{"upper-case digest", head + "images:\n- image: r/a:1\n  digest: " + strings.ToUpper(digestA) + "\n", "is not sha256"},
		{"twice", head + "images:\n- image: r/a:1\n  digest: " + digestA + "\n- image: r/a:1\n  digest: " + digestB + "\n", `image "r/a:1" is locked twice`},
		{"duplicate key", head + "kind: ImageLock\nimages: []\n", "lock.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("lock.yaml", []byte(tc.in))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, tc.err)
			}
		})
	}
}

// TestMarshal: sorted by image, quoted so that a numeric tag stays a
// string, and read back as written.
func TestMarshal(t *testing.T) {
	data := Marshal([]Entry{{"r.example.org/b:1.10", digestB}, {"r.example.org/a:2", digestA}})
	want := `apiVersion: dpps.ctao.org/v1alpha1
kind: ImageLock
images:
- image: "r.example.org/a:2"
  digest: ` + digestA + `
- image: "r.example.org/b:1.10"
  digest: ` + digestB + "\n"
	if !strings.HasSuffix(string(data), want) || !strings.HasPrefix(string(data), "# ") {
		t.Fatalf("got\n%s\nwant the header, then\n%s", data, want)
	}
	l, err := Parse("x", data)
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Digests(); len(d) != 2 || d["r.example.org/b:1.10"] != digestB {
		t.Fatalf("read back %v", d)
	}
	if _, err := Parse("x", Marshal(nil)); err != nil {
		t.Fatal(err)
	}
}

const stream = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
spec:
  template:
    spec:
      initContainers:
      - name: wait
        image: r.example.org/busybox:1.36
      containers:
      - name: server
        image: r.example.org/server:1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: dump
            image: r.example.org/server:1@` + digestA + `
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: main
    image: r.example.org/busybox:1.36
  ephemeralContainers:
  - name: shell
    image: r.example.org/tools:2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-workload
data:
  image: r.example.org/unrelated:1
`

func read(t *testing.T, s string) []*yaml.RNode {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(s), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func TestUses(t *testing.T) {
	var got []string
	for _, u := range Uses(read(t, stream)) {
		got = append(got, u.Object+"|"+u.Container+"|"+u.Field+"|"+u.Ref)
	}
	want := []string{
		"Deployment server|wait|spec.template.spec.initContainers[0].image|r.example.org/busybox:1.36",
		"Deployment server|server|spec.template.spec.containers[0].image|r.example.org/server:1",
		"CronJob backup|dump|spec.jobTemplate.spec.template.spec.containers[0].image|r.example.org/server:1@" + digestA,
		"Pod debug|main|spec.containers[0].image|r.example.org/busybox:1.36",
		"Pod debug|shell|spec.ephemeralContainers[0].image|r.example.org/tools:2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func writeLock(t *testing.T, entries ...Entry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "images.lock.yaml")
	if err := os.WriteFile(p, Marshal(entries), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func images(t *testing.T, nodes []*yaml.RNode) []string {
	t.Helper()
	var out []string
	for _, u := range Uses(nodes) {
		out = append(out, u.Ref)
	}
	return out
}

func TestFilter(t *testing.T) {
	full := []Entry{{"r.example.org/busybox:1.36", digestB}, {"r.example.org/server:1", digestA}, {"r.example.org/tools:2", digestB}}
	t.Run("pins every image", func(t *testing.T) {
		f := New(writeLock(t, full...))
		nodes, err := f.Filter(read(t, stream))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"r.example.org/busybox:1.36@" + digestB,
			"r.example.org/server:1@" + digestA,
			"r.example.org/server:1@" + digestA,
			"r.example.org/busybox:1.36@" + digestB,
			"r.example.org/tools:2@" + digestB,
		}
		if got := images(t, nodes); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("got %v\nwant %v", got, want)
		}
		if f.Changed() != 2 { // the CronJob was pinned already
			t.Fatalf("changed %d objects, want 2", f.Changed())
		}
		// Again: nothing left to change.
		if _, err := f.Filter(nodes); err != nil || f.Changed() != 0 {
			t.Fatalf("second run: %v, changed %d", err, f.Changed())
		}
	})
	t.Run("no lock changes nothing", func(t *testing.T) {
		f := New("")
		nodes, err := f.Filter(read(t, stream))
		if err != nil || f.Changed() != 0 || images(t, nodes)[0] != "r.example.org/busybox:1.36" {
			t.Fatalf("%v, changed %d", err, f.Changed())
		}
	})
	for _, tc := range []struct {
		name string
		lock []Entry
		err  string
	}{
		{"image not in lock", full[:2],
			`Pod debug: container shell spec.ephemeralContainers[0].image: image "r.example.org/tools:2" is not in the image lock `},
		{"pinned to another digest", []Entry{full[0], {"r.example.org/server:1", digestB}, full[2]},
			`CronJob backup: container dump spec.jobTemplate.spec.template.spec.containers[0].image: image "r.example.org/server:1@` + digestA + `" carries digest ` + digestA + `, the image lock `},
		{"several", nil, `Deployment server: container wait spec.template.spec.initContainers[0].image: image "r.example.org/busybox:1.36" is not in the image lock`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(writeLock(t, tc.lock...)).Filter(read(t, stream))
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v\nwant one line containing %q", err, tc.err)
			}
			if tc.name == "several" && !strings.HasSuffix(err.Error(), "(and 4 more)") {
				t.Fatalf("error %v, want (and 4 more)", err)
			}
		})
	}
	t.Run("unreadable lock", func(t *testing.T) {
		_, err := New(filepath.Join(t.TempDir(), "missing.yaml")).Filter(read(t, stream))
		if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
			t.Fatalf("error %v", err)
		}
	})
}
