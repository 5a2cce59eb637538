package externals

import (
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

// monitors drops the PodMonitors an earlier version of this transform
// generated (labelled generated=externals): the monitoring transform
// generates them now, under its own label.
type monitors struct{}

func newMonitors() *monitors { return &monitors{} }

// IsGenerated reports whether this transform generated n.
func IsGenerated(n *yaml.RNode) bool {
	return n.GetLabels()[GeneratedLabel] == Generated
}

// apply drops the objects of an earlier run.
func (m *monitors) apply(nodes []*yaml.RNode) []*yaml.RNode {
	out := nodes[:0:0]
	for _, n := range nodes {
		if !IsGenerated(n) {
			out = append(out, n)
		}
	}
	return out
}
