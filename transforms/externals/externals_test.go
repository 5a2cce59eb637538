package externals

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// catalogJSON is the chart's generated catalog rendered for release "dpps",
// as the chart's catalog template does; edit changes it first.
func catalogJSON(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "charts", "dpps", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), "{{ .Release.Name }}", "dpps")
	if edit == nil {
		return s
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// catalogDoc is the catalog ConfigMap with the site's settings.
func catalogDoc(t *testing.T, site string, edit func(map[string]any)) string {
	t.Helper()
	cm := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dpps-dpps-catalog\n  labels:\n    dpps.ctao.org/catalog: \"true\"\n")
	if err := cm.LoadMapIntoConfigMapData(map[string]string{"catalog.json": catalogJSON(t, edit), "site.json": site}); err != nil {
		t.Fatal(err)
	}
	s, err := cm.String()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	prodSite = `{"externals": {"rucio-database": {"host": "postgres.site.example.org", "sslmode": "verify-full"},
  "fts": {"url": "https://fts.site.example.org:8446"}}, "secrets": {"backend": "chart"}}`
	noSite = `{"externals": {}, "secrets": {}}`
)

const server = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: dpps-rucio-server
  labels: {app.kubernetes.io/instance: dpps}
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: rucio-server}
    spec:
      containers: [{name: s, image: rucio/rucio-server:40}]
`

const poller = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: dpps-conveyor-poller
  labels: {app.kubernetes.io/instance: dpps}
spec:
  template:
    spec:
      containers:
      - name: d
        image: rucio/rucio-daemons:40
        ports: [{name: metrics, containerPort: 8080}]
`

const rucioDB = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: dpps-rucio-db
  labels: {app.kubernetes.io/instance: dpps}
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: rucio-db}
    spec:
      containers: [{name: db, image: postgres:16}]
`

const loadBalancer = `apiVersion: v1
kind: Service
metadata:
  name: dpps-rucio-server-public
  labels: {app.kubernetes.io/component: rucio-server}
spec:
  type: LoadBalancer
  ports: [{port: 443}]
`

// inboundService is the Service the chart renders for the inbound
// interface rucio-server.
const inboundService = `apiVersion: v1
kind: Service
metadata:
  name: dpps-rucio-server-public
  labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: rucio-server, dpps.ctao.org/inbound: rucio-server}
spec:
  type: LoadBalancer
  selector: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: rucio-server}
  ports: [{name: https, port: 443, targetPort: https}]
