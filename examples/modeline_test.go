package examples

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var modelineRE = regexp.MustCompile(`^# yaml-language-server: \$schema=(\S+)\n`)

// TestModeline: every example values file starts with the modeline that
// makes yaml-language-server (VS Code, Neovim, ...) complete and check it
// against the chart's schema, and its path, relative to the file, is
// charts/dpps/values.schema.json.
func TestModeline(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*/values.yaml", "sites/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d example values files: %v", len(files), files)
	}
	want, err := os.Stat(filepath.Join(chart, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := modelineRE.FindSubmatch(data)
		if m == nil {
			t.Errorf("%s: the first line is not '# yaml-language-server: $schema=<path>'", f)
			continue
		}
		got, err := os.Stat(filepath.Join(filepath.Dir(f), filepath.FromSlash(string(m[1]))))
		if err != nil {
			t.Errorf("%s: the modeline's schema does not resolve: %v", f, err)
			continue
		}
		if !os.SameFile(got, want) {
			t.Errorf("%s: the modeline names %s, not the chart's values.schema.json", f, m[1])
		}
	}
}
