package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"dpps-schemagen": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
		// dpps-gen-bytes TEXT writes TEXT with Go escapes (\xe9, \r) decoded,
		// for inputs a txtar file should not hold raw.
		"dpps-gen-bytes": func() {
			text, err := strconv.Unquote(`"` + os.Args[1] + `"`)
			if err != nil {
				os.Stderr.WriteString(err.Error() + "\n")
				os.Exit(2)
			}
			os.Stdout.WriteString(text)
			os.Exit(0)
		},
	})
}

// TestScripts pins lint's behaviour on bad values files, one txtar file
// per case, against the real chart ($CHART). Run with -update to rewrite
// the goldens.
func TestScripts(t *testing.T) {
	chart, err := filepath.Abs(filepath.Join(repoRoot, "charts", "dpps"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CHART", chart)
			return nil
		},
	})
}
