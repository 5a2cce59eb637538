package schema

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/interfaces"
)

// Output is one generated file, its path relative to the repository root.
type Output struct {
	Path string
	Data []byte
	// Skip, when set, says why the file cannot be generated under this
	// root; Write and Drift pass over it.
	Skip string
}

// Outputs computes every file dpps-schemagen generates, from the sources
// under root: the CUE module in root/interfaces when there is one (else the
// module built into the binary) and the Go doc comments of transforms/ and
// catalog/. Outside the repository, where those Go sources are not, the
// files made from them come back with Skip set.
func Outputs(root string) ([]Output, error) {
	files := interfaces.Files()
	if _, err := os.Stat(filepath.Join(root, interfaces.Dir, "cue.mod", "module.cue")); err == nil {
		if files, err = interfaces.ReadDir(filepath.Join(root, interfaces.Dir)); err != nil {
			return nil, err
		}
	}
	return OutputsFrom(root, files)
}

// OutputsFrom is Outputs with the CUE module given as files (path relative
// to the module root to content, as interfaces.Load takes them).
func OutputsFrom(root string, files map[string][]byte) ([]Output, error) {
	var outs []Output
	if skip, err := goSources(root, "transforms"); err != nil {
		return nil, err
	} else if skip != "" {
		outs = append(outs, Output{Path: RenderConfigFile, Skip: skip})
	} else {
		cfg, err := RenderConfigSchema(root)
		if err != nil {
			return nil, err
		}
		outs = append(outs, Output{Path: RenderConfigFile, Data: cfg})
	}
	m, err := interfaces.Load(files)
	if err != nil {
		return nil, err
	}
	schemas, err := ValuesSchema(m)
	if err != nil {
		return nil, err
	}
	values, err := ValuesYAML(m)
	if err != nil {
		return nil, err
	}
	outs = append(outs, Output{Path: ValuesSchemaFile, Data: schemas.Umbrella}, Output{Path: ValuesFile, Data: values})
	for _, name := range slices.Sorted(maps.Keys(m.Catalog.Subcharts)) {
		outs = append(outs,
			Output{Path: SubchartValuesFile(name), Data: SubchartValues(m.Catalog, name)},
			Output{Path: SubchartSchemaFile(name), Data: schemas.Subcharts[name]})
	}
	cat := *m.Catalog
	cat.Comment = GeneratedHeader + ". From interfaces/*.cue: edit the CUE, then run 'make generate'."
	cj, err := cat.Marshal()
	if err != nil {
		return nil, err
	}
	outs = append(outs, Output{Path: CatalogFile, Data: cj})
	if skip, err := goSources(root, "catalog"); err != nil {
		return nil, err
	} else if skip != "" {
		outs = append(outs, Output{Path: catalog.SchemaFile, Skip: skip})
	} else {
		cs, err := catalog.JSONSchema(root, GeneratedHeader+". From the Go types of catalog/: edit them, then run 'make generate'.")
		if err != nil {
			return nil, err
		}
		outs = append(outs, Output{Path: catalog.SchemaFile, Data: cs})
	}
	vs, err := catalog.ValidationSchema(GeneratedHeader + ". " + catalog.SchemaFile + " without descriptions, built into the binaries: run 'make generate'.")
	if err != nil {
		return nil, err
	}
	outs = append(outs, Output{Path: catalog.ValidationSchemaFile, Data: vs})
	rel, err := ReleaseOf(m.Root)
	if err != nil {
		return nil, err
	}
	charts, err := ChartOutputs(root, rel)
	if err != nil {
		return nil, err
	}
	return append(outs, charts...), nil
}

// goSources says why the Go package dir (relative to root), whose doc
// comments become a schema's descriptions, cannot be read: "" when it can.
// The types are built into the binary; their comments are not.
func goSources(root, dir string) (string, error) {
	pattern := filepath.Join(root, dir, "*.go")
	names, err := filepath.Glob(pattern)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "its descriptions are the doc comments of " + pattern + ", and there are none (run generate in the repository)", nil
	}
	return "", nil
}

// Write writes the outputs under root.
func Write(root string, outs []Output) error {
	for _, o := range outs {
		if o.Skip != "" {
			continue
		}
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
		if o.Skip != "" {
			continue
		}
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
