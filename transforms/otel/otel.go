// Package otel gives the containers of every component that declares
// traces in the interface catalog the standard OpenTelemetry environment:
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the exporter endpoint
// and protocol the site declares (global.observability.otlp, or this
// transform's config). A site that declares no endpoint gets nothing; a
// container whose env already gives one of those names another value is
// refused, with one line naming it.
package otel

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/provenance"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// The environment variables this transform sets (OpenTelemetry's SDK
// environment variable specification).
const (
	ServiceName        = "OTEL_SERVICE_NAME"
	ResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	Endpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	Protocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
)

// The OTLP protocols (OTEL_EXPORTER_OTLP_PROTOCOL values).
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
)

// DefaultProtocol is the protocol when neither the config nor the site
// names one (global.observability.otlp.protocol's default).
const DefaultProtocol = ProtocolGRPC

// Config configures the otel transform.
type Config struct {
	// Endpoint is the OTLP receiver's URL (http or https, host, port),
	// for charts that render no catalog ConfigMap; it wins over the
	// site's global.observability.otlp.endpoint. Unset and unset there,
	// the transform sets nothing.
	Endpoint string `json:"endpoint,omitempty" jsonschema:"pattern=^https?://"`
	// Protocol is the receiver's protocol; it wins over the site's
	// global.observability.otlp.protocol. Default grpc.
	Protocol string `json:"protocol,omitempty" jsonschema:"enum=grpc,enum=http/protobuf,enum=http/json"`
}

// Filter is the otel transform.
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
	return &Filter{Config: cfg, CatalogPath: catalogPath}
}

// Changed is the number of objects the last run modified.
func (f *Filter) Changed() int { return f.changed }

// exporter returns the endpoint and protocol in force, "" when none is
// declared.
func (f *Filter) exporter(info *release.Info) (endpoint, protocol string, err error) {
	endpoint, protocol = f.Endpoint, f.Protocol
	where := "otel.endpoint (config)"
	if o := info.Site.Observability.OTLP; o != nil {
		if endpoint == "" {
			endpoint, where = o.Endpoint, "global.observability.otlp.endpoint ("+info.Origin+")"
		}
		if protocol == "" {
			protocol = o.Protocol
		}
	}
	if endpoint == "" {
		return "", "", nil
	}
	if protocol == "" {
		protocol = DefaultProtocol
	}
	switch protocol {
	case ProtocolGRPC, ProtocolHTTPProtobuf, ProtocolHTTPJSON:
	default:
		return "", "", fmt.Errorf("unknown OTLP protocol %q (%s); valid: %s, %s, %s", protocol, info.Origin, ProtocolGRPC, ProtocolHTTPProtobuf, ProtocolHTTPJSON)
	}
	if err := checkEndpoint(endpoint); err != nil {
		return "", "", fmt.Errorf("%s: %v", where, err)
	}
	return endpoint, protocol, nil
}

// checkEndpoint accepts an http or https URL with a host and nothing that
// does not belong in OTEL_EXPORTER_OTLP_ENDPOINT. The URL is never
// repeated in the message: it might carry a password.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	switch {
	case err != nil || strings.ContainsAny(endpoint, " \t\r\n,"):
		return fmt.Errorf("the OTLP endpoint is not a URL: write http(s)://host:port")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("the OTLP endpoint's scheme is not http or https: write http(s)://host:port")
	case u.User != nil:
		return fmt.Errorf("the OTLP endpoint carries user information (a credential in a pod's env): remove it and authenticate through the collector")
	case u.Hostname() == "":
		return fmt.Errorf("the OTLP endpoint has no host: write http(s)://host:port")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("the OTLP endpoint has a query or a fragment: write http(s)://host:port")
	}
	return nil
}

