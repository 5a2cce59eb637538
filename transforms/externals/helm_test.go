package externals_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// render renders the chart with an example's values through the real
// Helm 3 and then dpps-render's transforms in-process, and returns the
// objects.
func render(t *testing.T, example string) []*yaml.RNode {
	t.Helper()
	helm := testutil.Tool(t, "DPPS_HELM3")
	root := testutil.RepoRoot(t)
	var out, stderr bytes.Buffer
	cmd := exec.Command(helm, "template", "dpps", filepath.Join(root, "charts", "dpps"), "-f", filepath.Join(root, "examples", example, "values.yaml"))
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", example, err, stderr.String())
	}
	steps, err := transforms.Steps(&transforms.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var rendered bytes.Buffer
	if _, err := pipeline.Run(&out, &rendered, steps); err != nil {
		t.Fatal(err)
	}
	nodes, err := (&pipeline.Reader{Input: &rendered}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func find(t *testing.T, nodes []*yaml.RNode, kind, name string) *yaml.RNode {
	t.Helper()
	for _, n := range nodes {
		if n.GetKind() == kind && n.GetName() == name {
			return n
		}
	}
	t.Fatalf("%s %s not in the render", kind, name)
	return nil
}

// findComponent returns the first object of a kind whose component label is
// comp: a Job named after the chart version (<release>-<component>-<version>).
func findComponent(t *testing.T, nodes []*yaml.RNode, kind, comp string) *yaml.RNode {
	t.Helper()
	for _, n := range nodes {
		if n.GetKind() == kind && n.GetLabels()[externals.ComponentLabel] == comp {
			return n
		}
	}
	t.Fatalf("no %s of component %s in the render", kind, comp)
	return nil
}

func check(t *testing.T, nodes []*yaml.RNode, profile string) *externals.Report {
	t.Helper()
	rep, err := externals.Check(nodes, "", profile)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// rules lists the findings as "severity rule interface: message" for
// failure messages.
func findings(rep *externals.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func has(rep *externals.Report, severity, rule, substr string) bool {
	for _, f := range rep.Findings {
		if f.Severity == severity && f.Rule == rule && strings.Contains(f.Object+": "+f.Message, substr) {
			return true
		}
	}
	return false
}

func TestCheckProdSite(t *testing.T) {
	nodes := render(t, "prod-site")
	rep := check(t, nodes, "prod")
	if !rep.OK || len(rep.Findings) != 0 {
		t.Fatalf("prod-site fails the prod check:\n%s", findings(rep))
	}
	want := map[string]string{
		"fts":            "https://fts.site-a.example.org:8446",
		"iam":            "https://iam.dpps.example.org/",
		"rucio-database": "postgresql://postgres.dpps.site-a.example.org:5432/rucio",
		"dirac-database": "mysql://mysql.dpps.site-a.example.org:3306",
		"cvmfs":          "http://squid.site-a.example.org:3128",
	}
	for _, i := range rep.Interfaces {
		// The failover peers are set only with a failover topology;
		// backup-target's consumers are the database fixtures' backups,
		// which prod-site (the site's own databases) does not run.
		if i.Status != externals.StatusConfigured && i.Name != "rucio-database-peers" && (i.Name != "backup-target" || len(i.Users) > 0) {
			t.Errorf("%s: status %s, want configured", i.Name, i.Status)
		}
		if w, ok := want[i.Name]; ok && i.Endpoint != w {
			t.Errorf("%s: endpoint %q, want %q", i.Name, i.Endpoint, w)
		}
	}

	// Every consumer of an external interface that is rendered carries its
	// annotation.
	sub := find(t, nodes, "Deployment", "dpps-conveyor-submitter")
	if got := sub.GetAnnotations()[externals.ExternalsAnnotation]; got != "fts,iam,rucio-database,storage" {
		t.Errorf("conveyor-submitter: %s = %q", externals.ExternalsAnnotation, got)
	}
	if got := sub.GetAnnotations()[externals.ExternalPrefix+"fts"]; got != `{"direction":"outbound","endpoint":"https://fts.site-a.example.org:8446","protocol":"https","port":8446,"auth":"x509"}` {
		t.Errorf("conveyor-submitter: fts annotation %s", got)
	}
	// prod-site scrapes through PodMonitors (the monitoring transform's):
	// no scrape annotations on the pods, which keep the labels they had.
	tmpl, err := sub.Pipe(yaml.Lookup("spec", "template"))
	if err != nil {
		t.Fatal(err)
	}
	if a := tmpl.GetAnnotations(); a[externals.ScrapeAnnotation] != "" || a[externals.PortAnnotation] != "" {
		t.Errorf("conveyor-submitter pod annotations with metrics podmonitor: %v", a)
	}
	for _, l := range []string{externals.InstanceLabel, externals.ComponentLabel, externals.PartOfLabel} {
		if tmpl.GetLabels()[l] == "" {
			t.Errorf("conveyor-submitter pods lack the label %s", l)
		}
	}
}

// Each failure check names, on broken variants of the prod-site render.
func TestCheckProdSiteBroken(t *testing.T) {
	tests := map[string]struct {
		edit func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode
		rule string
		want string
	}{
		"fixture in use": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				setSite(t, nodes, func(s string) string {
					return strings.Replace(s, `"fts": {`, `"fts-unset": {`, 1)
				})
				return nodes
			},
			rule: externals.RuleFixture, want: "test fixture in use (fts): set global.externals.fts and switch the fixture off (fts.enabled: false)",
		},
		"fixture workload rendered": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				return append(nodes, yaml.MustParse("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: dpps-rucio-db\n  labels: {app.kubernetes.io/instance: dpps}\nspec:\n  template:\n    spec:\n      containers: [{name: db, image: postgres:16}]\n"))
			},
			rule: externals.RuleFixture, want: "StatefulSet dpps-rucio-db: is the test fixture of rucio-database",
		},
		"annotation missing": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				if err := find(t, nodes, "Deployment", "dpps-rucio-server").PipeE(yaml.ClearAnnotation(externals.ExternalPrefix + "iam")); err != nil {
					t.Fatal(err)
				}
				return nodes
			},
			rule: externals.RuleAnnotations, want: "Deployment dpps-rucio-server (dpps/charts/bdms/templates/server.yaml): uses the external interface iam but has no annotation dpps.ctao.org/external.iam",
		},
		"annotation stale": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				setSite(t, nodes, func(s string) string {
					return strings.Replace(s, "https://iam.dpps.example.org/", "https://iam2.dpps.example.org/", 1)
				})
				return nodes
			},
			rule: externals.RuleAnnotations, want: `annotation dpps.ctao.org/external.iam is {"direction":"outbound","endpoint":"https://iam.dpps.example.org/"`,
		},
		"undeclared host in an env value": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				c, err := findComponent(t, nodes, "Job", "rucio-configure").Pipe(yaml.Lookup("spec", "template", "spec", "containers", "[name=configure]", "env"))
				if err != nil || c == nil {
					t.Fatal(err)
				}
				if err := c.PipeE(yaml.Append(yaml.MustParse("{name: MIRROR, value: 'https://files.elsewhere.example.com/x'}").YNode())); err != nil {
					t.Fatal(err)
				}
				return nodes
			},
			rule: externals.RuleUndeclared, want: "(dpps/charts/bdms/templates/configure.yaml): container configure env MIRROR names the host files.elsewhere.example.com",
		},
		"undeclared host in a ConfigMap": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				cm := find(t, nodes, "ConfigMap", "dpps-dirac-config")
				data := manifest.Field(cm.YNode(), "data")
				v := manifest.Field(data, "dirac.cfg")
				v.Value = strings.Replace(v.Value, "Host = mysql.dpps.site-a.example.org", "Host = mysql.dpps.site-a.example.org\n    Server = other-db.example.net", 1)
				return nodes
			},
			rule: externals.RuleUndeclared, want: "ConfigMap dpps-dirac-config (dpps/charts/wms/templates/config.yaml): data key dirac.cfg names the host other-db.example.net",
		},
		"exposed without an inbound interface": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				return append(nodes, yaml.MustParse("apiVersion: v1\nkind: Service\nmetadata:\n  name: dpps-rucio-server-public\n  labels: {app.kubernetes.io/component: rucio-server}\nspec:\n  type: LoadBalancer\n  ports: [{port: 443}]\n"))
			},
			rule: externals.RuleUndeclared, want: "Service dpps-rucio-server-public: exposes the release outside the cluster",
		},
		"malformed URL": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				setSite(t, nodes, func(s string) string {
					return strings.Replace(s, "https://fts.site-a.example.org:8446", "https://fts.site-a.example.org:99999", 1)
				})
				return nodes
			},
			rule: externals.RuleMalformed, want: `global.externals.fts.url: "https://fts.site-a.example.org:99999": invalid port "99999"`,
		},
		"malformed host": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				setSite(t, nodes, func(s string) string {
					return strings.Replace(s, `"host": "postgres.dpps.site-a.example.org"`, `"host": "postgres_db..site-a"`, 1)
				})
				return nodes
			},
			rule: externals.RuleMalformed, want: `global.externals.rucio-database.host: "postgres_db..site-a": invalid host`,
		},
		"required field missing": {
			edit: func(t *testing.T, nodes []*yaml.RNode) []*yaml.RNode {
				setSite(t, nodes, func(s string) string {
					return strings.Replace(s, `"url": "https://fts.site-a.example.org:8446"`, `"uri": "https://fts.site-a.example.org:8446"`, 1)
				})
				return nodes
			},
			rule: externals.RuleMalformed, want: "global.externals.fts.url: missing (required)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			nodes := tc.edit(t, render(t, "prod-site"))
			rep := check(t, nodes, "prod")
			if rep.OK || !has(rep, externals.SeverityError, tc.rule, tc.want) {
				t.Errorf("want an error %s %q; got:\n%s", tc.rule, tc.want, findings(rep))
			}
			// Outside prod, only a malformed endpoint fails.
			rep = check(t, nodes, "staging")
			if rep.OK != (tc.rule != externals.RuleMalformed) {
				t.Errorf("staging: ok = %v:\n%s", rep.OK, findings(rep))
			}
		})
	}
}

