// Package netpol generates the NetworkPolicies of a DPPS release from its
// interface catalog and the workloads the stream really renders: default
// deny for every pod of the release, DNS egress, ingress and egress for
// every internal interface, egress to the site's external endpoints and
// ingress from the configured sources of inbound interfaces. Explain (in
// explain.go) computes the connectivity any set of policies allows.
package netpol

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Labels and annotations of generated objects.
const (
	ManagedByLabel  = "app.kubernetes.io/managed-by"
	ManagedBy       = "dpps-render"
	GeneratedLabel  = "dpps.ctao.org/generated"
	Generated       = "netpol"
	RuleAnnotation  = "dpps.ctao.org/rule" // what the policy implements: default-deny, dns, interface/<name>, external/<name>, replication/<db>, inbound/<kind>/<name>
	InstanceLabel   = "app.kubernetes.io/instance"
	ComponentLabel  = "app.kubernetes.io/component"
	metadataNameKey = "kubernetes.io/metadata.name"
)

// Config configures the netpol transform.
type Config struct {
	// DNS is where the cluster DNS runs; every pod of the release may reach
	// it on UDP and TCP 53.
	DNS DNSConfig `json:"dns,omitempty"`
	// Inbound lists the sources allowed to reach workloads exposed by
	// LoadBalancer or NodePort Services and by Ingresses of a chart that
	// declares no inbound interface (the DPPS chart's come from
	// global.inbound). Unset: nothing outside the release reaches them.
	Inbound InboundConfig `json:"inbound,omitempty"`
	// KubernetesAPI is where the API server is, for the components the
	// catalog says talk to it (components.<name>.kubernetesAPI). Unset: any
	// address on ports 443 and 6443.
	KubernetesAPI KubernetesAPIConfig `json:"kubernetesAPI,omitempty"`
}

// KubernetesAPIConfig locates the Kubernetes API server: the addresses
// and ports its endpoints listen on (what a NetworkPolicy sees, not the
// kubernetes Service's cluster IP).
type KubernetesAPIConfig struct {
	// CIDRs of the API server's endpoints.
	CIDRs []string `json:"cidrs,omitempty"`
	// Ports of the API server's endpoints.
	Ports []int `json:"ports,omitempty"`
}

// DefaultKubernetesAPIPorts are the API server's usual ports: 443 (most
// managed clusters) and 6443 (kubeadm, kind, k3s).
var DefaultKubernetesAPIPorts = []int{443, 6443}

// DNSConfig selects the cluster DNS pods.
type DNSConfig struct {
	// Namespace of the DNS pods.
	Namespace string `json:"namespace,omitempty" jsonschema:"default=kube-system,minLength=1"`
	// Labels of the DNS pods.
	PodSelector map[string]string `json:"podSelector,omitempty"`
}

// InboundConfig lists who may connect from outside the release.
type InboundConfig struct {
	// CIDRs that may reach LoadBalancer and NodePort Services of the release.
	CIDRs []string `json:"cidrs,omitempty"`
	// Namespace of the ingress controller, the only client of workloads
	// behind an Ingress.
	IngressControllerNamespace string `json:"ingressControllerNamespace,omitempty"`
	// Labels of the ingress controller's pods.
	IngressControllerPodSelector map[string]string `json:"ingressControllerPodSelector,omitempty"`
}

// Defaults of DNSConfig.
const DefaultDNSNamespace = "kube-system"

// DefaultDNSPodSelector selects CoreDNS and kube-dns pods.
var DefaultDNSPodSelector = map[string]string{"k8s-app": "kube-dns"}

// Filter is the netpol transform.
type Filter struct {
	Config
	// CatalogPath is a catalog file that wins over the stream's catalog.
	CatalogPath string
	changed     int
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform for cfg; catalogPath may be empty.
func New(cfg Config, catalogPath string) *Filter {
	if cfg.DNS.Namespace == "" {
		cfg.DNS.Namespace = DefaultDNSNamespace
	}
	if len(cfg.DNS.PodSelector) == 0 {
		cfg.DNS.PodSelector = DefaultDNSPodSelector
	}
	return &Filter{Config: cfg, CatalogPath: catalogPath}
}

// Changed is the number of input objects the last run modified: always 0,
// the transform only replaces the objects it generated itself.
func (f *Filter) Changed() int { return f.changed }

// Filter drops the policies an earlier run generated, and appends the
// policies of the release, after every input object.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	f.changed = 0
	info, err := release.Find(nodes, f.CatalogPath)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nodes, nil
	}
	kept := nodes[:0:0]
	for _, n := range nodes {
		if !IsGenerated(n) {
			kept = append(kept, n)
		}
	}
	gen, err := Generate(f.Config, info, kept)
	if err != nil {
		return nil, err
	}
	return append(kept, gen...), nil
}

