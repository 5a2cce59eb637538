package examples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// metricsCatalog is the part of charts/dpps/catalog.json this test reads:
// each component's subchart and whether it declares metrics or traces.
type metricsCatalog struct {
	Components map[string]struct {
		Subchart string          `json:"subchart"`
		Metrics  json.RawMessage `json:"metrics"`
		Traces   json.RawMessage `json:"traces"`
	} `json:"components"`
}

// readMetricsCatalog reads charts/dpps/catalog.json.
func readMetricsCatalog(t *testing.T) metricsCatalog {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chart, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat metricsCatalog
	if err := json.Unmarshal(data, &cat); err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestDashboards renders every example and every site with the real Helm
// and dpps-render and reads the dashboard ConfigMaps as Grafana's sidecar
// would: every component with a metrics endpoint in the render has a panel
// on its targets' up in its subchart's dashboard and in the overview; each
// dashboard is one JSON document that Grafana's schema (the foundation
// SDK's strict decoding and validation) accepts, with a unique UID of at
// most 40 characters and unique panel ids; the ConfigMaps carry the
// sidecar's default label.
func TestDashboards(t *testing.T) {
	helm, render := tools(t)
	cat := readMetricsCatalog(t)
	plugins.RegisterDefaultPlugins()
	renders := map[string][]string{}
	for _, env := range environments(t) {
		renders[env] = []string{"-f", filepath.Join(env, "values.yaml")}
	}
	for _, site := range sites {
		for _, v := range siteValues(site) {
			renders["sites/"+site] = append(renders["sites/"+site], "-f", v)
		}
	}
	for name, fargs := range renders {
		t.Run(name, func(t *testing.T) {
			args := append(append([]string{"template", release, chart, "--skip-tests"}, fargs...), "--post-renderer", render)
			objs := parse(t, run(t, helm, args...))
			checkDashboards(t, objs, cat)
		})
	}
}

// upOf matches a PromQL selector of the up series of one component.
func upOf(comp string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^_a-z])up\{[^}]*dpps_component="` + regexp.QuoteMeta(comp) + `"`)
}

func checkDashboards(t *testing.T, objs []object, cat metricsCatalog) {
	t.Helper()
	// The components with metrics whose workload is in the render, by the
	// component label of their pods, and whether a container of the pod
	// has the metrics port (an exporter switched off leaves it out: such a
	// component is not scraped and must have no up panel).
	want := map[string]string{}
	unscraped := map[string]bool{}
	for _, o := range objs {
		comp := podLabels(o)[labelComponent]
		if podTemplate(o) == nil || podLabels(o)[labelInstance] != release || comp == "" {
			continue
		}
		c, ok := cat.Components[comp]
		if !ok || len(c.Metrics) == 0 || string(c.Metrics) == "null" {
			continue
		}
		var m struct{ Port int }
		if err := json.Unmarshal(c.Metrics, &m); err != nil {
			t.Fatalf("catalog: component %s: metrics: %v", comp, err)
		}
		if hasContainerPort(podTemplate(o), m.Port) {
			want[comp] = c.Subchart
		} else {
			unscraped[comp] = true
		}
	}
	if len(want) == 0 && len(unscraped) == 0 {
		t.Fatal("no component with a metrics endpoint in the render")
	}
	boards := map[string][]string{} // ConfigMap name -> target expressions
	uids := map[string]string{}
	for _, o := range objs {
		if o.kind != "ConfigMap" || o.labels["dpps.ctao.org/generated"] != "dashboards" {
			continue
		}
		if o.labels["grafana_dashboard"] != "1" {
			t.Errorf("%s lacks the Grafana sidecar's label grafana_dashboard: \"1\"", o)
		}
		d, _ := o.m["data"].(map[string]any)
		if len(d) != 1 {
			t.Errorf("%s: %d data keys, want one dashboard", o, len(d))
			continue
		}
		for key, v := range d {
			text := str(v)
			if !strings.HasSuffix(key, ".json") {
				t.Errorf("%s: data key %q does not end in .json (the sidecar writes it as a file Grafana loads)", o, key)
			}
			var sdk dashboard.Dashboard
			if err := sdkError(sdk.UnmarshalJSONStrict([]byte(text))); err != nil {
				t.Errorf("%s: the Grafana schema refuses the dashboard: %v", o, err)
			} else if err := sdkError(sdk.Validate()); err != nil {
				t.Errorf("%s: the dashboard is not valid per Grafana's schema: %v", o, err)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(text), &raw); err != nil {
				t.Errorf("%s: %v", o, err)
				continue
			}
			uid := str(raw["uid"])
			if uid == "" || len(uid) > 40 {
				t.Errorf("%s: uid %q is empty or longer than Grafana's 40 characters", o, uid)
			}
			if other, dup := uids[uid]; dup {
				t.Errorf("%s and %s share the uid %q", o, other, uid)
			}
			uids[uid] = o.name
			ids := map[float64]bool{}
			var walk func(panels []any)
			walk = func(panels []any) {
				for _, p := range panels {
					id, _ := dig(p, "id").(float64)
					if ids[id] {
						t.Errorf("%s: panel id %v is used twice", o, id)
					}
					ids[id] = true
					for _, q := range list(dig(p, "targets")) {
						boards[o.name] = append(boards[o.name], str(dig(q, "expr")))
					}
					walk(list(dig(p, "panels")))
				}
			}
			walk(list(raw["panels"]))
		}
	}
	overview := release + "-dpps-dashboard"
	if _, ok := boards[overview]; !ok {
		t.Fatalf("no overview dashboard ConfigMap %s; dashboards: %v", overview, keys(boards))
	}
	for comp, sub := range want {
		for _, b := range []string{overview, overview + "-" + sub} {
			if !slices.ContainsFunc(boards[b], upOf(comp).MatchString) {
				t.Errorf("component %s declares metrics and runs in the render, but dashboard %s has no panel on its up series", comp, b)
			}
		}
	}
	for comp := range unscraped {
		for b, exprs := range boards {
			if slices.ContainsFunc(exprs, upOf(comp).MatchString) {
				t.Errorf("component %s has no container port for its metrics in the render (not scraped), but dashboard %s has a panel on its up series", comp, b)
			}
		}
	}
}

// hasContainerPort reports whether a container of the pod template has
// containerPort port.
func hasContainerPort(tmpl map[string]any, port int) bool {
	for _, kind := range []string{"containers", "initContainers"} {
		for _, c := range list(dig(tmpl, "spec", kind)) {
			for _, p := range list(dig(c, "ports")) {
				if fmt.Sprint(dig(p, "containerPort")) == strconv.Itoa(port) {
					return true
				}
			}
		}
	}
	return false
}

// sdkError is the SDK's error, nil when it is an empty list of errors
// (the SDK returns a nil cog.BuildErrors as a non-nil error).
func sdkError(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestNoTracesDeclared: no DPPS component declares traces (neither the
// Rucio server and daemons nor DIRAC read the standard OTEL_* environment;
// docs/observability.md, "Traces"), so a site that declares an OTLP
// endpoint gets no OTEL_* env on any container; the chart's schema
// accepts the endpoint.
func TestNoTracesDeclared(t *testing.T) {
	helm, render := tools(t)
	cat := readMetricsCatalog(t)
	for name, c := range cat.Components {
		if len(c.Traces) > 0 {
			t.Errorf("component %s declares traces: TestNoTracesDeclared and docs/observability.md say none does; update both with the evidence", name)
		}
	}
	out := run(t, helm, renderArgs("ci", render, "--set", "global.observability.otlp.endpoint=http://otel-collector.monitoring:4317")...)
	if bytes.Contains(out, []byte("OTEL_")) {
		t.Error(fmt.Sprintf("an OTEL_ variable is in the render, though no component declares traces:\n%s", firstLine(out, "OTEL_")))
	}
}

func firstLine(out []byte, sub string) string {
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
