// Package externals marks the external interfaces of a DPPS release: every
// workload that connects to something the site provides (storage, compute,
// IAM, databases, FTS, CVMFS, the registry), and every Ingress or
// LoadBalancer/NodePort Service through which the site reaches DPPS, is
// annotated with the interface, its direction, endpoint, protocol, port
// and authentication method. It also gives pods the labels a log pipeline
// keys on and Prometheus what it needs to scrape components that declare a
// metrics port. Check and Inventory answer a site admin's questions about a
// render: is every external interface the site's, and which workloads run
// which image.
//
// Everything comes from the release's interface catalog (package release);
// a stream without one passes through unchanged.
package externals

import (
	"fmt"
	"maps"

	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/provenance"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// The annotations this transform sets, on the object's own metadata (never
// on its pod template, so a changed endpoint does not restart pods).
const (
	// ExternalsAnnotation lists the external interfaces an object uses,
	// comma-separated, sorted.
	ExternalsAnnotation = provenance.Prefix + "externals"
	// ExternalPrefix + <name> holds one interface's Annotation as JSON.
	ExternalPrefix = provenance.Prefix + "external."
	// FixtureForAnnotation marks the workload of a test fixture with the
	// external interface it stands in for.
	FixtureForAnnotation = provenance.Prefix + "fixture-for"
	// InboundPrefix + <name> holds, on the Service and Ingress of an
	// inbound interface, its InboundAnnotation as JSON.
	InboundPrefix = provenance.Prefix + "inbound."
)

// The pod labels a log pipeline (Loki, promtail, Alloy) keys on. The naming
// rule of docs/interfaces.md puts instance and component on every pod of
// the DPPS chart already; the transform adds what is missing.
const (
	InstanceLabel  = "app.kubernetes.io/instance"
	ComponentLabel = "app.kubernetes.io/component"
	PartOfLabel    = provenance.PartOfLabel
)

// Config configures the externals transform.
type Config struct {
	// Metrics says how components that declare a metrics port are scraped:
	// "annotations" (prometheus.io/scrape, port and path on the pod
	// template), "podmonitor" (a monitoring.coreos.com/v1 PodMonitor per
	// component, which the monitoring transform generates) or "none". Unset, the site's global.observability.metrics
	// decides (from the catalog ConfigMap), else "annotations".
	Metrics string `json:"metrics,omitempty" jsonschema:"enum=annotations,enum=podmonitor,enum=none"`
	// PartOf is the app.kubernetes.io/part-of label pod templates get when
	// they carry none.
	PartOf string `json:"partOf,omitempty" jsonschema:"default=dpps,minLength=1"`
}

// The metrics modes.
const (
	MetricsAnnotations = "annotations"
	MetricsPodMonitor  = "podmonitor"
	MetricsNone        = "none"
)

// Filter is the externals transform.
type Filter struct {
	Config
	// CatalogPath is a catalog file that wins over the stream's (--catalog).
	CatalogPath string
	changed     int
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform for cfg; catalogPath is the --catalog file, if
// any.
func New(cfg Config, catalogPath string) *Filter {
	if cfg.PartOf == "" {
		cfg.PartOf = provenance.DefaultPartOf
	}
	return &Filter{Config: cfg, CatalogPath: catalogPath}
}

// metricsMode is the configured mode, else the site's, else annotations.
func (f *Filter) metricsMode(info *release.Info) (string, error) {
	mode := f.Metrics
	if mode == "" {
		mode = info.Site.Observability.Metrics
	}
	switch mode {
	case "":
		return MetricsAnnotations, nil
	case MetricsAnnotations, MetricsPodMonitor, MetricsNone:
		return mode, nil
	}
	return "", fmt.Errorf("unknown metrics mode %q (%s); valid: %s, %s, %s", mode, info.Origin, MetricsAnnotations, MetricsPodMonitor, MetricsNone)
}

// Changed is the number of input objects the last run modified.
func (f *Filter) Changed() int { return f.changed }

// Filter annotates the objects in place. PodMonitors an earlier version of
// this transform generated are dropped (the monitoring transform generates
// them now).
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	f.changed = 0
	info, err := release.Find(nodes, f.CatalogPath)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nodes, nil // a chart nobody here wrote: nothing to go by
	}
	mode, err := f.metricsMode(info)
	if err != nil {
		return nil, err
	}
	r := Resolve(info)
	monitors := newMonitors()
	for _, n := range nodes {
		if IsGenerated(n) {
			continue
		}
		meta := manifest.Field(n.YNode(), "metadata")
		if meta == nil || meta.Kind != yaml.MappingNode {
			continue
		}
		changed := f.annotate(r, n, meta)
		if comp, ok := r.Component(n); ok {
			changed = f.podLabels(r, n, comp) || changed
			switch mode {
			case MetricsAnnotations:
				changed = f.scrapeAnnotations(r, n, comp) || changed
			}
		}
		if changed {
			f.changed++
		}
	}
	return monitors.apply(nodes), nil
}