// setSite edits the site.json of the catalog ConfigMap.
func setSite(t *testing.T, nodes []*yaml.RNode, edit func(string) string) {
	t.Helper()
	cm := find(t, nodes, "ConfigMap", "dpps-dpps-catalog")
	v := manifest.Field(manifest.Field(cm.YNode(), "data"), "site.json")
	if v == nil {
		t.Fatal("no site.json")
	}
	before := v.Value
	v.Value = edit(before)
	if v.Value == before {
		t.Fatal("the edit changed nothing")
	}
}

func TestCheckCIHasFixtures(t *testing.T) {
	nodes := render(t, "ci")
	if rep := check(t, nodes, "ci"); !rep.OK || len(rep.Findings) != 0 {
		t.Errorf("ci fails its own profile:\n%s", findings(rep))
	}
	rep := check(t, nodes, "prod")
	n := 0
	for _, f := range rep.Findings {
		if f.Rule == externals.RuleFixture {
			n++
		}
	}
	if rep.OK || n != 6 {
		t.Errorf("ci under prod: %d fixture findings, want 6:\n%s", n, findings(rep))
	}
}

// Inventory lists every container image of the render, init containers
// included, under its workload.
func TestInventoryMatchesEveryImage(t *testing.T) {
	for _, example := range []string{"prod-site", "ci"} {
		t.Run(example, func(t *testing.T) {
			nodes := render(t, example)
			ws, err := externals.Inventory(nodes, "", externals.InventoryFilter{})
			if err != nil {
				t.Fatal(err)
			}
			listed := map[string]bool{}
			for _, w := range ws {
				if w.Chart == "" || w.Subchart == "" {
					t.Errorf("%s/%s: chart %q, subchart %q", w.Kind, w.Name, w.Chart, w.Subchart)
				}
				for _, img := range w.Images {
					listed[w.Kind+"/"+w.Name+"/"+img.Container+"="+img.Image] = true
				}
			}
			inits := 0
			for _, n := range nodes {
				spec := manifest.PodSpec(n.YNode())
				for key, init := range map[string]bool{"initContainers": true, "containers": false} {
					l := manifest.Field(spec, key)
					if l == nil {
						continue
					}
					for _, c := range l.Content {
						k := n.GetKind() + "/" + n.GetName() + "/" + manifest.Field(c, "name").Value + "=" + manifest.Field(c, "image").Value
						if !listed[k] {
							t.Errorf("not in the inventory: %s", k)
						}
						delete(listed, k)
						if init {
							inits++
						}
					}
				}
			}
			if len(listed) != 0 {
				t.Errorf("listed but not in the render: %v", listed)
			}
			if inits == 0 {
				t.Error("the render has no init container: the test proves nothing about them")
			}
		})
	}
}
