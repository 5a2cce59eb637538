package netpol_test

// The independent proof of the generated NetworkPolicies. This file
// imports nothing of package netpol nor of the release reader: it renders
// the examples and the six site overlays with the real Helm through every
// transform, computes the connections the catalog and the site's values
// declare with its own reading of them, and asks np-guard's
// netpol-analyzer (written by nobody here) what the output allows.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/np-guard/netpol-analyzer/pkg/netpol/connlist"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// The cluster DNS the analyzer is shown, so that DNS egress is a real
// connection in its results.
const kubeDNS = `---
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
  labels:
    kubernetes.io/metadata.name: kube-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
spec:
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      containers:
      - name: coredns
        image: coredns/coredns:1.11.1
        ports:
        - name: dns
          containerPort: 53
          protocol: UDP
        - name: dns-tcp
          containerPort: 53
`

// analyzerInputs are the twelve inputs: the four examples, the six sites
// layered on prod-site, and the two sites of the staging failover
// rehearsal layered on staging.
func analyzerInputs() []struct {
	name   string
	values []string
} {
	out := []struct {
		name   string
		values []string
	}{}
	for _, ex := range []string{"ci", "dev", "staging", "prod-site"} {
		out = append(out, struct {
			name   string
			values []string
		}{ex, []string{"examples/" + ex + "/values.yaml"}})
	}
	for _, site := range []string{"dc-ch1", "dc-de1", "dc-es1", "dc-it1", "onsite-n", "onsite-s"} {
		out = append(out, struct {
			name   string
			values []string
		}{site, []string{"examples/prod-site/values.yaml", "examples/sites/" + site + ".yaml"}})
	}
	for _, site := range []string{"a", "b"} {
		out = append(out, struct {
			name   string
			values []string
		}{"staging-failover-" + site, []string{"examples/staging/values.yaml", "examples/staging/failover-" + site + ".yaml"}})
	}
	return out
}

// TestAnalyzer: on every input, np-guard's connections equal the declared
// graph exactly (internal interfaces, DNS, Prometheus to metrics ports,
// the site's external endpoints in IPv4 and IPv6), and every pod template
// of the release is selected by a policy.
func TestAnalyzer(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	for _, tc := range analyzerInputs() {
		t.Run(tc.name, func(t *testing.T) {
			docs := renderDocs(t, helm, tc.values)
			for _, diff := range compare(t, docs) {
				t.Error(diff)
			}
			var selectors []map[string]any
			for _, d := range docs {
				if str(d["kind"]) == "NetworkPolicy" {
					selectors = append(selectors, obj(dig(d, "spec", "podSelector")))
				}
			}
			for _, w := range podTemplates(docs) {
				if !slices.ContainsFunc(selectors, func(s map[string]any) bool { return selects(s, w.labels) }) {
					t.Errorf("%s/%s: no NetworkPolicy selects its pods", w.kind, w.name)
				}
			}
		})
	}
}

