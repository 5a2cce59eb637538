package upgrade

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

func nodes(t *testing.T, s string) []*yaml.RNode {
	t.Helper()
	ns, err := (&pipeline.Reader{Input: strings.NewReader(s)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// catalogCM is a catalog ConfigMap with one interface (db, Service svcName
// port port; none when svcName is empty), one shared ConfigMap (cfg named cfgName), one credential
// (Secret credSecret, key password), consumer "app".
func catalogCM(svcName string, port int, cfgName, credSecret string) string {
	cat := map[string]any{
		"apiVersion": "dpps.ctao.org/v1alpha1", "kind": "InterfaceCatalog", "release": "r",
		"subcharts": map[string]any{"s": map[string]any{"description": "s", "toggle": "s.enabled", "components": []string{"app", "db"}}},
		"components": map[string]any{
			"app": map[string]any{"description": "a", "subchart": "s", "workload": "Deployment", "name": "r-app", "selector": map[string]string{"app.kubernetes.io/instance": "r", "app.kubernetes.io/component": "app"}},
			"db":  map[string]any{"description": "d", "subchart": "s", "workload": "StatefulSet", "name": "r-db", "selector": map[string]string{"app.kubernetes.io/instance": "r", "app.kubernetes.io/component": "db"}},
		},
		"interfaces": map[string]any{"db": map[string]any{"description": "d", "provider": "db", "service": svcName,
			"ports": []any{map[string]any{"name": "sql", "port": port, "protocol": "TCP"}}, "consumers": []string{"app"}}},
		"shared":      map[string]any{"cfg": map[string]any{"description": "c", "kind": "ConfigMap", "name": cfgName, "owner": "db", "consumers": []string{"app"}, "keys": []string{"k"}}},
		"credentials": map[string]any{"db-password": map[string]any{"description": "p", "secretName": credSecret, "key": "password", "owner": "db", "consumers": []string{"app"}}},
		"externals":   map[string]any{},
	}
	if svcName == "" {
		cat["interfaces"] = map[string]any{}
	}
	b, _ := json.Marshal(cat)
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r-dpps-catalog\n  labels: {dpps.ctao.org/catalog: \"true\"}\ndata:\n  catalog.json: '" + string(b) + "'\n"
}

func app(env, cfg string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: r-app}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: app}}
  template:
    metadata: {labels: {app.kubernetes.io/component: app}}
    spec:
      containers:
        - name: app
          image: app:1
          env:
` + env + `
      volumes:
        - name: cfg
          configMap: {name: ` + cfg + `}
`
}

// dbSvc is a Service with TCP ports named sql, sql2, ...
func dbSvc(name string, ports ...int) string {
	s := "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec:\n  ports:\n"
	if len(ports) == 0 {
		s = strings.TrimSuffix(s, "\n") + " []\n"
	}
	for i, p := range ports {
		n := "sql"
		if i > 0 {
			n += strconv.Itoa(i + 1)
		}
		s += "    - {name: " + n + ", port: " + strconv.Itoa(p) + "}\n"
	}
	return s
}

func doc(parts ...string) string { return strings.Join(parts, "\n---\n") }

func TestCompare(t *testing.T) {
	deploy := func(sel string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  selector: {matchLabels: {c: " + sel + "}}\n  template: {metadata: {labels: {c: " + sel + "}}}\n"
	}
	sts := func(svc, size, class, retain string) string {
		return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, labels: {app.kubernetes.io/component: db}}
spec:
  serviceName: ` + svc + `
  selector: {matchLabels: {c: db}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: ` + retain + `}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {storageClassName: ` + class + `, resources: {requests: {storage: ` + size + `}}}
`
	}
	job := func(image string) string {
		return "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: " + image + "}]\n"
	}
	svc := func(ip, typ string) string {
		s := "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}]\n"
		if ip != "" {
			s += "  clusterIP: " + ip + "\n"
		}
		if typ != "" {
			s += "  type: " + typ + "\n"
		}
		return s
	}
	pvc := func(name, class, mode, size, ann string) string {
		return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: " + name + "\n  annotations: {" + ann + "}\nspec:\n  storageClassName: " + class +
			"\n  accessModes: [" + mode + "]\n  resources: {requests: {storage: " + size + "}}\n"
	}
	cm := func(immutable bool, v string) string {
		s := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: " + v + "}\n"
		if immutable {
			s += "immutable: true\n"
		}
		return s
	}
	secret := func(name, ann string, keys ...string) string {
		s := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  annotations: {" + ann + "}\nstringData:\n"
		for _, k := range keys {
			s += "  " + k + ": s3cr3t-" + k + "\n"
		}
		return s
	}
	keepAnn := "helm.sh/resource-policy: keep"
	cat := catalogCM("r-db", 5432, "r-cfg", "r-db-secret")
	dbEnv := "            - {name: DB_HOST, value: r-db}\n            - {name: DB_PORT, value: \"5432\"}"
	urlEnv := "            - {name: DB_URL, value: \"postgres://r-db.r.svc.cluster.local:5432/rucio\"}"
	secretEnv := "            - {name: P, valueFrom: {secretKeyRef: {name: r-db, key: password}}}"
	cacheEnv := "            - {name: CACHE, value: \"cache:6379\"}"
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string // "category rule object"
	}{
		{"unchanged", deploy("a"), deploy("a"), nil},
		{"selector", deploy("a"), deploy("b"), []string{"refused selector Deployment w"}},
		{"sts serviceName", sts("hl", "1Gi", "std", "Retain"), sts("hl2", "1Gi", "std", "Retain"), []string{"refused serviceName StatefulSet db"}},
		{"sts volumeClaimTemplates", sts("hl", "1Gi", "std", "Retain"), sts("hl", "2Gi", "std", "Retain"), []string{"refused volumeClaimTemplates StatefulSet db"}},
		{"sts retention", sts("hl", "1Gi", "std", "Retain"), sts("hl", "1Gi", "std", "Delete"), []string{"data-loss pvc-retention StatefulSet db"}},
		{"sts removed", sts("hl", "1Gi", "std", "Retain"), deploy("a"), []string{"data-loss statefulset-removed StatefulSet db"}},
		{"sts renamed", sts("hl", "1Gi", "std", "Retain"), strings.Replace(sts("hl", "1Gi", "std", "Retain"), "name: db,", "name: db2,", 1), []string{"data-loss statefulset-removed StatefulSet db"}},
		{"job template", job("a:1"), job("a:2"), []string{"refused job-template Job j"}},
		{"job renamed", job("a:1"), strings.Replace(job("a:2"), "name: j}", "name: j-2}", 1), nil},
		{"service clusterIP", svc("10.0.0.1", ""), svc("10.0.0.2", ""), []string{"refused service-clusterIP Service s"}},
		{"service to headless", svc("", ""), svc("None", ""), []string{"refused service-headless Service s"}},
		{"service type ok", svc("", ""), svc("", "NodePort"), nil},
		{"headless to LoadBalancer", svc("None", ""), svc("None", "LoadBalancer"), []string{"refused service-type Service s"}},
		{"pvc class and mode", pvc("p", "a", "ReadWriteOnce", "1Gi", keepAnn), pvc("p", "b", "ReadWriteMany", "1Gi", keepAnn),
			[]string{"refused pvc-accessModes PersistentVolumeClaim p", "refused pvc-storageClassName PersistentVolumeClaim p"}},
		{"pvc grows", pvc("p", "a", "ReadWriteOnce", "1Gi", ""), pvc("p", "a", "ReadWriteOnce", "2Gi", ""), nil},
		{"pvc shrinks", pvc("p", "a", "ReadWriteOnce", "2Gi", ""), pvc("p", "a", "ReadWriteOnce", "1500Mi", ""), []string{"refused pvc-shrink PersistentVolumeClaim p"}},
		{"pvc removed", pvc("p", "a", "ReadWriteOnce", "1Gi", ""), deploy("a"), []string{"data-loss pvc-removed PersistentVolumeClaim p"}},
		{"kept pvc removed", pvc("p", "a", "ReadWriteOnce", "1Gi", keepAnn), deploy("a"), nil},
		{"keep dropped", pvc("p", "a", "ReadWriteOnce", "1Gi", keepAnn), pvc("p", "a", "ReadWriteOnce", "1Gi", ""), []string{"data-loss keep-policy PersistentVolumeClaim p"}},
		{"immutable configmap", cm(true, "a"), cm(true, "b"), []string{"refused immutable-object ConfigMap cm"}},
		{"immutable to mutable", cm(true, "a"), cm(false, "a"), []string{"refused immutable-object ConfigMap cm"}},
		{"mutable configmap", cm(false, "a"), cm(false, "b"), nil},
		{"credential key removed",
			doc(cat, secret("r-db-secret", keepAnn, "password", "user")), doc(cat, secret("r-db-secret", keepAnn, "user")),
			[]string{"data-loss credential-key-removed Secret r-db-secret"}},
		{"credential secret removed",
			doc(cat, secret("r-db-secret", "", "password")), doc(cat),
			[]string{"data-loss credential-removed Secret r-db-secret"}},
		{"credential secret renamed",
			doc(cat, secret("r-db-secret", keepAnn, "password")), doc(catalogCM("r-db", 5432, "r-cfg", "r-db-creds"), secret("r-db-creds", keepAnn, "password")),
			[]string{"data-loss credential-renamed Secret r-db-secret"}},
		{"interface renamed, consumer follows",
			doc(cat, app(dbEnv, "r-cfg")), doc(catalogCM("r-postgres", 5432, "r-cfg", "r-db-secret"), app(strings.Replace(dbEnv, "r-db", "r-postgres", 1), "r-cfg")), nil},
		{"interface renamed, consumer stays",
			doc(cat, app(dbEnv, "r-cfg")), doc(catalogCM("r-postgres", 5432, "r-cfg", "r-db-secret"), app(dbEnv, "r-cfg")),
			[]string{"consumer-break interface-renamed Deployment r-app"}},
		{"interface port changed, consumer stays",
			doc(cat, app(dbEnv, "r-cfg")), doc(catalogCM("r-db", 5433, "r-cfg", "r-db-secret"), app(dbEnv, "r-cfg")),
			[]string{"consumer-break interface-port-changed Deployment r-app"}},
		{"shared renamed, consumer stays",
			doc(cat, app(dbEnv, "r-cfg")), doc(catalogCM("r-db", 5432, "r-config", "r-db-secret"), app(dbEnv, "r-cfg")),
			[]string{"consumer-break shared-renamed Deployment r-app"}},
		{"service port removed, consumer stays",
			doc(cat, dbSvc("r-db", 5432), app(dbEnv, "r-cfg")), doc(cat, dbSvc("r-db"), app(dbEnv, "r-cfg")),
			[]string{"consumer-break service-port-removed Deployment r-app"}},
		{"service port renumbered, catalog not",
			doc(cat, dbSvc("r-db", 5432), app(urlEnv, "r-cfg")), doc(cat, dbSvc("r-db", 5433), app(urlEnv, "r-cfg")),
			[]string{"consumer-break service-port-removed Deployment r-app"}},
		{"service port renumbered, consumer follows",
			doc(cat, dbSvc("r-db", 5432), app(urlEnv, "r-cfg")), doc(cat, dbSvc("r-db", 5433), app(strings.Replace(urlEnv, "5432", "5433", 1), "r-cfg")), nil},
		{"service port added",
			doc(cat, dbSvc("r-db", 5432), app(urlEnv, "r-cfg")), doc(cat, dbSvc("r-db", 5432, 5433), app(urlEnv, "r-cfg")), nil},
		{"interface and service removed, consumer stays",
			doc(cat, dbSvc("r-db", 5432), app(urlEnv, "r-cfg")), doc(catalogCM("", 0, "r-cfg", "r-db-secret"), app(urlEnv, "r-cfg")),
			[]string{"consumer-break interface-removed Service r-db", "consumer-break service-removed Deployment r-app"}},
		{"interface removed, consumer gone too",
			doc(cat, dbSvc("r-db", 5432), app(urlEnv, "r-cfg")), doc(catalogCM("", 0, "r-cfg", "r-db-secret"), app("            - {name: X, value: z}", "r-cfg")),
			[]string{"consumer-break interface-removed Service r-db"}},
		{"interface removed, a Secret of the same name still read",
			doc(cat, dbSvc("r-db", 5432), app(secretEnv, "r-cfg")), doc(catalogCM("", 0, "r-cfg", "r-db-secret"), app(secretEnv, "r-cfg")),
			[]string{"consumer-break interface-removed Service r-db"}},
		{"service outside the catalog removed, a workload still names it",
			doc(dbSvc("cache", 6379), app(cacheEnv, "r-cfg")), doc(app(cacheEnv, "r-cfg")),
			[]string{"consumer-break service-removed Deployment r-app"}},
		{"service outside the catalog removed, nobody names it",
			doc(dbSvc("cache", 6379), app(dbEnv, "r-cfg")), doc(app(dbEnv, "r-cfg")), nil},
		{"service named only as a longer host",
			doc(dbSvc("r-db", 5432), app("            - {name: DB_URL, value: \"postgres://r-db-0.r-db-hl:5432/x\"}", "r-cfg")),
			doc(dbSvc("r-db"), app("            - {name: DB_URL, value: \"postgres://r-db-0.r-db-hl:5432/x\"}", "r-cfg")), nil},
		{"shared renamed, consumer follows",
			doc(cat, app(dbEnv, "r-cfg")), doc(catalogCM("r-db", 5432, "r-config", "r-db-secret"), app(dbEnv, "r-config")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Compare(nodes(t, tc.old), nodes(t, tc.new), "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, string(f.Category)+" "+f.Rule+" "+f.Object)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n got %q\nwant %q\n%+v", got, tc.want, rep.Findings)
			}
			if rep.OK != (len(tc.want) == 0) {
				t.Errorf("OK = %v", rep.OK)
			}
		})
	}
}