// IsGenerated reports whether this transform generated n.
func IsGenerated(n *yaml.RNode) bool {
	labels := manifest.Field(manifest.Field(n.YNode(), "metadata"), "labels")
	v := manifest.Field(labels, GeneratedLabel)
	return v != nil && v.Value == Generated
}

// Workload is a pod template of the stream.
type Workload struct {
	Kind, Name, Namespace string
	Labels                map[string]string
	Hook                  bool
	// Ports are the container ports by name; Numbers lists every declared
	// container port.
	Ports   map[string]ContainerPort
	Numbers []ContainerPort
}

// ContainerPort is one declared container port.
type ContainerPort struct {
	Name     string
	Port     int
	Protocol string
}

// Workloads lists the pod templates of the stream, in order.
func Workloads(nodes []*yaml.RNode) []Workload {
	var out []Workload
	for _, n := range nodes {
		obj := n.YNode()
		spec := manifest.PodSpec(obj)
		if spec == nil || spec.Kind != yaml.MappingNode {
			continue
		}
		meta := manifest.Field(obj, "metadata")
		w := Workload{Kind: manifest.Kind(n), Ports: map[string]ContainerPort{}}
		if v := manifest.Field(meta, "name"); v != nil {
			w.Name = v.Value
		}
		if v := manifest.Field(meta, "namespace"); v != nil {
			w.Namespace = v.Value
		}
		w.Hook = manifest.Field(manifest.Field(meta, "annotations"), manifest.HookAnnotation) != nil
		var tmeta *yaml.Node
		switch w.Kind {
		case "Pod":
			tmeta = meta
		case "PodTemplate":
			tmeta = manifest.Path(obj, "template", "metadata")
		case "CronJob":
			tmeta = manifest.Path(obj, "spec", "jobTemplate", "spec", "template", "metadata")
		default:
			tmeta = manifest.Path(obj, "spec", "template", "metadata")
		}
		w.Labels = stringMap(manifest.Field(tmeta, "labels"))
		for _, c := range manifest.Containers(spec) {
			ports := manifest.Field(c, "ports")
			if ports == nil || ports.Kind != yaml.SequenceNode {
				continue
			}
			for _, p := range ports.Content {
				cp := ContainerPort{Protocol: "TCP"}
				if v := manifest.Field(p, "name"); v != nil {
					cp.Name = v.Value
				}
				if v := manifest.Field(p, "containerPort"); v != nil {
					cp.Port, _ = strconv.Atoi(v.Value)
				}
				if v := manifest.Field(p, "protocol"); v != nil && v.Value != "" {
					cp.Protocol = v.Value
				}
				w.Numbers = append(w.Numbers, cp)
				if cp.Name != "" {
					w.Ports[cp.Name] = cp
				}
			}
		}
		out = append(out, w)
	}
	return out
}

func stringMap(m *yaml.Node) map[string]string {
	out := map[string]string{}
	if m == nil || m.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		out[m.Content[i].Value] = m.Content[i+1].Value
	}
	return out
}

// matches reports whether labels carry every key/value of sel.
func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// The shapes of the generated objects, marshalled with sorted keys.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   meta   `json:"metadata"`
	Spec       any    `json:"spec"`
}

type meta struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type policySpec struct {
	PodSelector Selector      `json:"podSelector"`
	PolicyTypes []string      `json:"policyTypes"`
	Ingress     []IngressRule `json:"ingress,omitempty"`
	Egress      []EgressRule  `json:"egress,omitempty"`
}

// Selector is a label selector.
type Selector struct {
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []Requirement     `json:"matchExpressions,omitempty"`
}

// Requirement is one selector expression.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Peer is a NetworkPolicy peer.
type Peer struct {
	PodSelector       *Selector `json:"podSelector,omitempty"`
	NamespaceSelector *Selector `json:"namespaceSelector,omitempty"`
	IPBlock           *IPBlock  `json:"ipBlock,omitempty"`
}

// IPBlock is a CIDR with exceptions.
type IPBlock struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except,omitempty"`
}

// Port is a NetworkPolicy port: a number or a container port name.
type Port struct {
	Protocol string `json:"protocol,omitempty"`
	Port     any    `json:"port,omitempty"`
	EndPort  int    `json:"endPort,omitempty"`
}

// IngressRule allows traffic from peers to ports.
type IngressRule struct {
	From  []Peer `json:"from,omitempty"`
	Ports []Port `json:"ports,omitempty"`
}

