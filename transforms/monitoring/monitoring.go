// Package monitoring generates, from the interface catalog and the site's
// global.observability, what a Prometheus Operator needs to watch a DPPS
// release: a PodMonitor per component that serves metrics, the
// PrometheusRule <release>-dpps-alerts, and the ConfigMap
// <release>-dpps-observability that lists the scraped components and the
// alerts (a site's `helm test` checks its Prometheus against it).
//
// Every series a PodMonitor scrapes carries the target labels
// dpps_component, dpps_subchart and dpps_release; every alert selects on
// them (or, for kube-state-metrics series, on the workload's name), never
// on job.
//
// The objects are built with the Prometheus Operator's API types
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring),
// labelled dpps.ctao.org/generated=monitoring, dropped and generated again
// on every run, after every other object. A stream without a catalog
// passes through unchanged.
package monitoring

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/provenance"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// GeneratedLabel marks generated objects; Generated is this transform's
// value of it.
const (
	GeneratedLabel = externals.GeneratedLabel
	Generated      = "monitoring"
)

// The target labels every scraped series carries.
const (
	LabelComponent = "dpps_component"
	LabelSubchart  = "dpps_subchart"
	LabelRelease   = "dpps_release"
)

// The data keys of the ConfigMap <release>-dpps-observability.
const (
	// TargetsKey: one component name a line, every component scraped in
	// this render.
	TargetsKey = "targets"
	// AlertsKey: one alert name a line, every alert of the PrometheusRule.
	AlertsKey = "alerts"
	// UnscrapedKey: one line per declared metrics endpoint absent from its
	// pod ("<component>: <why>"); no monitor scrapes it.
	UnscrapedKey = "unscraped"
)

// DefaultRunbooks is where the alerts' runbook_url point by default: the
// runbook sections of docs/observability.md.
const DefaultRunbooks = "https://github.com/ctao/dpps-deploy/blob/main/docs/observability.md"

// Config configures the monitoring transform.
type Config struct {
	// Alerts switches the PrometheusRule <release>-dpps-alerts on ("on")
	// or off ("off"). Unset, the site's global.observability.alerts
	// decides; unset there, it is on exactly when metrics are scraped by
	// PodMonitors (the Prometheus Operator is there).
	Alerts string `json:"alerts,omitempty" jsonschema:"enum=on,enum=off"`
	// Runbooks is the URL of the runbook page the alerts' runbook_url
	// point into (an anchor per alert is appended). Default: this
	// project's docs/observability.md.
	Runbooks string `json:"runbooks,omitempty" jsonschema:"pattern=^https?://"`
}

// Filter is the monitoring transform.
type Filter struct {
	Config
	// Metrics is the scrape mode externals.metrics sets, if any (it wins
	// over the site's global.observability.metrics).
	Metrics string
	// CatalogPath is a catalog file that wins over the stream's (--catalog).
	CatalogPath string
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform for cfg; metrics is the externals.metrics
// setting, catalogPath the --catalog file, if any.
func New(cfg Config, metrics, catalogPath string) *Filter {
	return &Filter{Config: cfg, Metrics: metrics, CatalogPath: catalogPath}
}

// IsGenerated reports whether this transform generated n.
func IsGenerated(n *yaml.RNode) bool {
	return n.GetLabels()[GeneratedLabel] == Generated
}

// Plan is what one render gets: the monitors, the alerts and the
// endpoints left unscraped. Plan is exported for dpps-render check and
// the tests.
type Plan struct {
	Release   string
	Namespace string
	// Mode is the scrape mode: annotations, podmonitor or none.
	Mode string
	// Alerts says whether the PrometheusRule is generated.
	Alerts bool
	// Scraped are the components scraped in this render, sorted, each with
	// its workload.
	Scraped []Target
	// Unscraped are the declared metrics endpoints absent from their pods,
	// as "<component>: <why>", sorted.
	Unscraped []string
	// Present are the catalog components with a workload in the render.
	Present map[string]bool
	info    *release.Info
}

// Target is a component whose metrics are scraped.
type Target struct {
	Component string
	Subchart  string
	Workload  *yaml.RNode
	// PortName is the name of the container port that serves the metrics.
	PortName string
	Metrics  catalog.Metrics
}

// Filter drops the objects of an earlier run and appends this run's.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	kept := make([]*yaml.RNode, 0, len(nodes))
	for _, n := range nodes {
		if !IsGenerated(n) {
			kept = append(kept, n)
		}
	}
	plan, err := f.Plan(kept)
	if err != nil || plan == nil {
		if err != nil {
			return nil, err
		}
		return kept, nil
	}
	gen, err := f.generate(plan)
	if err != nil {
		return nil, err
	}
	return append(kept, gen...), nil
}

