// Package benchdata generates deterministic synthetic streams that look like
// the output of `helm template` on the DPPS umbrella chart, for benchmarks.
//
// A stream alternates Deployments and the Services in front of them. Every
// document opens with `---` and Helm's `# Source:` comment naming a template
// of a subchart (dpps/charts/<sub>/templates/<x>.yaml); every object carries
// an app label and Helm's helm.sh/chart label; every Deployment has a pod
// template with two containers, an environment variable, probes and
// resources. 5,000 objects make 2.42 MB (483 bytes an object), the size of
// the stream the baselines in TECH-NOTES were measured on. Object i is the
// same in every stream, so Stream(500) is a prefix of Stream(5000).
package benchdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// subcharts are the components objects are spread over, as in the umbrella.
var subcharts = []struct{ name, version, image string }{
	{"bdms", "0.4.2", "rucio-server"},
	{"wms", "0.3.1", "dirac"},
	{"diracx", "1.1.6", "diracx"},
	{"rucio", "40.0.0", "rucio-daemons"},
	{"fts", "0.2.0", "fts"},
	{"iam", "0.9.3", "indigo-iam"},
	{"redis", "21.2.1", "redis"},
}

// Stream returns a stream of n objects, alternating a Deployment (even
// index) and the Service in front of it (odd index). The same n always gives
// the same bytes.
func Stream(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 500)
	for i := range n {
		if i%2 == 0 {
			deployment(&b, i)
		} else {
			service(&b, i)
		}
	}
	return b.Bytes()
}

// app names the workload of object i; a Deployment and the Service after it
// share it.
func app(i int) (name string, sub int) {
	pair := i / 2
	sub = pair % len(subcharts)
	return subcharts[sub].name + "-" + strconv.Itoa(pair), sub
}

func deployment(b *bytes.Buffer, i int) { deploymentLabelled(b, i, "") }

// deploymentLabelled writes Deployment i with extra lines of pod labels.
func deploymentLabelled(b *bytes.Buffer, i int, podLabels string) {
	name, s := app(i)
	sc := subcharts[s]
	fmt.Fprintf(b, `---
# Source: dpps/charts/%[2]s/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app: %[1]s
    helm.sh/chart: %[2]s-%[3]s
spec:
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
%[7]s    spec:
      containers:
      - name: main
        image: dpps/%[4]s:%[3]s
        env:
        - name: LOG_LEVEL
          value: info
        readinessProbe:
          httpGet:
            path: /health
            port: %[5]d
        resources:
          limits:
            memory: 256Mi
      - name: proxy
        image: dpps/proxy:1.2.%[6]d
        livenessProbe:
          tcpSocket:
            port: 8443
`, name, sc.name, sc.version, sc.image, port(i), i%10, podLabels)
}

func service(b *bytes.Buffer, i int) {
	name, s := app(i)
	sc := subcharts[s]
	fmt.Fprintf(b, `---
# Source: dpps/charts/%[2]s/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  labels:
    app: %[1]s
    helm.sh/chart: %[2]s-%[3]s
spec:
  selector:
    app: %[1]s
  ports:
  - port: 80
    targetPort: %[4]d
`, name, sc.name, sc.version, port(i))
}

// port is the container port of the workload of object i.
func port(i int) int { return 8000 + (i/2)%1000 }

// CatalogRelease is the release name of StreamWithCatalog.
const CatalogRelease = "bench"

// StreamWithCatalog is Stream(n) for the transforms that need the interface
// catalog: every pod template also carries app.kubernetes.io/instance
// (CatalogRelease) and app.kubernetes.io/component (its subchart's name),
// and a catalog ConfigMap follows the n objects. The catalog has one
// component per subchart and one interface per component (port 8080),
// consumed by the next subchart's component, so that the netpol transform
// selects every pod.
func StreamWithCatalog(n int) []byte {
	var b bytes.Buffer
	b.Grow(n*560 + 8192)
	for i := range n {
		if i%2 == 0 {
			_, s := app(i)
			deploymentLabelled(&b, i, fmt.Sprintf("        app.kubernetes.io/instance: %s\n        app.kubernetes.io/component: %s\n", CatalogRelease, subcharts[s].name))
		} else {
			service(&b, i)
		}
	}
	catalogConfigMap(&b)
	return b.Bytes()
}

func catalogConfigMap(b *bytes.Buffer) {
	type sel = map[string]string
	components := map[string]any{}
	interfaces := map[string]any{}
	subs := map[string]any{}
	for k, sc := range subcharts {
		next := subcharts[(k+1)%len(subcharts)].name
		components[sc.name] = map[string]any{
			"description": sc.name, "subchart": sc.name, "workload": "Deployment", "name": CatalogRelease + "-" + sc.name,
			"selector": sel{"app.kubernetes.io/instance": CatalogRelease, "app.kubernetes.io/component": sc.name},
		}
		subs[sc.name] = map[string]any{"description": sc.name, "toggle": sc.name + ".enabled", "components": []string{sc.name}}
		interfaces[sc.name+"-api"] = map[string]any{
			"description": sc.name + " API", "provider": sc.name, "service": CatalogRelease + "-" + sc.name,
			"ports":     []any{map[string]any{"name": "http", "port": 8080, "protocol": "TCP"}},
			"consumers": []string{next},
		}
	}
	cat, err := json.Marshal(map[string]any{
		"apiVersion": "dpps.ctao.org/v1alpha1", "kind": "InterfaceCatalog", "release": CatalogRelease,
		"subcharts": subs, "components": components, "interfaces": interfaces,
		"shared": map[string]any{}, "credentials": map[string]any{}, "externals": map[string]any{},
	})
	if err != nil {
		panic(err)
	}
	quoted, _ := json.Marshal(string(cat))
	fmt.Fprintf(b, `---
# Source: dpps/templates/catalog.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-dpps-catalog
  labels:
    dpps.ctao.org/catalog: "true"
data:
  catalog.json: %[2]s
  site.json: '{"externals": {}, "secrets": {"backend": "chart"}}'
`, CatalogRelease, quoted)
}
