package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInboundExposure: the chart renders each inbound interface a site
// exposes (global.inbound) as it says, and nothing for one it does not,
// nor for a component that is switched off.
func TestInboundExposure(t *testing.T) {
	helm, render := tools(t)
	for _, site := range sites {
		t.Run(site, func(t *testing.T) {
			inbound := readSite(t, site).inbound
			if len(inbound) == 0 {
				t.Fatal("the site exposes nothing: users could not reach it")
			}
			args := []string{"template", release, chart, "--skip-tests"}
			for _, v := range siteValues(site) {
				args = append(args, "-f", v)
			}
			objs := parse(t, run(t, helm, append(args, "--post-renderer", render)...))
			services := map[string]object{}
			for _, o := range objs {
				if o.kind == "Service" && o.labels["dpps.ctao.org/inbound"] != "" {
					services[o.labels["dpps.ctao.org/inbound"]] = o
				}
				if o.kind == "Ingress" {
					t.Errorf("%s: the site exposes nothing through an Ingress", o)
				}
			}
			for name, v := range inbound {
				svc, ok := services[name]
				if !ok {
					t.Errorf("global.inbound.%s: no Service", name)
					continue
				}
				if got := str(dig(svc.m, "spec", "type")); got != "LoadBalancer" {
					t.Errorf("%s: type %q", svc, got)
				}
				if got := str(dig(svc.m, "spec", "externalTrafficPolicy")); got != "Local" {
					t.Errorf("%s: externalTrafficPolicy %q: NetworkPolicies would see a node's address", svc, got)
				}
				var want, got []string
				for _, c := range list(dig(v, "loadBalancerSourceRanges")) {
					want = append(want, str(c))
				}
				for _, c := range list(dig(svc.m, "spec", "loadBalancerSourceRanges")) {
					got = append(got, str(c))
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: loadBalancerSourceRanges %v, the site says %v", svc, got, want)
				}
				if ann := svc.ann["dpps.ctao.org/inbound."+name]; !strings.Contains(ann, `"sources":"`+strings.Join(want, ",")+`"`) {
					t.Errorf("%s: annotation %q", svc, ann)
				}
				// The NetworkPolicy admits the same sources.
				var admitted []string
				for _, o := range objs {
					if o.kind == "NetworkPolicy" && o.name == release+"-dpps-inbound-"+name+"-ingress" {
						for _, r := range list(dig(o.m, "spec", "ingress")) {
							for _, f := range list(dig(r, "from")) {
								admitted = append(admitted, str(dig(f, "ipBlock", "cidr")))
							}
						}
					}
				}
				if !slices.Equal(admitted, want) {
					t.Errorf("NetworkPolicy of inbound %s admits %v, the site says %v", name, admitted, want)
				}
			}
			for name := range services {
				if _, ok := inbound[name]; !ok {
					t.Errorf("Service of inbound %s, which the site does not expose", name)
				}
			}
		})
	}

	t.Run("dev: IAM through an Ingress", func(t *testing.T) {
		objs := parse(t, run(t, helm, renderArgs("dev", render, "--skip-tests")...))
		var ing, svc *object
		for i, o := range objs {
			switch {
			case o.kind == "Ingress" && o.name == release+"-iam":
				ing = &objs[i]
			case o.kind == "Service" && o.name == release+"-iam-public":
				svc = &objs[i]
			}
		}
		if ing == nil || svc == nil {
			t.Fatal("no Ingress dpps-iam and Service dpps-iam-public")
		}
		if got := str(dig(svc.m, "spec", "type")); got != "ClusterIP" {
			t.Errorf("%s: type %q behind an Ingress", svc, got)
		}
		rule := dig(list(dig(ing.m, "spec", "rules"))[0], "http", "paths")
		backend := dig(list(rule)[0], "backend", "service")
		if str(dig(backend, "name")) != release+"-iam-public" || str(dig(backend, "port", "name")) != "http" {
			t.Errorf("%s: backend %v", ing, backend)
		}
	})

	for name, tc := range map[string]struct{ values, want string }{
		"an exposure the interface does not allow": {
			"global:\n  inbound:\n    rucio-server:\n      type: Ingress\n      ingress: {host: r.example.org, controller: {namespace: x, podLabels: {a: b}}}\n",
			`global.inbound.rucio-server.type "Ingress": rucio-server can be exposed by LoadBalancer only`,
		},
		"an Ingress without its controller": {
			"global:\n  inbound:\n    iam:\n      type: Ingress\n",
			"global.inbound.iam: type Ingress needs ingress (host and controller)",
		},
		"source ranges on an Ingress": {
			"global:\n  inbound:\n    iam:\n      type: Ingress\n      loadBalancerSourceRanges: [192.0.2.0/24]\n      ingress: {host: i.example.org, controller: {namespace: x, podLabels: {a: b}}}\n",
			"global.inbound.iam: type Ingress takes ingress, not loadBalancerSourceRanges",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(f, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(helm, "template", release, chart, "--skip-tests", "-f", filepath.Join("ci", "values.yaml"), "-f", f)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("helm template: %v\n%s\nwant %q", err, stderr.String(), tc.want)
			}
		})
	}
}
