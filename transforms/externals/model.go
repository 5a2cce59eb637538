package externals

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Status says what stands behind an external interface in one render.
type Status string

// The statuses of an external interface.
const (
	// StatusConfigured: the site set global.externals.<name>.
	StatusConfigured Status = "configured"
	// StatusFixture: the site did not set it and its test fixture stands in.
	StatusFixture Status = "fixture"
	// StatusUnset: the site did not set it and it has no fixture, so
	// nothing uses it (cvmfs: nothing mounted; registry: each image's own).
	StatusUnset Status = "unset"
)

// Interface is one external interface of a release, resolved against what
// the site set.
type Interface struct {
	Name string
	catalog.External
	// Site is the site's value of global.externals.<name>, nil when unset.
	Site any
	// Status says what stands behind the interface.
	Status Status
	// Endpoint is the configured endpoint ("scheme://host:port", several
	// comma-separated), "fixture:<component>[,<component>...]" when the
	// fixture stands in, or "" when unset.
	Endpoint string
}

// Annotation is the value of the annotation dpps.ctao.org/external.<name>:
// what an object's workload connects to (outbound) or exposes (inbound).
type Annotation struct {
	Direction string `json:"direction"`
	Endpoint  string `json:"endpoint"`
	Protocol  string `json:"protocol"`
	// Port is the interface's default port; the endpoint names the port
	// the site set.
	Port int    `json:"port"`
	Auth string `json:"auth"`
}

// InboundAnnotation is the value of the annotation
// dpps.ctao.org/inbound.<name> on the Service and Ingress the chart renders
// for an inbound interface: what they expose and from where.
type InboundAnnotation struct {
	Component string `json:"component"`
	// Exposure is LoadBalancer or Ingress.
	Exposure string `json:"exposure"`
	// Ports are "PROTO/port (name)".
	Ports []string `json:"ports"`
	Auth  []string `json:"auth"`
	// Sources are the client address blocks or the ingress controller's
	// pods; "none" when the site declared none (nothing may connect).
	Sources string `json:"sources"`
}

// Inbound returns the inbound interface an object exposes (the chart
// labels its Service and Ingress with release.InboundLabel) and the
// annotation it should carry.
func (r *Release) Inbound(obj *yaml.RNode) (name, annotation string, ok bool) {
	name = obj.GetLabels()[release.InboundLabel]
	in, known := r.Info.Catalog.Inbound[name]
	if name == "" || !known {
		return "", "", false
	}
	src := r.Info.Site.Inbound[name]
	a := InboundAnnotation{Component: in.Component, Exposure: src.Type, Auth: in.Auth, Sources: src.Sources()}
	if a.Sources == "" {
		a.Sources = "none"
	}
	for _, p := range in.Ports {
		a.Ports = append(a.Ports, p.Protocol+"/"+strconv.Itoa(p.Port)+" ("+p.Name+")")
	}
	b, err := json.Marshal(a)
	if err != nil {
		panic(err) // strings only
	}
	return name, string(b), true
}

// Annotation is the annotation value of an object that uses the interface.
func (i Interface) Annotation() string {
	b, err := json.Marshal(Annotation{Direction: i.Direction, Endpoint: i.Endpoint, Protocol: i.Protocol, Port: i.Port, Auth: i.Auth})
	if err != nil {
		panic(err) // strings and ints only
	}
	return string(b)
}

// InUse reports whether anything stands behind the interface.
func (i Interface) InUse() bool { return i.Status != StatusUnset }

// Release is a release's catalog, site settings and external interfaces.
type Release struct {
	Info *release.Info
	// Interfaces are the external interfaces, sorted by name.
	Interfaces []Interface
	// components are the catalog's component names, sorted: Component
	// looks up every object of the stream in them.
	components []string
}

// Resolve resolves every external interface of the catalog against the
// site's settings.
func Resolve(info *release.Info) *Release {
	r := &Release{Info: info, components: slices.Sorted(maps.Keys(info.Catalog.Components))}
	for _, name := range slices.Sorted(maps.Keys(info.Catalog.Externals)) {
		e := info.Catalog.Externals[name]
		i := Interface{Name: name, External: e, Site: info.Site.Externals[name]}
		switch {
		case i.Site != nil:
			i.Status = StatusConfigured
			i.Endpoint = strings.Join(Endpoints(e, i.Site), ",")
		case e.Fixture != nil:
			i.Status = StatusFixture
			i.Endpoint = "fixture:" + strings.Join(e.Fixture.Components, ",")
		default:
			i.Status = StatusUnset
		}
		r.Interfaces = append(r.Interfaces, i)
	}
	return r
}

// Interface returns the external interface name.
func (r *Release) Interface(name string) (Interface, bool) {
	for _, i := range r.Interfaces {
		if i.Name == name {
			return i, true
		}
	}
	return Interface{}, false
}

