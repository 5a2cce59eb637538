package manifest

import (
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestParseSource(t *testing.T) {
	tests := map[string]Origin{
		"dpps/templates/catalog.yaml":                                  {Chart: "dpps", Template: "catalog.yaml"},
		"dpps/charts/bdms/templates/server.yaml":                       {Chart: "dpps", Subchart: "bdms", Template: "server.yaml"},
		"dpps/charts/bdms/charts/postgresql/templates/primary/ss.yaml": {Chart: "dpps", Subchart: "bdms/postgresql", Template: "primary/ss.yaml"},
		"server.yaml":             {Template: "server.yaml"},
		"fts3/templates/svc.yaml": {Chart: "fts3", Template: "svc.yaml"},
	}
	for src, want := range tests {
		if got := ParseSource(src); got != want {
			t.Errorf("ParseSource(%q) = %+v, want %+v", src, got, want)
		}
	}
	if c := ParseSource("dpps/templates/x.yaml").Component(); c != "dpps" {
		t.Errorf("top-level component %q, want dpps", c)
	}
}

func TestSource(t *testing.T) {
	const want = "a/templates/x.yaml"
	tests := map[string]struct{ in, want string }{
		"comment":           {"# Source: a/templates/x.yaml\napiVersion: v1\nkind: A\nmetadata: {name: a}\n", want},
		"helm 4 annotation": {"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    postrenderer.helm.sh/postrender-filename: a/templates/x.yaml\n", want},
		"comment wins":      {"# Source: a/templates/x.yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    postrenderer.helm.sh/postrender-filename: other.yaml\n", want},
		// What kustomize passes on: comments dropped, the chart's (or an
		// earlier run's) annotation kept.
		"own annotation":                         {"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    dpps.ctao.org/source: a/templates/x.yaml\n", want},
		"comment beats own annotation":           {"# Source: a/templates/x.yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    dpps.ctao.org/source: other.yaml\n", want},
		"helm 4 annotation beats own annotation": {"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    dpps.ctao.org/source: other.yaml\n    postrenderer.helm.sh/postrender-filename: a/templates/x.yaml\n", want},
		"empty helm 4 annotation":                {"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    postrenderer.helm.sh/postrender-filename: \"\"\n    dpps.ctao.org/source: a/templates/x.yaml\n", want},
		"none":                                   {"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    dpps.ctao.org/component: a\n", ""},
		"not a string":                           {"apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    dpps.ctao.org/source: {a: b}\n", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := yaml.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := Source(n); got != tc.want {
				t.Errorf("Source = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPodSpecAndImages(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string
	}{
		"deployment": {in: "kind: Deployment\nspec:\n  template:\n    spec:\n      initContainers: [{image: i}]\n      containers: [{image: a}, {image: i}, {image: b}]\n", want: "i,a,b"},
		"pod":        {in: "kind: Pod\nspec:\n  containers: [{image: a}]\n  ephemeralContainers: [{image: e}]\n", want: "a,e"},
		"cronjob":    {in: "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{image: c}]\n", want: "c"},
		"service":    {in: "kind: Service\nspec:\n  ports: []\n", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := yaml.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(Images(PodSpec(n.YNode())), ","); got != tc.want {
				t.Errorf("images %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEnsureMapCopiesAliases(t *testing.T) {
	n, err := yaml.Parse("a: &shared {x: \"1\"}\nb: *shared\n")
	if err != nil {
		t.Fatal(err)
	}
	b := EnsureMap(n.YNode(), "b")
	SetString(b, "y", "2")
	out, _ := n.String()
	if strings.Contains(out, "*shared") || !strings.Contains(out, "a: &shared {x: \"1\"}") {
		t.Errorf("the anchor was modified or the alias kept:\n%s", out)
	}
}

// TestSourceCommentAsPattern: SourceComment reads every text as the
// pattern it replaces, on every combination of the pieces a comment block
// is made of.
func TestSourceCommentAsPattern(t *testing.T) {
	pattern := regexp.MustCompile(`(?m)^# Source: (.+?)\s*$`)
	pieces := []string{"# Source: ", "a/b.yaml", " ", "\t", "\r", "\n", "# other", "x # Source: y", "é", "\f", ""}
	var texts []string
	for _, a := range pieces {
		for _, b := range pieces {
			for _, c := range pieces {
				for _, d := range pieces {
					texts = append(texts, a+b+c+d)
				}
			}
		}
	}
	for _, text := range texts {
		got, ok := SourceComment(text)
		m := pattern.FindStringSubmatch(text)
		if ok != (m != nil) || (ok && got != m[1]) {
			t.Errorf("SourceComment(%q) = %q, %v; the pattern finds %q", text, got, ok, m)
		}
	}
}
