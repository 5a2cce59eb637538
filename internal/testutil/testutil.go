// Package testutil finds what tests need outside their package: the
// repository root, the shared corpus of real rendered charts, and the real
// binaries that `make unit` builds.
package testutil

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// Missing skips a test whose outside input is absent on a developer's
// machine, and fails it in CI, where everything must be present.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// CorpusDir is the shared corpus of real rendered charts: $DPPS_CORPUS, or
// ../shared/corpus beside the repository.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DPPS_CORPUS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	}
	if _, err := os.Stat(dir); err != nil {
		Missing(t, "corpus of rendered charts not found at %s (set DPPS_CORPUS)", dir)
	}
	return dir
}

// CorpusFiles lists the corpus's YAML files, sorted.
func CorpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(CorpusDir(t), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("corpus has no YAML files")
	}
	sort.Strings(files)
	return files
}

// Tool returns the path in environment variable env (set by `make unit`,
// e.g. DPPS_HELM3), or skips/fails through Missing.
func Tool(t testing.TB, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		Missing(t, "%s is not set: run the tests through 'make test'", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	return p
}
