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
