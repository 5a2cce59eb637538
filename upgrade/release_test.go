package upgrade

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

var (
	releaseFile = regexp.MustCompile(`^dpps-([0-9]+)\.([0-9]+)\.([0-9]+)\.tgz$`)
	versionLine = regexp.MustCompile(`(?m)^version:[ \t]*"?([^"\s]+)"?[ \t]*$`)
)

// released is one package of releases/ (make release).
type released struct {
	version string
	parts   [3]int
	pkg     string // releases/dpps-VERSION.tgz
	values  string // releases/dpps-VERSION/examples/ci/values.yaml
}

func releases(t *testing.T, root string) []released {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "releases"))
	if err != nil {
		t.Fatalf("releases/: %v (make release writes it; the e2e upgrade path starts from its newest package)", err)
	}
	var out []released
	for _, e := range entries {
		m := releaseFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		r := released{
			version: strings.Join(m[1:], "."),
			pkg:     filepath.Join(root, "releases", e.Name()),
		}
		for i := range 3 {
			r.parts[i], _ = strconv.Atoi(m[i+1])
		}
		r.values = filepath.Join(root, "releases", "dpps-"+r.version, "examples", "ci", "values.yaml")
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatal("releases/ holds no dpps-VERSION.tgz")
	}
	return out
}

// packagedChartYAML returns dpps/Chart.yaml from a helm package.
func packagedChartYAML(t *testing.T, pkg string) []byte {
	t.Helper()
	f, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s: no dpps/Chart.yaml", pkg)
		}
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		if h.Name == "dpps/Chart.yaml" {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

func less(a, b [3]int) bool {
	for i := range 3 {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// TestReleases: each package of releases/ is the chart of the version in
// its name, with its examples' values beside it; the working tree's version
// is above every released one (a release is immutable: the working tree
// cannot be a different chart under a released version); each package lints
// and renders with both Helms and its own values.
func TestReleases(t *testing.T) {
	root := testutil.RepoRoot(t)
	helms := map[string]string{"helm3": testutil.Tool(t, "DPPS_HELM3"), "helm4": testutil.Tool(t, "DPPS_HELM4")}
	chart, err := os.ReadFile(filepath.Join(root, "charts", "dpps", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := versionLine.FindSubmatch(chart)
	if m == nil {
		t.Fatal("charts/dpps/Chart.yaml: no version")
	}
	var cur [3]int
	for i, p := range strings.Split(string(m[1]), ".") {
		if i < 3 {
			cur[i], _ = strconv.Atoi(p)
		}
	}
	for _, r := range releases(t, root) {
		t.Run(r.version, func(t *testing.T) {
			if m := versionLine.FindSubmatch(packagedChartYAML(t, r.pkg)); m == nil || string(m[1]) != r.version {
				t.Errorf("%s: packaged Chart.yaml version %q, want %s", r.pkg, m, r.version)
			}
			if !less(r.parts, cur) {
				t.Errorf("charts/dpps is version %s, not above the released %s: raise release.version in interfaces/release.cue and run 'make generate'", m[1], r.version)
			}
			if _, err := os.Stat(r.values); err != nil {
				t.Fatalf("the values of release %s: %v", r.version, err)
			}
			for name, helm := range helms {
				for _, args := range [][]string{
					{"lint", r.pkg, "-f", r.values},
					{"template", "dpps", r.pkg, "-f", r.values, "--skip-tests"},
				} {
					var out bytes.Buffer
					cmd := exec.Command(helm, args...)
					cmd.Stdout, cmd.Stderr = &out, &out
					if err := cmd.Run(); err != nil {
						t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
					}
				}
			}
		})
	}
}

// TestUpgradeFromRelease: the newest release, with its own ci values, to the
// working tree with today's: upgrade-check's comparison finds nothing the
// API server would refuse, no data loss and no broken consumer. (The e2e
// TestUpgradePath then does it on a cluster with both Helms.)
func TestUpgradeFromRelease(t *testing.T) {
	root := testutil.RepoRoot(t)
	helm := testutil.Tool(t, "DPPS_HELM3")
	rs := releases(t, root)
	last := rs[0]
	for _, r := range rs[1:] {
		if less(last.parts, r.parts) {
			last = r
		}
	}
	oldR := renderChart(t, helm, last.pkg, last.values)
	newR := renderChart(t, helm, filepath.Join(root, "charts", "dpps"), filepath.Join(root, "examples", "ci", "values.yaml"))
	rep, err := Compare(nodes(t, string(oldR)), nodes(t, string(newR)), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("release %s -> working tree: %s", last.version, f)
	}
	if !strings.Contains(string(oldR), "helm.sh/chart: dpps-"+last.version+"\n") {
		t.Errorf("the render of releases/dpps-%s.tgz carries no helm.sh/chart: dpps-%s label", last.version, last.version)
	}
}
