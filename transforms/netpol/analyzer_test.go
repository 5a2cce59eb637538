package netpol_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/np-guard/netpol-analyzer/pkg/netpol/connlist"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/netpol"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
	"github.com/ctao/dpps-deploy/transforms/release"
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

// TestAnalyzer renders examples with the real Helm through every
// transform, and asks np-guard's netpol-analyzer, which nobody here wrote,
// what the output allows: exactly the declared interface graph (internal
// interfaces, DNS, the site's external endpoints), nothing more, nothing
// less; and every pod of the release is selected by a policy.
func TestAnalyzer(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	root := testutil.RepoRoot(t)
	cidrs := filepath.Join(t.TempDir(), "cidrs.yaml")
	if err := os.WriteFile(cidrs, []byte(`global:
  externals:
    rucio-database:
      host: postgres.dpps.site-a.example.org
      port: 5432
      database: rucio
      user: rucio
      sslmode: verify-full
      cidrs: [192.0.2.0/24]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		values []string
	}{
		{"ci", []string{"examples/ci/values.yaml"}},
		{"prod-site", []string{"examples/prod-site/values.yaml"}},
		{"prod-site with CIDRs", []string{"examples/prod-site/values.yaml", cidrs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "dpps", filepath.Join(root, "charts/dpps"), "--skip-tests"}
			for _, v := range tc.values {
				if !filepath.IsAbs(v) {
					v = filepath.Join(root, v)
				}
				args = append(args, "-f", v)
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
			nodes, err := (&pipeline.Reader{Input: bytes.NewReader(out.Bytes())}).Read()
			if err != nil {
				t.Fatal(err)
			}
			want := declared(t, nodes)

			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "release.yaml"), out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kube-dns.yaml"), []byte(kubeDNS), 0o644); err != nil {
				t.Fatal(err)
			}
			ca := connlist.NewConnlistAnalyzer(connlist.WithMuteErrsAndWarns())
			conns, peers, err := ca.ConnlistFromDirPath(dir)
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
					continue // between the cluster DNS and the world
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
			got, want = mergeIPs(t, got), mergeIPs(t, want)
			var missing, extra []string
			for k := range want {
				if !got[k] {
					missing = append(missing, k)
				}
			}
			for k := range got {
				if !want[k] {
					extra = append(extra, k)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing) > 0 {
				t.Errorf("declared but not allowed (%d):\n%s", len(missing), strings.Join(missing, "\n"))
			}
			if len(extra) > 0 {
				t.Errorf("allowed but not declared (%d):\n%s", len(extra), strings.Join(extra, "\n"))
			}
			t.Logf("%d peers, %d connections (%d port-level), %d declared", len(peers), len(conns), len(got), len(want))

			// Every pod template of the release is selected by a policy.
			var policies []netpol.Selector
			for _, n := range nodes {
				if n.GetKind() == "NetworkPolicy" {
					var p struct {
						Spec struct {
							PodSelector netpol.Selector `json:"podSelector"`
						} `json:"spec"`
					}
					if err := n.Document().Decode(&p); err != nil {
						t.Fatal(err)
					}
					policies = append(policies, p.Spec.PodSelector)
				}
			}
			for _, w := range netpol.Workloads(nodes) {
				selected := false
				for _, s := range policies {
					selected = selected || s.Matches(w.Labels)
				}
				if !selected {
					t.Errorf("%s/%s: no NetworkPolicy selects its pods", w.Kind, w.Name)
				}
			}
		})
	}
}

// declared is the interface graph of the catalog, for the workloads the
// stream renders, as "src => dst PROTO/port" in the analyzer's names.
func declared(t *testing.T, nodes []*yamlRNode) map[string]bool {
	t.Helper()
	info, err := release.Find(nodes, "")
	if err != nil || info == nil {
		t.Fatalf("no catalog in the stream: %v", err)
	}
	c := info.Catalog
	peer := func(w netpol.Workload) string { return "default/" + w.Name + "[" + w.Kind + "]" }
	byComp := map[string][]netpol.Workload{}
	all := netpol.Workloads(nodes)
	for _, w := range all {
		for name, comp := range c.Components {
			ok := true
			for k, v := range comp.Selector {
				ok = ok && w.Labels[k] == v
			}
			if ok {
				byComp[name] = append(byComp[name], w)
			}
		}
	}
	want := map[string]bool{}
	for _, w := range all {
		want[peer(w)+" => kube-system/coredns[Deployment] UDP/53"] = true
		want[peer(w)+" => kube-system/coredns[Deployment] TCP/53"] = true
	}
	for _, i := range c.Interfaces {
		for _, p := range byComp[i.Provider] {
			for _, cn := range i.Consumers {
				for _, w := range byComp[cn] {
					for _, port := range i.Ports {
						n := port.Port
						if cp, ok := p.Ports[port.Name]; ok {
							n = cp.Port
						}
						want[fmt.Sprintf("%s => %s %s/%d", peer(w), peer(p), port.Protocol, n)] = true
					}
				}
			}
		}
	}
	for name, x := range c.Externals {
		ep, set, err := netpol.SiteEndpoint(info, name)
		if err != nil {
			t.Fatal(err)
		}
		if !set || x.Direction != "outbound" {
			continue
		}
		dsts := []string{"0.0.0.0-255.255.255.255"}
		if len(ep.CIDRs) > 0 {
			dsts = nil
			for _, cidr := range ep.CIDRs {
				dsts = append(dsts, ipRange(t, cidr))
			}
		}
		for _, cn := range x.Consumers {
			for _, w := range byComp[cn] {
				for _, d := range dsts {
					for _, p := range ep.Ports {
						want[fmt.Sprintf("%s => %s TCP/%d", peer(w), d, p)] = true
					}
				}
			}
		}
	}
	return want
}

type yamlRNode = kyaml.RNode

// ipRange writes an IPv4 CIDR as the analyzer does: "first-last".
func ipRange(t *testing.T, cidr string) string {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	first := n.IP.To4()
	last := make(net.IP, 4)
	for i := range 4 {
		last[i] = first[i] | ^n.Mask[i]
	}
	return first.String() + "-" + last.String()
}

// mergeIPs rewrites "src => a-b PORT" entries so that, per source and port,
// the address ranges are merged: the analyzer splits them into disjoint
// blocks across all policies.
func mergeIPs(t *testing.T, set map[string]bool) map[string]bool {
	t.Helper()
	type span struct{ lo, hi uint32 }
	toInt := func(s string) uint32 {
		ip := net.ParseIP(s).To4()
		if ip == nil {
			t.Fatalf("not an IPv4 address: %q", s)
		}
		return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	}
	toIP := func(n uint32) string { return net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n)).String() }
	out := map[string]bool{}
	spans := map[string][]span{}
	for k := range set {
		src, rest, _ := strings.Cut(k, " => ")
		dst, port, _ := strings.Cut(rest, " ")
		a, b, isRange := strings.Cut(dst, "-")
		if !isRange || net.ParseIP(a) == nil {
			out[k] = true
			continue
		}
		key := src + "|" + port
		spans[key] = append(spans[key], span{toInt(a), toInt(b)})
	}
	for key, list := range spans {
		sort.Slice(list, func(i, j int) bool { return list[i].lo < list[j].lo })
		merged := []span{list[0]}
		for _, s := range list[1:] {
			last := &merged[len(merged)-1]
			if uint64(s.lo) <= uint64(last.hi)+1 {
				last.hi = max(last.hi, s.hi)
			} else {
				merged = append(merged, s)
			}
		}
		src, port, _ := strings.Cut(key, "|")
		for _, s := range merged {
			out[src+" => "+toIP(s.lo)+"-"+toIP(s.hi)+" "+port] = true
		}
	}
	return out
}
