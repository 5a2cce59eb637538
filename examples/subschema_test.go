package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubchartSchemas: every subchart carries its own values.schema.json,
// and Helm checks it, on the subchart alone (helm lint of its directory)
// and inside the umbrella (helm template with the subchart's key wrong).
// Each case is a value the umbrella's schema would also refuse, so the
// test looks for the subchart's name in Helm's report: only the
// subchart's own schema puts it there.
func TestSubchartSchemas(t *testing.T) {
	helm3, _ := tools(t)
	helms := []string{helm3}
	if h4 := os.Getenv("DPPS_HELM4"); h4 != "" {
		helms = append(helms, h4)
	}
	dirs, err := filepath.Glob(filepath.Join(chart, "charts", "*", "Chart.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no subcharts under %s: %v", chart, err)
	}
	for _, c := range dirs {
		sub := filepath.Base(filepath.Dir(c))
		for _, helm := range helms {
			t.Run(filepath.Base(helm)+"/"+sub, func(t *testing.T) {
				if _, err := os.Stat(filepath.Join(filepath.Dir(c), "values.schema.json")); err != nil {
					t.Fatal(err)
				}
				// Alone: the subchart's own values, one of them wrong.
				out, _ := exec.Command(helm, "lint", filepath.Dir(c), "--set", "enabled=maybe").CombinedOutput()
				if !strings.Contains(string(out), "at '/enabled': got string, want boolean") {
					t.Errorf("helm lint %s --set enabled=maybe: no schema error:\n%s", sub, out)
				}
				// In the umbrella: Helm names the subchart whose schema failed.
				out, err := exec.Command(helm, "template", release, chart, "--set", sub+".undeclaredKey=1").CombinedOutput()
				if err == nil || !strings.Contains(string(out), sub+":\n- at '': additional properties 'undeclaredKey' not allowed") {
					t.Errorf("helm template --set %s.undeclaredKey=1: want the subchart's schema to refuse it, got %v:\n%s", sub, err, out)
				}
			})
		}
	}
}
