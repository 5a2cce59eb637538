package monitoring

import (
	"fmt"
	"maps"
	"slices"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/provenance"
)

// objectMeta is the metadata of a generated object: the release's
// namespace, our labels, then the site's (which never replace ours).
func (p *Plan) objectMeta(name string, site, own map[string]string) metav1.ObjectMeta {
	l := map[string]string{}
	maps.Copy(l, site)
	maps.Copy(l, p.labels(own))
	return metav1.ObjectMeta{Name: name, Namespace: p.Namespace, Labels: l}
}

// prometheus is the site's Prometheus, or a zero one.
func (p *Plan) prometheus() (rule, monitor map[string]string) {
	if pr := p.info.Site.Observability.Prometheus; pr != nil {
		return pr.RuleLabels, pr.MonitorLabels
	}
	return nil, nil
}

// podMonitor scrapes one component's pods on its metrics port, and sets
// the dpps_* target labels.
func (p *Plan) podMonitor(t Target) *monitoringv1.PodMonitor {
	_, monitorLabels := p.prometheus()
	comp := p.info.Catalog.Components[t.Component]
	selector := map[string]string{}
	for k, v := range comp.Selector {
		if k == externals.InstanceLabel {
			v = p.Release
		}
		selector[k] = v
	}
	meta := p.objectMeta(t.Workload.GetName(), monitorLabels, map[string]string{externals.ComponentLabel: t.Component})
	if ns := t.Workload.GetNamespace(); ns != "" {
		meta.Namespace = ns
	}
	if chart := t.Workload.GetAnnotations()[provenance.ChartAnnotation]; chart != "" {
		meta.Annotations = map[string]string{provenance.ChartAnnotation: chart}
	}
	ep := monitoringv1.PodMetricsEndpoint{
		Port: &t.PortName,
		Path: t.Metrics.Path,
		RelabelConfigs: []monitoringv1.RelabelConfig{
			static(LabelComponent, t.Component),
			static(LabelSubchart, t.Subchart),
			static(LabelRelease, p.Release),
		},
	}
	if t.Metrics.Scheme == "https" {
		ep.Scheme = "https"
	}
	return &monitoringv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
		ObjectMeta: meta,
		Spec: monitoringv1.PodMonitorSpec{
			Selector:            metav1.LabelSelector{MatchLabels: selector},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{ep},
		},
	}
}

// static is a relabeling that sets a target label to a fixed value.
func static(label, value string) monitoringv1.RelabelConfig {
	v := value
	return monitoringv1.RelabelConfig{Action: "replace", TargetLabel: label, Replacement: &v}
}

// configMap lists the scraped components and the alerts, for the site's
// helm test; and the endpoints no monitor scrapes, for its admin.
func (p *Plan) configMap(targets, alerts []string) *corev1.ConfigMap {
	data := map[string]string{TargetsKey: lines(targets), AlertsKey: lines(alerts)}
	if len(p.Unscraped) > 0 {
		data[UnscrapedKey] = lines(p.Unscraped)
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: p.objectMeta(p.Release+"-dpps-observability", nil, nil),
		Data:       data,
	}
}

// toRNode serialises a typed object as YAML, dropping the fields a zero
// value leaves (creationTimestamp: null, status: {}).
func toRNode(obj any) (*yaml.RNode, error) {
	b, err := sigsyaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	n, err := yaml.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	_ = n.PipeE(yaml.Lookup("metadata"), yaml.Clear("creationTimestamp"))
	_ = n.PipeE(yaml.Clear("status"))
	// The operator's types serialise an unset bearerTokenSecret (a
	// struct, not a pointer) as {key: ""}: leave it out.
	if eps, err := n.Pipe(yaml.Lookup("spec", "podMetricsEndpoints")); err == nil && eps != nil {
		_ = eps.VisitElements(func(ep *yaml.RNode) error {
			if s, err := ep.Pipe(yaml.Lookup("bearerTokenSecret", "name")); err == nil && s == nil {
				_ = ep.PipeE(yaml.Clear("bearerTokenSecret"))
			}
			return nil
		})
	}
	if md, err := n.Pipe(yaml.Lookup("metadata")); err == nil && md != nil {
		// Fixed field order: name, namespace, labels, annotations.
		md.YNode().Content = orderFields(md.YNode().Content, []string{"name", "namespace", "labels", "annotations"})
	}
	n.YNode().Content = orderFields(n.YNode().Content, []string{"apiVersion", "kind", "metadata", "spec", "data"})
	return n, nil
}

// orderFields puts the keys of a mapping's content in the given order,
// the others after them in their order.
func orderFields(content []*yaml.Node, order []string) []*yaml.Node {
	out := make([]*yaml.Node, 0, len(content))
	for _, k := range order {
		for i := 0; i+1 < len(content); i += 2 {
			if content[i].Value == k {
				out = append(out, content[i], content[i+1])
			}
		}
	}
	for i := 0; i+1 < len(content); i += 2 {
		if !slices.Contains(order, content[i].Value) {
			out = append(out, content[i], content[i+1])
		}
	}
	return out
}
