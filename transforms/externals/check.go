package externals

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Profiles are the deployment profiles Check knows, from the laptop to a
// data centre.
var Profiles = []string{"dev", "ci", "staging", "prod"}

// The rules of Check.
const (
	// RuleFixture: a test fixture stands in for an external interface.
	RuleFixture = "fixture"
	// RuleAnnotations: an object that uses an external interface lacks its
	// annotations, or they say something else than the catalog.
	RuleAnnotations = "annotations"
	// RuleUndeclared: a workload talks to a host no external interface
	// declares, or an object exposes the release without an inbound
	// interface.
	RuleUndeclared = "undeclared-endpoint"
	// RuleMalformed: the site's endpoint of an interface is malformed.
	RuleMalformed = "malformed-endpoint"
	// RuleCatalog: the render carries no catalog to check against.
	RuleCatalog = "catalog"
	// RuleInbound: a deployed component of an inbound interface that
	// nothing outside the cluster may reach: the site did not expose it,
	// or exposed it without saying from where.
	RuleInbound = "inbound"
	// RuleNetpol: the NetworkPolicies dpps-render writes would be wider or
	// narrower than a production site wants: an outbound external without
	// address blocks (any address), metrics nobody may scrape.
	RuleNetpol = "netpol"
)

// Severities of findings. Errors fail the check.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
	// SeverityNote: a known and declared departure, such as a component's
	// Pod Security exception.
	SeverityNote = "note"
)

// Finding is one problem Check found.
type Finding struct {
	Severity  string `json:"severity"`
	Rule      string `json:"rule"`
	Interface string `json:"interface,omitempty"`
	Object    string `json:"object,omitempty"`
	Message   string `json:"message"`
}

