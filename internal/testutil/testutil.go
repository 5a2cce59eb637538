// Package testutil finds what tests need outside their package: the
// repository root, the shared corpus of real rendered charts, and the real
// binaries that `make unit` builds.
package testutil

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
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

// CorpusSeeds are the corpus's files of at most max bytes, for fuzz
// targets' seeds, or none when the corpus is absent: a fuzz target must
// not skip without it (its seeds then come from RepositorySeeds).
func CorpusSeeds(max int) []string {
	dir := os.Getenv("DPPS_CORPUS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil
		}
		for ; ; wd = filepath.Dir(wd) {
			if _, err := os.Stat(filepath.Join(wd, "go.mod")); err == nil {
				break
			}
			if filepath.Dir(wd) == wd {
				return nil
			}
		}
		dir = filepath.Join(wd, "..", "shared", "corpus")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	var seeds []string
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && len(data) <= max {
			seeds = append(seeds, string(data))
		}
	}
	return seeds
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

// RepositoryStreams are the YAML streams of dpps-render's golden archives
// (cmd/dpps-render/testdata/script/*.txtar), good and bad, by archive and
// file name: inputs kept in the repository, so that tests and fuzz targets
// that want real streams have some without the shared corpus.
func RepositoryStreams(t testing.TB) map[string][]byte {
	t.Helper()
	archives, err := filepath.Glob(filepath.Join(RepoRoot(t), "cmd", "dpps-render", "testdata", "script", "*.txtar"))
	if err != nil || len(archives) == 0 {
		t.Fatalf("no golden archives found: %v", err)
	}
	streams := map[string][]byte{}
	for _, path := range archives {
		a, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if strings.HasSuffix(f.Name, ".yaml") {
				streams[filepath.Base(path)+"/"+f.Name] = f.Data
			}
		}
	}
	return streams
}

// RepositorySeeds are RepositoryStreams' streams, in a stable order, each
// cut to at most max bytes at a document boundary: seeds for fuzz targets,
// kept small because a slow seed slows every execution derived from it.
func RepositorySeeds(t testing.TB, max int) []string {
	t.Helper()
	streams := RepositoryStreams(t)
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	var seeds []string
	for _, n := range names {
		s := string(streams[n])
		for len(s) > max {
			cut := strings.LastIndex(s[:max], "\n---")
			if cut <= 0 {
				s = ""
				break
			}
			s = s[:cut+1]
		}
		if s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}
