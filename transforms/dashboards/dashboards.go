// Package dashboards generates, from the interface catalog, the Grafana
// dashboards of a release: one per subchart (a row per component: its
// targets up and scrape duration when it declares metrics, its workload's
// replicas or Jobs and its containers' restarts from kube-state-metrics)
// and one overview (every component's targets up, every Job that failed).
// Each is a ConfigMap with the labels the site's Grafana sidecar watches.
//
// The queries select on the series contract only: the target labels
// dpps_component, dpps_subchart and dpps_release the generated monitors
// set on every scraped series, namespace, and kube-state-metrics' own
// series by workload name (never on job).
package dashboards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/monitoring"
	"github.com/ctao/dpps-deploy/transforms/provenance"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// GeneratedLabel marks the objects a transform generated, with the
// transform's name as value (the convention of netpol and externals).
const GeneratedLabel = provenance.Prefix + "generated"

// Generated is this transform's value of GeneratedLabel.
const Generated = "dashboards"

// DashboardAnnotation names, on each ConfigMap, the dashboard's UID.
const DashboardAnnotation = provenance.Prefix + "grafana-dashboard-uid"

// DefaultLabels are the ConfigMaps' labels when neither the config nor
// the site names any: what the Grafana and kube-prometheus-stack charts'
// dashboard sidecars watch by default.
var DefaultLabels = map[string]string{"grafana_dashboard": "1"}