// TestAnalyzerCatchesMutations: the comparison fails when a generated
// policy is wider or narrower than declared.
func TestAnalyzerCatchesMutations(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	docs := renderDocs(t, helm, []string{"examples/prod-site/values.yaml", "examples/sites/dc-de1.yaml"})
	if diffs := compare(t, docs); len(diffs) > 0 {
		t.Fatalf("unmutated render differs: %v", diffs)
	}
	mutations := map[string]func(name string, spec map[string]any) bool{
		"widen an interface to every port": func(name string, spec map[string]any) bool {
			if !strings.HasSuffix(name, "-dpps-rucio-server-ingress") && !strings.HasSuffix(name, "-dpps-rucio-server-egress") {
				return false
			}
			for _, r := range append(list(spec["ingress"]), list(spec["egress"])...) {
				delete(obj(r), "ports")
			}
			return true
		},
		"widen an external to any address": func(name string, spec map[string]any) bool {
			if !strings.HasSuffix(name, "-external-rucio-database-egress") {
				return false
			}
			obj(list(spec["egress"])[0])["to"] = []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}
			return true
		},
		"add SSH to an external": func(name string, spec map[string]any) bool {
			if !strings.HasSuffix(name, "-external-storage-egress") {
				return false
			}
			r := obj(list(spec["egress"])[0])
			r["ports"] = append(list(r["ports"]), map[string]any{"protocol": "TCP", "port": 22})
			return true
		},
		"drop an IPv6 range of an external": func(name string, spec map[string]any) bool {
			if !strings.HasSuffix(name, "-external-storage-egress") {
				return false
			}
			r := obj(list(spec["egress"])[0])
			var kept []any
			for _, p := range list(r["to"]) {
				if !strings.Contains(str(dig(p, "ipBlock", "cidr")), ":") {
					kept = append(kept, p)
				}
			}
			r["to"] = kept
			return true
		},
		"drop an inbound source": func(name string, spec map[string]any) bool {
			if !strings.HasSuffix(name, "-inbound-dirac-server-ingress") {
				return false
			}
			r := obj(list(spec["ingress"])[0])
			r["from"] = list(r["from"])[1:]
			return true
		},
		"admit any pod of the monitoring namespace": func(name string, spec map[string]any) bool {
			if !strings.Contains(name, "-metrics-") {
				return false
			}
			delete(obj(list(obj(list(spec["ingress"])[0])["from"])[0]), "podSelector")
			return true
		},
	}
	for what, mutate := range mutations {
		t.Run(what, func(t *testing.T) {
			var mutated []map[string]any
			changed := false
			for _, d := range docs {
				d = deepCopy(t, d)
				if str(d["kind"]) == "NetworkPolicy" && mutate(str(dig(d, "metadata", "name")), obj(d["spec"])) {
					changed = true
				}
				mutated = append(mutated, d)
			}
			if !changed {
				t.Fatal("no policy to mutate")
			}
			if diffs := compare(t, mutated); len(diffs) == 0 {
				t.Error("the mutated policies pass the comparison")
			}
		})
	}
}

// TestAnalyzerCatchesReplicationMutations: on the two sites of the
// staging failover rehearsal, the comparison fails when the replication
// policy is missing, admits another block or reaches any address.
func TestAnalyzerCatchesReplicationMutations(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	cases := []struct {
		site, what string
		mutate     func(spec map[string]any)
	}{
		{"a", "no replica may connect", func(spec map[string]any) { delete(spec, "ingress") }},
		{"a", "admit any address", func(spec map[string]any) {
			obj(list(obj(list(spec["ingress"])[0])["from"])[0])["ipBlock"] = map[string]any{"cidr": "0.0.0.0/0"}
		}},
		{"b", "reach any address", func(spec map[string]any) {
			obj(list(obj(list(spec["egress"])[0])["to"])[0])["ipBlock"] = map[string]any{"cidr": "0.0.0.0/0"}
		}},
		{"b", "reach the primary on every port", func(spec map[string]any) { delete(obj(list(spec["egress"])[0]), "ports") }},
	}
	docs := map[string][]map[string]any{}
	for _, site := range []string{"a", "b"} {
		docs[site] = renderDocs(t, helm, []string{"examples/staging/values.yaml", "examples/staging/failover-" + site + ".yaml"})
	}
	for _, tc := range cases {
		t.Run(tc.site+": "+tc.what, func(t *testing.T) {
			var mutated []map[string]any
			changed := false
			for _, d := range docs[tc.site] {
				d = deepCopy(t, d)
				if str(d["kind"]) == "NetworkPolicy" && strings.Contains(str(dig(d, "metadata", "name")), "-replication-rucio-db-") {
					tc.mutate(obj(d["spec"]))
					changed = true
				}
				mutated = append(mutated, d)
			}
			if !changed {
				t.Fatal("no replication policy to mutate")
			}
			if diffs := compare(t, mutated); len(diffs) == 0 {
				t.Error("the mutated policies pass the comparison")
			}
		})
	}
}

