package netpol

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/transforms/release"
)

// Flow is one connection the stream's NetworkPolicies allow.
type Flow struct {
	// From and To are workloads ("Kind/name", or the component when the
	// catalog knows it), an address block, or pods outside the release
	// ("namespace <sel>, pods <sel>"); "*" is anything.
	From string `json:"from"`
	To   string `json:"to"`
	// Protocol and Port ("5432", "1024-2048", "*" for every port); PortName
	// is the container port's name when the policy named it.
	Protocol string `json:"protocol"`
	Port     string `json:"port"`
	PortName string `json:"portName,omitempty"`
	// Egress and Ingress say what allowed each side: the rule of a
	// generated policy (interface/<name>, external/<name>, dns, ...),
	// "policy <name>" for any other, or "unrestricted" when no policy of
	// that direction selects the workload.
	Egress  string `json:"egress"`
	Ingress string `json:"ingress"`
}

// AllowedBy is the egress and ingress reasons in one string.
func (f Flow) AllowedBy() string {
	if f.Egress == f.Ingress {
		return f.Egress
	}
	return "egress: " + f.Egress + "; ingress: " + f.Ingress
}

// PortString is protocol, port and name, e.g. "TCP/5432 (postgresql)".
func (f Flow) PortString() string {
	s := f.Protocol + "/" + f.Port
	if f.Protocol == "" {
		s = f.Port
	}
	if f.PortName != "" {
		s += " (" + f.PortName + ")"
	}
	return s
}

type parsedPolicy struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
		Labels      map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec policySpec `json:"spec"`
}

func (p *parsedPolicy) reason() string {
	if r := p.Metadata.Annotations[RuleAnnotation]; r != "" && p.Metadata.Labels[GeneratedLabel] == Generated {
		return r
	}
	return "policy " + p.Metadata.Name
}

func (p *parsedPolicy) has(t string) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return t == "Ingress" || (t == "Egress" && len(p.Spec.Egress) > 0)
	}
	for _, x := range p.Spec.PolicyTypes {
		if x == t {
			return true
		}
	}
	return false
}

// portRange is a span of ports of one protocol; name is set when a policy
// named the port.
type portRange struct {
	proto   string
	lo, hi  int
	name    string
	pending bool // a name that could not be resolved (destination outside the stream)
}

type portSet struct {
	all    bool
	ranges []portRange
}

func resolvePorts(ports []Port, dst *Workload) portSet {
	if len(ports) == 0 {
		return portSet{all: true}
	}
	var s portSet
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		switch v := p.Port.(type) {
		case nil:
			s.ranges = append(s.ranges, portRange{proto: proto, lo: 1, hi: 65535})
		case string:
			if n, err := strconv.Atoi(v); err == nil {
				s.ranges = append(s.ranges, portRange{proto: proto, lo: n, hi: max(n, p.EndPort)})
				continue
			}
			if dst == nil {
				s.ranges = append(s.ranges, portRange{proto: proto, name: v, pending: true})
				continue
			}
			if cp, ok := dst.Ports[v]; ok && cp.Protocol == proto {
				s.ranges = append(s.ranges, portRange{proto: proto, lo: cp.Port, hi: cp.Port, name: v})
			}
		case float64:
			n := int(v)
			s.ranges = append(s.ranges, portRange{proto: proto, lo: n, hi: max(n, p.EndPort)})
		case int:
			s.ranges = append(s.ranges, portRange{proto: proto, lo: v, hi: max(v, p.EndPort)})
		}
	}
	return s
}

func intersect(a, b portSet) portSet {
	if a.all {
		return b
	}
	if b.all {
		return a
	}
	var out portSet
	for _, x := range a.ranges {
		for _, y := range b.ranges {
			if x.proto != y.proto {
				continue
			}
			if x.pending || y.pending {
				if x.pending && y.pending && x.name == y.name {
					out.ranges = append(out.ranges, x)
				}
				continue
			}
			lo, hi := max(x.lo, y.lo), min(x.hi, y.hi)
			if lo > hi {
				continue
			}
			name := x.name
			if name == "" {
				name = y.name
			}
			out.ranges = append(out.ranges, portRange{proto: x.proto, lo: lo, hi: hi, name: name})
		}
	}
	return out
}

// side is what one direction's policies allow for a workload.
type side struct {
	open     bool // no policy of this direction selects the workload
	rules    []sideRule
	policies []string // "name (reason)" of each policy of this direction that selects it
}