// Component returns the catalog component an object is the workload of:
// the kind is the component's workload kind and the name its name, the
// release name taken from the object's instance label when the catalog is
// not rendered for a release. A Job may also be named after a version
// (<name>-<version>, a new Job per upgrade): it is the component's when its
// name starts with the component's name and a dash and its component label
// names the component.
func (r *Release) Component(obj *yaml.RNode) (string, bool) {
	kind, name := obj.GetKind(), obj.GetName()
	labels := obj.GetLabels()
	instance := labels[InstanceLabel]
	for _, cn := range r.components {
		c := r.Info.Catalog.Components[cn]
		if c.Workload != kind {
			continue
		}
		want := strings.ReplaceAll(c.Name, catalog.ReleaseName, instance)
		if want == name {
			return cn, true
		}
		if kind == "Job" && labels[ComponentLabel] == cn && strings.HasPrefix(name, want+"-") {
			return cn, true
		}
	}
	return "", false
}

// Exposes reports whether an object exposes the release outside the
// cluster: an Ingress, or a Service of type LoadBalancer or NodePort.
func Exposes(obj *yaml.RNode) bool {
	switch obj.GetKind() {
	case "Ingress":
		return true
	case "Service":
		t := manifest.Path(obj.YNode(), "spec", "type")
		return t != nil && (t.Value == "LoadBalancer" || t.Value == "NodePort")
	}
	return false
}

// Uses returns the external interfaces in use that an object consumes (the
// workload of a consumer component) or exposes (an Ingress or a
// LoadBalancer/NodePort Service of a component that an inbound interface
// names), sorted by name.
func (r *Release) Uses(obj *yaml.RNode) []Interface {
	var comp string
	inbound := false
	if cn, ok := r.Component(obj); ok {
		comp = cn
	} else if Exposes(obj) {
		comp, inbound = obj.GetLabels()[ComponentLabel], true
	}
	if comp == "" {
		return nil
	}
	var out []Interface
	for _, i := range r.Interfaces {
		if !i.InUse() || (inbound && i.Direction != "inbound") {
			continue
		}
		for _, c := range i.Consumers {
			if c == comp {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// Endpoints describes the site's value of an external interface as
// endpoints, in a fixed order: each URL field (url, issuer, proxy, ...),
// and each object with a host as
// "[scheme://]host[:port][path]"; lists of objects are followed. A value
// with neither is described by its lists of strings (CVMFS repositories).
func Endpoints(e catalog.External, v any) []string {
	var out []string
	var collect func(v any, top bool)
	collect = func(v any, top bool) {
		switch x := v.(type) {
		case map[string]any:
			if host, ok := x["host"].(string); ok && host != "" {
				out = append(out, hostEndpoint(e, x, host, top))
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				switch y := x[k].(type) {
				case string:
					if endpointKey(k) && y != "" {
						out = append(out, y)
					}
				case []any:
					for _, el := range y {
						if _, ok := el.(map[string]any); ok {
							collect(el, false)
						}
					}
				}
			}
		case string:
			out = append(out, x)
		}
	}
	collect(v, true)
	if len(out) == 0 {
		if m, ok := v.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if l, ok := m[k].([]any); ok {
					for _, s := range l {
						if s, ok := s.(string); ok {
							out = append(out, s)
						}
					}
				}
			}
		}
	}
	return out
}

// endpointKey reports whether a field of an external's value holds an
// endpoint URL (an audience or a pull Secret's name does not).
func endpointKey(k string) bool {
	switch strings.ToLower(k) {
	case "url", "uri", "issuer", "proxy", "endpoint":
		return true
	}
	return strings.HasSuffix(k, "URL") || strings.HasSuffix(k, "Url")
}

// hostEndpoint writes an object with a host field. At the top level (a
// database) the scheme is the interface's protocol and a missing port the
// interface's default port, as the chart fills them in.
func hostEndpoint(e catalog.External, x map[string]any, host string, top bool) string {
	var b strings.Builder
	scheme, _ := x["scheme"].(string)
	if scheme == "" && top && hasField(e, "port") {
		scheme = e.Protocol
	}
	if scheme != "" {
		b.WriteString(scheme + "://")
	}
	b.WriteString(host)
	if p, ok := number(x["port"]); ok {
		b.WriteString(":" + strconv.Itoa(p))
	} else if top && hasField(e, "port") {
		b.WriteString(":" + strconv.Itoa(e.Port))
	}
	if p, _ := x["prefix"].(string); p != "" {
		if !strings.HasPrefix(p, "/") {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	if db, _ := x["database"].(string); db != "" {
		b.WriteString("/" + db)
	}
	if t, _ := x["type"].(string); t != "" {
		b.WriteString(" (" + t + ")")
	}
	return b.String()
}

func hasField(e catalog.External, name string) bool {
	for _, f := range e.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// number returns a JSON number that is an integer.
func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case int:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// describe names an object for messages.
func describe(obj *yaml.RNode) string {
	s := fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
	if src := manifest.Source(obj); src != "" {
		s += " (" + src + ")"
	}
	return s
}
