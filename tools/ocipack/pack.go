package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options describe one image: a single layer made of Rootfs, and its config.
type Options struct {
	Rootfs string
	// Name is the full reference containerd files the image under
	// (localhost/dpps-e2e/postgresql:15-bookworm).
	Name string
	// Created is the image's creation time; every mtime in the layer later
	// than it is clamped to it, so a rebuild of the same files is
	// byte-for-byte the same archive.
	Created time.Time
	Config  v1.Config
	// Annotations of the image manifest.
	Annotations map[string]string
	// GzipLevel of the layer (compress/gzip levels).
	GzipLevel int
}

// Annotations of the index entry: containerd's import takes the image name
// from the first, the OCI layout convention is the tag in the second.
const (
	annContainerdName = "io.containerd.image.name"
	annRefName        = "org.opencontainers.image.ref.name"
)

// Pack writes the image as an OCI image layout in a tar archive (oci-layout,
// index.json, blobs/sha256/...), the format `ctr images import` reads. The
// layer is compressed into a temporary file in tmpDir first: its digest must
// be known before the archive names it.
func Pack(w io.Writer, o Options, tmpDir string) (v1.Hash, error) {
	tag, err := name.NewTag(o.Name, name.StrictValidation)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image name: %w", err)
	}
	created := o.Created.UTC().Truncate(time.Second)

	f, err := os.CreateTemp(tmpDir, "layer-*.tar.gz")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, o.GzipLevel)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := WriteLayer(zw, o.Rootfs, created); err != nil {
		return v1.Hash{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Hash{}, err
	}
	if err := f.Close(); err != nil {
		return v1.Hash{}, err
	}
	layer, err := tarball.LayerFromFile(f.Name(), tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return v1.Hash{}, err
	}

	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       o.Config,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return v1.Hash{}, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "ocipack " + o.Rootfs, Comment: "one layer: the whole root filesystem"},
	})
	if err != nil {
		return v1.Hash{}, err
	}
	if len(o.Annotations) > 0 {
		img = mutate.Annotations(img, o.Annotations).(v1.Image)
	}
	return writeLayout(w, img, tag, created)
}

func writeLayout(w io.Writer, img v1.Image, tag name.Tag, mtime time.Time) (v1.Hash, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	digest, size, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return v1.Hash{}, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1,
			Digest:    digest,
			Size:      size,
			Platform:  &v1.Platform{Architecture: runtime.GOARCH, OS: "linux"},
			Annotations: map[string]string{
				annContainerdName: tag.Name(),
				annRefName:        tag.TagStr(),
			},
		}},
	})
	if err != nil {
		return v1.Hash{}, err
	}

	tw := tar.NewWriter(w)
	file := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	bytesFile := func(name string, b []byte) error { return file(name, int64(len(b)), bytes.NewReader(b)) }
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, ModTime: mtime, Typeflag: tar.TypeDir}); err != nil {
			return v1.Hash{}, err
		}
	}
	// Blobs in digest order, then the two small files: a stable archive.
	blobs := map[string]func() error{
		cfgName.Hex: func() error { return bytesFile("blobs/sha256/"+cfgName.Hex, config) },
		digest.Hex:  func() error { return bytesFile("blobs/sha256/"+digest.Hex, manifest) },
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		blobs[d.Hex] = func() error {
			n, err := l.Size()
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			return file("blobs/sha256/"+d.Hex, n, rc)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(blobs)) {
		if err := blobs[k](); err != nil {
			return v1.Hash{}, err
		}
	}
	if err := bytesFile("index.json", index); err != nil {
		return v1.Hash{}, err
	}
	if err := bytesFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return v1.Hash{}, err
	}
	return digest, tw.Close()
}

// WriteLayer writes the tree under root as a normalised tar: entries in
// lexical order, numeric owners only, mtimes clamped to clamp, no access or
// change times, hard links kept as links. Sockets are skipped (tar has no
// type for them).
func WriteLayer(w io.Writer, root string, clamp time.Time) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	seen := map[inode]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		if hdr.ModTime.After(clamp) {
			hdr.ModTime = clamp
		}
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := seen[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				seen[key] = hdr.Name
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err == nil && n != hdr.Size {
			err = errors.New("file changed while packing")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// parseLabel splits k=v.
func parseLabel(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("%q is not key=value", s)
	}
	return k, v, nil
}