// TestSecretValuesHidden: no value of a Secret or of a credential-like env
// variable appears in any output format.
func TestSecretValuesHidden(t *testing.T) {
	old := doc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: old-s3cr3t, gone: gone-s3cr3t}\ndata: {b: b2xkLXMzY3IzdA==}\n",
		app("            - {name: DB_PASSWORD, value: env-old-s3cr3t}", "c"))
	new := doc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: new-s3cr3t, added: added-s3cr3t}\ndata: {b: bmV3LXMzY3IzdA==}\n",
		app("            - {name: DB_PASSWORD, value: env-new-s3cr3t}", "c"))
	rep, err := Compare(nodes(t, old), nodes(t, new), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, rep); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, s := range []string{"s3cr3t", "bmV3", "b2xk"} {
			if strings.Contains(out, s) {
				t.Errorf("%s output shows a secret value (%s):\n%s", format, s, out)
			}
		}
		if format == "table" {
			for _, want := range []string{"~ stringData.password: changed (value hidden)", "- stringData.gone (value hidden)", "+ stringData.added (value hidden)",
				"~ spec.template.spec.containers[app].env[DB_PASSWORD].value: changed (value hidden)"} {
				if !strings.Contains(out, want) {
					t.Errorf("table lacks %q:\n%s", want, out)
				}
			}
		}
	}
}

