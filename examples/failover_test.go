package examples

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The Rucio workloads that write to Rucio's database: at a replica site of
// rucio-db none may run a pod (docs/gitops.md, "Failover between sites").
var (
	rucioWriterDeployments = []string{"rucio-server", "conveyor-submitter", "conveyor-poller", "conveyor-finisher", "judge-evaluator"}
	rucioWriterJobs        = []string{"rucio-bootstrap", "rucio-migrate", "rucio-configure"}
)

// TestSitesFailover: dc-de1 and dc-es1 declare one failover topology of
// rucio-db, dc-de1 the primary. Rendered with the real Helm through
// dpps-render, the replica site's Rucio runs no pod and no Job while the
// primary's runs; `check --profile prod` over the sites' renders, dc-it1's
// standalone one beside, passes; promoting dc-es1 before demoting dc-de1
// is refused.
func TestSitesFailover(t *testing.T) {
	helm, render := tools(t)
	renderSite := func(site string, extra ...string) string {
		args := []string{"template", release, chart, "--skip-tests"}
		for _, v := range append(siteValues(site), extra...) {
			args = append(args, "-f", v)
		}
		out := run(t, helm, append(args, "--post-renderer", render)...)
		f := filepath.Join(t.TempDir(), site+".yaml")
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	files := map[string]string{}
	for _, site := range []string{"dc-de1", "dc-es1", "dc-it1"} {
		files[site] = renderSite(site)
		m := readValues(t, filepath.Join("sites", site+".yaml"))
		self, primary := str(dig(m, "global", "failover", "site")), str(dig(m, "global", "failover", "rucio-db", "primary"))
		replica := primary != "" && primary != self
		if site == "dc-es1" && !replica || site != "dc-es1" && replica {
			t.Fatalf("%s: failover site %q, primary %q: the example is not the topology this test expects", site, self, primary)
		}
		data, err := os.ReadFile(files[site])
		if err != nil {
			t.Fatal(err)
		}
		deployments, jobs := map[string]string{}, map[string]bool{}
		for _, o := range parse(t, data) {
			comp := str(dig(o.m, "spec", "template", "metadata", "labels", "app.kubernetes.io/component"))
			switch o.kind {
			case "Deployment":
				r := dig(o.m, "spec", "replicas")
				deployments[comp] = "1"
				if r != nil {
					deployments[comp] = yamlScalar(r)
				}
			case "Job":
				jobs[comp] = true
			}
		}
		for _, c := range rucioWriterDeployments {
			got, ok := deployments[c]
			switch {
			case !ok:
				t.Errorf("%s: no Deployment of %s", site, c)
			case replica && got != "0":
				t.Errorf("%s is a replica site of rucio-db, but its %s has %s replicas, want 0", site, c, got)
			case !replica && got == "0":
				t.Errorf("%s: %s has 0 replicas, but the site writes to its Rucio database", site, c)
			}
		}
		for _, c := range rucioWriterJobs {
			if jobs[c] == replica {
				t.Errorf("%s (replica %v): Job of %s rendered: %v", site, replica, c, jobs[c])
			}
		}
	}

	report := run(t, render, "check", "--profile", "prod", "dc-de1="+files["dc-de1"], "dc-es1="+files["dc-es1"], "dc-it1="+files["dc-it1"])
	for _, want := range []string{
		"\nrucio-db: dc-de1 primary (primary dc-de1), dc-es1 replica (primary dc-de1)\n",
		"\nok: 3 site(s), 0 failing its own check, 0 failover error(s)\n",
	} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("check across the sites lacks %q:\n%s", want, report)
		}
	}

	promoted := filepath.Join(t.TempDir(), "promote-dc-es1.yaml")
	if err := os.WriteFile(promoted, []byte("global:\n  failover:\n    rucio-db:\n      primary: dc-es1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(render, "check", "--profile", "prod", "dc-de1="+files["dc-de1"], "dc-es1="+renderSite("dc-es1", promoted))
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("check with dc-es1 promoted before dc-de1 was demoted: %v, want exit 1\n%s", err, out)
	}
	want := "error: failover: rucio-db: 2 sites claim the primary: dc-de1 and dc-es1 each declare themselves primary"
	if !bytes.Contains(out, []byte(want)) {
		t.Errorf("check with two primaries lacks %q:\n%s", want, out)
	}
}

// yamlScalar writes a decoded scalar as text.
func yamlScalar(v any) string { return fmt.Sprint(v) }
