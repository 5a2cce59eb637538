package schema

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"
)

// Output is one generated file, its path relative to the repository root.
type Output struct {
	Path string
	Data []byte
}

// Outputs computes every file dpps-schemagen generates, from the sources
// under root.
func Outputs(root string) ([]Output, error) {
	cfg, err := RenderConfigSchema(root)
	if err != nil {
		return nil, err
	}
	return []Output{{Path: RenderConfigFile, Data: cfg}}, nil
}

// Write writes the outputs under root.
func Write(root string, outs []Output) error {
	for _, o := range outs {
		p := filepath.Join(root, o.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, o.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Drift compares the outputs with the files under root and returns a unified
// diff of every stale or missing file; empty when all are current.
func Drift(root string, outs []Output) ([]byte, error) {
	var all bytes.Buffer
	for _, o := range outs {
		have, err := os.ReadFile(filepath.Join(root, o.Path))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if bytes.Equal(have, o.Data) {
			continue
		}
		all.Write(diff.Diff(o.Path+" (committed)", have, o.Path+" (generated)", o.Data))
	}
	return all.Bytes(), nil
}
