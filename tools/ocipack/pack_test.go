package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// rootfs makes a small tree with what a Debian root holds: nested dirs, an
// executable, a symlink, a hard link and a file newer than the clamp.
func rootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/tool"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "etc/a.conf"), []byte("a=1\n"), 0o644))
	must(os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(os.Link(filepath.Join(dir, "usr/bin/tool"), filepath.Join(dir, "usr/bin/tool2")))
	future := time.Now().Add(48 * time.Hour)
	must(os.Chtimes(filepath.Join(dir, "etc/a.conf"), future, future))
	return dir
}

func pack(t *testing.T, root string, o Options) []byte {
	t.Helper()
	o.Rootfs = root
	var buf bytes.Buffer
	if _, err := Pack(&buf, o, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// files reads a tar into name -> content, in archive order.
func files(t *testing.T, r io.Reader) (map[string][]byte, []*tar.Header) {
	t.Helper()
	tr := tar.NewReader(r)
	out := map[string][]byte{}
	var hdrs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
		hdrs = append(hdrs, h)
	}
}

func TestPackLayout(t *testing.T) {
	root := rootfs(t)
	created := time.Unix(1_700_000_000, 0).UTC()
	o := Options{
		Name:      "localhost/dpps-e2e/test:1.0-bookworm",
		Created:   created,
		GzipLevel: gzip.BestSpeed,
		Config: v1.Config{
			User:         "1001",
			Env:          []string{"A=b"},
			Entrypoint:   []string{"/usr/bin/tool"},
			ExposedPorts: map[string]struct{}{"5432/tcp": {}},
			Labels:       map[string]string{"k": "v"},
		},
	}
	archive := pack(t, root, o)
	if again := pack(t, root, o); !bytes.Equal(archive, again) {
		t.Fatal("two packs of the same tree differ")
	}

	blobs, _ := files(t, bytes.NewReader(archive))
	if string(blobs["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout: %q", blobs["oci-layout"])
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(blobs["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 {
		t.Fatalf("index has %d manifests", len(index.Manifests))
	}
	desc := index.Manifests[0]
	if got := desc.Annotations[annContainerdName]; got != o.Name {
		t.Errorf("containerd name annotation %q, want %q", got, o.Name)
	}
	if got := desc.Annotations[annRefName]; got != "1.0-bookworm" {
		t.Errorf("ref name annotation %q", got)
	}
	blob := func(h v1.Hash) []byte {
		t.Helper()
		b, ok := blobs["blobs/sha256/"+h.Hex]
		if !ok {
			t.Fatalf("blob %s missing", h)
		}
		if got, _, _ := v1.SHA256(bytes.NewReader(b)); got != h {
			t.Fatalf("blob %s has digest %s", h, got)
		}
		return b
	}
	var m v1.Manifest
	if err := json.Unmarshal(blob(desc.Digest), &m); err != nil {
		t.Fatal(err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(blob(m.Config.Digest), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "1001" || !slices.Equal(cfg.Config.Env, []string{"A=b"}) ||
		!slices.Equal(cfg.Config.Entrypoint, []string{"/usr/bin/tool"}) || cfg.Config.Labels["k"] != "v" {
		t.Errorf("config not as given: %+v", cfg.Config)
	}
	if _, ok := cfg.Config.ExposedPorts["5432/tcp"]; !ok {
		t.Errorf("port 5432/tcp not exposed: %v", cfg.Config.ExposedPorts)
	}
	if !cfg.Created.Time.Equal(created) {
		t.Errorf("created %v, want %v", cfg.Created.Time, created)
	}
	if len(m.Layers) != 1 || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("want one layer: %d layers, %d diff ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}

	zr, err := gzip.NewReader(bytes.NewReader(blob(m.Layers[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(raw)); got != cfg.RootFS.DiffIDs[0] {
		t.Errorf("diff id %s, layer %s", cfg.RootFS.DiffIDs[0], got)
	}
	content, hdrs := files(t, bytes.NewReader(raw))
	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner names %q/%q, want numeric only", h.Name, h.Uname, h.Gname)
		}
		if h.ModTime.After(created) {
			t.Errorf("%s: mtime %v after the clamp %v", h.Name, h.ModTime, created)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: access or change time kept", h.Name)
		}
	}
	want := []string{"bin", "etc/", "etc/a.conf", "usr/", "usr/bin/", "usr/bin/tool", "usr/bin/tool2"}
	if !slices.Equal(names, want) {
		t.Errorf("layer entries %q, want %q", names, want)
	}
	if string(content["usr/bin/tool"]) != "#!/bin/sh\necho hi\n" {
		t.Errorf("usr/bin/tool: %q", content["usr/bin/tool"])
	}
	for _, h := range hdrs {
		switch h.Name {
		case "bin":
			if h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
				t.Errorf("bin: type %c link %q", h.Typeflag, h.Linkname)
			}
		case "usr/bin/tool2":
			if h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/tool" {
				t.Errorf("tool2: type %c link %q, want a hard link to usr/bin/tool", h.Typeflag, h.Linkname)
			}
		case "usr/bin/tool":
			if h.Mode&0o111 == 0 {
				t.Errorf("tool lost its exec bits: %o", h.Mode)
			}
		}
	}
}

func TestPackRejectsBadName(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Pack(&buf, Options{Rootfs: t.TempDir(), Name: "Not A Name"}, t.TempDir()); err == nil {
		t.Error("an invalid image name was accepted")
	}
}

func TestRunFlags(t *testing.T) {
	root := rootfs(t)
	out := filepath.Join(t.TempDir(), "img.tar")
	labels := filepath.Join(t.TempDir(), "pkgs")
	if err := os.WriteFile(labels, []byte("a=1\nb=2\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"-rootfs", root, "-name", "localhost/dpps-e2e/x:1", "-o", out, "-created", "1700000000",
		"-user", "1000:1000", "-cmd", `["sh", "-c", "true"]`, "-env", "A=1", "-port", "61613", "-label", "x=y",
		"-annotation-file", "pkgs=" + labels})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs, _ := files(t, f)
	var index v1.IndexManifest
	if err := json.Unmarshal(blobs["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(blobs["blobs/sha256/"+index.Manifests[0].Digest.Hex], &m); err != nil {
		t.Fatal(err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(blobs["blobs/sha256/"+m.Config.Digest.Hex], &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if c.User != "1000:1000" || !slices.Equal(c.Cmd, []string{"sh", "-c", "true"}) || c.Labels["x"] != "y" {
		t.Errorf("flags not applied: %+v", c)
	}
	if !slices.Equal(c.Env, []string{"PATH=" + defaultPath, "A=1"}) {
		t.Errorf("env %q, want the default PATH first", c.Env)
	}
	if m.Annotations["pkgs"] != "a=1\nb=2" {
		t.Errorf("-annotation-file: manifest annotations %v", m.Annotations)
	}
	if _, ok := c.ExposedPorts["61613/tcp"]; !ok {
		t.Errorf("-port 61613 is not 61613/tcp: %v", c.ExposedPorts)
	}
	for _, bad := range [][]string{
		{"-rootfs", root, "-o", out},
		{"-rootfs", root, "-name", "localhost/x:1", "-o", out, "-cmd", "not json"},
		{"-rootfs", root, "-name", "localhost/x:1", "-o", out, "-label", "novalue"},
	} {
		if err := run(bad); err == nil {
			t.Errorf("run %q: no error", bad)
		}
	}
}