// renderDocs renders the chart with the values files through every
// transform and returns the documents.
func renderDocs(t *testing.T, helm string, values []string) []map[string]any {
	t.Helper()
	root := testutil.RepoRoot(t)
	args := []string{"template", "dpps", filepath.Join(root, "charts/dpps"), "--skip-tests"}
	for _, v := range values {
		args = append(args, "-f", filepath.Join(root, v))
	}
	var rendered, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &rendered, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", helm, strings.Join(args, " "), err, stderr.String())
	}
	steps, err := transforms.Steps(&transforms.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := pipeline.Run(&rendered, &out, steps); err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, part := range strings.Split(out.String(), "\n---\n") {
		var d map[string]any
		if err := sigsyaml.Unmarshal([]byte(part), &d); err != nil {
			t.Fatal(err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// compare runs np-guard on docs twice, once per address family, and
// returns every difference with the declared graph.
func compare(t *testing.T, docs []map[string]any) []string {
	t.Helper()
	want := declared(t, docs)
	var diffs []string
	for _, v6 := range []bool{false, true} {
		got := analyze(t, docs, v6)
		w := map[string]bool{}
		for k := range want {
			if isV6, isIP := flowFamily(k); !isIP || isV6 == v6 {
				w[k] = true
			}
		}
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		got, w = mergeRanges(t, got), mergeRanges(t, surrogate(t, w, v6))
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if !got[k] {
				diffs = append(diffs, fam+": declared but not allowed: "+k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if !w[k] {
				diffs = append(diffs, fam+": allowed but not declared: "+k)
			}
		}
	}
	return diffs
}

// analyze asks np-guard which connections docs allow, seen from one
// address family. np-guard reads IPv4 only (an IPv6 block is read as its
// first 32 bits), so the IPv6 pass keeps only IPv6 peers and maps each to
// an IPv4 surrogate (v6Surrogate); each pass drops the other family's
// peers, and a rule left without peers (it admitted the other family
// only) is dropped whole.
func analyze(t *testing.T, docs []map[string]any, v6 bool) map[string]bool {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		if str(d["kind"]) == "Ingress" {
			// np-guard models an Ingress's controller as any in-cluster
			// source; the site's controller is a pod of peerPods instead.
			continue
		}
		if str(d["kind"]) == "NetworkPolicy" {
			d = familyOnly(t, deepCopy(t, d), v6)
		}
		y, err := sigsyaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	extra := kubeDNS + peerPods(t, docs)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "release.yaml"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := connlist.NewConnlistAnalyzer(connlist.WithMuteErrsAndWarns())
	conns, _, err := ca.ConnlistFromDirPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ca.Errors() {
		t.Errorf("analyzer: %v", e.Error())
	}
	got := map[string]bool{}
	for _, c := range conns {
		src, dst := c.Src().String(), c.Dst().String()
		if !strings.HasPrefix(src, "default/") && !strings.HasPrefix(dst, "default/") {
			continue // between the cluster's own pods and the world
		}
		if c.AllProtocolsAndPorts() {
			got[src+" => "+dst+" all"] = true
			continue
		}
		for proto, ranges := range c.ProtocolsAndPorts() {
			for _, r := range ranges {
				// The analyzer lists denied ranges too, marked.
				if d, ok := r.(interface{ InSet() bool }); ok && !d.InSet() {
					continue
				}
				if r.End()-r.Start() > 100 {
					got[fmt.Sprintf("%s => %s %s/%d-%d", src, dst, proto, r.Start(), r.End())] = true
					continue
				}
				for p := r.Start(); p <= r.End(); p++ {
					got[fmt.Sprintf("%s => %s %s/%d", src, dst, proto, p)] = true
				}
			}
		}
	}
	return got
}

// familyOnly keeps the ipBlock peers of one address family in a policy.
func familyOnly(t *testing.T, d map[string]any, v6 bool) map[string]any {
	spec := obj(d["spec"])
	for _, dir := range [][2]string{{"ingress", "from"}, {"egress", "to"}} {
		var rules []any
		for _, r := range list(spec[dir[0]]) {
			peers := list(obj(r)[dir[1]])
			if len(peers) == 0 {
				rules = append(rules, r)
				continue
			}
			var kept []any
			for _, p := range peers {
				cidr := str(dig(p, "ipBlock", "cidr"))
				if cidr == "" {
					kept = append(kept, p)
					continue
				}
				if strings.Contains(cidr, ":") != v6 {
					continue
				}
				if v6 {
					obj(obj(p)["ipBlock"])["cidr"] = v6Surrogate(t, cidr)
				}
				kept = append(kept, p)
			}
			if len(kept) > 0 {
				obj(r)[dir[1]] = kept
				rules = append(rules, r)
			}
		}
		if spec[dir[0]] != nil {
			spec[dir[0]] = rules
		}
	}
	return d
}

// v6Surrogate maps an IPv6 block to an IPv4 block np-guard can read,
// keeping containment: ::/0 is 0.0.0.0/0, and a block of 2001:db8::/32
// (the documentation range, which every example uses) with a prefix of
// 32 to 64 bits is bits 32-63 of its address with 32 bits less prefix.
func v6Surrogate(t *testing.T, cidr string) string {
	t.Helper()
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil || ip.To4() != nil {
		t.Fatalf("not an IPv6 block: %q", cidr)
	}
	ones, _ := n.Mask.Size()
	if ones == 0 {
		return "0.0.0.0/0"
	}
	if !strings.HasPrefix(n.IP.String(), "2001:db8:") || ones < 32 || ones > 64 {
		t.Fatalf("%s: the test maps ::/0 and blocks of 2001:db8::/32 from /32 to /64 only", cidr)
	}
	v := binary.BigEndian.Uint32(n.IP[4:8])
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).String() + "/" + strconv.Itoa(ones-32)
}

// surrogate rewrites the IPv6 blocks of declared flows as analyze shows
// them to np-guard.
func surrogate(t *testing.T, set map[string]bool, v6 bool) map[string]bool {
	if !v6 {
		return set
	}
	out := map[string]bool{}
	for k := range set {
		src, rest, _ := strings.Cut(k, " => ")
		dst, port, _ := strings.Cut(rest, " ")
		if strings.Contains(src, "/") && strings.Contains(src, ":") && !strings.HasPrefix(src, "default/") {
			src = cidrRange(t, v6Surrogate(t, src))
		}
		if strings.Contains(dst, "/") && strings.Contains(dst, ":") && !strings.HasPrefix(dst, "default/") {
			dst = cidrRange(t, v6Surrogate(t, dst))
		}
		out[src+" => "+dst+" "+port] = true
	}
	return out
}

// flowFamily says whether a declared flow has an address block end, and
// whether it is IPv6.
func flowFamily(k string) (v6, ip bool) {
	src, rest, _ := strings.Cut(k, " => ")
	dst, _, _ := strings.Cut(rest, " ")
	for _, e := range []string{src, dst} {
		if _, _, err := net.ParseCIDR(e); err == nil {
			return strings.Contains(e, ":"), true
		}
	}
	return false, false
}

// The catalog and site values as this test reads them.
type testCatalog struct {
	Components map[string]struct {
		Selector map[string]string `json:"selector"`
		Metrics  *struct {
			Port int `json:"port"`
		} `json:"metrics"`
		KubernetesAPI bool `json:"kubernetesAPI"`
	} `json:"components"`
	Interfaces map[string]struct {
		Provider string `json:"provider"`
		Ports    []struct {
			Name     string `json:"name"`
			Port     int    `json:"port"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
		Consumers []string `json:"consumers"`
	} `json:"interfaces"`
	Externals map[string]struct {
		Direction string   `json:"direction"`
		Port      int      `json:"port"`
		Consumers []string `json:"consumers"`
	} `json:"externals"`
	Inbound map[string]struct {
		Component string `json:"component"`
		Ports     []struct {
			Name     string `json:"name"`
			Port     int    `json:"port"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	} `json:"inbound"`
}

type testPeer struct {
	Namespace string            `json:"namespace"`
	PodLabels map[string]string `json:"podLabels"`
}

type testSite struct {
	Externals     map[string]any `json:"externals"`
	Observability struct {
		Prometheus *testPeer `json:"prometheus"`
	} `json:"observability"`
	Inbound map[string]struct {
		Type                     string   `json:"type"`
		LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges"`
		Ingress                  *struct {
			Controller testPeer `json:"controller"`
		} `json:"ingress"`
	} `json:"inbound"`
	Failover struct {
		Site    string `json:"site"`
		RucioDB *struct {
			Primary string `json:"primary"`
		} `json:"rucio-db"`
	} `json:"failover"`
}

func catalogAndSite(t *testing.T, docs []map[string]any) (testCatalog, testSite) {
	t.Helper()
	var c testCatalog
	var s testSite
	found := false
	for _, d := range docs {
		if str(d["kind"]) != "ConfigMap" || str(dig(d, "metadata", "labels", "dpps.ctao.org/catalog")) != "true" {
			continue
		}
		if err := json.Unmarshal([]byte(str(dig(d, "data", "catalog.json"))), &c); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(str(dig(d, "data", "site.json"))), &s); err != nil {
			t.Fatal(err)
		}
		found = true
	}
	if !found {
		t.Fatal("no catalog ConfigMap in the render")
	}
	return c, s
}

// peerPods are the pods of other namespaces the site declares as peers
// (its Prometheus as "prometheus", each ingress controller as
// "ingress-<name>"), as the analyzer is shown them, and another pod in
// each of their namespaces, which no policy admits.
func peerPods(t *testing.T, docs []map[string]any) string {
	_, s := catalogAndSite(t, docs)
	peers := map[string]testPeer{}
	if p := s.Observability.Prometheus; p != nil {
		peers["prometheus"] = *p
	}
	for name, in := range s.Inbound {
		if in.Ingress != nil {
			peers["ingress-"+name] = in.Ingress.Controller
		}
	}
	var b strings.Builder
	namespaces := map[string]bool{}
	deployment := func(ns, name string, labels map[string]string) {
		l, _ := json.Marshal(labels)
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  selector: {matchLabels: %[3]s}
  template:
    metadata: {labels: %[3]s}
    spec:
      containers:
      - {name: main, image: registry.example.org/%[2]s:1, ports: [{name: web, containerPort: 9090}]}
`, ns, name, l)
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		p := peers[name]
		if !namespaces[p.Namespace] {
			namespaces[p.Namespace] = true
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s, labels: {kubernetes.io/metadata.name: %[1]s}}\n", p.Namespace)
			deployment(p.Namespace, "bystander", map[string]string{"dpps-test": "bystander"})
		}
		deployment(p.Namespace, name, p.PodLabels)
	}
	return b.String()
}

type podTemplate struct {
	kind, name string
	labels     map[string]string
	ports      map[string]int // container port number by name
}

// podTemplates are the release's pod templates, Helm hooks left out (Helm 3
// does not post-render them).
func podTemplates(docs []map[string]any) []podTemplate {
	var out []podTemplate
	for _, d := range docs {
		kind := str(d["kind"])
		var tmpl any
		switch kind {
		case "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet":
			tmpl = dig(d, "spec", "template")
		case "CronJob":
			tmpl = dig(d, "spec", "jobTemplate", "spec", "template")
		default:
			continue
		}
		if dig(d, "metadata", "annotations", "helm.sh/hook") != nil {
			continue
		}
		w := podTemplate{kind: kind, name: str(dig(d, "metadata", "name")), labels: map[string]string{}, ports: map[string]int{}}
		for k, v := range obj(dig(tmpl, "metadata", "labels")) {
			w.labels[k] = str(v)
		}
		for _, c := range append(list(dig(tmpl, "spec", "containers")), list(dig(tmpl, "spec", "initContainers"))...) {
			for _, p := range list(obj(c)["ports"]) {
				if n := str(obj(p)["name"]); n != "" {
					w.ports[n] = num(obj(p)["containerPort"])
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// declared is the connection graph the catalog and the site's values
// declare for the pod templates of the render, as "src => dst PROTO/port"
// in np-guard's names; address blocks are CIDRs.
func declared(t *testing.T, docs []map[string]any) map[string]bool {
	t.Helper()
	c, s := catalogAndSite(t, docs)
	pods := podTemplates(docs)
	peer := func(w podTemplate) string { return "default/" + w.name + "[" + w.kind + "]" }
	of := map[string][]podTemplate{}
	for name, comp := range c.Components {
		for _, w := range pods {
			if len(comp.Selector) > 0 && labelsMatch(comp.Selector, w.labels) {
				of[name] = append(of[name], w)
			}
		}
	}
	want := map[string]bool{}
	for _, w := range pods {
		want[peer(w)+" => kube-system/coredns[Deployment] UDP/53"] = true
		want[peer(w)+" => kube-system/coredns[Deployment] TCP/53"] = true
	}
	for _, i := range c.Interfaces {
		for _, p := range of[i.Provider] {
			for _, cn := range i.Consumers {
				for _, w := range of[cn] {
					for _, port := range i.Ports {
						n := port.Port
						if cp, ok := p.ports[port.Name]; ok {
							n = cp
						}
						want[fmt.Sprintf("%s => %s %s/%d", peer(w), peer(p), port.Protocol, n)] = true
					}
				}
			}
		}
	}
	// The Kubernetes API server: dpps-render's default config, any
	// address on 443 and 6443.
	for name, comp := range c.Components {
		if !comp.KubernetesAPI {
			continue
		}
		for _, w := range of[name] {
			for _, d := range []string{"0.0.0.0/0", "::/0"} {
				for _, p := range []int{443, 6443} {
					want[fmt.Sprintf("%s => %s TCP/%d", peer(w), d, p)] = true
				}
			}
		}
	}
	if p := s.Observability.Prometheus; p != nil {
		for name, comp := range c.Components {
			if comp.Metrics == nil {
				continue
			}
			for _, w := range of[name] {
				want[fmt.Sprintf("%s/prometheus[Deployment] => %s TCP/%d", p.Namespace, peer(w), comp.Metrics.Port)] = true
			}
		}
	}
	for name, in := range c.Inbound {
		src, set := s.Inbound[name]
		if !set {
			continue
		}
		var from []string
		for _, cidr := range src.LoadBalancerSourceRanges {
			from = append(from, cidr)
		}
		if src.Type == "Ingress" && src.Ingress != nil {
			from = append(from, src.Ingress.Controller.Namespace+"/ingress-"+name+"[Deployment]")
		}
		for _, p := range of[in.Component] {
			for _, port := range in.Ports {
				n := port.Port
				if cp, ok := p.ports[port.Name]; ok {
					n = cp
				}
				for _, f := range from {
					want[fmt.Sprintf("%s => %s %s/%d", f, peer(p), port.Protocol, n)] = true
				}
			}
		}
	}
	for name, x := range c.Externals {
		site, set := s.Externals[name].(map[string]any)
		if !set || x.Direction != "outbound" {
			continue
		}
		var cidrs []string
		for _, v := range list(site["cidrs"]) {
			cidrs = append(cidrs, str(v))
		}
		if len(cidrs) == 0 {
			cidrs = []string{"0.0.0.0/0", "::/0"}
		}
		ports := endpointPorts(site)
		if len(ports) == 0 {
			ports = []int{x.Port}
		}
		for _, cn := range x.Consumers {
			for _, w := range of[cn] {
				for _, d := range cidrs {
					for _, p := range ports {
						want[fmt.Sprintf("%s => %s TCP/%d", peer(w), d, p)] = true
					}
				}
			}
		}
	}
	replicationFlows(t, s, of, c, want)
	return want
}

// replicationFlows are the streaming replication connections the site's
// failover topology declares for rucio-db where the release runs it: the
// primary admits every other site's blocks on its PostgreSQL port; a
// replica reaches the primary's blocks on the primary's declared port.
func replicationFlows(t *testing.T, s testSite, of map[string][]podTemplate, c testCatalog, want map[string]bool) {
	t.Helper()
	if s.Failover.RucioDB == nil {
		return
	}
	var peers struct {
		Sites []struct {
			Name  string   `json:"name"`
			Port  int      `json:"port"`
			CIDRs []string `json:"cidrs"`
		} `json:"sites"`
	}
	raw, err := json.Marshal(s.Externals["rucio-database-peers"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &peers); err != nil {
		t.Fatal(err)
	}
	primary := s.Failover.RucioDB.Primary
	for _, w := range of["rucio-db"] {
		for _, p := range peers.Sites {
			switch {
			case s.Failover.Site == primary && p.Name != primary:
				port := c.Interfaces["rucio-db"].Ports[0]
				n := port.Port
				if cp, ok := w.ports[port.Name]; ok {
					n = cp
				}
				for _, cidr := range p.CIDRs {
					want[fmt.Sprintf("%s => default/%s[%s] TCP/%d", cidr, w.name, w.kind, n)] = true
				}
			case s.Failover.Site != primary && p.Name == primary:
				for _, cidr := range p.CIDRs {
					want[fmt.Sprintf("default/%s[%s] => %s TCP/%d", w.name, w.kind, cidr, p.Port)] = true
				}
			}
		}
	}
}

// endpointPorts are the ports an external's site value names: every
// "port" field, and the port of every http(s) URL (443 or 80 without one).
func endpointPorts(v any) []int {
	set := map[int]bool{}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				walk(k, y)
			}
		case []any:
			for _, y := range x {
				walk(key, y)
			}
		case float64:
			if key == "port" {
				set[int(x)] = true
			}
		case string:
			u, err := url.Parse(x)
			if err != nil || u.Host == "" {
				return
			}
			switch {
			case u.Port() != "":
				n, _ := strconv.Atoi(u.Port())
				set[n] = true
			case u.Scheme == "https":
				set[443] = true
			case u.Scheme == "http":
				set[80] = true
			}
		}
	}
	walk("", v)
	return slices.Sorted(maps.Keys(set))
}

// cidrRange writes an IPv4 CIDR as np-guard does: "first-last".
func cidrRange(t *testing.T, cidr string) string {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		t.Fatalf("not an IPv4 block: %q", cidr)
	}
	first := n.IP.To4()
	last := make(net.IP, 4)
	for i := range 4 {
		last[i] = first[i] | ^n.Mask[i]
	}
	return first.String() + "-" + last.String()
}

// mergeRanges writes the address blocks of flows as np-guard's "a-b"
// ranges merged per flow end and port: np-guard splits them into disjoint
// blocks across all policies.
func mergeRanges(t *testing.T, set map[string]bool) map[string]bool {
	t.Helper()
	type span struct{ lo, hi uint32 }
	toInt := func(s string) uint32 {
		ip := net.ParseIP(s).To4()
		if ip == nil {
			t.Fatalf("not an IPv4 address: %q", s)
		}
		return binary.BigEndian.Uint32(ip)
	}
	toIP := func(n uint32) string { return net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n)).String() }
	asRange := func(e string) (string, bool) {
		if _, _, err := net.ParseCIDR(e); err == nil && !strings.Contains(e, ":") {
			return cidrRange(t, e), true
		}
		a, _, ok := strings.Cut(e, "-")
		return e, ok && net.ParseIP(a) != nil
	}
	out := map[string]bool{}
	spans := map[string][]span{}
	for k := range set {
		src, rest, _ := strings.Cut(k, " => ")
		dst, port, _ := strings.Cut(rest, " ")
		if r, ok := asRange(dst); ok {
			a, b, _ := strings.Cut(r, "-")
			spans[src+"|=>|"+port] = append(spans[src+"|=>|"+port], span{toInt(a), toInt(b)})
			continue
		}
		if r, ok := asRange(src); ok {
			a, b, _ := strings.Cut(r, "-")
			spans[dst+"|<=|"+port] = append(spans[dst+"|<=|"+port], span{toInt(a), toInt(b)})
			continue
		}
		out[k] = true
	}
	for key, l := range spans {
		sort.Slice(l, func(i, j int) bool { return l[i].lo < l[j].lo })
		merged := []span{l[0]}
		for _, s := range l[1:] {
			last := &merged[len(merged)-1]
			if uint64(s.lo) <= uint64(last.hi)+1 {
				last.hi = max(last.hi, s.hi)
			} else {
				merged = append(merged, s)
			}
		}
		parts := strings.SplitN(key, "|", 3)
		for _, s := range merged {
			r := toIP(s.lo) + "-" + toIP(s.hi)
			if parts[1] == "=>" {
				out[parts[0]+" => "+r+" "+parts[2]] = true
			} else {
				out[r+" => "+parts[0]+" "+parts[2]] = true
			}
		}
	}
	return out
}

// selects evaluates a label selector (matchLabels, matchExpressions).
func selects(sel map[string]any, labels map[string]string) bool {
	ml := map[string]string{}
	for k, v := range obj(sel["matchLabels"]) {
		ml[k] = str(v)
	}
	if !labelsMatch(ml, labels) {
		return false
	}
	for _, e := range list(sel["matchExpressions"]) {
		v, has := labels[str(obj(e)["key"])]
		in := slices.ContainsFunc(list(obj(e)["values"]), func(x any) bool { return str(x) == v })
		switch str(obj(e)["operator"]) {
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

func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func num(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	}
	return 0
}

func deepCopy(t *testing.T, d map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
