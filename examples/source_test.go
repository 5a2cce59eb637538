package examples

import (
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// annSource is the annotation the chart stamps on every object it renders
// (the helper dpps.sourceAnnotation), read by dpps-render where Helm's
// "# Source:" comment is gone.
const annSource = "dpps.ctao.org/source"

var sourceLine = regexp.MustCompile(`(?m)^# Source: (.+?)\s*$`)

// sourcedDoc is one document of a plain helm template stream.
type sourcedDoc struct {
	source string // Helm's "# Source:" comment
	obj    map[string]any
}

// helmDocs splits a helm template stream (no post-renderer) into its
// documents, each with its "# Source:" comment.
func helmDocs(t *testing.T, stream []byte) []sourcedDoc {
	t.Helper()
	var out []sourcedDoc
	for i, doc := range strings.Split("\n"+string(stream), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if m == nil {
			continue
		}
		d := sourcedDoc{obj: m}
		if s := sourceLine.FindStringSubmatch(doc); s != nil {
			d.source = s[1]
		}
		out = append(out, d)
	}
	return out
}

// sourceKeys lists the field paths under v holding the annotation key.
func sourceKeys(v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := path + "." + k
			if k == annSource {
				out = append(out, p)
			}
			out = append(out, sourceKeys(x, p)...)
		}
	case []any:
		for i, x := range v {
			out = append(out, sourceKeys(x, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	sort.Strings(out)
	return out
}

// TestSourceAnnotation: in every example (each environment, and each site
// layered on prod-site), every object the chart renders, Helm test pods
// included, carries dpps.ctao.org/source on its own metadata, equal to
// Helm's "# Source:" comment, and nowhere else (not on a pod template, not
// on a volumeClaimTemplate). Every template file of the chart and its
// subcharts renders in at least one example, so none escapes the check;
// validate.yaml files render nothing by convention.
func TestSourceAnnotation(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	renders := map[string][]string{}
	for _, env := range environments(t) {
		renders[env] = []string{filepath.Join(env, "values.yaml")}
	}
	for _, site := range sites {
		renders["sites/"+site] = siteValues(site)
	}
	seen := map[string]bool{} // template paths, as in "# Source:"
	for _, name := range slices.Sorted(maps.Keys(renders)) {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", release, chart}
			for _, v := range renders[name] {
				args = append(args, "-f", v)
			}
			docs := helmDocs(t, run(t, helm, args...))
			var tests int
			for i, d := range docs {
				what := fmt.Sprintf("document %d (%v %v)", i+1, d.obj["kind"], dig(d.obj, "metadata", "name"))
				if d.source == "" {
					t.Errorf("%s has no # Source: comment", what)
					continue
				}
				seen[d.source] = true
				if str(dig(d.obj, "metadata", "annotations", "helm.sh/hook")) == "test" {
					tests++
				}
				got, ok := dig(d.obj, "metadata", "annotations", annSource).(string)
				switch {
				case !ok:
					t.Errorf("%s from %s lacks the annotation %s", what, d.source, annSource)
				case got != d.source:
					t.Errorf("%s: %s is %q, but Helm's # Source: says %q", what, annSource, got, d.source)
				}
				if keys := sourceKeys(d.obj, ""); len(keys) > 1 || (len(keys) == 1 && keys[0] != ".metadata.annotations."+annSource) {
					t.Errorf("%s from %s: %s at %v, want it only on the object's own metadata", what, d.source, annSource, keys)
				}
			}
			if tests == 0 {
				t.Errorf("the render holds no Helm test pod: the check must cover templates/tests")
			}
		})
	}

	if t.Failed() {
		return // a render that failed saw none of its templates
	}
	var templates []string
	err := filepath.WalkDir(chart, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(chart), p) // dpps/charts/bdms/templates/server.yaml
		if rel = filepath.ToSlash(rel); strings.Contains(rel, "/templates/") {
			templates = append(templates, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) == 0 {
		t.Fatalf("no template found under %s", chart)
	}
	for _, tmpl := range templates {
		switch empty := filepath.Base(tmpl) == "validate.yaml"; {
		case empty && seen[tmpl]:
			t.Errorf("%s renders objects: validate.yaml files must only check values", tmpl)
		case !empty && !seen[tmpl]:
			t.Errorf("%s renders in no example: its objects' %s is unchecked; add an example that renders it", tmpl, annSource)
		}
	}
}
