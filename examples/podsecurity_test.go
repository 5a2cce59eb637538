package examples

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/script")

// TestScripts pins dpps-render check's output on real renders of the
// examples: the scripts run helm template with dpps-render as the
// post-renderer ($HELM, $RENDER, $CHART, $EXAMPLES). Run with -update to
// rewrite the goldens.
func TestScripts(t *testing.T) {
	helm, render := tools(t)
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("HELM", helm)
			e.Setenv("RENDER", render)
			e.Setenv("CHART", filepath.Join(here, chart))
			e.Setenv("EXAMPLES", here)
			return nil
		},
	})
}

// TestPodSecurityLevels: every example and site, Helm test pods included,
// meets the Pod Security level it declares (global.podSecurity.level of its
// values files, baseline when none does), whether check takes the level
// from the render's catalog or from --pod-security.
func TestPodSecurityLevels(t *testing.T) {
	helm, render := tools(t)
	cases := map[string][]string{}
	for _, env := range environments(t) {
		cases[env] = []string{filepath.Join(env, "values.yaml")}
	}
	for _, site := range sites {
		cases["sites/"+site] = siteValues(site)
	}
	for name, values := range cases {
		t.Run(name, func(t *testing.T) {
			level := "baseline"
			args := []string{"template", release, chart, "--post-renderer", render}
			for _, v := range values {
				args = append(args, "-f", v)
				if l := declaredLevel(t, v); l != "" {
					level = l
				}
			}
			f := filepath.Join(t.TempDir(), "render.yaml")
			if err := os.WriteFile(f, run(t, helm, args...), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, extra := range [][]string{{}, {"--pod-security", level}} {
				how := "check (the catalog's level)"
				if len(extra) > 0 {
					how = "check " + strings.Join(extra, " ")
				}
				// Other rules' errors (a fixture in prod) are not this test's.
				cmd := append([]string{"check", "--profile", "dev", f}, extra...)
				var stdout strings.Builder
				c := exec.Command(render, cmd...)
				c.Stdout = &stdout
				_ = c.Run()
				for _, line := range strings.Split(stdout.String(), "\n") {
					if strings.HasPrefix(line, "error: pod-security:") {
						t.Errorf("%s, declared %s: %s", how, level, line)
					}
				}
				if !strings.Contains(stdout.String(), "external interface(s)") {
					t.Errorf("%s: no report:\n%s", how, stdout.String())
				}
			}
		})
	}
}

// declaredLevel is global.podSecurity.level of a values file, "" when unset.
func declaredLevel(t *testing.T, file string) string {
	t.Helper()
	return str(dig(readValues(t, file), "global", "podSecurity", "level"))
}