// Filter sets the environment in place.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	f.changed = 0
	info, err := release.Find(nodes, f.CatalogPath)
	if err != nil || info == nil {
		return nodes, err
	}
	endpoint, protocol, err := f.exporter(info)
	if err != nil || endpoint == "" {
		return nodes, err
	}
	r := externals.Resolve(info)
	for _, n := range nodes {
		comp, ok := r.Component(n)
		if !ok {
			continue
		}
		c := info.Catalog.Components[comp]
		if c.Traces == nil {
			continue
		}
		if len(c.Traces.Protocols) > 0 && !slices.Contains(c.Traces.Protocols, protocol) {
			return nil, fmt.Errorf("%s: component %s exports traces over %s only, the site's OTLP protocol is %s: set global.observability.otlp.protocol (otel.protocol) to one of those, with an endpoint that speaks it", manifest.Describe(n), comp, strings.Join(c.Traces.Protocols, ", "), protocol)
		}
		want := Env(comp, c, releaseName(info.Catalog, n), chartOf(n), endpoint, protocol)
		changed, err := setEnv(n, comp, want)
		if err != nil {
			return nil, err
		}
		if changed {
			f.changed++
		}
	}
	return nodes, nil
}

// Var is one environment variable.
type Var struct{ Name, Value string }

// Env is the environment of a component's containers, in this order:
// service name, resource attributes, endpoint, protocol.
func Env(comp string, c catalog.Component, releaseName, chart, endpoint, protocol string) []Var {
	attrs := []string{
		"service.namespace=" + attrValue(c.Subchart),
		"dpps.component=" + attrValue(comp),
		"dpps.subchart=" + attrValue(c.Subchart),
	}
	if releaseName != "" {
		attrs = append(attrs, "dpps.release="+attrValue(releaseName))
	}
	if chart != "" {
		attrs = append(attrs, "dpps.chart="+attrValue(chart))
	}
	return []Var{
		{ServiceName, comp},
		{ResourceAttributes, strings.Join(attrs, ",")},
		{Endpoint, endpoint},
		{Protocol, protocol},
	}
}

// attrValue percent-encodes what OTEL_RESOURCE_ATTRIBUTES (W3C Baggage
// syntax) does not take literally.
func attrValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// releaseName is the catalog's release, or the object's instance label
// when the catalog is not rendered for a release.
func releaseName(c *catalog.Catalog, n *yaml.RNode) string {
	if !strings.Contains(c.Release, "{{") {
		return c.Release
	}
	return n.GetLabels()[externals.InstanceLabel]
}

// chartOf is the object's chart, from the provenance annotation, else
// Helm's chart label.
func chartOf(n *yaml.RNode) string {
	if c := n.GetAnnotations()[provenance.ChartAnnotation]; c != "" {
		return c
	}
	return n.GetLabels()["helm.sh/chart"]
}

// setEnv gives every container (not the init containers) of n's pod
// template the variables, and refuses a variable set to something else.
func setEnv(n *yaml.RNode, comp string, want []Var) (bool, error) {
	spec := manifest.PodSpec(n.YNode())
	list := manifest.Field(spec, "containers")
	if list == nil || list.Kind != yaml.SequenceNode {
		return false, nil
	}
	changed := false
	for i, c := range list.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		field := manifest.PodSpecPath(n.YNode()) + ".containers" + manifest.ElementName(c, i) + ".env"
		env := manifest.Field(c, "env")
		if env != nil && env.Kind != yaml.SequenceNode && env.Tag != "!!null" {
			return false, fmt.Errorf("%s: %s is not a list", manifest.Describe(n), field)
		}
		if env == nil || env.Kind != yaml.SequenceNode {
			env = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			setField(c, "env", env)
		}
		for _, v := range want {
			existing := findEnv(env, v.Name)
			if existing == nil {
				e := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				manifest.SetString(e, "name", v.Name)
				manifest.SetString(e, "value", v.Value)
				env.Content = append(env.Content, e)
				changed = true
				continue
			}
			val := manifest.Field(existing, "value")
			if manifest.Field(existing, "valueFrom") != nil || val == nil || val.Kind != yaml.ScalarNode || val.Value != v.Value {
				return false, fmt.Errorf("%s: %s[%s] is already set, to another value than dpps-render sets for component %s, which declares traces: remove it from the chart's values (dpps-render sets it from the catalog and global.observability.otlp), or remove traces from the component in the catalog", manifest.Describe(n), field, v.Name, comp)
			}
		}
	}
	return changed, nil
}

func findEnv(env *yaml.Node, name string) *yaml.Node {
	for _, e := range env.Content {
		if e.Kind == yaml.AliasNode {
			e = e.Alias
		}
		if n := manifest.Field(e, "name"); n != nil && n.Value == name {
			return e
		}
	}
	return nil
}

func setField(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, manifest.StringNode(key), v)
}