// Plan works out what a render gets; nil when the stream carries no
// catalog.
func (f *Filter) Plan(nodes []*yaml.RNode) (*Plan, error) {
	info, err := release.Find(nodes, f.CatalogPath)
	if err != nil || info == nil {
		return nil, err
	}
	mode := f.Metrics
	if mode == "" {
		mode = info.Site.Observability.Metrics
	}
	switch mode {
	case "":
		mode = externals.MetricsAnnotations
	case externals.MetricsAnnotations, externals.MetricsPodMonitor, externals.MetricsNone:
	default:
		return nil, fmt.Errorf("unknown metrics mode %q (%s); valid: %s, %s, %s", mode, info.Origin, externals.MetricsAnnotations, externals.MetricsPodMonitor, externals.MetricsNone)
	}
	p := &Plan{Mode: mode, Present: map[string]bool{}, info: info}
	switch f.Alerts {
	case "on":
		p.Alerts = true
	case "off":
	case "":
		if a := info.Site.Observability.Alerts; a != nil {
			p.Alerts = *a
		} else {
			p.Alerts = mode == externals.MetricsPodMonitor
		}
	default:
		return nil, fmt.Errorf("monitoring.alerts %q: want on, off or nothing (the site's global.observability.alerts decides)", f.Alerts)
	}
	r := externals.Resolve(info)
	c := info.Catalog
	for _, n := range nodes {
		if ns := catalogNamespace(n); ns != "" && p.Namespace == "" {
			p.Namespace = ns
		}
		comp, ok := r.Component(n)
		if !ok {
			comp, ok = cronJobComponent(c, n)
		}
		if !ok {
			continue
		}
		p.Present[comp] = true
		if p.Release == "" {
			p.Release = n.GetLabels()[externals.InstanceLabel]
		}
		if p.Namespace == "" {
			p.Namespace = n.GetNamespace()
		}
		m := c.Components[comp].Metrics
		if m == nil || mode == externals.MetricsNone {
			continue
		}
		port, why := MetricsPort(n, *m)
		if why != "" {
			p.Unscraped = append(p.Unscraped, fmt.Sprintf("%s: %s %s: %s", comp, n.GetKind(), n.GetName(), why+toggle(c, comp, *m)))
			continue
		}
		p.Scraped = append(p.Scraped, Target{Component: comp, Subchart: c.Components[comp].Subchart, Workload: n, PortName: port, Metrics: *m})
	}
	if p.Release == "" && !strings.Contains(c.Release, "{{") {
		p.Release = c.Release
	}
	if p.Release == "" {
		return nil, nil // no workload of the catalog in the stream: nothing to watch
	}
	slices.SortFunc(p.Scraped, func(a, b Target) int { return strings.Compare(a.Workload.GetName(), b.Workload.GetName()) })
	slices.Sort(p.Unscraped)
	return p, nil
}

// cronJobComponent finds the component of a CronJob (a scheduled backup):
// its labels name the component and the catalog declares a Job.
func cronJobComponent(c *catalog.Catalog, n *yaml.RNode) (string, bool) {
	if n.GetKind() != "CronJob" {
		return "", false
	}
	comp := n.GetLabels()[externals.ComponentLabel]
	if cc, ok := c.Components[comp]; ok && cc.Workload == "Job" {
		return comp, true
	}
	return "", false
}

// catalogNamespace is the namespace of the catalog ConfigMap, if n is it.
func catalogNamespace(n *yaml.RNode) string {
	if n.GetKind() != "ConfigMap" || n.GetLabels()[release.CatalogLabel] == "" {
		return ""
	}
	return n.GetNamespace()
}

// MetricsPort finds the name of the container port of workload n that
// carries the declared metrics port; why says what is missing when there
// is none (such an endpoint is not scraped, so the dashboards leave it out
// too).
func MetricsPort(n *yaml.RNode, m catalog.Metrics) (name, why string) {
	unnamed := false
	for _, ctr := range manifest.Containers(manifest.PodSpec(n.YNode())) {
		ports := manifest.Field(ctr, "ports")
		if ports == nil {
			continue
		}
		for _, p := range ports.Content {
			cp := manifest.Field(p, "containerPort")
			if cp == nil || cp.Value != strconv.Itoa(m.Port) {
				continue
			}
			if pn := manifest.Field(p, "name"); pn != nil && pn.Value != "" {
				return pn.Value, ""
			}
			unnamed = true
		}
	}
	if unnamed {
		return "", fmt.Sprintf("the container port %d that serves the metrics has no name (a PodMonitor selects ports by name)", m.Port)
	}
	return "", fmt.Sprintf("declares metrics on port %d but no container of the pod has that port", m.Port)
}

// toggle says how to switch on the exporter that serves a component's
// metrics.
func toggle(c *catalog.Catalog, comp string, m catalog.Metrics) string {
	if m.Exporter == "" {
		return ""
	}
	return fmt.Sprintf(" (the %s sidecar is off: set %s.%s.metrics.enabled=true)", m.Exporter, c.Components[comp].Subchart, comp)
}

// generate builds the objects of a plan: PodMonitors sorted by name, the
// PrometheusRule, the ConfigMap.
func (f *Filter) generate(p *Plan) ([]*yaml.RNode, error) {
	var out []*yaml.RNode
	if p.Mode == externals.MetricsPodMonitor {
		for _, t := range p.Scraped {
			n, err := toRNode(p.podMonitor(t))
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	}
	var alerts []string
	if p.Alerts {
		base := f.Runbooks
		if base == "" {
			base = DefaultRunbooks
		}
		rule := p.rules(base)
		n, err := toRNode(rule)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		seen := map[string]bool{}
		for _, g := range rule.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" && !seen[r.Alert] {
					seen[r.Alert] = true
					alerts = append(alerts, r.Alert)
				}
			}
		}
		slices.Sort(alerts)
	}
	targets := make([]string, 0, len(p.Scraped))
	for _, t := range p.Scraped {
		if !slices.Contains(targets, t.Component) {
			targets = append(targets, t.Component)
		}
	}
	slices.Sort(targets)
	n, err := toRNode(p.configMap(targets, alerts))
	if err != nil {
		return nil, err
	}
	return append(out, n), nil
}

// meta is the metadata every generated object carries.
func (p *Plan) labels(extra map[string]string) map[string]string {
	l := map[string]string{
		externals.InstanceLabel:        p.Release,
		externals.PartOfLabel:          provenance.DefaultPartOf,
		"app.kubernetes.io/managed-by": "dpps-render",
		GeneratedLabel:                 Generated,
	}
	maps.Copy(l, extra)
	return l
}

// lines joins names one a line, with a final newline; "" for none.
func lines(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, "\n") + "\n"
}
