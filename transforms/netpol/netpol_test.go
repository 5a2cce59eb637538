package netpol_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/benchdata"
	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms/netpol"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// catalogDoc builds a minimal catalog for release "rel": components a
// (provides svc-a on "http" 8080), b and c (consume svc-a), and the outbound
// external db consumed by a, unless changed by mod.
func catalogDoc(mod func(map[string]any)) map[string]any {
	comp := func(n string) map[string]any {
		return map[string]any{"description": n, "subchart": "s", "workload": "Deployment", "name": "rel-" + n,
			"selector": map[string]string{"app.kubernetes.io/instance": "rel", "app.kubernetes.io/component": n}}
	}
	c := map[string]any{
		"apiVersion": "dpps.ctao.org/v1alpha1", "kind": "InterfaceCatalog", "release": "rel",
		"subcharts":  map[string]any{"s": map[string]any{"description": "s", "toggle": "s.enabled", "components": []string{"a", "b", "c"}}},
		"components": map[string]any{"a": comp("a"), "b": comp("b"), "c": comp("c")},
		"interfaces": map[string]any{"svc-a": map[string]any{"description": "a's API", "provider": "a", "service": "rel-svc-a",
			"ports": []any{map[string]any{"name": "http", "port": 8080, "protocol": "TCP"}}, "consumers": []string{"b", "c"}}},
		"shared": map[string]any{}, "credentials": map[string]any{},
		"externals": map[string]any{"db": map[string]any{"description": "a database", "direction": "outbound", "protocol": "postgresql",
			"port": 5432, "auth": "none", "credentials": []string{}, "consumers": []string{"a"}, "valuesKey": "global.externals.db",
			"fields": []any{map[string]any{"name": "host", "type": "string", "required": true, "description": "host"}}}},
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// withInbound declares the inbound interface a-api: svc-a from outside.
func withInbound(c map[string]any) {
	c["inbound"] = map[string]any{"a-api": map[string]any{"description": "a from outside", "interface": "svc-a", "component": "a",
		"ports": []any{map[string]any{"name": "http", "port": 8080, "protocol": "TCP"}}, "auth": []string{"oidc"},
		"exposures": []string{"Ingress", "LoadBalancer"}, "valuesKey": "global.inbound.a-api"}}
}

// foreign rewrites the catalog as a site admin writes one for a chart
// nobody here wrote: selectors without the instance label; a also
// consumes db, a database of another release; d is declared but nothing
// connects it.
func foreign(c map[string]any) {
	comps := c["components"].(map[string]any)
	for _, n := range []string{"a", "b", "c"} {
		comps[n].(map[string]any)["selector"] = map[string]string{"app": n}
	}
	comps["d"] = map[string]any{"description": "d", "subchart": "s", "workload": "Deployment", "name": "rel-d", "selector": map[string]string{"app": "d"}}
	comps["db"] = map[string]any{"description": "db", "subchart": "s", "workload": "StatefulSet", "name": "other-db", "selector": map[string]string{"app.kubernetes.io/name": "postgresql"}}
	c["subcharts"].(map[string]any)["s"].(map[string]any)["components"] = []string{"a", "b", "c", "d", "db"}
	c["interfaces"].(map[string]any)["db"] = map[string]any{"description": "db", "provider": "db", "service": "other-db",
		"ports": []any{map[string]any{"name": "tcp-postgresql", "port": 5432, "protocol": "TCP"}}, "consumers": []string{"a"}}
}

// podsOf is a Deployment rel-<name> whose pods carry labels (one YAML
// line) only.
func podsOf(name, labels, ports string) string {
	return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: rel-%s\nspec:\n  template:\n    metadata:\n      labels: {%s}\n    spec:\n      containers:\n      - name: main\n        image: x:1\n%s", name, labels, ports)
}

// catalogCM is the catalog ConfigMap of a stream.
func catalogCM(cat map[string]any, site string) string {
	js, _ := json.Marshal(cat)
	if site == "" {
		site = `{"externals": {}}`
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel-dpps-catalog\n  labels:\n    dpps.ctao.org/catalog: \"true\"\ndata:\n  catalog.json: %s\n  site.json: %s\n", q(string(js)), q(site))
}

func deployment(comp, ports string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-%[1]s
spec:
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: rel
        app.kubernetes.io/component: %[1]s
    spec:
      containers:
      - name: main
        image: x:1
%[2]s`, comp, ports)
}

const httpPort = "        ports:\n        - name: http\n          containerPort: 8080\n"

func stream(docs ...string) string {
	return "---\n" + strings.Join(docs, "---\n")
}

func run(t *testing.T, cfg netpol.Config, in string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	_, err := pipeline.Run(strings.NewReader(in), &out, []pipeline.Step{{Name: "netpol", Filter: netpol.New(cfg, "")}})
	return out.String(), err
}

func explain(t *testing.T, out string) []string {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(out)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	flows, err := netpol.Explain(nodes, "")
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, f := range flows {
		s = append(s, f.From+" -> "+f.To+" "+f.PortString()+" "+f.AllowedBy())
	}
	return s
}

func names(t *testing.T, out string) []string {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(out)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, n := range nodes {
		if netpol.IsGenerated(n) {
			s = append(s, n.GetKind()+"/"+n.GetName())
		}
	}
	return s
}

const dns = "-> namespace kube-system, pods k8s-app=kube-dns "

// TestRules covers each rule kind: the generated objects by name and the
// connections they allow.
func TestRules(t *testing.T) {
	lb := `apiVersion: v1
kind: Service
metadata:
  name: rel-a-public
spec:
  type: LoadBalancer
  selector:
    app.kubernetes.io/instance: rel
    app.kubernetes.io/component: a
  ports:
  - name: http
    port: 80
    targetPort: http
`
	tests := map[string]struct {
		cfg       netpol.Config
		in        string
		wantNames []string
		wantFlows []string // without the DNS flows
		wantErr   string
	}{
		"internal interface: ingress on the provider, egress on the consumers, named ports": {
			in: stream(catalogCM(catalogDoc(nil), ""), deployment("a", httpPort), deployment("b", ""), deployment("c", "")),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns",
				"NetworkPolicy/rel-dpps-svc-a-ingress", "NetworkPolicy/rel-dpps-svc-a-egress"},
			wantFlows: []string{"b -> a TCP/8080 (http) interface/svc-a", "c -> a TCP/8080 (http) interface/svc-a"},
		},
		"a port the container does not name is a number": {
			in:        stream(catalogCM(catalogDoc(nil), ""), deployment("a", "        ports:\n        - containerPort: 8080\n"), deployment("b", "")),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-svc-a-ingress", "NetworkPolicy/rel-dpps-svc-a-egress"},
			wantFlows: []string{"b -> a TCP/8080 interface/svc-a"},
		},
		"a switched-off consumer gets nothing, and a provider without consumers no rule": {
			in:        stream(catalogCM(catalogDoc(nil), ""), deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns"},
		},
		"external outbound: the site's CIDRs on its ports": {
			in: stream(catalogCM(catalogDoc(nil), `{"externals": {"db": {"host": "db.example.org", "port": 5433, "cidrs": ["192.0.2.0/24"]}}}`),
				deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-external-db-egress"},
			wantFlows: []string{"a -> 192.0.2.0/24 TCP/5433 egress: external/db; ingress: outside the stream"},
		},
		"external outbound without CIDRs: any address on the default port": {
			in:        stream(catalogCM(catalogDoc(nil), `{"externals": {"db": {"host": "db.example.org"}}}`), deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-external-db-egress"},
			wantFlows: []string{"a -> 0.0.0.0/0 TCP/5432 egress: external/db; ingress: outside the stream",
				"a -> ::/0 TCP/5432 egress: external/db; ingress: outside the stream"},
		},
		"metrics: the declared Prometheus only, on the metrics port": {
			in: stream(catalogCM(catalogDoc(func(c map[string]any) {
				c["components"].(map[string]any)["b"].(map[string]any)["metrics"] = map[string]any{"port": 9090, "path": "/metrics"}
			}), `{"externals": {}, "observability": {"prometheus": {"namespace": "monitoring", "podLabels": {"app": "prometheus"}}}}`),
				deployment("a", httpPort), deployment("b", "")),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-svc-a-ingress",
				"NetworkPolicy/rel-dpps-svc-a-egress", "NetworkPolicy/rel-dpps-metrics-b-ingress"},
			wantFlows: []string{"b -> a TCP/8080 (http) interface/svc-a",
				"namespace monitoring, pods app=prometheus -> b TCP/9090 egress: outside the stream; ingress: metrics/b"},
		},
		"metrics without a declared Prometheus: nothing may scrape": {
			in: stream(catalogCM(catalogDoc(func(c map[string]any) {
				c["components"].(map[string]any)["b"].(map[string]any)["metrics"] = map[string]any{"port": 9090, "path": "/metrics"}
			}), ""), deployment("a", httpPort), deployment("b", "")),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-svc-a-ingress",
				"NetworkPolicy/rel-dpps-svc-a-egress"},
			wantFlows: []string{"b -> a TCP/8080 (http) interface/svc-a"},
		},
		"a Prometheus without pod labels": {
			in: stream(catalogCM(catalogDoc(nil), `{"externals": {}, "observability": {"prometheus": {"namespace": "monitoring", "podLabels": {}}}}`),
				deployment("a", httpPort)),
			wantErr: "site.json observability.prometheus needs a namespace and at least one pod label",
		},
		"declared inbound, LoadBalancer: the source ranges on the interface's ports": {
			in: stream(catalogCM(catalogDoc(withInbound), `{"externals": {}, "inbound": {"a-api": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["198.51.100.0/24", "2001:db8::/32"]}}}`),
				deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-inbound-a-api-ingress"},
			wantFlows: []string{"198.51.100.0/24 -> a TCP/8080 (http) egress: outside the stream; ingress: inbound/a-api",
				"2001:db8::/32 -> a TCP/8080 (http) egress: outside the stream; ingress: inbound/a-api"},
		},
		"declared inbound, Ingress: the controller's pods only": {
			in: stream(catalogCM(catalogDoc(withInbound), `{"externals": {}, "inbound": {"a-api": {"type": "Ingress", "ingress": {"host": "a.example.org", "controller": {"namespace": "ingress-nginx", "podLabels": {"app": "nginx"}}}}}}`),
				deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-inbound-a-api-ingress"},
			wantFlows: []string{"namespace ingress-nginx, pods app=nginx -> a TCP/8080 (http) egress: outside the stream; ingress: inbound/a-api"},
		},
		"declared inbound without sources: nothing": {
			in:        stream(catalogCM(catalogDoc(withInbound), `{"externals": {}, "inbound": {"a-api": {"type": "LoadBalancer"}}}`), deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns"},
		},
		"declared inbound with a malformed source": {
			in:      stream(catalogCM(catalogDoc(withInbound), `{"externals": {}, "inbound": {"a-api": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["198.51.100.0"]}}}`), deployment("a", httpPort)),
			wantErr: `site.json inbound.a-api.loadBalancerSourceRanges: "198.51.100.0" is not a CIDR: fix global.inbound.a-api.loadBalancerSourceRanges`,
		},
		"foreign chart: each component by its own selector; a provider in another release by port number": {
			in: stream(catalogCM(catalogDoc(foreign), ""), podsOf("a", "app: a", httpPort), podsOf("b", "app: b", "")),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny-a", "NetworkPolicy/rel-dpps-dns-a", "NetworkPolicy/rel-dpps-default-deny-b",
				"NetworkPolicy/rel-dpps-dns-b", "NetworkPolicy/rel-dpps-db-egress", "NetworkPolicy/rel-dpps-svc-a-ingress", "NetworkPolicy/rel-dpps-svc-a-egress"},
			wantFlows: []string{"b -> a TCP/8080 (http) interface/svc-a"},
		},
		"foreign chart: a component the catalog gives no connection is an error, not a deny-all": {
			in: stream(catalogCM(catalogDoc(foreign), ""), podsOf("a", "app: a", httpPort), podsOf("b", "app: b", ""),
				podsOf("c", "app: c", ""), podsOf("d", "app: d", "")),
			wantErr: "component d (Deployment/rel-d) would be isolated: the catalog ConfigMap rel-dpps-catalog () declares no interface it provides or consumes, no external, inbound interface, metrics port or Kubernetes API access, so its pods could resolve names and nothing else; declare what it serves and uses (interfaces.<name>.provider and .consumers, externals.<name>.consumers) in the catalog, or leave netpol out of --transforms",
		},
		"external inbound: ingress from the site's CIDRs only": {
			in: stream(catalogCM(catalogDoc(func(c map[string]any) {
				x := c["externals"].(map[string]any)["db"].(map[string]any)
				x["direction"] = "inbound"
			}), `{"externals": {"db": {"port": 9000, "cidrs": ["203.0.113.0/24"]}}}`), deployment("a", httpPort)),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-external-db-ingress"},
			wantFlows: []string{"203.0.113.0/24 -> a TCP/9000 egress: outside the stream; ingress: external/db"},
		},
		"LoadBalancer Service: ingress from the configured CIDRs": {
			cfg:       netpol.Config{Inbound: netpol.InboundConfig{CIDRs: []string{"198.51.100.0/24"}}},
			in:        stream(catalogCM(catalogDoc(nil), ""), deployment("a", httpPort), lb),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns", "NetworkPolicy/rel-dpps-service-rel-a-public-ingress"},
			wantFlows: []string{"198.51.100.0/24 -> a TCP/8080 (http) egress: outside the stream; ingress: inbound/service/rel-a-public"},
		},
		"LoadBalancer Service without configured sources: nothing": {
			in:        stream(catalogCM(catalogDoc(nil), ""), deployment("a", httpPort), lb),
			wantNames: []string{"NetworkPolicy/rel-dpps-default-deny", "NetworkPolicy/rel-dpps-dns"},
		},
		"no workload of the release: the default deny selects nothing": {
			in:      stream(catalogCM(catalogDoc(nil), "")),
			wantErr: "netpol: NetworkPolicy rel-dpps-default-deny, rel-dpps-dns: podSelector app.kubernetes.io/instance=rel selects no pod template of the stream; every policy must select a workload of the release: render the workloads the catalog's components declare, fix their selectors in the catalog, or run without netpol (--transforms without netpol)",
		},
		"a catalog that names no release": {
			in:      stream(catalogCM(catalogDoc(func(c map[string]any) { c["release"] = "{{ .Release.Name }}" }), ""), deployment("a", "")),
			wantErr: "the catalog names no release",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, tc.cfg, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if out != "" {
					t.Errorf("output on error: %q", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(t, out); strings.Join(got, "\n") != strings.Join(tc.wantNames, "\n") {
				t.Errorf("generated:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantNames, "\n"))
			}
			var flows []string
			pods := 0
			for _, f := range explain(t, out) {
				if strings.Contains(f, dns) {
					pods++
					continue
				}
				flows = append(flows, f)
			}
			if got := strings.Join(flows, "\n"); got != strings.Join(tc.wantFlows, "\n") {
				t.Errorf("flows:\n%s\nwant:\n%s", got, strings.Join(tc.wantFlows, "\n"))
			}
			if pods == 0 {
				t.Error("no DNS flow")
			}
			again, err := run(t, tc.cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			if again != out {
				t.Errorf("a second run changed the output:\n%s", again)
			}
		})
	}
}

// TestGolden pins the whole shape of the generated objects.
func TestGolden(t *testing.T) {
	in := stream(deployment("a", httpPort), deployment("b", ""))
	dir := t.TempDir()
	js, _ := json.Marshal(catalogDoc(nil))
	path := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := pipeline.Run(strings.NewReader(in), &out, []pipeline.Step{{Name: "netpol", Filter: netpol.New(netpol.Config{}, path)}}); err != nil {
		t.Fatal(err)
	}
	want := in + `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  annotations:
    dpps.ctao.org/rule: default-deny
  labels:
    app.kubernetes.io/instance: rel
    app.kubernetes.io/managed-by: dpps-render
    dpps.ctao.org/generated: netpol
  name: rel-dpps-default-deny
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/instance: rel
  policyTypes:
  - Ingress
  - Egress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  annotations:
    dpps.ctao.org/rule: dns
  labels:
    app.kubernetes.io/instance: rel
    app.kubernetes.io/managed-by: dpps-render
    dpps.ctao.org/generated: netpol
  name: rel-dpps-dns
spec:
  egress:
  - ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
    to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  podSelector:
    matchLabels:
      app.kubernetes.io/instance: rel
  policyTypes:
  - Egress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  annotations:
    dpps.ctao.org/rule: interface/svc-a
  labels:
    app.kubernetes.io/instance: rel
    app.kubernetes.io/managed-by: dpps-render
    dpps.ctao.org/generated: netpol
  name: rel-dpps-svc-a-ingress
spec:
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/component: b
          app.kubernetes.io/instance: rel
    ports:
    - port: http
      protocol: TCP
  podSelector:
    matchLabels:
      app.kubernetes.io/component: a
      app.kubernetes.io/instance: rel
  policyTypes:
  - Ingress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  annotations:
    dpps.ctao.org/rule: interface/svc-a
  labels:
    app.kubernetes.io/instance: rel
    app.kubernetes.io/managed-by: dpps-render
    dpps.ctao.org/generated: netpol
  name: rel-dpps-svc-a-egress
spec:
  egress:
  - ports:
    - port: http
      protocol: TCP
    to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/component: a
          app.kubernetes.io/instance: rel
  podSelector:
    matchLabels:
      app.kubernetes.io/component: b
      app.kubernetes.io/instance: rel
  policyTypes:
  - Egress
`
	if out.String() != want {
		t.Errorf("got:\n%s", out.String())
	}
}

// TestNoCatalog: charts nobody here wrote pass through unchanged.
func TestNoCatalog(t *testing.T) {
	in := stream(deployment("a", httpPort))
	f := netpol.New(netpol.Config{}, "")
	var out bytes.Buffer
	stats, err := pipeline.Run(strings.NewReader(in), &out, []pipeline.Step{{Name: "netpol", Filter: f}})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != in || stats.Steps[0].Added != 0 || f.Changed() != 0 {
		t.Errorf("changed a stream without catalog:\n%s", out.String())
	}
}

// TestCorpus runs the transform on the shared corpus: without a catalog
// every file passes unchanged; with a catalog naming the Bitnami database
// as a component, the chart's own NetworkPolicies are kept, in place, and
// the connections explain finds still include what they allow.
func TestCorpus(t *testing.T) {
	for _, file := range testutil.CorpusFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(file)
		t.Run(base, func(t *testing.T) {
			var plain bytes.Buffer
			if _, err := pipeline.Run(bytes.NewReader(data), &plain, nil); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, netpol.Config{}, string(data))
			if err != nil {
				t.Fatal(err)
			}
			if out != plain.String() {
				t.Error("a stream without catalog changed")
			}
		})
	}
	for _, tc := range []struct{ file, component, shipped string }{
		{"bitnami-postgresql-15.5.38.yaml", "postgresql", ""},
		{"bitnami-mariadb-20.5.5.yaml", "primary", ""},
	} {
		t.Run("shipped policies/"+tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), tc.file))
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := (&pipeline.Reader{Input: bytes.NewReader(data)}).Read()
			if err != nil {
				t.Fatal(err)
			}
			var shipped []string
			var rel string
			for _, n := range nodes {
				if n.GetKind() == "NetworkPolicy" {
					shipped = append(shipped, n.GetName())
				}
				if l := n.GetLabels()["app.kubernetes.io/instance"]; l != "" && rel == "" {
					rel = l
				}
			}
			if len(shipped) == 0 {
				t.Fatal("the file ships no NetworkPolicy")
			}
			before, err := netpol.Explain(nodes, "")
			if err != nil {
				t.Fatal(err)
			}
			cat := catalogDoc(func(c map[string]any) {
				c["release"] = rel
				c["components"] = map[string]any{tc.component: map[string]any{"description": "db", "subchart": "s", "workload": "StatefulSet",
					"name": rel + "-db", "selector": map[string]string{"app.kubernetes.io/instance": rel, "app.kubernetes.io/component": tc.component}}}
				c["subcharts"] = map[string]any{"s": map[string]any{"description": "s", "toggle": "s.enabled", "components": []string{tc.component, "client"}}}
				// The database's clients run in another release.
				c["components"].(map[string]any)["client"] = map[string]any{"description": "client", "subchart": "s", "workload": "Deployment",
					"name": "client", "selector": map[string]string{"app": "db-client"}}
				c["interfaces"] = map[string]any{"db": map[string]any{"description": "db", "provider": tc.component, "service": rel + "-db",
					"ports": []any{map[string]any{"name": "db", "port": 3306, "protocol": "TCP"}}, "consumers": []string{"client"}}}
				c["externals"] = map[string]any{}
			})
			dir := t.TempDir()
			js, _ := json.Marshal(cat)
			path := filepath.Join(dir, "catalog.json")
			if err := os.WriteFile(path, js, 0o644); err != nil {
				t.Fatal(err)
			}
			f := netpol.New(netpol.Config{}, path)
			got, err := f.Filter(nodes)
			if err != nil {
				t.Fatal(err)
			}
			for i := range nodes {
				if got[i] != nodes[i] {
					t.Fatalf("object %d replaced", i)
				}
			}
			var kept []string
			for _, n := range got[:len(nodes)] {
				if n.GetKind() == "NetworkPolicy" {
					kept = append(kept, n.GetName())
				}
			}
			if strings.Join(kept, ",") != strings.Join(shipped, ",") {
				t.Errorf("shipped policies %v, after %v", shipped, kept)
			}
			after, err := netpol.Explain(got, path)
			if err != nil {
				t.Fatal(err)
			}
			// The shipped ingress rules still admit what they admitted; the
			// generated default deny only adds restrictions where the chart
			// had none, and DNS.
			ingressBy := func(flows []netpol.Flow) map[string]bool {
				m := map[string]bool{}
				for _, fl := range flows {
					if strings.HasPrefix(fl.Ingress, "policy ") {
						m[fl.From+"|"+fl.Protocol+"/"+fl.Port+"|"+fl.Ingress] = true
					}
				}
				return m
			}
			b, a := ingressBy(before), ingressBy(after)
			if len(b) == 0 {
				t.Fatal("the shipped policies allow no ingress")
			}
			for k := range b {
				if !a[k] {
					t.Errorf("lost %s", k)
				}
			}
			t.Logf("%d flows before, %d after", len(before), len(after))
			_ = yaml.Node{}
		})
	}
}

// TestBenchStream: the benchmark's stream with a catalog gets its policies,
// each selecting pods, and a second run changes nothing.
func TestBenchStream(t *testing.T) {
	in := string(benchdata.StreamWithCatalog(500))
	out, err := run(t, netpol.Config{}, in)
	if err != nil {
		t.Fatal(err)
	}
	got := names(t, out)
	if len(got) != 2+2*7 {
		t.Errorf("%d policies, want 16: %v", len(got), got)
	}
	again, err := run(t, netpol.Config{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if again != out {
		t.Error("a second run changed the output")
	}
}

// TestSiteCatalogs: the public Rucio and DiracX charts' real renders with
// the site catalogs of docs/site-catalogs: netpol writes policies for their
// components by the catalogs' own selectors; with the catalogs' interfaces
// left out, it refuses to isolate them.
func TestSiteCatalogs(t *testing.T) {
	root := testutil.RepoRoot(t)
	for file, cat := range map[string]string{
		"rucio-server.ci.yaml":  "rucio.yaml",
		"rucio-daemons.ci.yaml": "rucio.yaml",
		"diracx.demo.yaml":      "diracx.yaml",
	} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), file))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(root, "docs", "site-catalogs", cat)
			var out bytes.Buffer
			if _, err := pipeline.Run(bytes.NewReader(data), &out, []pipeline.Step{{Name: "netpol", Filter: netpol.New(netpol.Config{}, path)}}); err != nil {
				t.Fatalf("with the site catalog: %v", err)
			}
			if !strings.Contains(out.String(), "dpps.ctao.org/rule: interface/") {
				t.Error("no interface rule generated")
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The catalog without its interfaces.
			head, tail, _ := strings.Cut(string(raw), "\ninterfaces:\n")
			_, rest, _ := strings.Cut(tail, "\nshared:")
			bare := filepath.Join(t.TempDir(), cat)
			if err := os.WriteFile(bare, []byte(head+"\ninterfaces: {}\nshared:"+rest), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = pipeline.Run(bytes.NewReader(data), &out, []pipeline.Step{{Name: "netpol", Filter: netpol.New(netpol.Config{}, bare)}})
			if err == nil || !strings.Contains(err.Error(), "would be isolated") || strings.Contains(err.Error(), "\n") {
				t.Errorf("without interfaces: %v", err)
			}
		})
	}
}
