package externals

import (
	"fmt"
	"sort"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/provenance"
)

// The Prometheus scrape annotations (the prometheus.io convention that
// Prometheus' kubernetes_sd example configuration and most agents follow).
const (
	ScrapeAnnotation = "prometheus.io/scrape"
	PortAnnotation   = "prometheus.io/port"
	PathAnnotation   = "prometheus.io/path"
)

// GeneratedLabel marks the objects a transform generated, with the
// transform's name as value (the convention of the netpol transform).
const GeneratedLabel = provenance.Prefix + "generated"

// Generated is this transform's value of GeneratedLabel.
const Generated = "externals"

// scrapeAnnotations puts the scrape annotations on the pod template of a
// component that declares a metrics port. A pod template annotation
// restarts the pods once, when it is first added.
func (f *Filter) scrapeAnnotations(r *Release, n *yaml.RNode, comp string) bool {
	m := r.Info.Catalog.Components[comp].Metrics
	if m == nil {
		return false
	}
	meta := podTemplateMeta(n.YNode())
	if meta == nil {
		return false
	}
	ann := manifest.EnsureMap(meta, "annotations")
	changed := manifest.SetString(ann, ScrapeAnnotation, "true")
	changed = manifest.SetString(ann, PortAnnotation, strconv.Itoa(m.Port)) || changed
	changed = manifest.SetString(ann, PathAnnotation, m.Path) || changed
	return changed
}

// monitors collects the PodMonitors of one run. PodMonitors an earlier run
// generated are dropped and generated again after every other object, so
// the output of a run fed back in is unchanged even when other transforms
// move their own generated objects to the end.
type monitors struct {
	want map[string]*yaml.RNode
}

func newMonitors() *monitors { return &monitors{want: map[string]*yaml.RNode{}} }

// IsGenerated reports whether this transform generated n.
func IsGenerated(n *yaml.RNode) bool {
	return n.GetLabels()[GeneratedLabel] == Generated
}

// add builds the PodMonitor of a component's workload, if it declares a
// metrics port. The endpoint names the container port that carries the
// metrics port number (Prometheus Operator selects pod ports by name).
func (m *monitors) add(r *Release, n *yaml.RNode, comp, partOf string) error {
	metrics := r.Info.Catalog.Components[comp].Metrics
	if metrics == nil {
		return nil
	}
	spec := manifest.PodSpec(n.YNode())
	portName := ""
	for _, c := range manifest.Containers(spec) {
		if ports := manifest.Field(c, "ports"); ports != nil {
			for _, p := range ports.Content {
				if cp := manifest.Field(p, "containerPort"); cp != nil && cp.Value == strconv.Itoa(metrics.Port) {
					if name := manifest.Field(p, "name"); name != nil && portName == "" {
						portName = name.Value
					}
				}
			}
		}
	}
	if portName == "" {
		return fmt.Errorf("%s: component %s declares metrics on port %d, but no container port of that number has a name (a PodMonitor selects ports by name)", describe(n), comp, metrics.Port)
	}
	selector := map[string]string{}
	labels := n.GetLabels()
	for k, v := range r.Info.Catalog.Components[comp].Selector {
		if k == InstanceLabel && labels[InstanceLabel] != "" {
			v = labels[InstanceLabel]
		}
		selector[k] = v
	}
	obj := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	manifest.SetString(obj, "apiVersion", "monitoring.coreos.com/v1")
	manifest.SetString(obj, "kind", "PodMonitor")
	meta := manifest.EnsureMap(obj, "metadata")
	manifest.SetString(meta, "name", n.GetName())
	if ns := n.GetNamespace(); ns != "" {
		manifest.SetString(meta, "namespace", ns)
	}
	ml := manifest.EnsureMap(meta, "labels")
	manifest.SetString(ml, ComponentLabel, comp)
	if v := selector[InstanceLabel]; v != "" {
		manifest.SetString(ml, InstanceLabel, v)
	}
	manifest.SetString(ml, PartOfLabel, partOf)
	manifest.SetString(ml, "app.kubernetes.io/managed-by", "dpps-render")
	manifest.SetString(ml, GeneratedLabel, Generated)
	if chart := n.GetAnnotations()[provenance.ChartAnnotation]; chart != "" {
		manifest.SetString(manifest.EnsureMap(meta, "annotations"), provenance.ChartAnnotation, chart)
	}
	s := manifest.EnsureMap(obj, "spec")
	match := manifest.EnsureMap(manifest.EnsureMap(s, "selector"), "matchLabels")
	keys := make([]string, 0, len(selector))
	for k := range selector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		manifest.SetString(match, k, selector[k])
	}
	ep := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	manifest.SetString(ep, "port", portName)
	manifest.SetString(ep, "path", metrics.Path)
	s.Content = append(s.Content, manifest.StringNode("podMetricsEndpoints"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{ep}})
	m.want[n.GetName()] = yaml.NewRNode(obj)
	return nil
}

// apply drops the PodMonitors of an earlier run and appends this run's,
// sorted by name, after every other object.
func (m *monitors) apply(nodes []*yaml.RNode) []*yaml.RNode {
	out := nodes[:0:0]
	for _, n := range nodes {
		if !IsGenerated(n) {
			out = append(out, n)
		}
	}
	names := make([]string, 0, len(m.want))
	for name := range m.want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, m.want[name])
	}
	return out
}
