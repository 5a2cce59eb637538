package externals

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// HostPort is a host a text names with an explicit port.
type HostPort struct {
	Host string
	Port int
}

// HostPorts finds, like Hosts, the hosts a text names, but only those
// written with a port: URLs, a whole environment value "host:port"
// (whole = true), and in configuration data the values of keys that name
// hosts.
func HostPorts(text string, whole bool) []HostPort {
	var out []HostPort
	seen := map[HostPort]bool{}
	add := func(h, p string) {
		n, err := strconv.Atoi(p)
		h = strings.ToLower(strings.Trim(h, "[]"))
		hp := HostPort{h, n}
		if err != nil || h == "" || seen[hp] || strings.ContainsAny(h, "${") {
			return
		}
		seen[hp] = true
		out = append(out, hp)
	}
	for _, m := range urlRE.FindAllStringSubmatch(text, -1) {
		if m[3] != "" {
			add(m[2], m[3])
		}
	}
	split := func(tok string) {
		if fqdnRE.MatchString(tok) && !fileSuffix.MatchString(tok) {
			if h, p, err := net.SplitHostPort(tok); err == nil {
				add(h, p)
			}
		}
	}
	if whole {
		split(strings.ToLower(strings.TrimSpace(text)))
		return out
	}
	for _, m := range hostKeyLine.FindAllStringSubmatch(text, -1) {
		if !hostKeys.MatchString(m[1]) {
			continue
		}
		for _, tok := range strings.FieldsFunc(m[2], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !strings.Contains(tok, "://") {
				split(strings.ToLower(tok))
			}
		}
	}
	return out
}

// schemePorts are the ports a URL without one means.
var schemePorts = map[string]int{"http": 80, "https": 443}

// declaredPort is what the site's externals declare for one host: its
// ports and the values keys that name it.
type declaredPort struct {
	ports map[int]bool
	keys  []string
}

func (d *declaredPort) String() string {
	ports := make([]string, 0, len(d.ports))
	for _, p := range slices.Sorted(maps.Keys(d.ports)) {
		ports = append(ports, strconv.Itoa(p))
	}
	return strings.Join(d.keys, ", ") + " declares port " + strings.Join(ports, ", ")
}

// declaredPorts maps every host the site's configured externals name to
// the ports they declare for it: the port written with the host, else the
// port field beside it, else the interface's port (and a URL scheme's
// default).
func declaredPorts(r *Release) map[string]*declaredPort {
	out := map[string]*declaredPort{}
	for _, i := range r.Interfaces {
		if i.Status != StatusConfigured {
			continue
		}
		var walk func(v any, sibling int)
		walk = func(v any, sibling int) {
			switch x := v.(type) {
			case map[string]any:
				sib := 0
				if p, ok := x["port"].(float64); ok {
					sib = int(p)
				}
				for _, k := range slices.Sorted(maps.Keys(x)) {
					walk(x[k], sib)
				}
			case []any:
				for _, el := range x {
					walk(el, sibling)
				}
			case string:
				h := hostOf(x)
				if !strings.Contains(h, ".") || !ValidHost(h) {
					return
				}
				d := out[h]
				if d == nil {
					d = &declaredPort{ports: map[int]bool{}}
					out[h] = d
				}
				if !slices.Contains(d.keys, i.ValuesKey) {
					d.keys = append(d.keys, i.ValuesKey)
				}
				switch p := portOf(x); {
				case p != 0:
					d.ports[p] = true
				case sibling != 0:
					d.ports[sibling] = true
				default:
					d.ports[i.Port] = true
					if u, err := url.Parse(x); err == nil && schemePorts[u.Scheme] != 0 {
						d.ports[schemePorts[u.Scheme]] = true
					}
				}
			}
		}
		walk(i.Site, 0)
	}
	return out
}

// portOf is the port written in a URL or "host:port[/path]", 0 if none.
func portOf(s string) int {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(u.Port())
		return n
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if _, p, err := net.SplitHostPort(s); err == nil {
		n, _ := strconv.Atoi(p)
		return n
	}
	return 0
}

// portMessage is the finding of a declared host named on another port.
func portMessage(where string, hp HostPort, d *declaredPort) string {
	return fmt.Sprintf("%s names %s:%d, a port the site does not declare for that host (%s); use the declared port, or declare this one", where, hp.Host, hp.Port, d)
}
