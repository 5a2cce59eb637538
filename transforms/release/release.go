// Package release finds what dpps-render knows about a release beyond its
// manifests: the interface catalog and the site's settings. A Helm
// post-renderer never sees the values, so the DPPS chart renders both into a
// ConfigMap labelled dpps.ctao.org/catalog; for charts that do not, a site
// admin passes a catalog file.
package release

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/internal/boundedfile"
	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// CatalogLabel marks the ConfigMap that carries the catalog.
const CatalogLabel = "dpps.ctao.org/catalog"

// The keys of the catalog ConfigMap.
const (
	CatalogKey = "catalog.json"
	SiteKey    = "site.json"
)

// Secret backends (global.secrets.backend).
const (
	BackendChart           = "chart"
	BackendExternalSecrets = "external-secrets"
	BackendExisting        = "existing"
)

// Info is the catalog and the site's settings of one release.
type Info struct {
	Catalog *catalog.Catalog
	Site    Site
	// Origin says where they came from, for messages.
	Origin string
}

// Site is what the site set in global.externals, global.secrets,
// global.observability, global.inbound and global.podSecurity.
type Site struct {
	Externals     map[string]any `json:"externals"`
	Secrets       Secrets        `json:"secrets"`
	Observability Observability  `json:"observability"`
	// Inbound is global.inbound: how and from where each inbound interface
	// is reached, by name.
	Inbound map[string]InboundSource `json:"inbound,omitempty"`
	// PodSecurity is global.podSecurity.
	PodSecurity PodSecurity `json:"podSecurity,omitempty"`
	// Failover is global.failover (failover.go).
	Failover Failover `json:"failover,omitempty"`
}

// PodSecurity is global.podSecurity.
type PodSecurity struct {
	// Level is the Pod Security Standards level the release's namespace
	// enforces; "" when the site set none (the chart's default, baseline,
	// applies).
	Level string `json:"level,omitempty"`
}

// InboundLabel marks the Service and Ingress the chart renders for an
// inbound interface; its value is the interface's name.
const InboundLabel = "dpps.ctao.org/inbound"

// InboundSource is global.inbound.<name>.
type InboundSource struct {
	// Type is LoadBalancer or Ingress.
	Type string `json:"type"`
	// LoadBalancerSourceRanges are the client address blocks (LoadBalancer).
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
	// Ingress is the Ingress and its controller (Ingress).
	Ingress *IngressExposure `json:"ingress,omitempty"`
}

// IngressExposure is an Ingress through the site's ingress controller.
type IngressExposure struct {
	Host       string  `json:"host"`
	ClassName  string  `json:"className,omitempty"`
	TLSSecret  string  `json:"tlsSecret,omitempty"`
	Controller PodPeer `json:"controller"`
}

// PodPeer selects pods of another namespace.
type PodPeer struct {
	Namespace string            `json:"namespace"`
	PodLabels map[string]string `json:"podLabels"`
}

// Sources describes from where the interface may be reached, for
// messages and annotations: the address blocks, or the controller's
// namespace and labels; "" when the site declared none.
func (s InboundSource) Sources() string {
	switch s.Type {
	case "LoadBalancer":
		return strings.Join(s.LoadBalancerSourceRanges, ",")
	case "Ingress":
		if s.Ingress == nil || s.Ingress.Controller.Namespace == "" || len(s.Ingress.Controller.PodLabels) == 0 {
			return ""
		}
		var l []string
		for _, k := range slices.Sorted(maps.Keys(s.Ingress.Controller.PodLabels)) {
			l = append(l, k+"="+s.Ingress.Controller.PodLabels[k])
		}
		return "namespace " + s.Ingress.Controller.Namespace + ", pods " + strings.Join(l, ",")
	}
	return ""
}

// Observability is global.observability.
type Observability struct {
	// Metrics is how metrics are scraped: annotations, podmonitor or none.
	Metrics string `json:"metrics,omitempty"`
	// Prometheus is where the site's Prometheus runs, nil when unset.
	Prometheus *Prometheus `json:"prometheus,omitempty"`
	// Alerts switches the PrometheusRule on or off; nil: on exactly when
	// Metrics is podmonitor.
	Alerts *bool `json:"alerts,omitempty"`
	// OTLP is where components that declare traces export them, nil when
	// unset.
	OTLP *OTLP `json:"otlp,omitempty"`
	// Grafana is global.observability.grafana, nil when unset.
	Grafana *Grafana `json:"grafana,omitempty"`
}

