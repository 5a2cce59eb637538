package examples

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// observabilityCases are every example and every site, each as its -f list.
func observabilityCases(t *testing.T) map[string][]string {
	cases := map[string][]string{}
	for _, env := range environments(t) {
		cases[env] = []string{filepath.Join(env, "values.yaml")}
	}
	for _, site := range sites {
		cases["sites/"+site] = siteValues(site)
	}
	return cases
}

// renderValues renders the chart with values files (and extra helm
// arguments) through dpps-render.
func renderValues(t *testing.T, values []string, extra ...string) []object {
	t.Helper()
	helm, render := tools(t)
	args := []string{"template", release, chart, "--post-renderer", render}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	return parse(t, run(t, helm, append(args, extra...)...))
}

// metricsDecl is a component's metrics endpoint as the render's catalog
// ConfigMap declares it.
type metricsDecl struct {
	Port     int    `json:"port"`
	Path     string `json:"path"`
	Exporter string `json:"exporter"`
}

// catalogComponent is what the test reads of a catalog component.
type catalogComponent struct {
	Subchart string       `json:"subchart"`
	Metrics  *metricsDecl `json:"metrics"`
}

// renderCatalog reads the catalog and the site settings from the render's
// catalog ConfigMap.
func renderCatalog(t *testing.T, objs []object) (comps map[string]catalogComponent, site map[string]any) {
	t.Helper()
	for _, o := range objs {
		if o.kind != "ConfigMap" || o.labels["dpps.ctao.org/catalog"] == "" {
			continue
		}
		var c struct {
			Components map[string]catalogComponent `json:"components"`
		}
		if err := json.Unmarshal([]byte(str(dig(o.m, "data", "catalog.json"))), &c); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(str(dig(o.m, "data", "site.json"))), &site); err != nil {
			t.Fatal(err)
		}
		return c.Components, site
	}
	t.Fatal("the render has no catalog ConfigMap")
	return nil, nil
}

// TestObservabilityEveryExample: in every example and site render, every
// metrics endpoint a pod carries has a PodMonitor (mode podmonitor) that
// names its port and sets the dpps_* target labels, and a NetworkPolicy
// that admits the site's Prometheus to it (when the site says where its
// Prometheus runs); every declared endpoint a pod lacks is listed as
// unscraped; the observability ConfigMap lists exactly the monitored
// components and the PrometheusRule's alerts; every alert has a summary,
// a description and a runbook_url naming a section of
// docs/observability.md; and promtool accepts the rules.
func TestObservabilityEveryExample(t *testing.T) {
	promtool := testutil.Tool(t, "DPPS_PROMTOOL")
	anchors := docAnchors(t, "../docs/observability.md")
	for name, values := range observabilityCases(t) {
		t.Run(name, func(t *testing.T) {
			objs := renderValues(t, values)
			comps, site := renderCatalog(t, objs)
			mode := str(dig(site, "observability", "metrics"))
			prom, _ := dig(site, "observability", "prometheus").(map[string]any)
			var cm *object
			var rules []object
			monitors := map[string]object{}
			for i, o := range objs {
				switch {
				case o.kind == "ConfigMap" && o.name == release+"-dpps-observability":
					cm = &objs[i]
				case o.kind == "PrometheusRule":
					rules = append(rules, o)
				case o.kind == "PodMonitor":
					monitors[o.labels[labelComponent]] = o
				}
			}
			if cm == nil {
				t.Fatalf("no ConfigMap %s-dpps-observability", release)
			}
			if cm.labels["dpps.ctao.org/generated"] == "" {
				t.Errorf("%s lacks the label dpps.ctao.org/generated", cm)
			}
			var targets, unscraped []string
			for _, o := range objs {
				if o.kind != "Deployment" && o.kind != "StatefulSet" {
					continue
				}
				comp := o.labels[labelComponent]
				c, ok := comps[comp]
				if !ok || c.Metrics == nil || mode == "none" {
					continue
				}
				port := podPortName(o, c.Metrics.Port)
				if port == "" {
					unscraped = append(unscraped, comp)
					continue
				}
				targets = append(targets, comp)
				if mode == "podmonitor" {
					checkPodMonitor(t, monitors[comp], o, comp, c.Subchart, port, c.Metrics.Path)
				}
				if prom != nil && !admitsPrometheus(objs, o, c.Metrics.Port, prom) {
					t.Errorf("%s: no NetworkPolicy admits the site's Prometheus to metrics port %d", o, c.Metrics.Port)
				}
			}
			if mode != "podmonitor" && len(monitors) > 0 {
				t.Errorf("metrics mode %q, yet PodMonitors are rendered", mode)
			}
			sort.Strings(targets)
			if got := lines(str(dig(cm.m, "data", "targets"))); !slices.Equal(got, targets) {
				t.Errorf("targets = %q, want the scraped components %q", got, targets)
			}
			for _, comp := range unscraped {
				if !strings.Contains(str(dig(cm.m, "data", "unscraped")), comp+": ") {
					t.Errorf("%s declares a metrics port its pod lacks, and %s does not list it as unscraped", comp, cm)
				}
			}
			var alerts []string
			for _, r := range rules {
				if r.name != release+"-dpps-alerts" {
					t.Errorf("unexpected PrometheusRule %s", r)
				}
				if prom != nil {
					for k, v := range mapOf(dig(prom, "ruleLabels")) {
						if r.labels[k] != v {
							t.Errorf("%s lacks the site's rule label %s=%s", r, k, v)
						}
					}
				}
				alerts = append(alerts, checkAlerts(t, r, anchors)...)
				checkRulesWithPromtool(t, promtool, r)
			}
			alerts = slices.Compact(slices.Sorted(slices.Values(alerts)))
			if got := lines(str(dig(cm.m, "data", "alerts"))); !slices.Equal(got, alerts) {
				t.Errorf("alerts = %q, want the PrometheusRule's %q", got, alerts)
			}
			if mode == "podmonitor" && len(rules) == 0 && dig(site, "observability", "alerts") != false {
				t.Error("metrics podmonitor and alerts not switched off, yet no PrometheusRule")
			}
		})
	}
}