func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Severity + ": " + f.Rule + ": ")
	if f.Object != "" {
		b.WriteString(f.Object + ": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// InterfaceReport is one external interface as the render configures it.
type InterfaceReport struct {
	Name      string `json:"name"`
	Direction string `json:"direction"`
	Protocol  string `json:"protocol"`
	Port      int    `json:"port"`
	Auth      string `json:"auth"`
	Status    Status `json:"status"`
	// Endpoint is the site's endpoint, "test fixture in use (<components>)"
	// or "unset (not used)".
	Endpoint string `json:"endpoint"`
	// Users are the rendered objects that use it, "Kind/name".
	Users []string `json:"users"`
}

// Report is the result of Check.
type Report struct {
	Profile    string            `json:"profile"`
	OK         bool              `json:"ok"`
	Catalog    string            `json:"catalog"`
	Interfaces []InterfaceReport `json:"interfaces"`
	Findings   []Finding         `json:"findings"`
}

// Errors counts the findings that fail the check.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// ValidProfile reports whether p is one of Profiles.
func ValidProfile(p string) bool {
	for _, q := range Profiles {
		if p == q {
			return true
		}
	}
	return false
}

// Check checks a render's external interfaces for a profile. In "prod",
// every rule is an error; in the other profiles a fixture is expected,
// missing annotations and undeclared endpoints are warnings, and a
// malformed endpoint is an error everywhere. catalogPath is a catalog file
// that wins over the stream's.
func Check(nodes []*yaml.RNode, catalogPath, profile string) (*Report, error) {
	if !ValidProfile(profile) {
		return nil, fmt.Errorf("unknown profile %q; valid profiles: %s", profile, strings.Join(Profiles, ", "))
	}
	rep := &Report{Profile: profile, Interfaces: []InterfaceReport{}, Findings: []Finding{}}
	info, err := release.Find(nodes, catalogPath)
	if err != nil {
		return nil, err
	}
	if info == nil {
		rep.Findings = append(rep.Findings, Finding{Severity: SeverityError, Rule: RuleCatalog,
			Message: "no interface catalog: the render has no ConfigMap labelled " + release.CatalogLabel + "=true and no --catalog file was given"})
		return rep, nil
	}
	rep.Catalog = info.Origin
	prod := profile == "prod"
	soft := SeverityWarning
	if prod {
		soft = SeverityError
	}
	add := func(sev, rule, iface string, obj *yaml.RNode, format string, a ...any) {
		f := Finding{Severity: sev, Rule: rule, Interface: iface, Message: fmt.Sprintf(format, a...)}
		if obj != nil {
			f.Object = describe(obj)
		}
		rep.Findings = append(rep.Findings, f)
	}
	r := Resolve(info)
	users := map[string][]string{}
	fixtures := map[string][]*yaml.RNode{} // external -> rendered fixture workloads
	present := map[string]bool{}           // components the stream renders
	for _, n := range nodes {
		if comp, ok := r.Component(n); ok {
			present[comp] = true
			if ff := info.Catalog.Components[comp].FixtureFor; ff != "" {
				fixtures[ff] = append(fixtures[ff], n)
			}
		}
		uses := r.Uses(n)
		ann := n.GetAnnotations()
		names := make([]string, len(uses))
		for i, u := range uses {
			names[i] = u.Name
			users[u.Name] = append(users[u.Name], n.GetKind()+"/"+n.GetName())
			got, ok := ann[ExternalPrefix+u.Name]
			switch {
			case !ok:
				add(soft, RuleAnnotations, u.Name, n, "uses the external interface %s but has no annotation %s%s (render through dpps-render)", u.Name, ExternalPrefix, u.Name)
			case got != u.Annotation():
				add(soft, RuleAnnotations, u.Name, n, "annotation %s%s is %s, the catalog and site say %s", ExternalPrefix, u.Name, got, u.Annotation())
			}
		}
		if len(uses) > 0 {
			if got, want := ann[ExternalsAnnotation], strings.Join(names, ","); got != want {
				add(soft, RuleAnnotations, "", n, "annotation %s is %q, want %q", ExternalsAnnotation, got, want)
			}
		} else if name, want, ok := r.Inbound(n); ok {
			if got := ann[InboundPrefix+name]; got != want {
				add(soft, RuleAnnotations, "", n, "annotation %s%s is %q, the catalog and site say %s (render through dpps-render)", InboundPrefix, name, got, want)
			}
		} else if Exposes(n) {
			add(soft, RuleUndeclared, "", n, "exposes the release outside the cluster, but no inbound external interface of the catalog names its component %q", n.GetLabels()[ComponentLabel])
		}
	}
	for _, i := range r.Interfaces {
		ir := InterfaceReport{Name: i.Name, Direction: i.Direction, Protocol: i.Protocol, Port: i.Port, Auth: i.Auth,
			Status: i.Status, Endpoint: i.Endpoint, Users: users[i.Name]}
		if ir.Users == nil {
			ir.Users = []string{}
		}
		switch i.Status {
		case StatusFixture:
			ir.Endpoint = "test fixture in use (" + strings.Join(i.Fixture.Components, ", ") + ")"
			if prod {
				add(SeverityError, RuleFixture, i.Name, nil, "test fixture in use (%s): set %s and switch the fixture off (%s: false)",
					strings.Join(i.Fixture.Components, ", "), i.ValuesKey, i.Fixture.Toggle)
			}
		case StatusUnset:
			ir.Endpoint = "unset (not used)"
		case StatusConfigured:
			for _, msg := range malformed(i) {
				add(SeverityError, RuleMalformed, i.Name, nil, "%s", msg)
			}
			if prod {
				for _, n := range fixtures[i.Name] {
					add(SeverityError, RuleFixture, i.Name, n, "is the test fixture of %s, which the site sets: switch it off (%s: false)", i.Name, i.Fixture.Toggle)
				}
			}
		}
		rep.Interfaces = append(rep.Interfaces, ir)
	}
	if prod {
		for _, msg := range netpolFindings(r, present) {
			add(SeverityError, RuleNetpol, msg[0], nil, "%s", msg[1])
		}
		for _, msg := range inboundFindings(r, present) {
			add(SeverityError, RuleInbound, msg[0], nil, "%s", msg[1])
		}
	}
	imageFindings(r, nodes, prod, func(iface string, obj *yaml.RNode, msg string) {
		add(SeverityError, RuleImage, iface, obj, "%s", msg)
	})
	undeclared(r, nodes, func(obj *yaml.RNode, where, host string) {
		add(soft, RuleUndeclared, "", obj, "%s names the host %s, which no external interface declares (global.externals) and which is not a Service of the release", where, host)
	}, func(obj *yaml.RNode, msg string) {
		add(soft, RuleUndeclared, "", obj, "%s", msg)
	})
	SortFindings(rep.Findings)
	rep.OK = rep.Errors() == 0
	return rep, nil
}

// netpolFindings lists, as (interface, message), what a production site
// must declare for its NetworkPolicies to be least privilege without
// cutting real traffic: the address blocks of every outbound external its
// rendered components reach, and where its Prometheus runs when a
// rendered component serves metrics.
func netpolFindings(r *Release, present map[string]bool) [][2]string {
	var out [][2]string
	for _, i := range r.Interfaces {
		if i.Status != StatusConfigured || i.Direction != "outbound" || !slices.ContainsFunc(i.Consumers, func(c string) bool { return present[c] }) {
			continue
		}
		if m, ok := i.Site.(map[string]any); ok {
			if l, ok := m["cidrs"].([]any); ok && len(l) > 0 {
				continue
			}
		}
		out = append(out, [2]string{i.Name, fmt.Sprintf("%s sets no cidrs: the egress NetworkPolicy of its consumers would allow any address (0.0.0.0/0 and ::/0) on its ports; set %s.cidrs to the endpoint's address blocks", i.ValuesKey, i.ValuesKey)})
	}
	if r.Info.Site.Observability.Prometheus == nil {
		var scraped []string
		for _, cn := range r.components {
			if r.Info.Catalog.Components[cn].Metrics != nil && present[cn] {
				scraped = append(scraped, cn)
			}
		}
		if len(scraped) > 0 {
			out = append(out, [2]string{"", fmt.Sprintf("global.observability.prometheus is not set: no NetworkPolicy admits Prometheus to the metrics ports of %s; set its namespace and podLabels", strings.Join(scraped, ", "))})
		}
	}
	return out
}

// inboundFindings lists, as (interface, message), the deployed components
// of inbound interfaces their users cannot reach: not exposed, or exposed
// without sources (the NetworkPolicies then admit nobody).
func inboundFindings(r *Release, present map[string]bool) [][2]string {
	var out [][2]string
	c := r.Info.Catalog
	for _, name := range slices.Sorted(maps.Keys(c.Inbound)) {
		in := c.Inbound[name]
		if !present[in.Component] {
			continue
		}
		src, set := r.Info.Site.Inbound[name]
		switch {
		case !set:
			out = append(out, [2]string{name, fmt.Sprintf("%s is deployed but not exposed: nothing outside the cluster can reach it; set %s (type %s)", in.Component, in.ValuesKey, strings.Join(in.Exposures, " or "))})
		case src.Sources() == "" && src.Type == "Ingress":
			out = append(out, [2]string{name, fmt.Sprintf("%s exposes %s through an Ingress without saying from where: the NetworkPolicies admit nobody; set %s.ingress.controller (namespace and podLabels of the ingress controller)", in.ValuesKey, in.Component, in.ValuesKey)})
		case src.Sources() == "":
			out = append(out, [2]string{name, fmt.Sprintf("%s exposes %s through a LoadBalancer without saying from where: the NetworkPolicies admit nobody; set %s.loadBalancerSourceRanges", in.ValuesKey, in.Component, in.ValuesKey)})
		}
	}
	return out
}

// malformed lists what is wrong with the site's value of an interface.
func malformed(i Interface) []string {
	var out []string
	key := i.ValuesKey
	m, ok := i.Site.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want an object, got %v", key, i.Site)}
	}
	for _, f := range i.Fields {
		if _, ok := m[f.Name]; f.Required && !ok {
			out = append(out, fmt.Sprintf("%s.%s: missing (required)", key, f.Name))
		}
	}
	var walk func(path, k string, v any)
	walk = func(path, k string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, kk := range slices.Sorted(maps.Keys(x)) {
				walk(path+"."+kk, kk, x[kk])
			}
		case []any:
			for j, el := range x {
				walk(path+"["+strconv.Itoa(j)+"]", k, el)
			}
		case string:
			switch {
			case strings.Contains(x, "://") || k == "url" || k == "issuer":
				if msg := CheckURL(x); msg != "" {
					out = append(out, fmt.Sprintf("%s: %q: %s", path, x, msg))
				}
			case k == "host":
				if msg := CheckHostPort(x); msg != "" {
					out = append(out, fmt.Sprintf("%s: %q: %s", path, x, msg))
				}
			}
		case float64:
			if k == "port" {
				if n, ok := number(x); !ok || n < 1 || n > 65535 {
					out = append(out, fmt.Sprintf("%s: %v: invalid port", path, x))
				}
			}
		default:
			if k == "port" || k == "host" || k == "url" {
				out = append(out, fmt.Sprintf("%s: %v: want a %s", path, x, map[bool]string{true: "number", false: "string"}[k == "port"]))
			}
		}
	}
	walk(key, "", m)
	return out
}