// annotate sets the external-interface annotations of one object and
// removes stale ones.
func (f *Filter) annotate(r *Release, n *yaml.RNode, meta *yaml.Node) bool {
	uses := r.Uses(n)
	fixtureFor := ""
	if comp, ok := r.Component(n); ok {
		fixtureFor = r.Info.Catalog.Components[comp].FixtureFor
	}
	inName, inAnn, exposes := r.Inbound(n)
	ann := manifest.Field(meta, "annotations")
	if len(uses) == 0 && fixtureFor == "" && !exposes && !hasOurs(ann) {
		return false
	}
	ann = manifest.EnsureMap(meta, "annotations")
	changed := false
	want := map[string]bool{}
	if exposes {
		want[InboundPrefix+inName] = true
		changed = manifest.SetString(ann, InboundPrefix+inName, inAnn) || changed
	}
	if len(uses) > 0 {
		names := make([]string, len(uses))
		for i, u := range uses {
			names[i] = u.Name
			key := ExternalPrefix + u.Name
			want[key] = true
			changed = manifest.SetString(ann, key, u.Annotation()) || changed
		}
		want[ExternalsAnnotation] = true
		changed = manifest.SetString(ann, ExternalsAnnotation, strings.Join(names, ",")) || changed
	}
	if fixtureFor != "" {
		want[FixtureForAnnotation] = true
		changed = manifest.SetString(ann, FixtureForAnnotation, fixtureFor) || changed
	}
	// Annotations of an earlier run that no longer hold go.
	for i := 0; i+1 < len(ann.Content); {
		k := ann.Content[i].Value
		if ours(k) && !want[k] {
			ann.Content = slices.Delete(ann.Content, i, i+2)
			changed = true
			continue
		}
		i += 2
	}
	return changed
}

func ours(key string) bool {
	return key == ExternalsAnnotation || key == FixtureForAnnotation || strings.HasPrefix(key, ExternalPrefix) || strings.HasPrefix(key, InboundPrefix)
}

func hasOurs(ann *yaml.Node) bool {
	if ann == nil || ann.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(ann.Content); i += 2 {
		if ours(ann.Content[i].Value) {
			return true
		}
	}
	return false
}

// podTemplateMeta returns the metadata of a workload's pod template,
// creating it, or nil for a Pod (whose own metadata the caller handles) and
// objects without a pod template.
func podTemplateMeta(obj *yaml.Node) *yaml.Node {
	var tmpl *yaml.Node
	switch k := manifest.Field(obj, "kind"); {
	case k != nil && k.Value == "CronJob":
		tmpl = manifest.Path(obj, "spec", "jobTemplate", "spec", "template")
	case k != nil && k.Value == "Pod":
		return manifest.Field(obj, "metadata")
	default:
		tmpl = manifest.Path(obj, "spec", "template")
	}
	if tmpl == nil || tmpl.Kind != yaml.MappingNode {
		return nil
	}
	return manifest.EnsureMap(tmpl, "metadata")
}

// podLabels gives a component's pods the labels a log pipeline keys on:
// instance and component from the catalog's selector, part-of. Existing
// values are kept. Adding a label to a pod template restarts the pods
// once; the DPPS chart sets all three already, so its pods never do.
func (f *Filter) podLabels(r *Release, n *yaml.RNode, comp string) bool {
	meta := podTemplateMeta(n.YNode())
	if meta == nil {
		return false
	}
	labels := manifest.EnsureMap(meta, "labels")
	want := map[string]string{PartOfLabel: f.PartOf, ComponentLabel: comp}
	if inst := n.GetLabels()[InstanceLabel]; inst != "" {
		want[InstanceLabel] = inst
	} else if sel := r.Info.Catalog.Components[comp].Selector[InstanceLabel]; sel != "" && !strings.Contains(sel, "{{") {
		want[InstanceLabel] = sel
	}
	changed := false
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if manifest.Field(labels, k) == nil {
			changed = manifest.SetString(labels, k, want[k]) || changed
		}
	}
	return changed
}