// OTLP is global.observability.otlp.
type OTLP struct {
	Endpoint string `json:"endpoint"`
	Protocol string `json:"protocol,omitempty"`
}

// Grafana is global.observability.grafana: the dashboards and the labels
// and annotations of their ConfigMaps.
type Grafana struct {
	Dashboards  *bool             `json:"dashboards,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Prometheus selects the site's Prometheus pods: the only peer admitted to
// metrics ports.
type Prometheus struct {
	Namespace string            `json:"namespace"`
	PodLabels map[string]string `json:"podLabels"`
	// RuleLabels are the labels its Prometheus selects PrometheusRules on.
	RuleLabels map[string]string `json:"ruleLabels,omitempty"`
	// MonitorLabels are the labels it selects PodMonitors on.
	MonitorLabels map[string]string `json:"monitorLabels,omitempty"`
}

// Secrets says who creates the credential Secrets.
type Secrets struct {
	Backend     string       `json:"backend"`
	SecretStore *SecretStore `json:"secretStore,omitempty"`
}

// SecretStore is the external-secrets store the ExternalSecrets point at.
type SecretStore struct {
	Name string `json:"name"`
	// Kind is ClusterSecretStore when left out (catalog.DefaultSecretStoreKind),
	// as the chart's values schema says.
	Kind string `json:"kind"`
}

// Backend is the secrets backend, "chart" when the site set none.
func (s Site) Backend() string {
	if s.Secrets.Backend == "" {
		return BackendChart
	}
	return s.Secrets.Backend
}

// Find returns the release information carried by the stream, or by the
// file at path when path is set (a file wins: it is how a site describes a
// chart that renders no catalog). It returns nil, nil when there is none.
func Find(nodes []*yaml.RNode, path string) (*Info, error) {
	if path != "" {
		return FromFile(path)
	}
	var found *yaml.RNode
	for _, n := range nodes {
		if manifest.Kind(n) != "ConfigMap" || n.GetLabels()[CatalogLabel] != "true" {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("two catalog ConfigMaps (label %s=true): %s and %s", CatalogLabel, found.GetName(), n.GetName())
		}
		found = n
	}
	if found == nil {
		return nil, nil
	}
	return fromConfigMap(found)
}

// lastRead remembers the last catalog ConfigMap read: every transform of a
// run asks for the same one, and validating and decoding it is most of
// their cost on a small release. Info is never modified by its users.
var lastRead struct {
	sync.Mutex
	where, catalog, site string
	info                 *Info
}

func fromConfigMap(cm *yaml.RNode) (*Info, error) {
	where := fmt.Sprintf("ConfigMap %s (%s)", cm.GetName(), manifest.Source(cm))
	data := manifest.Field(cm.YNode(), "data")
	raw := manifest.Field(data, CatalogKey)
	if raw == nil {
		return nil, fmt.Errorf("%s: no %s", where, CatalogKey)
	}
	siteText := ""
	if site := manifest.Field(data, SiteKey); site != nil {
		siteText = site.Value
	}
	lastRead.Lock()
	defer lastRead.Unlock()
	if lastRead.info != nil && lastRead.where == where && lastRead.catalog == raw.Value && lastRead.site == siteText {
		return lastRead.info, nil
	}
	info, err := decodeConfigMap(where, raw.Value, siteText)
	if err != nil {
		return nil, err
	}
	lastRead.where, lastRead.catalog, lastRead.site, lastRead.info = where, raw.Value, siteText, info
	return info, nil
}

func decodeConfigMap(where, catalogJSON, siteJSON string) (*Info, error) {
	c, err := catalog.Load([]byte(catalogJSON))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	info := &Info{Catalog: c, Origin: where}
	if siteJSON != "" {
		if err := json.Unmarshal([]byte(siteJSON), &info.Site); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, SiteKey, err)
		}
	}
	return info, nil
}

// FromFile reads a catalog document (JSON or YAML) written by a site admin.
func FromFile(path string) (*Info, error) {
	data, err := boundedfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("--catalog: %w", err)
	}
	js, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := catalog.Load(js)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info := &Info{Catalog: c, Origin: path}
	// A site catalog says who creates the credential Secrets, as the
	// chart's global.secrets does.
	if s := c.Secrets; s != nil {
		info.Site.Secrets.Backend = s.Backend
		if s.SecretStore != nil {
			info.Site.Secrets.SecretStore = &SecretStore{Name: s.SecretStore.Name, Kind: s.SecretStore.Kind}
		}
	}
	return info, nil
}