// podPortName is the name of the container port with number port.
func podPortName(o object, port int) string {
	for _, c := range list(dig(podTemplate(o), "spec", "containers")) {
		for _, p := range list(dig(c, "ports")) {
			if n, _ := dig(p, "containerPort").(float64); int(n) == port {
				return str(dig(p, "name"))
			}
			if n, _ := dig(p, "containerPort").(int); n == port {
				return str(dig(p, "name"))
			}
		}
	}
	return ""
}

// checkPodMonitor: the component's PodMonitor selects its pods, scrapes the
// named port and path, and sets the three dpps_* labels.
func checkPodMonitor(t *testing.T, pm object, workload object, comp, subchart, port, path string) {
	t.Helper()
	if pm.m == nil {
		t.Errorf("%s serves metrics on port %s, but no PodMonitor has component %s", workload, port, comp)
		return
	}
	pod := podLabels(workload)
	for k, v := range mapOf(dig(pm.m, "spec", "selector", "matchLabels")) {
		if pod[k] != v {
			t.Errorf("%s selects %s=%s, the pods of %s carry %q", pm, k, v, workload, pod[k])
		}
	}
	eps := list(dig(pm.m, "spec", "podMetricsEndpoints"))
	if len(eps) != 1 || str(dig(eps[0], "port")) != port || str(dig(eps[0], "path")) != path {
		t.Errorf("%s endpoints = %v, want port %s path %s", pm, eps, port, path)
		return
	}
	want := map[string]string{"dpps_component": comp, "dpps_subchart": subchart, "dpps_release": release}
	got := map[string]string{}
	for _, r := range list(dig(eps[0], "relabelings")) {
		got[str(dig(r, "targetLabel"))] = str(dig(r, "replacement"))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s sets the target label %s=%q, want %q", pm, k, got[k], v)
		}
	}
}

