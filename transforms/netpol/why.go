package netpol

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// WhyResult answers "may From connect to To (on Port)?" for the stream's
// NetworkPolicies: a connection needs the egress of its source and the
// ingress of its destination to admit it.
type WhyResult struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Port is the destination port asked about, 0 for any.
	Port int `json:"port"`
	// Allowed are the connections the policies allow between the two.
	Allowed []Flow `json:"allowed"`
	// Egress is the source's side, Ingress the destination's.
	Egress  SideReport `json:"egress"`
	Ingress SideReport `json:"ingress"`
}

// SideReport is what the policies of one direction say about one side of
// a connection.
type SideReport struct {
	// Workload is the side's workload, or the address outside the stream.
	Workload string `json:"workload"`
	// Outside: the side is an address outside the stream, whose policies
	// (if any) the stream does not hold.
	Outside bool `json:"outside,omitempty"`
	// Open: no policy of this direction selects the workload.
	Open bool `json:"open,omitempty"`
	// Policies select the workload in this direction: "name (rule)".
	Policies []string `json:"policies,omitempty"`
	// Admitting are the rules that admit the other side (on the port);
	// Others the rules that do not, with why not.
	Admitting []string `json:"admitting,omitempty"`
	Others    []string `json:"others,omitempty"`
}

// Why evaluates one pair. from and to are a component, a workload
// ("Kind/name" or its name) or, for one of them, an IP address outside the
// stream.
func Why(nodes []*yaml.RNode, catalogPath, from, to string, port int) (*WhyResult, error) {
	m, err := buildModel(nodes, catalogPath)
	if err != nil {
		return nil, err
	}
	src, srcIP, err := m.find(from)
	if err != nil {
		return nil, err
	}
	dst, dstIP, err := m.find(to)
	if err != nil {
		return nil, err
	}
	if srcIP != nil && dstIP != nil {
		return nil, fmt.Errorf("--from %s and --to %s are both addresses: one must be a workload of the stream", from, to)
	}
	r := &WhyResult{From: from, To: to, Port: port, Allowed: []Flow{}}
	var egs, ins []sideRule // admitting rules
	if srcIP != nil {
		r.Egress = SideReport{Workload: from, Outside: true}
	} else {
		r.Egress, egs = m.report(m.egress[src], m.names[src], "to", port, target{w: workloadAt(m, dst), ip: dstIP}, workloadAt(m, dst))
	}
	if dstIP != nil {
		r.Ingress = SideReport{Workload: to, Outside: true}
	} else {
		r.Ingress, ins = m.report(m.ingress[dst], m.names[dst], "from", port, target{w: workloadAt(m, src), ip: srcIP}, &m.ws[dst])
	}
	if srcIP != nil {
		egs = []sideRule{{reason: "outside the stream"}}
	}
	if dstIP != nil {
		ins = []sideRule{{reason: "outside the stream"}}
	}
	var dstW *Workload
	if dstIP == nil {
		dstW = &m.ws[dst]
	}
	for _, e := range egs {
		for _, in := range ins {
			ps := intersect(resolvePorts(e.ports, dstW), resolvePorts(in.ports, dstW))
			if port != 0 {
				ps = onlyPort(ps, port)
			}
			if !ps.all && len(ps.ranges) == 0 {
				continue
			}
			if ps.all {
				r.Allowed = append(r.Allowed, Flow{From: r.Egress.Workload, To: r.Ingress.Workload, Port: "*", Egress: e.reason, Ingress: in.reason})
			}
			for _, pr := range ps.ranges {
				p := strconv.Itoa(pr.lo)
				if pr.pending {
					p = pr.name
				} else if pr.hi > pr.lo {
					p += "-" + strconv.Itoa(pr.hi)
				}
				r.Allowed = append(r.Allowed, Flow{From: r.Egress.Workload, To: r.Ingress.Workload, Protocol: pr.proto, Port: p, PortName: pr.name, Egress: e.reason, Ingress: in.reason})
			}
		}
	}
	return r, nil
}

// target is the other side of a connection: a workload or an address.
type target struct {
	w  *Workload
	ip net.IP
}

func workloadAt(m *model, i int) *Workload {
	if i < 0 {
		return nil
	}
	return &m.ws[i]
}

