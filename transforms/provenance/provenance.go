// Package provenance stamps every object with where it came from: the
// system it is part of, its subchart and template, its chart version, the
// renderer version and, for workloads, the images it runs.
package provenance

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/version"
	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// Prefix is the annotation prefix of everything dpps-render stamps.
const Prefix = "dpps.ctao.org/"

// The annotations and the label this transform sets.
const (
	PartOfLabel          = "app.kubernetes.io/part-of"
	SourceAnnotation     = manifest.SourceAnnotation // template path, as in Helm's "# Source:"
	ComponentAnnotation  = Prefix + "component"      // subchart path, or the chart for its own templates
	ChartAnnotation      = Prefix + "chart"          // <chart>-<version>
	RenderedByAnnotation = Prefix + "rendered-by"    // dpps-render <version>
	ImagesAnnotation     = Prefix + "images"         // comma-separated, init containers first
)

// helmChartLabel is the label Helm's chart conventions put on every object.
const helmChartLabel = "helm.sh/chart"

// Config configures the provenance transform.
type Config struct {
	// PartOf is the value of the app.kubernetes.io/part-of label, set on
	// objects that do not carry one already.
	PartOf string `json:"partOf,omitempty" jsonschema:"default=dpps,minLength=1"`
	// Chart is "<name>-<version>" of the chart, used for objects without a
	// helm.sh/chart label.
	Chart string `json:"chart,omitempty" jsonschema:"pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?-[0-9]+\\.[0-9]+\\.[0-9]+.*$"`
}

// DefaultPartOf is the part-of label value when none is configured.
const DefaultPartOf = "dpps"

// Filter is the provenance transform.
type Filter struct {
	Config
	changed int
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform for cfg.
func New(cfg Config) *Filter {
	if cfg.PartOf == "" {
		cfg.PartOf = DefaultPartOf
	}
	return &Filter{Config: cfg}
}

// Changed is the number of objects the last run modified.
func (f *Filter) Changed() int { return f.changed }

// Filter stamps every object in place and returns the same slice.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	f.changed = 0
	rendered := "dpps-render " + version.Version
	for _, n := range nodes {
		obj := n.YNode()
		meta := manifest.Field(obj, "metadata")
		if meta == nil || meta.Kind != yaml.MappingNode {
			continue // the reader refuses such objects; filters may be reused on other streams
		}
		changed := false
		labels := manifest.EnsureMap(meta, "labels")
		if manifest.Field(labels, PartOfLabel) == nil {
			changed = manifest.SetString(labels, PartOfLabel, f.PartOf) || changed
		}
		// Provenance goes on the object, never on its pod template: a new
		// renderer version must not restart every pod.
		ann := manifest.EnsureMap(meta, "annotations")
		if src := manifest.Source(n); src != "" {
			changed = manifest.SetString(ann, SourceAnnotation, src) || changed
			changed = manifest.SetString(ann, ComponentAnnotation, manifest.ParseSource(src).Component()) || changed
		}
		chart := f.Chart
		if l := manifest.Field(labels, helmChartLabel); l != nil && l.Value != "" {
			chart = l.Value
		}
		if chart != "" {
			changed = manifest.SetString(ann, ChartAnnotation, chart) || changed
		}
		changed = manifest.SetString(ann, RenderedByAnnotation, rendered) || changed
		if spec := manifest.PodSpec(obj); spec != nil {
			if images := manifest.Images(spec); len(images) > 0 {
				changed = manifest.SetString(ann, ImagesAnnotation, strings.Join(images, ",")) || changed
			}
		}
		if changed {
			f.changed++
		}
	}
	return nodes, nil
}
