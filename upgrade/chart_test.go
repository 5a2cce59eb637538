package upgrade

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// bumpChart copies charts/dpps into a temp dir with every chart's version
// and appVersion (the umbrella's dependency versions too) set to version.
func bumpChart(t *testing.T, root, version string) string {
	t.Helper()
	src := filepath.Join(root, "charts", "dpps")
	dst := filepath.Join(t.TempDir(), "dpps")
	versions := regexp.MustCompile(`(?m)^(\s*-?\s*(?:version|appVersion):\s*).*$`)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if d.Name() == "Chart.yaml" {
			data = versions.ReplaceAll(data, []byte(`${1}"`+version+`"`))
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// renderChart runs helm template on a chart with a values file and
// dpps-render's transforms in process.
func renderChart(t *testing.T, helm, chart, values string) []byte {
	t.Helper()
	var out, stderr bytes.Buffer
	cmd := exec.Command(helm, "template", "dpps", chart, "-f", values, "--skip-tests")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", chart, err, stderr.String())
	}
	steps, err := transforms.Steps(&transforms.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var rendered bytes.Buffer
	if _, err := pipeline.Run(&out, &rendered, steps); err != nil {
		t.Fatal(err)
	}
	return rendered.Bytes()
}

// TestChartVersionBump: raising every chart's version and appVersion must
// not produce a change Kubernetes refuses (a Job kept under its name with a
// new pod template was one), nor lose data or break a consumer. The
// version-named Jobs are new objects; the previous version's are removed.
func TestChartVersionBump(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	root := testutil.RepoRoot(t)
	oldR := renderChart(t, helm, filepath.Join(root, "charts", "dpps"), filepath.Join(root, "examples", "ci", "values.yaml"))
	newR := renderChart(t, helm, bumpChart(t, root, "9.9.9"), filepath.Join(root, "examples", "ci", "values.yaml"))
	if bytes.Equal(oldR, newR) {
		t.Fatal("the bumped chart renders the same bytes: the version edit did nothing")
	}
	rep, err := Compare(nodes(t, string(oldR)), nodes(t, string(newR)), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("finding after a version bump: %s", f)
	}
	added := map[string]bool{}
	for _, c := range rep.Changes {
		if c.Op == Added {
			added[c.Object] = true
		}
	}
	for _, want := range []string{"Job dpps-rucio-bootstrap-9-9-9", "Job dpps-rucio-configure-9-9-9", "Job dpps-rucio-migrate-9-9-9-rucio-9-9-9",
		"Job dpps-rucio-db-backup-9-9-9", "Job dpps-dirac-db-backup-9-9-9", "Job dpps-fts-db-backup-9-9-9"} {
		if !added[want] {
			t.Errorf("%s is not a new object of the bumped render (added: %v)", want, added)
		}
	}
	if !strings.Contains(string(newR), "\n  name: dpps-cert-generator\n") {
		t.Error("the cert-generator Job must keep the name dpps-cert-generator")
	}
}