type sideRule struct {
	reason string
	peers  []Peer // empty: every peer
	ports  []Port
	ns     string // the policy's namespace
}

// model is what Explain and Why evaluate: the stream's workloads (Helm
// hooks left out), and for each what the policies selecting it allow in
// each direction.
type model struct {
	ws              []Workload
	ingress, egress []side
	names           []string // the component (or Kind/name) of each workload
}

func buildModel(nodes []*yaml.RNode, catalogPath string) (*model, error) {
	info, err := release.Find(nodes, catalogPath)
	if err != nil {
		return nil, err
	}
	m := &model{}
	for _, w := range Workloads(nodes) {
		if !w.Hook {
			m.ws = append(m.ws, w)
		}
	}
	for i := range m.ws {
		name := m.ws[i].Kind + "/" + m.ws[i].Name
		if info != nil {
			for _, cn := range slices.Sorted(maps.Keys(info.Catalog.Components)) {
				if matches(info.Catalog.Components[cn].Selector, m.ws[i].Labels) {
					name = cn
					break
				}
			}
		}
		m.names = append(m.names, name)
	}
	var policies []*parsedPolicy
	for _, n := range nodes {
		if n.GetKind() != "NetworkPolicy" {
			continue
		}
		s, err := n.String()
		if err != nil {
			return nil, err
		}
		p := &parsedPolicy{}
		if err := sigsyaml.Unmarshal([]byte(s), p); err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s: %w", n.GetName(), err)
		}
		policies = append(policies, p)
	}
	m.ingress = make([]side, len(m.ws))
	m.egress = make([]side, len(m.ws))
	for i := range m.ws {
		m.ingress[i].open, m.egress[i].open = true, true
		for _, p := range policies {
			if !sameNS(p.Metadata.Namespace, m.ws[i].Namespace) || !p.Spec.PodSelector.Matches(m.ws[i].Labels) {
				continue
			}
			if p.has("Ingress") {
				m.ingress[i].open = false
				m.ingress[i].policies = append(m.ingress[i].policies, p.Metadata.Name+" ("+p.reason()+")")
				for _, r := range p.Spec.Ingress {
					m.ingress[i].rules = append(m.ingress[i].rules, sideRule{reason: p.reason(), peers: r.From, ports: r.Ports, ns: p.Metadata.Namespace})
				}
			}
			if p.has("Egress") {
				m.egress[i].open = false
				m.egress[i].policies = append(m.egress[i].policies, p.Metadata.Name+" ("+p.reason()+")")
				for _, r := range p.Spec.Egress {
					m.egress[i].rules = append(m.egress[i].rules, sideRule{reason: p.reason(), peers: r.To, ports: r.Ports, ns: p.Metadata.Namespace})
				}
			}
		}
	}
	return m, nil
}

func sameNS(a, b string) bool { return a == "" || b == "" || a == b }

// peerMatches reports whether peers select workload w (in the policy's
// namespace ns); no peers select everything.
func peerMatches(peers []Peer, ns string, w *Workload) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			continue
		}
		if p.NamespaceSelector != nil {
			// Only {} is known to select the release's namespace.
			if len(p.NamespaceSelector.MatchLabels) > 0 || len(p.NamespaceSelector.MatchExpressions) > 0 {
				continue
			}
		} else if !sameNS(ns, w.Namespace) {
			continue
		}
		if p.PodSelector == nil || p.PodSelector.Matches(w.Labels) {
			return true
		}
	}
	return false
}