// EgressRule allows traffic to peers on ports.
type EgressRule struct {
	To    []Peer `json:"to,omitempty"`
	Ports []Port `json:"ports,omitempty"`
}

// generator holds one run's state.
type generator struct {
	cfg       Config
	info      *release.Info
	rel       string
	workloads []Workload // not hooks
	present   map[string][]Workload
	// related are the components a generated rule admits traffic of, to
	// or from, besides DNS.
	related map[string]bool
	out     []object
}

// Generate returns the policies of the release for the stream's workloads.
func Generate(cfg Config, info *release.Info, nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if cfg.DNS.Namespace == "" || len(cfg.DNS.PodSelector) == 0 {
		cfg = New(cfg, "").Config
	}
	c := info.Catalog
	if c.Release == "" || strings.Contains(c.Release, "{{") {
		return nil, fmt.Errorf("%s: the catalog names no release (release %q): render it for the release first", info.Origin, c.Release)
	}
	g := &generator{cfg: cfg, info: info, rel: c.Release, present: map[string][]Workload{}, related: map[string]bool{}}
	for _, w := range Workloads(nodes) {
		if !w.Hook {
			g.workloads = append(g.workloads, w)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		for _, w := range g.workloads {
			if matches(c.Components[name].Selector, w.Labels) {
				g.present[name] = append(g.present[name], w)
			}
		}
	}
	if err := g.unlabelled(); err != nil {
		return nil, err
	}
	g.baseline()
	if err := g.interfaces(); err != nil {
		return nil, err
	}
	if err := g.externals(); err != nil {
		return nil, err
	}
	if err := g.replication(); err != nil {
		return nil, err
	}
	if err := g.declaredInbound(); err != nil {
		return nil, err
	}
	g.inbound(nodes)
	if err := g.metrics(); err != nil {
		return nil, err
	}
	if err := g.kubernetesAPI(); err != nil {
		return nil, err
	}
	if err := g.isolated(); err != nil {
		return nil, err
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	out := make([]*yaml.RNode, 0, len(g.out))
	for _, o := range g.out {
		n, err := toNode(o)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (g *generator) name(what string) string { return g.rel + "-dpps-" + what }

func (g *generator) add(kind, name, rule string, spec any) {
	g.out = append(g.out, object{
		APIVersion: "networking.k8s.io/v1", Kind: kind,
		Metadata: meta{
			Name: name,
			Labels: map[string]string{
				ManagedByLabel: ManagedBy, GeneratedLabel: Generated, InstanceLabel: g.rel,
			},
			Annotations: map[string]string{RuleAnnotation: rule},
		},
		Spec: spec,
	})
}

func (g *generator) releaseSelector() Selector {
	return Selector{MatchLabels: map[string]string{InstanceLabel: g.rel}}
}

// ownsReleaseLabel reports whether every component's selector carries the
// release's instance label, as the DPPS chart's naming rule has it. Charts
// nobody here wrote often do not (Rucio's pods have no instance label).
func (g *generator) ownsReleaseLabel() bool {
	for _, comp := range g.info.Catalog.Components {
		if comp.Selector[InstanceLabel] != g.rel {
			return false
		}
	}
	return true
}

// baseline: default deny and DNS for every pod of the release, selected
// by the instance label when every component carries it; else for the
// pods of each deployed component, by the catalog's own selector.
func (g *generator) baseline() {
	dns := []Port{{Protocol: "UDP", Port: 53}, {Protocol: "TCP", Port: 53}}
	both := func(suffix string, sel Selector) {
		g.add("NetworkPolicy", g.name("default-deny"+suffix), "default-deny", policySpec{
			PodSelector: sel,
			PolicyTypes: []string{"Ingress", "Egress"},
		})
		g.add("NetworkPolicy", g.name("dns"+suffix), "dns", policySpec{
			PodSelector: sel,
			PolicyTypes: []string{"Egress"},
			Egress: []EgressRule{{
				To: []Peer{{
					NamespaceSelector: &Selector{MatchLabels: map[string]string{metadataNameKey: g.cfg.DNS.Namespace}},
					PodSelector:       &Selector{MatchLabels: g.cfg.DNS.PodSelector},
				}},
				Ports: dns,
			}},
		})
	}
	if g.ownsReleaseLabel() {
		both("", g.releaseSelector())
		return
	}
	c := g.info.Catalog
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		if len(g.present[name]) > 0 {
			both("-"+name, Selector{MatchLabels: c.Components[name].Selector})
		}
	}
}

// elsewhere reports whether a component absent from the stream may run
// in another release: its selector does not name this release (a foreign
// chart's database, installed by its own chart). An absent component of
// the release itself is switched off.
func (g *generator) elsewhere(name string) bool {
	return len(g.present[name]) == 0 && g.info.Catalog.Components[name].Selector[InstanceLabel] != g.rel
}

// componentsSelector selects the pods of the given present components.
func (g *generator) componentsSelector(names []string) (Selector, error) {
	c := g.info.Catalog
	if len(names) == 1 {
		return Selector{MatchLabels: c.Components[names[0]].Selector}, nil
	}
	// Keys with one value across the components go to matchLabels; one
	// key may vary (the component label), as the naming rule has it.
	common := map[string]string{}
	varying := map[string][]string{}
	first := c.Components[names[0]].Selector
	for k, v := range first {
		same := true
		for _, n := range names[1:] {
			if w, ok := c.Components[n].Selector[k]; !ok || w != v {
				same = false
			}
		}
		if same {
			common[k] = v
		}
	}
	for _, n := range names {
		sel := c.Components[n].Selector
		if len(sel) != len(first) {
			return Selector{}, fmt.Errorf("components %s and %s have selectors with different keys", names[0], n)
		}
		for k, v := range sel {
			if _, ok := common[k]; !ok {
				varying[k] = append(varying[k], v)
			}
		}
	}
	if len(varying) > 1 {
		return Selector{}, fmt.Errorf("the selectors of components %s differ in more than one label", strings.Join(names, ", "))
	}
	s := Selector{MatchLabels: common}
	for k, vs := range varying {
		sort.Strings(vs)
		s.MatchExpressions = append(s.MatchExpressions, Requirement{Key: k, Operator: "In", Values: vs})
	}
	return s, nil
}

func (g *generator) presentOnly(names []string) []string {
	var out []string
	for _, n := range names {
		if len(g.present[n]) > 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// interfacePorts are the ports of an interface as the provider's pods
// declare them: by name when every pod declares the name, else by number.
func (g *generator) interfacePorts(i catalog.Interface) []Port {
	var ports []Port
	for _, p := range i.Ports {
		// A provider outside the stream: its pods' port names are unknown.
		named := len(g.present[i.Provider]) > 0
		for _, w := range g.present[i.Provider] {
			if cp, ok := w.Ports[p.Name]; !ok || cp.Protocol != p.Protocol {
				named = false
			}
		}
		if named {
			ports = append(ports, Port{Protocol: p.Protocol, Port: p.Name})
		} else {
			ports = append(ports, Port{Protocol: p.Protocol, Port: p.Port})
		}
	}
	return ports
}

// interfaces: ingress on each provider from its consumers, egress on the
// consumers to the provider.
func (g *generator) interfaces() error {
	c := g.info.Catalog
	for _, name := range slices.Sorted(maps.Keys(c.Interfaces)) {
		i := c.Interfaces[name]
		consumers := g.presentOnly(i.Consumers)
		var remote []string // consumers that may run in another release
		for _, cn := range i.Consumers {
			if g.elsewhere(cn) {
				remote = append(remote, cn)
			}
		}
		sort.Strings(remote)
		providerHere := len(g.present[i.Provider]) > 0
		ports := g.interfacePorts(i)
		rule := "interface/" + name
		if providerHere && len(consumers)+len(remote) > 0 {
			var from []Peer
			for _, cn := range append(slices.Clone(consumers), remote...) {
				from = append(from, Peer{PodSelector: &Selector{MatchLabels: c.Components[cn].Selector}})
			}
			g.related[i.Provider] = true
			g.add("NetworkPolicy", g.name(name+"-ingress"), rule, policySpec{
				PodSelector: Selector{MatchLabels: c.Components[i.Provider].Selector},
				PolicyTypes: []string{"Ingress"},
				Ingress:     []IngressRule{{From: from, Ports: ports}},
			})
		}
		if len(consumers) == 0 || !(providerHere || g.elsewhere(i.Provider)) {
			continue
		}
		for _, cn := range consumers {
			g.related[cn] = true
		}
		g.forConsumers(name+"-egress", rule, consumers, func(sel Selector) policySpec {
			return policySpec{
				PodSelector: sel,
				PolicyTypes: []string{"Egress"},
				Egress: []EgressRule{{
					To:    []Peer{{PodSelector: &Selector{MatchLabels: c.Components[i.Provider].Selector}}},
					Ports: ports,
				}},
			}
		})
	}
	return nil
}

// forConsumers adds the policy spec makes for the pods of consumers: one
// policy when one selector can select them all (componentsSelector), else
// one per consumer, named <what>-<consumer>.
func (g *generator) forConsumers(what, rule string, consumers []string, spec func(Selector) policySpec) {
	if sel, err := g.componentsSelector(consumers); err == nil {
		g.add("NetworkPolicy", g.name(what), rule, spec(sel))
		return
	}
	for _, cn := range consumers {
		g.add("NetworkPolicy", g.name(what+"-"+cn), rule, spec(Selector{MatchLabels: g.info.Catalog.Components[cn].Selector}))
	}
}

// Endpoint is what the site set for one external interface, as the
// policies need it.
type Endpoint struct {
	CIDRs []string
	Ports []int
}

// SiteEndpoint reads the site's settings of external name: its CIDRs (the
// common field cidrs), its ports (every "port" field and the port of every
// URL, else the catalog's default port). ok is false when the site did not
// set the external.
func SiteEndpoint(info *release.Info, name string) (ep Endpoint, ok bool, err error) {
	raw, ok := info.Site.Externals[name]
	if !ok || raw == nil {
		return ep, false, nil
	}
	m, isMap := raw.(map[string]any)
	if !isMap {
		return ep, true, fmt.Errorf("site.json externals.%s is not an object", name)
	}
	if list, ok := m["cidrs"].([]any); ok {
		for _, v := range list {
			s, _ := v.(string)
			if _, _, err := net.ParseCIDR(s); err != nil {
				return ep, true, fmt.Errorf("site.json externals.%s.cidrs: %q is not a CIDR", name, v)
			}
			ep.CIDRs = append(ep.CIDRs, s)
		}
	}
	ports := map[int]bool{}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if k != "cidrs" {
					walk(y, k)
				}
			}
		case []any:
			for _, y := range x {
				walk(y, key)
			}
		case float64:
			if key == "port" {
				ports[int(x)] = true
			}
		case string:
			if u, err := url.Parse(x); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
				if p := u.Port(); p != "" {
					n, _ := strconv.Atoi(p)
					ports[n] = true
				} else if u.Scheme == "https" {
					ports[443] = true
				} else {
					ports[80] = true
				}
			}
		}
	}
	walk(m, "")
	if len(ports) == 0 {
		ports[info.Catalog.Externals[name].Port] = true
	}
	for p := range ports {
		ep.Ports = append(ep.Ports, p)
	}
	sort.Ints(ep.Ports)
	return ep, true, nil
}

// AnyAddress is the egress destination of an external whose site set no
// cidrs: every IPv4 and every IPv6 address.
var AnyAddress = []string{"0.0.0.0/0", "::/0"}

// externals: egress to the site's endpoints of outbound externals; ingress
// from the site's CIDRs for inbound ones.
func (g *generator) externals() error {
	c := g.info.Catalog
	for _, name := range slices.Sorted(maps.Keys(c.Externals)) {
		x := c.Externals[name]
		ep, set, err := SiteEndpoint(g.info, name)
		if err != nil {
			return fmt.Errorf("%s: %w", g.info.Origin, err)
		}
		consumers := g.presentOnly(x.Consumers)
		if !set || len(consumers) == 0 {
			continue // unset: the fixture's internal interfaces, or nothing
		}
		for _, cn := range consumers {
			g.related[cn] = true
		}
		var ports []Port
		for _, p := range ep.Ports {
			ports = append(ports, Port{Protocol: "TCP", Port: p})
		}
		rule := "external/" + name
		if x.Direction == "inbound" {
			if len(ep.CIDRs) == 0 {
				continue // configured sources only: none
			}
			var from []Peer
			for _, cidr := range ep.CIDRs {
				from = append(from, Peer{IPBlock: &IPBlock{CIDR: cidr}})
			}
			g.forConsumers("external-"+name+"-ingress", rule, consumers, func(sel Selector) policySpec {
				return policySpec{PodSelector: sel, PolicyTypes: []string{"Ingress"}, Ingress: []IngressRule{{From: from, Ports: ports}}}
			})
			continue
		}
		cidrs := ep.CIDRs
		if len(cidrs) == 0 {
			cidrs = AnyAddress
		}
		var to []Peer
		for _, cidr := range cidrs {
			to = append(to, Peer{IPBlock: &IPBlock{CIDR: cidr}})
		}
		g.forConsumers("external-"+name+"-egress", rule, consumers, func(sel Selector) policySpec {
			return policySpec{PodSelector: sel, PolicyTypes: []string{"Egress"}, Egress: []EgressRule{{To: to, Ports: ports}}}
		})
	}
	return nil
}

// kubernetesAPI: components the catalog says talk to the Kubernetes API
// server may reach it: the configured addresses, else any address, on the
// configured ports, else 443 and 6443.
func (g *generator) kubernetesAPI() error {
	c := g.info.Catalog
	cidrs, ports := g.cfg.KubernetesAPI.CIDRs, g.cfg.KubernetesAPI.Ports
	if len(cidrs) == 0 {
		cidrs = AnyAddress
	}
	if len(ports) == 0 {
		ports = DefaultKubernetesAPIPorts
	}
	var to []Peer
	for _, cidr := range cidrs {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return fmt.Errorf("netpol.kubernetesAPI.cidrs: %q is not a CIDR: fix the dpps-render config", cidr)
		}
		to = append(to, Peer{IPBlock: &IPBlock{CIDR: cidr}})
	}
	var pp []Port
	for _, p := range ports {
		pp = append(pp, Port{Protocol: "TCP", Port: p})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		if !c.Components[name].KubernetesAPI || len(g.present[name]) == 0 {
			continue
		}
		g.related[name] = true
		g.add("NetworkPolicy", g.name("kubernetes-api-"+name+"-egress"), "kubernetes-api/"+name, policySpec{
			PodSelector: Selector{MatchLabels: c.Components[name].Selector},
			PolicyTypes: []string{"Egress"},
			Egress:      []EgressRule{{To: to, Ports: pp}},
		})
	}
	return nil
}

