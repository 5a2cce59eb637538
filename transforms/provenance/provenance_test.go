package provenance

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

func TestFilter(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		in   string
		want []string // lines that must appear in the output
		not  []string // lines that must not
	}{
		"service from a subchart": {
			in:   "# Source: dpps/charts/wms/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
			want: []string{"app.kubernetes.io/part-of: dpps", "dpps.ctao.org/component: wms", "dpps.ctao.org/source: dpps/charts/wms/templates/svc.yaml", "dpps.ctao.org/rendered-by: dpps-render"},
			not:  []string{"dpps.ctao.org/images", "dpps.ctao.org/chart"},
		},
		"existing part-of label is kept": {
			in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    app.kubernetes.io/part-of: rucio\n",
			want: []string{"app.kubernetes.io/part-of: rucio"},
			not:  []string{"app.kubernetes.io/part-of: dpps", "dpps.ctao.org/source"},
		},
		"chart label beats the configured chart": {
			cfg:  Config{Chart: "dpps-1.0.0"},
			in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    helm.sh/chart: postgresql-15.5.38\n",
			want: []string{"dpps.ctao.org/chart: postgresql-15.5.38"},
		},
		"configured chart and part-of": {
			cfg:  Config{Chart: "dpps-1.0.0", PartOf: "ctao"},
			in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
			want: []string{"dpps.ctao.org/chart: dpps-1.0.0", "app.kubernetes.io/part-of: ctao"},
		},
		"workload images on the object, not the pod template": {
			in:   "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    metadata:\n      labels: {a: b}\n    spec:\n      initContainers: [{name: i, image: \"busybox:1.36\"}]\n      containers: [{name: c, image: \"rucio/rucio-init:40\"}]\n",
			want: []string{"    dpps.ctao.org/images: busybox:1.36,rucio/rucio-init:40", "      labels: {a: b}"},
		},
		"source from the object's own annotation, comments dropped": {
			in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    dpps.ctao.org/source: dpps/charts/bdms/charts/postgresql/templates/svc.yaml\n",
			want: []string{"dpps.ctao.org/source: dpps/charts/bdms/charts/postgresql/templates/svc.yaml", "dpps.ctao.org/component: bdms/postgresql"},
		},
		"the comment corrects a stale annotation": {
			in:   "# Source: dpps/charts/wms/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    dpps.ctao.org/source: dpps/templates/old.yaml\n",
			want: []string{"dpps.ctao.org/source: dpps/charts/wms/templates/svc.yaml", "dpps.ctao.org/component: wms"},
			not:  []string{"dpps/templates/old.yaml", "dpps.ctao.org/component: dpps"},
		},
		"null annotations become a mapping": {
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n",
			want: []string{"dpps.ctao.org/rendered-by: dpps-render"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			nodes, err := kio.FromBytes([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			f := New(tc.cfg)
			if _, err := f.Filter(nodes); err != nil {
				t.Fatal(err)
			}
			out, err := kio.StringAll(nodes)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("unexpected %q in\n%s", w, out)
				}
			}
			if f.Changed() != 1 {
				t.Errorf("Changed() = %d, want 1", f.Changed())
			}
			if _, err := f.Filter(nodes); err != nil {
				t.Fatal(err)
			}
			if f.Changed() != 0 {
				t.Errorf("second run changed %d objects", f.Changed())
			}
		})
	}
}

// TestFilterAfterCommentsDropped: dpps-render's output re-read without its
// comments, as kustomize passes it to a function, comes out unchanged: the
// template path is then read from dpps.ctao.org/source.
func TestFilterAfterCommentsDropped(t *testing.T) {
	in := "# Source: dpps/charts/bdms/templates/server.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n" +
		"  annotations:\n    dpps.ctao.org/source: dpps/charts/bdms/templates/server.yaml\n" +
		"spec:\n  template:\n    spec:\n      containers: [{name: c, image: \"rucio/rucio-server:40\"}]\n"
	nodes, err := kio.FromBytes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}).Filter(nodes); err != nil {
		t.Fatal(err)
	}
	first, err := kio.StringAll(nodes)
	if err != nil {
		t.Fatal(err)
	}
	var stripped []string
	for _, line := range strings.SplitAfter(first, "\n") {
		if !strings.HasPrefix(line, "#") {
			stripped = append(stripped, line)
		}
	}
	again, err := kio.FromBytes([]byte(strings.Join(stripped, "")))
	if err != nil {
		t.Fatal(err)
	}
	f := New(Config{})
	if _, err := f.Filter(again); err != nil {
		t.Fatal(err)
	}
	second, err := kio.StringAll(again)
	if err != nil {
		t.Fatal(err)
	}
	if f.Changed() != 0 || second != strings.Join(stripped, "") {
		t.Errorf("the output without comments changed (%d objects):\n%s\nwant\n%s", f.Changed(), second, strings.Join(stripped, ""))
	}
	if !strings.Contains(second, "dpps.ctao.org/component: bdms\n") {
		t.Errorf("no component:\n%s", second)
	}
}

func TestSourceAnnotationPrefix(t *testing.T) {
	if !strings.HasPrefix(SourceAnnotation, Prefix) {
		t.Errorf("SourceAnnotation %q is not under %q", SourceAnnotation, Prefix)
	}
}