// Explain computes the connections the NetworkPolicies of the stream allow
// between its workloads (Helm hooks left out) and to and from peers outside
// the stream. A catalog (catalogPath, or the stream's) names workloads by
// component. Flows are sorted.
func Explain(nodes []*yaml.RNode, catalogPath string) ([]Flow, error) {
	m, err := buildModel(nodes, catalogPath)
	if err != nil {
		return nil, err
	}
	ws, ingress, egress := m.ws, m.ingress, m.egress
	label := func(w *Workload) string {
		for i := range ws {
			if &ws[i] == w {
				return m.names[i]
			}
		}
		return w.Kind + "/" + w.Name
	}
	type key struct{ from, to, proto, port, name string }
	type reasons struct{ egress, ingress map[string]bool }
	acc := map[key]*reasons{}
	record := func(from, to string, ps portSet, eg, in string) {
		var ks []key
		if ps.all {
			ks = append(ks, key{from, to, "", "*", ""})
		}
		for _, r := range ps.ranges {
			port := strconv.Itoa(r.lo)
			switch {
			case r.pending:
				port = r.name
			case r.lo == 1 && r.hi == 65535:
				port = "*"
			case r.hi > r.lo:
				port += "-" + strconv.Itoa(r.hi)
			}
			name := r.name
			if r.pending {
				name = ""
			}
			ks = append(ks, key{from, to, r.proto, port, name})
		}
		for _, k := range ks {
			if acc[k] == nil {
				acc[k] = &reasons{map[string]bool{}, map[string]bool{}}
			}
			acc[k].egress[eg] = true
			acc[k].ingress[in] = true
		}
	}
	const unrestricted = "unrestricted"
	for si := range ws {
		for di := range ws {
			if si == di {
				continue
			}
			src, dst := &ws[si], &ws[di]
			var egs, ins []sideRule
			if egress[si].open {
				egs = []sideRule{{reason: unrestricted}}
			} else {
				for _, r := range egress[si].rules {
					if peerMatches(r.peers, r.ns, dst) {
						egs = append(egs, r)
					}
				}
			}
			if ingress[di].open {
				ins = []sideRule{{reason: unrestricted}}
			} else {
				for _, r := range ingress[di].rules {
					if peerMatches(r.peers, r.ns, src) {
						ins = append(ins, r)
					}
				}
			}
			for _, e := range egs {
				for _, in := range ins {
					ps := intersect(resolvePorts(e.ports, dst), resolvePorts(in.ports, dst))
					if ps.all || len(ps.ranges) > 0 {
						record(label(src), label(dst), ps, e.reason, in.reason)
					}
				}
			}
		}
	}
	for i := range ws {
		w := &ws[i]
		for _, r := range egress[i].rules {
			if len(r.peers) == 0 {
				record(label(w), "*", resolvePorts(r.ports, nil), r.reason, "outside the stream")
			}
			for _, p := range r.peers {
				if o := outsidePeer(p); o != "" {
					record(label(w), o, resolvePorts(r.ports, nil), r.reason, "outside the stream")
				}
			}
		}
		for _, r := range ingress[i].rules {
			if len(r.peers) == 0 {
				record("*", label(w), resolvePorts(r.ports, w), "outside the stream", r.reason)
			}
			for _, p := range r.peers {
				if o := outsidePeer(p); o != "" {
					record(o, label(w), resolvePorts(r.ports, w), "outside the stream", r.reason)
				}
			}
		}
	}
	join := func(m map[string]bool) string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return strings.Join(s, ", ")
	}
	flows := make([]Flow, 0, len(acc))
	for k, r := range acc {
		flows = append(flows, Flow{From: k.from, To: k.to, Protocol: k.proto, Port: k.port, PortName: k.name,
			Egress: join(r.egress), Ingress: join(r.ingress)})
	}
	sort.Slice(flows, func(i, j int) bool {
		a, b := flows[i], flows[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return portLess(a.Port, b.Port)
	})
	return flows, nil
}

func portLess(a, b string) bool {
	na, ea := strconv.Atoi(strings.SplitN(a, "-", 2)[0])
	nb, eb := strconv.Atoi(strings.SplitN(b, "-", 2)[0])
	if ea == nil && eb == nil && na != nb {
		return na < nb
	}
	return a < b
}

// outsidePeer names a peer outside the stream: an address block, or pods
// of other namespaces; "" for any other peer.
func outsidePeer(p Peer) string {
	switch {
	case p.IPBlock != nil:
		s := p.IPBlock.CIDR
		if len(p.IPBlock.Except) > 0 {
			s += " except " + strings.Join(p.IPBlock.Except, ",")
		}
		return s
	case p.NamespaceSelector != nil:
		s := "namespace " + p.NamespaceSelector.String()
		if ns := p.NamespaceSelector.MatchLabels[metadataNameKey]; ns != "" && len(p.NamespaceSelector.MatchLabels) == 1 && len(p.NamespaceSelector.MatchExpressions) == 0 {
			s = "namespace " + ns
		}
		if p.PodSelector != nil {
			s += ", pods " + p.PodSelector.String()
		}
		return s
	}
	return ""
}