// unlabelled refuses a component's workload (its kind and name as the
// catalog declares them) whose pods lack the component's selector labels:
// the release's default deny would select them and none of the
// component's rules would, and the externals transform, which runs after,
// may add the labels, so that a second run would judge another stream.
func (g *generator) unlabelled() error {
	c := g.info.Catalog
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		comp := c.Components[name]
		want := strings.ReplaceAll(comp.Name, catalog.ReleaseName, g.rel)
		for _, w := range g.workloads {
			if w.Kind == comp.Workload && w.Name == want && !matches(comp.Selector, w.Labels) {
				bad = append(bad, fmt.Sprintf("%s %s is the workload of component %s, but its pods lack the labels of components.%s.selector (%s): no rule for %s would select them; label the pod template, or fix the selector in the catalog",
					w.Kind, w.Name, name, name, selectorText(comp.Selector), name))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// selectorText writes labels as kubectl's -l syntax, sorted.
func selectorText(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// isolated refuses to deny everything but DNS to a deployed component
// for which the catalog declares no connection at all: no interface it
// provides to someone or consumes, no external, inbound interface,
// metrics port or Kubernetes API access. That is a catalog that says too
// little (a foreign chart's components before their interfaces are
// declared); installed, the policies would cut the component off. A
// component whose declared peers are all switched off is isolated on
// purpose, and is not an error.
func (g *generator) isolated() error {
	c := g.info.Catalog
	declared := map[string]bool{}
	for _, i := range c.Interfaces {
		if len(i.Consumers) > 0 {
			declared[i.Provider] = true
		}
		for _, cn := range i.Consumers {
			declared[cn] = true
		}
	}
	for _, x := range c.Externals {
		for _, cn := range x.Consumers {
			declared[cn] = true
		}
	}
	for _, in := range c.Inbound {
		declared[in.Component] = true
	}
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		comp := c.Components[name]
		if len(g.present[name]) == 0 || declared[name] || comp.Metrics != nil || comp.KubernetesAPI {
			continue
		}
		var pods []string
		for _, w := range g.present[name] {
			pods = append(pods, w.Kind+"/"+w.Name)
		}
		if len(pods) > 3 {
			pods = append(pods[:3], fmt.Sprintf("and %d more", len(pods)-3))
		}
		bad = append(bad, fmt.Sprintf("component %s (%s) would be isolated: the catalog %s declares no interface it provides or consumes, no external, inbound interface, metrics port or Kubernetes API access, so its pods could resolve names and nothing else; declare what it serves and uses (interfaces.<name>.provider and .consumers, externals.<name>.consumers) in the catalog, or leave netpol out of --transforms", name, strings.Join(pods, ", "), g.info.Origin))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// declaredInbound: the pods of each deployed component an inbound
// interface exposes admit the sources the site declared for it
// (global.inbound.<name>): the LoadBalancer's source ranges, or the
// ingress controller's pods. No sources, no rule: nothing outside the
// release reaches it (check --profile prod refuses that).
func (g *generator) declaredInbound() error {
	c := g.info.Catalog
	for _, name := range slices.Sorted(maps.Keys(c.Inbound)) {
		in := c.Inbound[name]
		src, set := g.info.Site.Inbound[name]
		if !set || len(g.present[in.Component]) == 0 {
			continue
		}
		var from []Peer
		switch src.Type {
		case "LoadBalancer":
			for _, cidr := range src.LoadBalancerSourceRanges {
				if _, _, err := net.ParseCIDR(cidr); err != nil {
					return fmt.Errorf("%s: site.json inbound.%s.loadBalancerSourceRanges: %q is not a CIDR: fix global.inbound.%s.loadBalancerSourceRanges", g.info.Origin, name, cidr, name)
				}
				from = append(from, Peer{IPBlock: &IPBlock{CIDR: cidr}})
			}
		case "Ingress":
			if src.Sources() != "" {
				ctl := src.Ingress.Controller
				from = append(from, Peer{
					NamespaceSelector: &Selector{MatchLabels: map[string]string{metadataNameKey: ctl.Namespace}},
					PodSelector:       &Selector{MatchLabels: ctl.PodLabels},
				})
			}
		default:
			return fmt.Errorf("%s: site.json inbound.%s.type is %q: set global.inbound.%s.type to LoadBalancer or Ingress", g.info.Origin, name, src.Type, name)
		}
		if len(from) == 0 {
			continue
		}
		ports := g.interfacePorts(catalog.Interface{Provider: in.Component, Ports: in.Ports})
		g.related[in.Component] = true
		g.add("NetworkPolicy", g.name("inbound-"+name+"-ingress"), "inbound/"+name, policySpec{
			PodSelector: Selector{MatchLabels: c.Components[in.Component].Selector},
			PolicyTypes: []string{"Ingress"},
			Ingress:     []IngressRule{{From: from, Ports: ports}},
		})
	}
	return nil
}

// metrics: the site's Prometheus, and nothing else, may reach the metrics
// port of every component that declares one. Without a declared
// Prometheus nothing may (check --profile prod refuses that).
func (g *generator) metrics() error {
	p := g.info.Site.Observability.Prometheus
	if p == nil {
		return nil
	}
	if p.Namespace == "" || len(p.PodLabels) == 0 {
		return fmt.Errorf("%s: site.json observability.prometheus needs a namespace and at least one pod label: set global.observability.prometheus.namespace and .podLabels", g.info.Origin)
	}
	c := g.info.Catalog
	peer := Peer{
		NamespaceSelector: &Selector{MatchLabels: map[string]string{metadataNameKey: p.Namespace}},
		PodSelector:       &Selector{MatchLabels: p.PodLabels},
	}
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		m := c.Components[name].Metrics
		if m == nil || len(g.present[name]) == 0 {
			continue
		}
		g.related[name] = true
		g.add("NetworkPolicy", g.name("metrics-"+name+"-ingress"), "metrics/"+name, policySpec{
			PodSelector: Selector{MatchLabels: c.Components[name].Selector},
			PolicyTypes: []string{"Ingress"},
			Ingress:     []IngressRule{{From: []Peer{peer}, Ports: []Port{{Protocol: "TCP", Port: m.Port}}}},
		})
	}
	return nil
}

// inbound: for charts that declare no inbound interface (a site catalog
// file), workloads behind LoadBalancer and NodePort Services get ingress
// from Inbound.CIDRs, workloads behind an Ingress from the ingress
// controller; with neither configured, nothing is allowed. The Services
// and Ingresses the DPPS chart renders for its inbound interfaces are
// declaredInbound's.
func (g *generator) inbound(nodes []*yaml.RNode) {
	services := map[string]*yaml.Node{}
	var exposed []string // Service names, in stream order
	for _, n := range nodes {
		if n.GetLabels()[release.InboundLabel] != "" {
			continue
		}
		if manifest.Kind(n) == "Service" {
			services[n.GetName()] = n.YNode()
			t := manifest.Path(n.YNode(), "spec", "type")
			if t != nil && (t.Value == "LoadBalancer" || t.Value == "NodePort") {
				exposed = append(exposed, n.GetName())
			}
		}
	}
	if len(g.cfg.Inbound.CIDRs) > 0 {
		var from []Peer
		for _, cidr := range g.cfg.Inbound.CIDRs {
			from = append(from, Peer{IPBlock: &IPBlock{CIDR: cidr}})
		}
		for _, s := range exposed {
			g.serviceIngress("service", s, services[s], nil, from)
		}
	}
	ic := g.cfg.Inbound
	if ic.IngressControllerNamespace == "" && len(ic.IngressControllerPodSelector) == 0 {
		return
	}
	peer := Peer{PodSelector: &Selector{MatchLabels: ic.IngressControllerPodSelector}}
	if ic.IngressControllerNamespace != "" {
		peer.NamespaceSelector = &Selector{MatchLabels: map[string]string{metadataNameKey: ic.IngressControllerNamespace}}
	}
	for _, n := range nodes {
		if manifest.Kind(n) != "Ingress" || n.GetLabels()[release.InboundLabel] != "" {
			continue
		}
		backends := map[string][]string{} // service -> port names or numbers
		var walk func(v *yaml.Node)
		walk = func(v *yaml.Node) {
			if v == nil {
				return
			}
			if svc := manifest.Field(v, "service"); svc != nil && manifest.Field(svc, "name") != nil {
				s := manifest.Field(svc, "name").Value
				p := manifest.Field(svc, "port")
				if q := manifest.Field(p, "name"); q != nil {
					backends[s] = append(backends[s], q.Value)
				} else if q := manifest.Field(p, "number"); q != nil {
					backends[s] = append(backends[s], q.Value)
				}
			}
			for _, c := range v.Content {
				walk(c)
			}
		}
		walk(manifest.Field(n.YNode(), "spec"))
		for _, s := range slices.Sorted(maps.Keys(backends)) {
			if svc, ok := services[s]; ok {
				g.serviceIngress("ingress", n.GetName()+"-"+s, svc, backends[s], []Peer{peer})
			}
		}
	}
}

// serviceIngress allows from on the target ports of svc (those named in
// only, when set) on the pods it selects.
func (g *generator) serviceIngress(kind, name string, svc *yaml.Node, only []string, from []Peer) {
	sel := stringMap(manifest.Path(svc, "spec", "selector"))
	if len(sel) == 0 {
		return
	}
	var ports []Port
	if list := manifest.Path(svc, "spec", "ports"); list != nil {
		for _, p := range list.Content {
			id := []string{}
			for _, k := range []string{"name", "port"} {
				if v := manifest.Field(p, k); v != nil {
					id = append(id, v.Value)
				}
			}
			if len(only) > 0 && !overlaps(id, only) {
				continue
			}
			proto := "TCP"
			if v := manifest.Field(p, "protocol"); v != nil {
				proto = v.Value
			}
			target := manifest.Field(p, "targetPort")
			if target == nil {
				target = manifest.Field(p, "port")
			}
			if target == nil {
				continue
			}
			var port any = target.Value
			if n, err := strconv.Atoi(target.Value); err == nil {
				port = n
			}
			ports = append(ports, Port{Protocol: proto, Port: port})
		}
	}
	g.add("NetworkPolicy", g.name(kind+"-"+name+"-ingress"), "inbound/"+kind+"/"+name, policySpec{
		PodSelector: Selector{MatchLabels: sel}, PolicyTypes: []string{"Ingress"},
		Ingress: []IngressRule{{From: from, Ports: ports}},
	})
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// check: every generated policy selects at least one pod template of the
// stream. The policies that do not are named in one line, grouped by their
// selector.
func (g *generator) check() error {
	var selectors []string
	names := map[string][]string{}
	for _, o := range g.out {
		var sel Selector
		switch s := o.Spec.(type) {
		case policySpec:
			sel = s.PodSelector
		default:
			continue
		}
		found := false
		for _, w := range g.workloads {
			if sel.Matches(w.Labels) {
				found = true
				break
			}
		}
		if !found {
			key := sel.String()
			if names[key] == nil {
				selectors = append(selectors, key)
			}
			names[key] = append(names[key], o.Metadata.Name)
		}
	}
	if len(selectors) == 0 {
		return nil
	}
	var parts []string
	for _, key := range selectors {
		parts = append(parts, fmt.Sprintf("NetworkPolicy %s: podSelector %s selects no pod template of the stream", strings.Join(names[key], ", "), key))
	}
	return fmt.Errorf("%s; every policy must select a workload of the release: render the workloads the catalog's components declare, fix their selectors in the catalog, or run without netpol (--transforms without netpol)", strings.Join(parts, "; "))
}

// Matches evaluates the selector on labels.
func (s Selector) Matches(labels map[string]string) bool {
	if !matches(s.MatchLabels, labels) {
		return false
	}
	for _, r := range s.MatchExpressions {
		v, has := labels[r.Key]
		in := false
		for _, x := range r.Values {
			if x == v {
				in = true
			}
		}
		switch r.Operator {
		case "In":
			if !has || !in {
				return false
			}
		case "NotIn":
			if has && in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// String writes the selector as kubectl's -l syntax; {} selects everything.
func (s Selector) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		parts = append(parts, k+"="+s.MatchLabels[k])
	}
	for _, r := range s.MatchExpressions {
		switch r.Operator {
		case "In", "NotIn":
			parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Key, strings.ToLower(r.Operator), strings.Join(r.Values, ",")))
		case "Exists":
			parts = append(parts, r.Key)
		case "DoesNotExist":
			parts = append(parts, "!"+r.Key)
		}
	}
	if len(parts) == 0 {
		return "{}"
	}
	return strings.Join(parts, ",")
}
