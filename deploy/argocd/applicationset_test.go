package argocd

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

type pluginSource struct {
	Plugin struct {
		Name       string
		Parameters []parameter
	}
}

type parameter struct {
	Name   string
	String *string
	Array  []string
}

type applicationSet struct {
	Kind string
	Spec struct {
		GoTemplate bool
		Generators []struct {
			List *struct {
				Elements []map[string]any
			}
		}
		Template struct {
			Metadata struct{ Name string }
			Spec     struct {
				Source      pluginSource
				Destination struct{ Server, Namespace string }
			}
		}
		TemplatePatch string
	}
}

// App is one Application the ApplicationSet generates: its name, the
// element's site, cluster and values files, and the plugin's parameters
// once the template patch is applied.
type App struct {
	Name, Site, Cluster, Namespace, Plugin string
	Values                                 []string
	Params                                 map[string]string // string parameters
	ParamNames                             []string
}

// gotemplate renders one of the ApplicationSet's templates for an element
// with Go templates, as Argo CD does with goTemplate: true (toJson is
// sprig's, the only function used here).
func gotemplate(t *testing.T, text string, elem map[string]any) string {
	t.Helper()
	tmpl, err := template.New("").Option("missingkey=error").Funcs(template.FuncMap{
		"toJson": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
	}).Parse(text)
	if err != nil {
		t.Fatalf("applicationset.yaml: template %q: %v", text, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, elem); err != nil {
		t.Fatalf("applicationset.yaml: template %q: %v", text, err)
	}
	return b.String()
}

// SiteApps reads deploy/argocd/applicationset.yaml and returns the
// Application of each element of its list generator.
func SiteApps(t *testing.T) []App {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "deploy/argocd/applicationset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var as applicationSet
	if err := yaml.Unmarshal(data, &as); err != nil {
		t.Fatal(err)
	}
	if as.Kind != "ApplicationSet" || !as.Spec.GoTemplate || len(as.Spec.Generators) != 1 || as.Spec.Generators[0].List == nil {
		t.Fatalf("applicationset.yaml: want an ApplicationSet with goTemplate and one list generator")
	}
	tmpl := as.Spec.Template
	var apps []App
	for _, elem := range as.Spec.Generators[0].List.Elements {
		a := App{
			Name:      gotemplate(t, tmpl.Metadata.Name, elem),
			Cluster:   gotemplate(t, tmpl.Spec.Destination.Server, elem),
			Namespace: gotemplate(t, tmpl.Spec.Destination.Namespace, elem),
			Plugin:    tmpl.Spec.Source.Plugin.Name,
			Params:    map[string]string{},
		}
		a.Site, _ = elem["site"].(string)
		params := slices.Clone(tmpl.Spec.Source.Plugin.Parameters)
		if as.Spec.TemplatePatch != "" {
			var patch struct{ Spec struct{ Source pluginSource } }
			if err := yaml.Unmarshal([]byte(gotemplate(t, as.Spec.TemplatePatch, elem)), &patch); err != nil {
				t.Fatalf("applicationset.yaml: templatePatch for %s: %v", a.Site, err)
			}
			params = append(params, patch.Spec.Source.Plugin.Parameters...)
		}
		for _, p := range params {
			a.ParamNames = append(a.ParamNames, p.Name)
			switch {
			case p.Name == "values":
				a.Values = p.Array
			case p.String != nil:
				a.Params[p.Name] = *p.String
			}
		}
		apps = append(apps, a)
	}
	return apps
}

// TestApplicationSet: one Application per site of examples/sites, each on
// its own cluster, with values files that exist (prod-site, then the
// site's overlay), the plugin's name as Argo CD derives it from plugin.yaml
// (<name>-<version>), only parameters plugin.yaml declares, in the
// collection type it declares, and every required one.
func TestApplicationSet(t *testing.T) {
	root := testutil.RepoRoot(t)
	p := loadPlugin(t)
	declared := map[string]string{}
	var required []string
	for _, s := range p.Spec.Parameters.Static {
		declared[s.Name] = s.CollectionType
		if s.Required {
			required = append(required, s.Name)
		}
	}
	files, err := filepath.Glob(filepath.Join(root, "examples/sites/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sites []string
	for _, f := range files {
		sites = append(sites, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	apps := SiteApps(t)
	var got []string
	clusters := map[string]string{}
	for _, a := range apps {
		got = append(got, a.Site)
		if want := p.Metadata.Name + "-" + p.Spec.Version; a.Plugin != want {
			t.Errorf("%s: plugin %q, want %q (plugin.yaml's name and version)", a.Site, a.Plugin, want)
		}
		if !strings.HasPrefix(a.Cluster, "https://") {
			t.Errorf("%s: cluster %q is not an https URL", a.Site, a.Cluster)
		}
		// Two Applications may share a cluster (a failover, docs/gitops.md)
		// only in different namespaces: the release is dpps in both.
		if other, ok := clusters[a.Cluster+" "+a.Namespace]; ok {
			t.Errorf("%s and %s deploy to the same namespace %s of %s", a.Site, other, a.Namespace, a.Cluster)
		}
		clusters[a.Cluster+" "+a.Namespace] = a.Site
		if a.Namespace == "" {
			t.Errorf("%s: no destination namespace", a.Site)
		}
		want := []string{"examples/prod-site/values.yaml", "examples/sites/" + a.Site + ".yaml"}
		if !slices.Equal(a.Values, want) {
			t.Errorf("%s: values %v, want %v", a.Site, a.Values, want)
		}
		for _, v := range a.Values {
			if _, err := os.Stat(filepath.Join(root, v)); err != nil {
				t.Errorf("%s: values file %s: %v", a.Site, v, err)
			}
		}
		for _, n := range a.ParamNames {
			ct, ok := declared[n]
			if !ok {
				t.Errorf("%s: parameter %q is not declared in plugin.yaml", a.Site, n)
			}
			_, isString := a.Params[n]
			if (ct == "array") == isString {
				t.Errorf("%s: parameter %q must be given as collectionType %q", a.Site, n, cmp.Or(ct, "string"))
			}
		}
		for _, r := range required {
			if !slices.Contains(a.ParamNames, r) {
				t.Errorf("%s: required parameter %q is not set", a.Site, r)
			}
		}
		if a.Params["release"] != "dpps" {
			t.Errorf("%s: release %q, want dpps at every site (same object, Secret and PVC names for failover)", a.Site, a.Params["release"])
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), sites) {
		t.Errorf("ApplicationSet sites %v, want examples/sites %v", got, sites)
	}
	if len(apps) != 6 {
		t.Errorf("%d Applications, want 6", len(apps))
	}
}