`

func stream(docs ...string) string { return strings.Join(docs, "\n---\n") }

func run(t *testing.T, f *Filter, in string) (string, []*yaml.RNode) {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	nodes, err = f.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := pipeline.Write(&b, nodes); err != nil {
		t.Fatal(err)
	}
	return b.String(), nodes
}

func TestFilter(t *testing.T) {
	inbound := func(m map[string]any) {
		ext := m["externals"].(map[string]any)
		ext["users"] = map[string]any{"description": "Users reach the Rucio server.", "direction": "inbound", "protocol": "https", "port": 443,
			"auth": "x509", "credentials": []any{}, "consumers": []any{"rucio-server"}, "valuesKey": "global.externals.users",
			"fields": []any{map[string]any{"name": "url", "type": "string", "required": true, "description": "public URL"}}}
	}
	tests := map[string]struct {
		cfg     Config
		site    string
		edit    func(map[string]any)
		docs    []string
		want    []string // lines that must appear in the output
		not     []string // lines that must not
		changed int
		objects int // objects out, when not the objects in
	}{
		"consumer of configured externals": {
			site: prodSite, docs: []string{server},
			want: []string{
				"    dpps.ctao.org/externals: iam,rucio-database",
				`    dpps.ctao.org/external.rucio-database: '{"direction":"outbound","endpoint":"postgresql://postgres.site.example.org:5432","protocol":"postgresql","port":5432,"auth":"password"}'`,
			},
			not:     []string{"external.storage", "prometheus.io", "fixture-for"},
			changed: 1,
		},
		"fixture stands in": {
			site: noSite, docs: []string{server, rucioDB},
			want: []string{
				"    dpps.ctao.org/externals: iam,rucio-database",
				`"endpoint":"fixture:iam"`, `"endpoint":"fixture:rucio-db"`,
				"    dpps.ctao.org/fixture-for: rucio-database",
			},
			changed: 2,
		},
		"log labels added to a pod template without them": {
			site: prodSite, docs: []string{poller},
			want:    []string{"      labels:\n        app.kubernetes.io/component: conveyor-poller\n        app.kubernetes.io/instance: dpps\n        app.kubernetes.io/part-of: dpps"},
			changed: 1,
		},
		"existing pod labels are kept": {
			site: prodSite, docs: []string{server},
			want:    []string{"      labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: rucio-server, app.kubernetes.io/part-of: dpps}"},
			changed: 1,
		},
		"scrape annotations on the pod template": {
			site: prodSite, docs: []string{poller},
			want:    []string{"      annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"8080\"\n        prometheus.io/path: /metrics"},
			changed: 1,
		},
		"metrics none": {
			cfg: Config{Metrics: MetricsNone}, site: prodSite, docs: []string{poller},
			not:     []string{"prometheus.io", "PodMonitor"},
			changed: 1,
		},
		"podmonitor: no annotations, the monitoring transform generates the PodMonitor": {
			cfg: Config{Metrics: MetricsPodMonitor}, site: prodSite, docs: []string{poller},
			not:     []string{"prometheus.io", "PodMonitor"},
			changed: 1,
		},
		"podmonitor chosen by the site's values": {
			site: `{"observability": {"metrics": "podmonitor"}}`, docs: []string{poller},
			not:     []string{"prometheus.io", "PodMonitor"},
			changed: 1,
		},
		"a PodMonitor an earlier version generated is dropped": {
			site: `{"observability": {"metrics": "podmonitor"}}`, docs: []string{poller, "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: dpps-conveyor-poller\n  labels:\n    dpps.ctao.org/generated: externals\nspec: {}\n"},
			not:     []string{"PodMonitor"},
			changed: 1, objects: 2,
		},
		"the config file wins over the site": {
			cfg: Config{Metrics: MetricsNone}, site: `{"observability": {"metrics": "podmonitor"}}`, docs: []string{poller},
			not:     []string{"prometheus.io", "PodMonitor"},
			changed: 1,
		},
		"inbound: a LoadBalancer Service of the component": {
			site: `{"externals": {"users": {"url": "https://rucio.site.example.org"}}}`, edit: inbound,
			docs:    []string{loadBalancer},
			want:    []string{"    dpps.ctao.org/externals: users", `"direction":"inbound","endpoint":"https://rucio.site.example.org"`},
			changed: 1,
		},
		"declared inbound: the chart's Service of an inbound interface": {
			site:    `{"inbound": {"rucio-server": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["192.0.2.0/24", "2001:db8::/32"]}}}`,
			docs:    []string{inboundService},
			want:    []string{`    dpps.ctao.org/inbound.rucio-server: '{"component":"rucio-server","exposure":"LoadBalancer","ports":["TCP/443 (https)"],"auth":["oidc","x509"],"sources":"192.0.2.0/24,2001:db8::/32"}'`},
			not:     []string{"dpps.ctao.org/externals"},
			changed: 1,
		},
		"declared inbound without sources says none": {
			site:    `{"inbound": {"rucio-server": {"type": "LoadBalancer"}}}`,
			docs:    []string{inboundService},
			want:    []string{`"sources":"none"`},
			changed: 1,
		},
		"objects of no component are left alone": {
			site: prodSite, docs: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n", loadBalancer},
			not: []string{"dpps.ctao.org/external", "prometheus.io"},
		},
		"stale annotations of an earlier run go": {
			site: prodSite,
			docs: []string{strings.Replace(server, "  labels: {app.kubernetes.io/instance: dpps}\n",
				"  labels: {app.kubernetes.io/instance: dpps}\n  annotations: {dpps.ctao.org/external.storage: x, keep: me}\n", 1)},
			want:    []string{"keep: me", "external.rucio-database"},
			not:     []string{"external.storage"},
			changed: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := stream(append(tc.docs, catalogDoc(t, tc.site, tc.edit))...)
			f := New(tc.cfg, "")
			out, nodes := run(t, f, in)
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
			if f.Changed() != tc.changed {
				t.Errorf("Changed() = %d, want %d", f.Changed(), tc.changed)
			}
			want := len(tc.docs) + 1
			if tc.objects != 0 {
				want = tc.objects
			}
			if len(nodes) != want {
				t.Errorf("%d objects out, want %d", len(nodes), want)
			}
			// Idempotent: the output fed back in comes out unchanged.
			again, _ := run(t, f, out)
			if again != out {
				t.Errorf("second run changed the output:\n%s", again)
			}
			if f.Changed() != 0 {
				t.Errorf("second run changed %d objects", f.Changed())
			}
		})
	}
}

// A stream without a catalog (a chart nobody here wrote) passes through
// byte for byte.
func TestFilterWithoutCatalog(t *testing.T) {
	in := "---\n" + stream(server, poller, loadBalancer)
	var want bytes.Buffer
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Write(&want, nodes); err != nil {
		t.Fatal(err)
	}
	f := New(Config{Metrics: MetricsPodMonitor}, "")
	out, _ := run(t, f, in)
	if out != want.String() || f.Changed() != 0 {
		t.Errorf("changed %d objects:\n%s", f.Changed(), out)
	}
}

func TestFilterErrors(t *testing.T) {
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(stream(poller, catalogDoc(t, prodSite, nil)))}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}, "/nonexistent/catalog.json").Filter(nodes); err == nil {
		t.Error("a missing --catalog file is not an error")
	}
}

var _ kio.Filter = New(Config{}, "")
