package upgrade

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// interfaces reports what the candidate takes away from the consumers of
// the running release: an interface with consumers gone from the catalog,
// and a Service, or a port of one, gone or renumbered while a workload of
// NEW still names it (env, args, command, the ConfigMaps it reads). For a
// Service of an interface in OLD's catalog the consumers are the ones that
// catalog lists; for any other Service, every workload of NEW.
func (c *comparison) interfaces() {
	oc, nc := c.old.catalog(), c.new.catalog()
	byService := map[string]string{}
	if oc != nil {
		for _, name := range sortedKeys(oc.Interfaces) {
			oi := oc.Interfaces[name]
			byService[oi.Service] = name
			if nc == nil || len(oi.Consumers) == 0 {
				continue
			}
			if _, ok := nc.Interfaces[name]; ok {
				continue
			}
			c.add(ConsumerBreak, "interface-removed", &object{kind: "Service", name: oi.Service}, "",
				"NEW's catalog no longer has the interface %s, consumed by %s: keep it until no consumer uses it", name, strings.Join(oi.Consumers, ", "))
		}
	}
	for _, o := range c.old.list {
		if o.kind != "Service" {
			continue
		}
		what := "Service " + o.name
		var users []*object
		if name, ok := byService[o.name]; ok {
			what = "interface " + name + " (Service " + o.name + ")"
			for _, cn := range oc.Interfaces[name].Consumers {
				if w := c.workload(cn); w != nil {
					users = append(users, w)
				}
			}
		} else {
			for _, w := range c.new.list {
				if manifest.PodSpec(w.node.YNode()) != nil {
					users = append(users, w)
				}
			}
		}
		n := c.new.byKey[o.key()]
		if n == nil {
			if name, ok := byService[o.name]; ok && nc != nil {
				if ni, ok := nc.Interfaces[name]; ok && ni.Service != o.name {
					continue // interface-renamed reports it
				}
			}
			for _, u := range c.usesIn(users, func(s string) bool { return hostIn(s, o.name) }, "") {
				c.addOnce(u, "service-removed", fmt.Sprintf(
					"%s is gone from NEW, but this consumer still connects to %s: keep the Service, or change the consumer in the same upgrade", what, o.name))
			}
			continue
		}
		newPorts := servicePorts(n)
		for _, op := range servicePorts(o).list {
			var gone string
			switch np, ok := newPorts.byName[op.name]; {
			case newPorts.numbers[op.port] && !c.catalogDrops(byService[o.name], op.port):
				continue
			case newPorts.numbers[op.port]:
				gone = fmt.Sprintf("NEW's catalog drops port %d (%s) of %s", op.port, op.name, what)
			case ok && op.name != "":
				gone = fmt.Sprintf("%s port %s moved from %d to %d", what, op.name, op.port, np)
			default:
				gone = fmt.Sprintf("%s no longer serves port %d (%s)", what, op.port, op.name)
			}
			port := strconv.Itoa(op.port)
			match := func(s string) bool { return hostPort(s, o.name, port) }
			for _, u := range c.usesIn(users, match, port) {
				c.addOnce(u, "service-port-removed", fmt.Sprintf(
					"%s, but this consumer still uses %s:%d: keep the port, or change the consumer in the same upgrade", gone, o.name, op.port))
			}
		}
	}
}

// catalogDrops reports whether port is in OLD's catalog entry of the
// interface but not in NEW's (NEW's catalog still has the interface).
func (c *comparison) catalogDrops(iface string, port int) bool {
	oc, nc := c.old.catalog(), c.new.catalog()
	if iface == "" || oc == nil || nc == nil {
		return false
	}
	ni, ok := nc.Interfaces[iface]
	if !ok {
		return false
	}
	had := false
	for _, p := range oc.Interfaces[iface].Ports {
		had = had || p.Port == port
	}
	for _, p := range ni.Ports {
		if p.Port == port {
			return false
		}
	}
	return had
}

// addOnce adds a consumer break unless one is already reported at the
// same place (by consumers, from NEW's catalog).
func (c *comparison) addOnce(u use, rule, msg string) {
	for _, f := range c.rep.Findings {
		if f.Category == ConsumerBreak && f.Object == u.obj.String() && f.Path == u.path {
			return
		}
	}
	c.add(ConsumerBreak, rule, u.obj, u.path, "%s", msg)
}

type svcPort struct {
	name string
	port int
}

type portSet struct {
	list    []svcPort
	numbers map[int]bool
	byName  map[string]int
}

func servicePorts(o *object) portSet {
	ps := portSet{numbers: map[int]bool{}, byName: map[string]int{}}
	list, _ := get(o.m, "spec", "ports").([]any)
	for _, p := range list {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(getString(m, "port"))
		if err != nil {
			continue
		}
		sp := svcPort{name: getString(m, "name"), port: n}
		ps.list = append(ps.list, sp)
		ps.numbers[n] = true
		if sp.name != "" {
			ps.byName[sp.name] = n
		}
	}
	return ps
}

// hostPort reports whether s names host (or a longer DNS name starting
// with it, host.ns.svc) followed by :port: "dips://dpps-dirac-server:9196/x".
func hostPort(s, host, port string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], host)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(host)
		i = start + 1
		if start > 0 && nameChar(s[start-1]) {
			continue
		}
		if end < len(s) && s[end] == '.' {
			for end < len(s) && (nameChar(s[end]) || s[end] == '.') {
				end++
			}
		}
		rest := s[end:]
		if !strings.HasPrefix(rest, ":"+port) {
			continue
		}
		rest = rest[1+len(port):]
		if rest == "" || rest[0] < '0' || rest[0] > '9' {
			return true
		}
	}
}