// Config configures the dashboards transform.
type Config struct {
	// Enabled generates the dashboards. Unset, the site's
	// global.observability.grafana.dashboards decides (true in the DPPS
	// chart's values); without one, none are generated.
	Enabled *bool `json:"enabled,omitempty"`
	// Labels of the dashboard ConfigMaps; they win over the site's
	// global.observability.grafana.labels. Default grafana_dashboard: "1".
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations of the dashboard ConfigMaps (a sidecar's folder
	// annotation); they win over the site's.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Filter is the dashboards transform.
type Filter struct {
	Config
	// CatalogPath is a catalog file that wins over the stream's (--catalog).
	CatalogPath string
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform for cfg; catalogPath is the --catalog file, if
// any.
func New(cfg Config, catalogPath string) *Filter {
	return &Filter{Config: cfg, CatalogPath: catalogPath}
}

// IsGenerated reports whether this transform generated n.
func IsGenerated(n *yaml.RNode) bool {
	return n.GetLabels()[GeneratedLabel] == Generated
}

// settings are the switch, labels and annotations in force.
func (f *Filter) settings(info *release.Info) (bool, map[string]string, map[string]string, error) {
	g := info.Site.Observability.Grafana
	if g == nil {
		g = &release.Grafana{}
	}
	enabled := g.Dashboards != nil && *g.Dashboards
	if f.Enabled != nil {
		enabled = *f.Enabled
	}
	labels, ann := f.Labels, f.Annotations
	labelsFrom, annFrom := "dashboards.labels (dpps-render config)", "dashboards.annotations (dpps-render config)"
	if labels == nil {
		labels, labelsFrom = g.Labels, "global.observability.grafana.labels ("+info.Origin+")"
	}
	if len(labels) == 0 {
		labels = DefaultLabels
	}
	if ann == nil {
		ann, annFrom = g.Annotations, "global.observability.grafana.annotations ("+info.Origin+")"
	}
	for k, v := range labels {
		if !labelKey.MatchString(k) || len(k) > 317 || !labelValue.MatchString(v) {
			return false, nil, nil, fmt.Errorf("dashboard ConfigMap label %q: %q is not a label Kubernetes accepts (%s)", k, v, labelsFrom)
		}
		if strings.HasPrefix(k, provenance.Prefix) || k == externals.InstanceLabel || k == externals.PartOfLabel || k == externals.ComponentLabel || k == managedBy {
			return false, nil, nil, fmt.Errorf("dashboard ConfigMap label %q is dpps-render's own (%s): choose another", k, labelsFrom)
		}
	}
	for k := range ann {
		if !labelKey.MatchString(k) || strings.HasPrefix(k, provenance.Prefix) {
			return false, nil, nil, fmt.Errorf("dashboard ConfigMap annotation %q is not an annotation name dpps-render may set (%s)", k, annFrom)
		}
	}
	return enabled, labels, ann, nil
}

var (
	labelKey   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

const managedBy = "app.kubernetes.io/managed-by"

// Filter drops the dashboards of an earlier run and appends this run's,
// sorted by name, after every other object.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	info, err := release.Find(nodes, f.CatalogPath)
	if err != nil {
		return nil, err
	}
	out := nodes[:0:0]
	for _, n := range nodes {
		if !IsGenerated(n) {
			out = append(out, n)
		}
	}
	if info == nil {
		return nodes, nil
	}
	enabled, labels, ann, err := f.settings(info)
	if err != nil {
		return nil, err
	}
	if !enabled {
		return out, nil
	}
	rel := Collect(info, out)
	if len(rel.Components) == 0 {
		return out, nil
	}
	boards, err := Build(rel)
	if err != nil {
		return nil, err
	}
	for _, b := range boards {
		cm, err := configMap(rel, b, labels, ann)
		if err != nil {
			return nil, err
		}
		out = append(out, cm)
	}
	return out, nil
}

// Release is what the dashboards of one render show.
type Release struct {
	// Name is the release name.
	Name string
	// Namespace is the workloads' namespace when they all name the same
	// one, else "".
	Namespace string
	// Components are the catalog's components that have a workload in
	// the render, by name.
	Components map[string]Component
	// PartOf is the part-of label of the workloads, "" when they differ.
	PartOf string
}

// Component is one component of the render.
type Component struct {
	Name string
	catalog.Component
	// Object is the name of its workload: the catalog's, the release's
	// name filled in (a versioned Job's name starts with it).
	Object string
}

// Collect finds the components of the render.
func Collect(info *release.Info, nodes []*yaml.RNode) Release {
	r := externals.Resolve(info)
	rel := Release{Components: map[string]Component{}}
	namespaces := map[string]bool{}
	partOf := map[string]bool{}
	if !strings.Contains(info.Catalog.Release, "{{") {
		rel.Name = info.Catalog.Release
	}
	for _, n := range nodes {
		comp, ok := r.Component(n)
		if !ok {
			continue
		}
		if _, seen := rel.Components[comp]; !seen {
			c := info.Catalog.Components[comp]
			if c.Metrics != nil {
				if _, why := monitoring.MetricsPort(n, *c.Metrics); why != "" {
					c.Metrics = nil // not scraped (exporter off): no panel that never shows data
				}
			}
			obj := strings.ReplaceAll(c.Name, catalog.ReleaseName, n.GetLabels()[externals.InstanceLabel])
			rel.Components[comp] = Component{Name: comp, Component: c, Object: obj}
		}
		namespaces[n.GetNamespace()] = true
		partOf[n.GetLabels()[externals.PartOfLabel]] = true
		if rel.Name == "" {
			rel.Name = n.GetLabels()[externals.InstanceLabel]
		}
	}
	if len(namespaces) == 1 {
		for ns := range namespaces {
			rel.Namespace = ns
		}
	}
	if len(partOf) == 1 {
		for p := range partOf {
			rel.PartOf = p
		}
	}
	return rel
}

// ConfigMapName is the name of a dashboard's ConfigMap: subchart "" is
// the overview.
func ConfigMapName(releaseName, subchart string) string {
	name := releaseName + "-dpps-dashboard"
	if releaseName == "" {
		name = "dpps-dashboard"
	}
	if subchart != "" {
		name += "-" + subchart
	}
	return name
}

// UID is a dashboard's UID: stable, derived from the release and the
// subchart ("" for the overview), within Grafana's 40 characters. A
// longer one keeps its first 31 characters and a hash of the whole.
func UID(releaseName, subchart string) string {
	uid := "dpps-" + releaseName
	if subchart != "" {
		uid += "-" + subchart
	}
	if len(uid) <= maxUID {
		return uid
	}
	sum := sha256.Sum256([]byte(uid))
	return strings.TrimRight(uid[:maxUID-9], "-") + "-" + hex.EncodeToString(sum[:])[:8]
}

// maxUID is Grafana's limit on a dashboard UID.
const maxUID = 40

func configMap(rel Release, b Board, labels, ann map[string]string) (*yaml.RNode, error) {
	data, err := json.MarshalIndent(b.Dashboard, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", b.UID, err)
	}
	obj := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	manifest.SetString(obj, "apiVersion", "v1")
	manifest.SetString(obj, "kind", "ConfigMap")
	meta := manifest.EnsureMap(obj, "metadata")
	manifest.SetString(meta, "name", ConfigMapName(rel.Name, b.Subchart))
	if rel.Namespace != "" {
		manifest.SetString(meta, "namespace", rel.Namespace)
	}
	ml := manifest.EnsureMap(meta, "labels")
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		manifest.SetString(ml, k, labels[k])
	}
	if rel.Name != "" {
		manifest.SetString(ml, externals.InstanceLabel, rel.Name)
	}
	if rel.PartOf != "" {
		manifest.SetString(ml, externals.PartOfLabel, rel.PartOf)
	}
	manifest.SetString(ml, managedBy, "dpps-render")
	manifest.SetString(ml, GeneratedLabel, Generated)
	ma := manifest.EnsureMap(meta, "annotations")
	for _, k := range slices.Sorted(maps.Keys(ann)) {
		manifest.SetString(ma, k, ann[k])
	}
	manifest.SetString(ma, DashboardAnnotation, b.UID)
	d := manifest.EnsureMap(obj, "data")
	d.Content = append(d.Content, manifest.StringNode(b.UID+".json"),
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.LiteralStyle, Value: string(data) + "\n"})
	return yaml.NewRNode(obj), nil
}
