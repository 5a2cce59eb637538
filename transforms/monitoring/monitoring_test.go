package monitoring

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const testCatalog = `{"apiVersion": "dpps.ctao.org/v1alpha1", "kind": "InterfaceCatalog", "release": "dpps",
 "subcharts": {"bdms": {"description": "Rucio", "toggle": "bdms.enabled", "components": ["judge-evaluator", "rucio-db"]}},
 "components": {
  "judge-evaluator": {"description": "judge", "subchart": "bdms", "workload": "Deployment", "name": "{{ .Release.Name }}-judge-evaluator",
   "selector": {"app.kubernetes.io/instance": "{{ .Release.Name }}", "app.kubernetes.io/component": "judge-evaluator"}, "metrics": {"port": 8080, "path": "/metrics"}},
  "rucio-db": {"description": "db", "subchart": "bdms", "workload": "StatefulSet", "name": "{{ .Release.Name }}-rucio-db",
   "selector": {"app.kubernetes.io/instance": "{{ .Release.Name }}", "app.kubernetes.io/component": "rucio-db"}, "metrics": {"port": 9187, "path": "/metrics", "exporter": "postgres_exporter"}}},
 "interfaces": {}, "shared": {}, "credentials": {}, "externals": {}}`

func catalogDoc(t *testing.T, site string) string {
	t.Helper()
	c, _ := json.Marshal(testCatalog)
	s, _ := json.Marshal(site)
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel-dpps-catalog\n  labels: {dpps.ctao.org/catalog: \"true\"}\ndata:\n  catalog.json: " + string(c) + "\n  site.json: " + string(s) + "\n"
}

func workload(kind, comp, ports string) string {
	return "apiVersion: apps/v1\nkind: " + kind + "\nmetadata:\n  name: rel-" + comp + "\n  labels: {app.kubernetes.io/instance: rel, app.kubernetes.io/component: " + comp + "}\n" +
		"spec:\n  template:\n    metadata:\n      labels: {app.kubernetes.io/instance: rel, app.kubernetes.io/component: " + comp + "}\n" +
		"    spec:\n      containers:\n      - name: main\n        image: x:1\n" + ports
}

func runFilter(t *testing.T, f *Filter, in string) (string, []*yaml.RNode) {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := pipeline.Write(&b, out); err != nil {
		t.Fatal(err)
	}
	return b.String(), out
}

func TestFilter(t *testing.T) {
	judge := workload("Deployment", "judge-evaluator", "        ports: [{name: metrics, containerPort: 8080}]\n")
	dbOff := workload("StatefulSet", "rucio-db", "        ports: [{name: postgresql, containerPort: 5432}]\n")
	dbOn := workload("StatefulSet", "rucio-db", "        ports: [{name: postgresql, containerPort: 5432}]\n      - name: metrics\n        image: e:1\n        ports: [{name: metrics, containerPort: 9187}]\n")
	unnamed := workload("Deployment", "judge-evaluator", "        ports: [{containerPort: 8080}]\n")
	for name, tc := range map[string]struct {
		cfg       Config
		metrics   string
		site      string
		docs      []string
		want, not []string
	}{
		"annotations mode: no monitor, no rule, the ConfigMap lists the targets": {
			site: `{}`, docs: []string{judge},
			want: []string{"name: rel-dpps-observability", "  targets: |\n    judge-evaluator\n", "  alerts: \"\"\n"},
			not:  []string{"PodMonitor", "PrometheusRule"},
		},
		"podmonitor mode: monitors and, by default, the rules": {
			site: `{"observability": {"metrics": "podmonitor", "prometheus": {"namespace": "m", "podLabels": {"a": "b"}, "monitorLabels": {"release": "kps"}, "ruleLabels": {"team": "dpps"}}}}`,
			docs: []string{judge, dbOn},
			want: []string{"kind: PodMonitor\nmetadata:\n  name: rel-judge-evaluator\n", "    release: kps\n", "kind: PrometheusRule\nmetadata:\n  name: rel-dpps-alerts\n", "    team: dpps\n",
				`pg_up{dpps_release="rel",dpps_component="rucio-db"} == 0`, "      replacement: rel\n      targetLabel: dpps_release\n", "    judge-evaluator\n    rucio-db\n"},
			not: []string{"unscraped", "bearerTokenSecret", "creationTimestamp"},
		},
		"the site switches the alerts off": {
			site: `{"observability": {"metrics": "podmonitor", "alerts": false}}`, docs: []string{judge},
			want: []string{"kind: PodMonitor"}, not: []string{"PrometheusRule"},
		},
		"the config file switches them on in annotations mode": {
			cfg: Config{Alerts: "on", Runbooks: "https://runbooks.example.org/dpps"}, site: `{}`, docs: []string{judge},
			want: []string{"kind: PrometheusRule", "runbook_url: https://runbooks.example.org/dpps#dppstargetdown"}, not: []string{"PodMonitor"},
		},
		"externals.metrics none wins over the site": {
			metrics: "none", site: `{"observability": {"metrics": "podmonitor"}}`, docs: []string{judge},
			want: []string{"  targets: \"\"\n"}, not: []string{"PodMonitor"},
		},
		"an exporter switched off is reported, not monitored": {
			site: `{"observability": {"metrics": "podmonitor"}}`, docs: []string{judge, dbOff},
			want: []string{"unscraped: |\n    rucio-db: StatefulSet rel-rucio-db: declares metrics on port 9187 but no container of the pod has that port (the postgres_exporter sidecar is off: set bdms.rucio-db.metrics.enabled=true)\n"},
			not:  []string{"name: rel-rucio-db\n  labels:\n    app.kubernetes.io/component: rucio-db\n    app.kubernetes.io/instance: rel\n    app.kubernetes.io/managed-by", "pg_up"},
		},
		"a metrics port without a name is reported": {
			site: `{"observability": {"metrics": "podmonitor"}}`, docs: []string{unnamed},
			want: []string{"the container port 8080 that serves the metrics has no name"}, not: []string{"kind: PodMonitor"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := "---\n" + strings.Join(append([]string{catalogDoc(t, tc.site)}, tc.docs...), "---\n")
			f := New(tc.cfg, tc.metrics, "")
			out, _ := runFilter(t, f, in)
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
			if again, _ := runFilter(t, f, out); again != out {
				t.Errorf("a second run changed the output:\n%s", again)
			}
		})
	}
}

func TestFilterWithoutCatalog(t *testing.T) {
	in := "---\n" + workload("Deployment", "judge-evaluator", "")
	out, nodes := runFilter(t, New(Config{}, "", ""), in)
	if len(nodes) != 1 || strings.Contains(out, "dpps-observability") {
		t.Errorf("a stream without a catalog changed:\n%s", out)
	}
}

func TestFilterErrors(t *testing.T) {
	in := "---\n" + catalogDoc(t, `{}`) + "---\n" + workload("Deployment", "judge-evaluator", "")
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    *Filter
		want string
	}{
		{New(Config{Alerts: "maybe"}, "", ""), `monitoring.alerts "maybe": want on, off`},
		{New(Config{}, "scrape", ""), `unknown metrics mode "scrape"`},
	} {
		if _, err := tc.f.Filter(nodes); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestDurationSeconds(t *testing.T) {
	for in, want := range map[string]int{"26h": 93600, "2d": 172800, "90m": 5400} {
		if got := durationSeconds(in); got != want {
			t.Errorf("durationSeconds(%q) = %d, want %d", in, got, want)
		}
	}
}
