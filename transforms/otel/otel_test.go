package otel

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/ctao/dpps-deploy/catalog"
)

func TestAttrValue(t *testing.T) {
	for in, want := range map[string]string{
		"bdms":        "bdms",
		"bdms-0.1.0":  "bdms-0.1.0",
		"a,b=c":       "a%2Cb%3Dc",
		"x y%":        "x%20y%25",
		"under_score": "under_score",
	} {
		if got := attrValue(in); got != want {
			t.Errorf("attrValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for endpoint, problem := range map[string]string{
		"http://otel-collector.monitoring:4317":  "",
		"https://otlp.example.org:4318/otlp":     "",
		"otel-collector:4317":                    "scheme",
		"grpc://otel-collector:4317":             "scheme",
		"http://user:pw@otel-collector:4317":     "user information",
		"http://:4317":                           "no host",
		"http://otel-collector:4317?x=1":         "query",
		"http://otel-collector:4317,http://b:1":  "not a URL",
		"http://otel-collector:4317/\nextra=yes": "not a URL",
	} {
		err := checkEndpoint(endpoint)
		switch {
		case problem == "" && err != nil:
			t.Errorf("%q: %v", endpoint, err)
		case problem != "" && (err == nil || !strings.Contains(err.Error(), problem)):
			t.Errorf("%q: got %v, want an error about %s", endpoint, err, problem)
		case err != nil && strings.Contains(err.Error(), "pw"):
			t.Errorf("%q: the error repeats the password: %v", endpoint, err)
		}
	}
}

func TestEnv(t *testing.T) {
	got := Env("rucio-server", catalog.Component{Subchart: "bdms"}, "dpps", "bdms-0.1.0", "http://c:4317", "grpc")
	want := []Var{
		{ServiceName, "rucio-server"},
		{ResourceAttributes, "service.namespace=bdms,dpps.component=rucio-server,dpps.subchart=bdms,dpps.release=dpps,dpps.chart=bdms-0.1.0"},
		{Endpoint, "http://c:4317"},
		{Protocol, "grpc"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %v, want %v", i, got[i], want[i])
		}
	}
}

const catalogCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: rel-dpps-catalog
  labels: {dpps.ctao.org/catalog: "true"}
data:
  catalog.json: '{"apiVersion": "dpps.ctao.org/v1alpha1", "kind": "InterfaceCatalog", "release": "rel", "subcharts": {"app": {"description": "a", "toggle": "app.enabled", "components": ["web", "db"]}}, "components": {"web": {"description": "w", "subchart": "app", "workload": "Deployment", "name": "rel-web", "selector": {"app": "web"}, "traces": {"protocols": ["grpc"]}}, "db": {"description": "d", "subchart": "app", "workload": "StatefulSet", "name": "rel-db", "selector": {"app": "db"}}}, "interfaces": {}, "shared": {}, "credentials": {}, "externals": {}}'
  site.json: '{"observability": {"otlp": {"endpoint": "http://c.monitoring:4317"}}}'
`

func run(t *testing.T, cfg Config, in string) (string, error) {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := New(cfg, "").Filter(nodes)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := (kio.ByteWriter{Writer: &b}).Write(out); err != nil {
		t.Fatal(err)
	}
	return b.String(), nil
}

func TestFilter(t *testing.T) {
	web := `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: rel-web}
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: i
      containers:
      - name: web
        image: w
        env: %s
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: rel-db}
spec:
  template:
    spec:
      containers: [{name: db, image: d}]
`
	cases := []struct {
		name, env string
		cfg       Config
		wantEnv   []string // substrings of the output
		notWant   []string
		err       string
	}{
		{name: "site endpoint", env: "\n        - {name: A, value: b}", wantEnv: []string{"value: http://c.monitoring:4317", "- name: OTEL_SERVICE_NAME\n          value: web", "value: grpc", "dpps.release=rel"}},
		{name: "config wins", env: "\n        - {name: A, value: b}", cfg: Config{Endpoint: "http://other:4317"}, wantEnv: []string{"value: http://other:4317"}, notWant: []string{"value: http://c.monitoring"}},
		{name: "same value kept", env: "\n        - name: OTEL_SERVICE_NAME\n          value: web", wantEnv: []string{"value: http://c.monitoring:4317"}},
		{name: "other value refused", env: "[{name: OTEL_EXPORTER_OTLP_ENDPOINT, value: 'http://x:1'}]", err: "containers[web].env[OTEL_EXPORTER_OTLP_ENDPOINT] is already set"},
		{name: "valueFrom refused", env: "[{name: OTEL_SERVICE_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]", err: "env[OTEL_SERVICE_NAME] is already set"},
		{name: "protocol not spoken", env: "\n        - {name: A, value: b}", cfg: Config{Protocol: "http/json"}, err: "exports traces over grpc only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(t, c.cfg, catalogCM+strings.Replace(web, "%s", c.env, 1))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.wantEnv {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			if n := strings.Count(out, "OTEL_SERVICE_NAME"); n != 1 {
				t.Errorf("OTEL_SERVICE_NAME %d times, want once (the web container only, not init, not db)", n)
			}
			again, err := run(t, c.cfg, out)
			if err != nil || again != out {
				t.Errorf("a second run changed the output or failed: %v", err)
			}
		})
	}
}
