package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The six data centres of examples/sites, each a values file layered on
// prod-site: four off-site, two on-site.
var sites = []string{"dc-de1", "dc-es1", "dc-it1", "dc-ch1", "onsite-n", "onsite-s"}

const prodSite = "prod-site/values.yaml"

// siteValues is the -f list of a site, relative to examples/.
func siteValues(site string) []string {
	return []string{prodSite, filepath.Join("sites", site+".yaml")}
}

// siteFile is the part of a site file the test reads.
type siteFile struct {
	externals map[string]any
	inbound   map[string]any // global.inbound
	store     string
}

func readSite(t *testing.T, site string) siteFile {
	t.Helper()
	m := readValues(t, filepath.Join("sites", site+".yaml"))
	ext, _ := dig(m, "global", "externals").(map[string]any)
	inbound, _ := dig(m, "global", "inbound").(map[string]any)
	return siteFile{externals: ext, inbound: inbound, store: str(dig(m, "global", "secrets", "secretStore", "name"))}
}

// readValues reads a values file into a map.
func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := yaml.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	m, err := n.Map()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// endpoints are the host names and URLs a site file sets, with where.
func endpoints(v any, path string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch k {
			case "host", "url", "issuer", "proxy":
				if s := str(x); s != "" {
					out[s] = path + "." + k
				}
			default:
				endpoints(x, path+"."+k, out)
			}
		}
	case []any:
		for _, x := range v {
			endpoints(x, path, out)
		}
	}
}

// TestSiteFiles: examples/sites holds exactly the six sites and a README;
// every site sets every external of prod-site, its own secret store, and
// endpoints no other site shares (a failover target never points at the
// failed site).
func TestSiteFiles(t *testing.T) {
	files, err := filepath.Glob("sites/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	want := slices.Sorted(slices.Values(sites))
	if !slices.Equal(got, want) {
		t.Errorf("examples/sites holds %v, want %v", got, want)
	}
	if _, err := os.Stat("sites/README.md"); err != nil {
		t.Error("examples/sites has no README.md")
	}
	prod := func() map[string]any {
		data, err := os.ReadFile(prodSite)
		if err != nil {
			t.Fatal(err)
		}
		n, err := yaml.Parse(string(data))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := n.Map()
		ext, _ := dig(m, "global", "externals").(map[string]any)
		return ext
	}()
	owner := map[string]string{}
	stores := map[string]string{}
	for _, site := range sites {
		sf := readSite(t, site)
		for name := range prod {
			if sf.externals[name] == nil {
				t.Errorf("%s: global.externals.%s is not set: the site would inherit prod-site's", site, name)
			}
		}
		if sf.store == "" {
			t.Errorf("%s: no global.secrets.secretStore.name", site)
		} else if other, ok := stores[sf.store]; ok {
			t.Errorf("%s and %s share the secret store %s", site, other, sf.store)
		}
		stores[sf.store] = site
		eps := map[string]string{}
		endpoints(sf.externals, "global.externals", eps)
		if len(eps) == 0 {
			t.Errorf("%s: no endpoint", site)
		}
		for ep, where := range eps {
			if other, ok := owner[ep]; ok {
				t.Errorf("%s: %s %s is also %s's", site, where, ep, other)
			}
			owner[ep] = site
			if !strings.Contains(ep, site+".example.org") {
				t.Errorf("%s: %s %s is not under %s.example.org", site, where, ep, site)
			}
		}
	}
}

// TestSites: each site lints with dpps-schemagen, passes helm lint --strict,
// renders with the real Helm through dpps-render, and the render passes
// `dpps-render check --profile prod`; it holds no fixture, no Secret, nothing
// of prod-site's site-a, ExternalSecrets against the site's store, and the
// site's CIDRs in its egress NetworkPolicies.
func TestSites(t *testing.T) {
	helm, render := tools(t)
	schemagen := filepath.Join(filepath.Dir(render), "dpps-schemagen")
	cat := loadCatalog(t)
	for _, site := range sites {
		t.Run(site, func(t *testing.T) {
			values := siteValues(site)
			var fargs []string
			for _, v := range values {
				fargs = append(fargs, "-f", v)
			}
			lint := exec.Command(schemagen, append([]string{"lint", "--chart", chart}, fargs...)...)
			if out, err := lint.CombinedOutput(); err != nil {
				t.Fatalf("dpps-schemagen lint %s: %v\n%s", strings.Join(fargs, " "), err, out)
			}
			run(t, helm, append([]string{"lint", "--strict", chart}, fargs...)...)

			args := append([]string{"template", release, chart, "--skip-tests"}, fargs...)
			rendered := run(t, helm, append(args, "--post-renderer", render)...)
			objs := parse(t, rendered)
			checkCommon(t, objs)
			checkDeclaredUse(t, objs, cat)
			checkNoFixture(t, objs, cat)

			f := filepath.Join(t.TempDir(), site+".yaml")
			if err := os.WriteFile(f, rendered, 0o644); err != nil {
				t.Fatal(err)
			}
			report := run(t, render, "check", "--profile", "prod", f)
			if !bytes.Contains(report, []byte("ok: ")) {
				t.Errorf("check --profile prod:\n%s", report)
			}

			if bytes.Contains(rendered, []byte("site-a")) {
				t.Errorf("the render still holds prod-site's site-a: a key of prod-site is not overridden")
			}
			sf := readSite(t, site)
			eps := map[string]string{}
			endpoints(sf.externals, "global.externals", eps)
			for ep := range eps {
				host := ep
				if i := strings.Index(host, "://"); i >= 0 {
					host = host[i+3:]
				}
				host, _, _ = strings.Cut(host, "/")
				host, _, _ = strings.Cut(host, ":")
				if !bytes.Contains(report, []byte(host)) {
					t.Errorf("check does not list %s's endpoint %s", site, host)
				}
			}
			var es int
			for _, o := range objs {
				if o.kind == "ExternalSecret" {
					es++
					if got := str(dig(o.m, "spec", "secretStoreRef", "name")); got != sf.store {
						t.Errorf("%s reads from store %q, want %q", o, got, sf.store)
					}
				}
			}
			if es == 0 {
				t.Error("no ExternalSecret: credentials must come from the site's store")
			}
			var cidrs []string
			for _, o := range objs {
				if o.kind != "NetworkPolicy" {
					continue
				}
				for _, r := range list(dig(o.m, "spec", "egress")) {
					for _, to := range list(dig(r, "to")) {
						if c := str(dig(to, "ipBlock", "cidr")); c != "" {
							cidrs = append(cidrs, c)
						}
					}
				}
			}
			for name, ext := range sf.externals {
				for _, c := range list(dig(ext, "cidrs")) {
					if !slices.Contains(cidrs, str(c)) {
						t.Errorf("global.externals.%s.cidrs %s is in no egress NetworkPolicy", name, str(c))
					}
				}
			}
		})
	}
}