func TestHostIn(t *testing.T) {
	for s, want := range map[string]bool{
		"r-db": true, "r-db:5432": true, "postgresql://u@r-db.ns.svc:5432/x": true,
		"r-db-0": false, "xr-db": false, "r-dbx": false, "": false, "r-d": false,
	} {
		if got := hostIn(s, "r-db"); got != want {
			t.Errorf("hostIn(%q) = %v", s, got)
		}
	}
}

// A declared credential embedded in a ConfigMap (a DSN in a config file) is
// never shown, whatever the key is called.
func TestEmbeddedCredentialHidden(t *testing.T) {
	secret := func(pw string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: r-db}\nstringData: {password: " + pw + "}\n"
	}
	cm := func(pw, extra string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  dsn: postgresql://rucio:" + pw + "@db/rucio" + extra + "\n"
	}
	cat := catalogCM("r-db", 5432, "c", "r-db")
	old := doc(cat, secret("first-s3cr3t-pw"), cm("first-s3cr3t-pw", ""))
	new := doc(cat, secret("first-s3cr3t-pw"), cm("first-s3cr3t-pw", "?sslmode=require"))
	rep, err := Compare(nodes(t, old), nodes(t, new), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, rep); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "s3cr3t") {
			t.Errorf("%s output shows the credential:\n%s", format, buf.String())
		}
		if format == "table" && !strings.Contains(buf.String(), "~ data.dsn: changed (value hidden)") {
			t.Errorf("table lacks the hidden change:\n%s", buf.String())
		}
	}
}

