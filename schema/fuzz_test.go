package schema_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/ctao/dpps-deploy/schema"
	"github.com/ctao/dpps-deploy/schema/schematest"
)

// FuzzLintPositions checks dpps-schemagen lint's YAML position mapping: for
// any values file, every problem lint reports names a file it read, and its
// line:col is inside that file and points at a key or a value there (a YAML
// syntax error: a line inside the file). Lint never fails with anything but
// problems for a file that exists.
func FuzzLintPositions(f *testing.F) {
	chart := schematest.Chart(f, "..")
	f.Add(fourErrors)
	f.Add("global:\n  externals: [1, 2\n")
	f.Add("bdms: {enabled: true, image: {tag: x}}\nglobal: {externals: {fts: {url: 'https://fts.example.org:8446'}}}\n")
	f.Add("storage:\n  enabled: false\nglobal:\n  externals:\n    fts:\n      url: ftp://fts\n")
	f.Add("global:\n  secrets:\n    backend: external-secrets\n    secretStore:\n      name: S3cret_Value!\n")
	f.Add("a: &x {enabled: 1}\nbdms: *x\nwms: {<<: *x}\n")
	f.Add("wms:\n  dirac-ce:\n    enabled: false\n")
	f.Add("\ufeffglobal:\r\n  externals: {}\r\n")
	for _, ex := range []string{"ci", "prod-site", "staging", "dev"} {
		if data, err := os.ReadFile(filepath.Join("..", "examples", ex, "values.yaml")); err == nil {
			f.Add(string(data))
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, values string) {
		file := filepath.Join(dir, "site.yaml")
		if err := os.WriteFile(file, []byte(values), 0o644); err != nil {
			t.Fatal(err)
		}
		problems, err := schema.Lint(chart, []string{file})
		if err != nil {
			t.Fatalf("lint failed on a readable file: %v", err)
		}
		for _, p := range problems {
			data, err := os.ReadFile(p.File)
			if err != nil {
				t.Fatalf("%s: names a file lint did not read: %v", p, err)
			}
			lines := yamlLines(data)
			if p.Line < 1 || p.Line > len(lines) || p.Column < 1 || p.Column > len(lines[p.Line-1])+1 {
				t.Fatalf("%s: outside the file (%d lines)", p, len(lines))
			}
			if p.Keyword == "" {
				continue // a YAML syntax error: the parser's line
			}
			var doc yamlv3.Node
			if err := yamlv3.Unmarshal(data, &doc); err != nil {
				t.Fatalf("%s: the file does not parse: %v", p, err)
			}
			if !hasNodeAt(&doc, p.Line, p.Column, 0) {
				t.Fatalf("%s: points at neither a key nor a value", p)
			}
		}
	})
}

// yamlLines splits data at YAML's line breaks, as the positions count them:
// CRLF, LF, and a lone CR (found by FuzzLintPositions: "0:\r0:" is two
// lines to YAML).
func yamlLines(data []byte) [][]byte {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	return bytes.Split(data, []byte("\n"))
}

// hasNodeAt says whether a key or value of the tree starts at line:col (the
// document root counts when the file is empty).
func hasNodeAt(n *yamlv3.Node, line, col, depth int) bool {
	if n.Line == line && n.Column == col {
		return true
	}
	if depth > 100 {
		return false
	}
	for _, c := range n.Content {
		if hasNodeAt(c, line, col, depth+1) {
			return true
		}
	}
	return false
}