// find resolves a name to a workload index, or to an address (index -1).
func (m *model) find(name string) (int, net.IP, error) {
	for i, w := range m.ws {
		if m.names[i] == name || w.Kind+"/"+w.Name == name || w.Name == name {
			return i, nil, nil
		}
	}
	if ip := net.ParseIP(name); ip != nil {
		return -1, ip, nil
	}
	var known []string
	for _, n := range m.names {
		if !slices.Contains(known, n) {
			known = append(known, n)
		}
	}
	slices.Sort(known)
	return 0, nil, fmt.Errorf("%q is no workload of the stream (a component, Kind/name or workload name) nor an IP address; the stream has %s", name, strings.Join(known, ", "))
}

// report evaluates one side: the rules of s against the other side t on
// port, the ports resolved on dst (the destination workload, nil outside
// the stream). It returns the report and the admitting rules.
func (m *model) report(s side, name, dir string, port int, t target, dst *Workload) (SideReport, []sideRule) {
	rep := SideReport{Workload: name, Open: s.open, Policies: s.policies}
	if s.open {
		return rep, []sideRule{{reason: "unrestricted"}}
	}
	var admitting []sideRule
	for _, r := range s.rules {
		desc := r.reason + ": " + dir + " " + m.describePeers(r.peers) + " on " + describePorts(r.ports)
		peerOK := false
		if t.w != nil {
			peerOK = peerMatches(r.peers, r.ns, t.w)
		} else {
			peerOK = ipMatches(r.peers, t.ip)
		}
		ps := resolvePorts(r.ports, dst)
		if port != 0 {
			ps = onlyPort(ps, port)
		}
		portOK := ps.all || len(ps.ranges) > 0
		switch {
		case peerOK && portOK:
			rep.Admitting = append(rep.Admitting, desc)
			admitting = append(admitting, r)
		case peerOK:
			rep.Others = append(rep.Others, desc+": not port "+strconv.Itoa(port))
		default:
			rep.Others = append(rep.Others, desc)
		}
	}
	return rep, admitting
}

// onlyPort keeps port of a port set; a name still unresolved is kept (the
// destination is outside the stream).
func onlyPort(ps portSet, port int) portSet {
	if ps.all {
		return portSet{ranges: []portRange{{proto: "TCP", lo: port, hi: port}, {proto: "UDP", lo: port, hi: port}}}
	}
	var out portSet
	for _, r := range ps.ranges {
		if r.pending || (r.lo <= port && port <= r.hi) {
			if !r.pending {
				r.lo, r.hi = port, port
			}
			out.ranges = append(out.ranges, r)
		}
	}
	return out
}

// ipMatches reports whether an ipBlock of peers holds ip; no peers admit
// every address.
func ipMatches(peers []Peer, ip net.IP) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock == nil {
			continue
		}
		if _, n, err := net.ParseCIDR(p.IPBlock.CIDR); err != nil || !n.Contains(ip) {
			continue
		}
		excluded := false
		for _, e := range p.IPBlock.Except {
			if _, n, err := net.ParseCIDR(e); err == nil && n.Contains(ip) {
				excluded = true
			}
		}
		if !excluded {
			return true
		}
	}
	return false
}

// describePeers names a rule's peers: the workloads of the stream a pod
// selector selects, else the selector; address blocks and namespaces.
func (m *model) describePeers(peers []Peer) string {
	if len(peers) == 0 {
		return "anyone"
	}
	var out []string
	for _, p := range peers {
		if o := outsidePeer(p); o != "" {
			out = append(out, o)
			continue
		}
		var names []string
		for i := range m.ws {
			if (p.PodSelector == nil || p.PodSelector.Matches(m.ws[i].Labels)) && !slices.Contains(names, m.names[i]) {
				names = append(names, m.names[i])
			}
		}
		if len(names) == 0 && p.PodSelector != nil {
			names = []string{"pods " + p.PodSelector.String() + " (none in the stream)"}
		}
		out = append(out, names...)
	}
	return strings.Join(out, ", ")
}

func describePorts(ports []Port) string {
	if len(ports) == 0 {
		return "every port"
	}
	var out []string
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		switch v := p.Port.(type) {
		case nil:
			out = append(out, proto+"/*")
		case float64:
			out = append(out, proto+"/"+strconv.Itoa(int(v)))
		case int:
			out = append(out, proto+"/"+strconv.Itoa(v))
		default:
			out = append(out, fmt.Sprintf("%s/%v", proto, v))
		}
	}
	return strings.Join(out, ", ")
}