// admitsPrometheus: some NetworkPolicy selects the workload's pods and
// admits pods of the site's Prometheus namespace and labels to port.
func admitsPrometheus(objs []object, workload object, port int, prom map[string]any) bool {
	pod := podLabels(workload)
	ns := str(dig(prom, "namespace"))
	pl := mapOf(dig(prom, "podLabels"))
	for _, o := range objs {
		if o.kind != "NetworkPolicy" {
			continue
		}
		sel := mapOf(dig(o.m, "spec", "podSelector", "matchLabels"))
		if !subset(sel, pod) {
			continue
		}
		for _, in := range list(dig(o.m, "spec", "ingress")) {
			portOK := false
			for _, p := range list(dig(in, "ports")) {
				if fmt.Sprint(dig(p, "port")) == strconv.Itoa(port) {
					portOK = true
				}
			}
			for _, from := range list(dig(in, "from")) {
				nsl := mapOf(dig(from, "namespaceSelector", "matchLabels"))
				if portOK && nsl["kubernetes.io/metadata.name"] == ns && subset(mapOf(dig(from, "podSelector", "matchLabels")), pl) {
					return true
				}
			}
		}
	}
	return false
}

// checkAlerts: every alerting rule has a summary, a description and a
// runbook_url whose anchor is a heading of docs/observability.md; returns
// the alert names.
func checkAlerts(t *testing.T, r object, anchors map[string]bool) []string {
	t.Helper()
	var names []string
	for _, g := range list(dig(r.m, "spec", "groups")) {
		for _, rule := range list(dig(g, "rules")) {
			name := str(dig(rule, "alert"))
			if name == "" {
				continue
			}
			names = append(names, name)
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if str(dig(rule, "annotations", k)) == "" {
					t.Errorf("%s: alert %s has no annotation %s", r, name, k)
				}
			}
			u := str(dig(rule, "annotations", "runbook_url"))
			_, anchor, ok := strings.Cut(u, "#")
			if !ok || !strings.Contains(u, "docs/observability.md#") || !anchors[anchor] {
				t.Errorf("%s: alert %s: runbook_url %q names no section of docs/observability.md", r, name, u)
			}
		}
	}
	return names
}

// checkRulesWithPromtool writes a PrometheusRule's spec as a rule file and
// runs promtool check rules on it.
func checkRulesWithPromtool(t *testing.T, promtool string, r object) {
	t.Helper()
	b, err := sigsyaml.Marshal(dig(r.m, "spec"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules (%s): %v\n%s", r, err, out)
	}
}

// docAnchors are the anchors GitHub gives the headings of a Markdown file:
// lower case, punctuation but '-' and '_' dropped, spaces to '-'.
func docAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	out := map[string]bool{}
	inCode := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		out[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
	}
	return out
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func mapOf(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k] = str(x)
	}
	return out
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAlertRulesFireAndResolve runs promtool's rule unit tests
// (testdata/alerts/ci.test.yaml, hand-written series and expected alerts)
// on the rules dpps-render generates for examples/ci with the Rucio
// database's exporter on; every alert the rules hold has a test there.
func TestAlertRulesFireAndResolve(t *testing.T) {
	promtool := testutil.Tool(t, "DPPS_PROMTOOL")
	objs := renderValues(t, []string{"ci/values.yaml"}, "--set", "bdms.rucio-db.metrics.enabled=true")
	var spec any
	var alerts []string
	for _, o := range objs {
		if o.kind == "PrometheusRule" {
			spec = dig(o.m, "spec")
			for _, g := range list(dig(o.m, "spec", "groups")) {
				for _, r := range list(dig(g, "rules")) {
					if a := str(dig(r, "alert")); a != "" {
						alerts = append(alerts, a)
					}
				}
			}
		}
	}
	if spec == nil {
		t.Fatal("examples/ci renders no PrometheusRule")
	}
	tests, err := os.ReadFile("testdata/alerts/ci.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, m := range regexp.MustCompile(`alertname: (\w+)`).FindAllStringSubmatch(string(tests), -1) {
		tested[m[1]] = true
	}
	for _, a := range slices.Compact(slices.Sorted(slices.Values(alerts))) {
		if !tested[a] {
			t.Errorf("alert %s has no test in testdata/alerts/ci.test.yaml", a)
		}
	}
	dir := t.TempDir()
	rules, err := sigsyaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"rules.yaml": rules, "ci.test.yaml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "test", "rules", "ci.test.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules testdata/alerts/ci.test.yaml: %v\n%s", err, out)
	} else {
		t.Logf("promtool test rules:\n%s", out)
	}
}