// declaredHosts are the hosts the release may talk to: every host the
// site's external interfaces name, and the defaults of their fields.
func declaredHosts(r *Release) map[string]bool {
	out := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k])
			}
		case []any:
			for _, el := range x {
				walk(el)
			}
		case string:
			if h := hostOf(x); h != "" {
				out[h] = true
			}
		}
	}
	for _, i := range r.Interfaces {
		if i.Status == StatusConfigured {
			walk(i.Site)
		}
		for _, f := range i.Fields {
			walk(f.Default)
		}
	}
	return out
}

// undeclared reports every host named in an env value of a container or
// in the data of a ConfigMap (the catalog's excepted) that is neither
// declared by an external interface nor internal to the release, and
// (reportPort) every host an external declares named there with a port it
// does not declare for it.
func undeclared(r *Release, nodes []*yaml.RNode, report func(obj *yaml.RNode, where, host string), reportPort func(obj *yaml.RNode, msg string)) {
	declared := declaredHosts(r)
	ports := declaredPorts(r)
	checkPorts := func(obj *yaml.RNode, where, text string, whole bool) {
		for _, hp := range HostPorts(text, whole) {
			if d := ports[hp.Host]; d != nil && !d.ports[hp.Port] {
				reportPort(obj, portMessage(where, hp, d))
			}
		}
	}
	internal := map[string]bool{}
	for _, n := range nodes {
		if n.GetKind() == "Service" {
			internal[strings.ToLower(n.GetName())] = true
		}
	}
	for _, i := range r.Info.Catalog.Interfaces {
		internal[strings.ToLower(i.Service)] = true
	}
	ok := func(h string) bool {
		if declared[h] || internal[h] || ClusterLocal(h) {
			return true
		}
		// <service>.<namespace> of the release
		if first, rest, found := strings.Cut(h, "."); found && internal[first] && !strings.Contains(rest, ".") {
			return true
		}
		return false
	}
	for _, n := range nodes {
		if n.GetKind() == "ConfigMap" {
			if n.GetLabels()[release.CatalogLabel] == "true" {
				continue
			}
			data := manifest.Field(n.YNode(), "data")
			if data == nil || data.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(data.Content); j += 2 {
				for _, h := range Hosts(data.Content[j+1].Value, false) {
					if !ok(h) {
						report(n, "data key "+data.Content[j].Value, h)
					}
				}
				checkPorts(n, "data key "+data.Content[j].Value, data.Content[j+1].Value, false)
			}
			continue
		}
		spec := manifest.PodSpec(n.YNode())
		if spec == nil {
			continue
		}
		for _, c := range manifest.Containers(spec) {
			cname := ""
			if f := manifest.Field(c, "name"); f != nil {
				cname = f.Value
			}
			env := manifest.Field(c, "env")
			if env == nil {
				continue
			}
			for _, e := range env.Content {
				v := manifest.Field(e, "value")
				if v == nil || v.Kind != yaml.ScalarNode {
					continue
				}
				name := ""
				if f := manifest.Field(e, "name"); f != nil {
					name = f.Value
				}
				for _, h := range Hosts(v.Value, true) {
					if !ok(h) {
						report(n, fmt.Sprintf("container %s env %s", cname, name), h)
					}
				}
				checkPorts(n, fmt.Sprintf("container %s env %s", cname, name), v.Value, true)
			}
		}
	}
}

// SortFindings orders findings: errors first, then by rule, interface,
// object and message.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(a, b int) bool {
		x, y := fs[a], fs[b]
		if x.Severity != y.Severity {
			return x.Severity == SeverityError
		}
		if x.Rule != y.Rule {
			return x.Rule < y.Rule
		}
		if x.Interface != y.Interface {
			return x.Interface < y.Interface
		}
		if x.Object != y.Object {
			return x.Object < y.Object
		}
		return x.Message < y.Message
	})
}