// TestClaimTemplateResize: growing a StatefulSet's claims points at the
// resize procedure; any other template change does not.
func TestClaimTemplateResize(t *testing.T) {
	sts := func(class, size string) string {
		return "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  volumeClaimTemplates:\n" +
			"    - metadata: {name: data}\n      spec: {storageClassName: " + class + ", resources: {requests: {storage: " + size + "}}}\n"
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"grows", sts("std", "1Gi"), sts("std", "5Gi"),
			`a StatefulSet's volumeClaimTemplates are immutable: the upgrade fails; to grow its claims (data 1Gi to 5Gi) follow docs/upgrades.md, "Resizing a StatefulSet's volumes": patch each claim, delete the StatefulSet with --cascade=orphan, then upgrade`},
		{"shrinks", sts("std", "5Gi"), sts("std", "1Gi"), "a StatefulSet's volumeClaimTemplates are immutable: the upgrade fails; keep them as they are"},
		{"grows and changes class", sts("std", "1Gi"), sts("fast", "5Gi"), "a StatefulSet's volumeClaimTemplates are immutable: the upgrade fails; keep them as they are"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Compare(nodes(t, tc.old), nodes(t, tc.new), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Message != tc.want {
				t.Errorf("findings %+v\nwant one: %s", rep.Findings, tc.want)
			}
		})
	}
}
