// Package examples holds the site values of each environment and the test
// that renders every one with the real Helm binary through dpps-render.
package examples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const (
	release = "dpps"
	chart   = "../charts/dpps"

	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelName      = "app.kubernetes.io/name"
	annHook        = "helm.sh/hook"
	annPolicy      = "helm.sh/resource-policy"
)

// The environments every checkout must have; a directory added beside them
// is rendered too.
var required = []string{"dev", "ci", "staging", "prod-site"}

// The workloads of the DPPS issue list, each with the kind and the component
// of its counterpart in the ci render.
var workloads = []struct{ what, kind, component string }{
	{"rucio-server", "Deployment", "rucio-server"},
	{"conveyor-submitter", "Deployment", "conveyor-submitter"},
	{"conveyor-poller", "Deployment", "conveyor-poller"},
	{"conveyor-receiver", "Deployment", "conveyor-receiver"},
	{"conveyor-finisher", "Deployment", "conveyor-finisher"},
	{"judge-evaluator", "Deployment", "judge-evaluator"},
	{"rucio PostgreSQL", "StatefulSet", "rucio-db"},
	{"rucio bootstrap Job", "Job", "rucio-bootstrap"},
	{"rucio schema migration Job", "Job", "rucio-migrate"},
	{"rucio configure Job", "Job", "rucio-configure"},
	{"rucio-db backup Job", "Job", "rucio-db-backup"},
	{"dirac-server", "Deployment", "dirac-server"},
	{"dirac-ce", "Deployment", "dirac-ce"},
	{"dirac-client", "Deployment", "dirac-client"},
	{"wms MySQL", "StatefulSet", "dirac-db"},
	{"dirac-db backup Job", "Job", "dirac-db-backup"},
	{"fts", "Deployment", "fts"},
	{"fts MySQL", "StatefulSet", "fts-db"},
	{"fts-db backup Job", "Job", "fts-db-backup"},
	{"rucio-storage-1", "StatefulSet", "rucio-storage-1"},
	{"rucio-storage-2", "StatefulSet", "rucio-storage-2"},
	{"rucio-storage-3", "StatefulSet", "rucio-storage-3"},
	{"cert-generator", "Job", "cert-generator"},
	{"testkit", "Deployment", "testkit"},
}

// tools returns the Helm 3 binary and dpps-render, both set by `make unit`.
func tools(t *testing.T) (helm, render string) {
	t.Helper()
	helm = os.Getenv("DPPS_HELM3")
	bin := os.Getenv("DPPS_BIN")
	if helm == "" || bin == "" {
		msg := "DPPS_HELM3 (a Helm 3 binary) and DPPS_BIN (the directory of dpps-render) are not set; `make unit` sets them"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	render = filepath.Join(bin, "dpps-render")
	for _, p := range []string{helm, render} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return helm, render
}

func environments(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var envs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(e.Name(), "values.yaml")); e.IsDir() && err == nil {
			envs = append(envs, e.Name())
			if _, err := os.Stat(filepath.Join(e.Name(), "README.md")); err != nil {
				t.Errorf("examples/%s has no README.md", e.Name())
			}
		}
	}
	for _, r := range required {
		if !slices.Contains(envs, r) {
			t.Errorf("examples/%s/values.yaml is missing", r)
		}
	}
	return envs
}

// run runs a command and returns its stdout; a failure names the command and
// shows its stderr.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func renderArgs(env, render string, extra ...string) []string {
	return append([]string{"template", release, chart, "-f", filepath.Join(env, "values.yaml"),
		"--post-renderer", render}, extra...)
}

// object is one rendered document, as a map for deep reads.
type object struct {
	kind, name string
	labels     map[string]string
	ann        map[string]string
	m          map[string]any
	text       string
}

func (o object) String() string { return o.kind + "/" + o.name }

func parse(t *testing.T, out []byte) []object {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatalf("parse rendered output: %v", err)
	}
	objs := make([]object, 0, len(nodes))
	for _, n := range nodes {
		m, err := n.Map()
		if err != nil {
			t.Fatalf("%s/%s: %v", n.GetKind(), n.GetName(), err)
		}
		text, err := n.String()
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, object{kind: n.GetKind(), name: n.GetName(), labels: n.GetLabels(),
			ann: n.GetAnnotations(), m: m, text: text})
	}
	if len(objs) == 0 {
		t.Fatal("the render is empty")
	}
	return objs
}

// dig walks maps; nil when a key is missing.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// podTemplate is the pod template of a workload, nil for other kinds.
func podTemplate(o object) map[string]any {
	switch o.kind {
	case "Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet":
		t, _ := dig(o.m, "spec", "template").(map[string]any)
		return t
	case "CronJob":
		t, _ := dig(o.m, "spec", "jobTemplate", "spec", "template").(map[string]any)
		return t
	}
	return nil
}

func podLabels(o object) map[string]string {
	out := map[string]string{}
	if m, ok := dig(podTemplate(o), "metadata", "labels").(map[string]any); ok {
		for k, v := range m {
			out[k] = str(v)
		}
	}
	return out
}

// catalog is the part of charts/dpps/catalog.json the test reads.
type catalog struct {
	Subcharts map[string]struct {
		Components []string `json:"components"`
	} `json:"subcharts"`
	Components map[string]struct {
		Subchart string `json:"subchart"`
		Workload string `json:"workload"`
	} `json:"components"`
	Shared map[string]struct {
		Name      string   `json:"name"`
		Owner     string   `json:"owner"`
		Consumers []string `json:"consumers"`
	} `json:"shared"`
	Credentials map[string]struct {
		SecretName string   `json:"secretName"`
		Owner      string   `json:"owner"`
		Consumers  []string `json:"consumers"`
	} `json:"credentials"`
	Externals map[string]struct {
		Fixture *struct {
			Components []string `json:"components"`
			Toggle     string   `json:"toggle"`
		} `json:"fixture"`
	} `json:"externals"`
}

func loadCatalog(t *testing.T) catalog {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chart, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c catalog
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("catalog.json: %v", err)
	}
	return c
}

// fixtures are the components that stand in for an external interface: the
// catalog's fixture components, every component of a subchart whose toggle
// switches a fixture, and the testkit.
func (c catalog) fixtures() map[string]bool {
	f := map[string]bool{"testkit": true}
	for _, x := range c.Externals {
		if x.Fixture == nil {
			continue
		}
		for _, comp := range x.Fixture.Components {
			f[comp] = true
		}
		if parts := strings.Split(x.Fixture.Toggle, "."); len(parts) == 2 {
			for _, comp := range c.Subcharts[parts[0]].Components {
				f[comp] = true
			}
		}
	}
	return f
}

func TestExamples(t *testing.T) {
	helm, render := tools(t)
	cat := loadCatalog(t)
	for _, env := range environments(t) {
		t.Run(env, func(t *testing.T) {
			run(t, helm, "lint", "--strict", chart, "-f", filepath.Join(env, "values.yaml"))

			out := run(t, helm, renderArgs(env, render)...)
			again := run(t, helm, renderArgs(env, render)...)
			if !bytes.Equal(out, again) {
				t.Errorf("two renders differ (%d and %d bytes): the output must be deterministic", len(out), len(again))
			}
			objs := parse(t, out)
			checkCommon(t, objs)
			checkDeclaredUse(t, objs, cat)

			switch env {
			case "ci":
				checkWorkloads(t, objs, cat)
				checkNoPlaintext(t, env, objs)
				checkSkipTests(t, helm, render, env)
			case "dev":
				checkNoPlaintext(t, env, objs)
			case "prod-site":
				checkNoFixture(t, objs, cat)
			}
		})
	}
}

// checkCommon holds for every environment: no Helm hook but Helm test pods,
// every PVC kept, every workload named and labelled by the rules.
func checkCommon(t *testing.T, objs []object) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range objs {
		if seen[o.String()] {
			t.Errorf("%s is rendered twice", o)
		}
		seen[o.String()] = true

		if hook, ok := o.ann[annHook]; ok {
			if hook != "test" || o.kind != "Pod" || o.labels[labelName] != "dpps-helm-test" {
				t.Errorf("%s is a Helm hook (%s=%q): bootstrap work must be ordinary Jobs and init containers, which dpps-render sees", o, annHook, hook)
			}
		}
		if o.kind == "PersistentVolumeClaim" && o.ann[annPolicy] != "keep" {
			t.Errorf("%s lacks %s: keep", o, annPolicy)
		}
		if o.kind == "StatefulSet" {
			for _, v := range list(dig(o.m, "spec", "volumeClaimTemplates")) {
				if str(dig(v, "metadata", "annotations", annPolicy)) != "keep" {
					t.Errorf("%s: volumeClaimTemplate %q lacks %s: keep", o, str(dig(v, "metadata", "name")), annPolicy)
				}
			}
			if str(dig(o.m, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted")) != "Retain" {
				t.Errorf("%s: persistentVolumeClaimRetentionPolicy.whenDeleted is not Retain", o)
			}
		}
		if podTemplate(o) != nil {
			checkWorkload(t, o)
		}
	}
}

// namedFor: a workload is named <release>-<component>; a Job may carry a
// version after it (<release>-<component>-<version>: a new Job per upgrade,
// since a Job's pod template is immutable).
var versionSuffix = regexp.MustCompile(`^v?[0-9][a-z0-9-]*$`)

func namedFor(o object, comp string) bool {
	name := release + "-" + comp
	if o.name == name {
		return true
	}
	v, ok := strings.CutPrefix(o.name, name+"-")
	return ok && o.kind == "Job" && versionSuffix.MatchString(v)
}

func checkWorkload(t *testing.T, o object) {
	t.Helper()
	pl := podLabels(o)
	comp := pl[labelComponent]
	if pl[labelInstance] != release || comp == "" {
		t.Errorf("%s: pods lack %s=%s or %s", o, labelInstance, release, labelComponent)
		return
	}
	if !namedFor(o, comp) {
		t.Errorf("%s: a workload of component %s must be named %s-%s (a Job: or %s-%s-<version>)", o, comp, release, comp, release, comp)
	}
	spec := dig(podTemplate(o), "spec")
	long := o.kind != "Job" && o.kind != "CronJob" // both run to completion
	var ready bool
	for _, field := range []string{"initContainers", "containers"} {
		for _, c := range list(dig(spec, field)) {
			name := str(dig(c, "name"))
			img := str(dig(c, "image"))
			if img == "" || strings.HasSuffix(img, ":latest") || !strings.Contains(img[strings.LastIndex(img, "/")+1:], ":") {
				t.Errorf("%s: container %s: image %q is not pinned", o, name, img)
			}
			if dig(c, "resources", "limits") == nil || dig(c, "resources", "requests") == nil {
				t.Errorf("%s: container %s has no resource requests and limits", o, name)
			}
			if dig(c, "securityContext", "allowPrivilegeEscalation") != false ||
				!slices.Contains(list(dig(c, "securityContext", "capabilities", "drop")), any("ALL")) {
				t.Errorf("%s: container %s must drop ALL capabilities and forbid privilege escalation", o, name)
			}
			if long && field == "containers" {
				if dig(c, "livenessProbe") == nil {
					t.Errorf("%s: container %s has no liveness probe", o, name)
				}
				ready = ready || dig(c, "readinessProbe") != nil
			}
		}
	}
	if long && !ready {
		t.Errorf("%s: no container has a readiness probe", o)
	}
}

// checkWorkloads: the ci render has a counterpart of every workload of the
// issue's list and of every component of the catalog.
func checkWorkloads(t *testing.T, objs []object, cat catalog) {
	t.Helper()
	has := func(kind, comp string) bool {
		for _, o := range objs {
			pl := podLabels(o)
			if o.kind == kind && namedFor(o, comp) && pl[labelComponent] == comp && pl[labelInstance] == release {
				return true
			}
		}
		return false
	}
	for _, w := range workloads {
		if !has(w.kind, w.component) {
			t.Errorf("ci: no %s for %s (component %s, named %s-%s)", w.kind, w.what, w.component, release, w.component)
		}
	}
	comps := make([]string, 0, len(cat.Components))
	for c := range cat.Components {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	for _, c := range comps {
		if kind := cat.Components[c].Workload; !has(kind, c) {
			t.Errorf("ci: catalog component %s has no %s in the render", c, kind)
		}
	}
	var catalogs int
	for _, o := range objs {
		if o.kind == "ConfigMap" && o.labels["dpps.ctao.org/catalog"] == "true" {
			catalogs++
			for _, key := range []string{"catalog.json", "site.json"} {
				var v any
				if err := json.Unmarshal([]byte(str(dig(o.m, "data", key))), &v); err != nil {
					t.Errorf("%s: %s is not JSON: %v", o, key, err)
				}
			}
			if strings.Contains(str(dig(o.m, "data", "catalog.json")), "{{") {
				t.Errorf("%s: catalog.json still holds template strings", o)
			}
		}
	}
	if catalogs != 1 {
		t.Errorf("ci: %d catalog ConfigMaps, want 1", catalogs)
	}
}

// checkNoFixture: the prod-site render holds no object of a test fixture
// and no Secret (credentials come from the site's secret store).
func checkNoFixture(t *testing.T, objs []object, cat catalog) {
	t.Helper()
	fixtures := cat.fixtures()
	for _, o := range objs {
		comp := o.labels[labelComponent]
		if pc := podLabels(o)[labelComponent]; pc != "" {
			comp = pc
		}
		if fixtures[comp] {
			t.Errorf("prod-site: %s belongs to the test fixture %s", o, comp)
		}
		if o.kind == "Secret" {
			t.Errorf("prod-site: %s: with the external-secrets backend the chart creates no Secret", o)
		}
	}
}

// checkNoPlaintext: a credential value of the example's values appears only
// in Secrets, and (dev) in the one documented place, the Rucio config.
func checkNoPlaintext(t *testing.T, env string, objs []object) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := yaml.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	m, err := vals.Map()
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, sub := range m {
		if cv, ok := dig(sub, "credentialValues").(map[string]any); ok {
			for _, v := range cv {
				if s := fmt.Sprint(v); s != "" {
					secrets = append(secrets, s)
				}
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatalf("%s: no credentialValues in the example", env)
	}
	allowed := map[string]bool{}
	if env == "dev" {
		allowed["ConfigMap/"+release+"-rucio-config"] = true
	}
	for _, o := range objs {
		if o.kind == "Secret" || allowed[o.String()] {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(o.text, s) {
				t.Errorf("%s: %s holds a credential of the values in plain text", env, o)
			}
		}
	}
}

// checkSkipTests: without the Helm tests the render holds no hook at all.
func checkSkipTests(t *testing.T, helm, render, env string) {
	t.Helper()
	for _, o := range parse(t, run(t, helm, renderArgs(env, render, "--skip-tests")...)) {
		if _, ok := o.ann[annHook]; ok {
			t.Errorf("%s --skip-tests: %s is a Helm hook", env, o)
		}
	}
}

// users maps an object name of the catalog (a shared ConfigMap or Secret, a
// credential Secret), rendered for the release, to the components that may
// reference it: its owner and its consumers.
func (c catalog) users() map[string][]string {
	name := func(tmpl string) string { return strings.ReplaceAll(tmpl, "{{ .Release.Name }}", release) }
	u := map[string][]string{}
	for _, s := range c.Shared {
		u[name(s.Name)] = append(u[name(s.Name)], append([]string{s.Owner}, s.Consumers...)...)
	}
	for _, cr := range c.Credentials {
		n := name(cr.SecretName)
		u[n] = append(u[n], append([]string{cr.Owner}, cr.Consumers...)...)
	}
	return u
}

// references lists the ConfigMaps and Secrets a pod template references.
func references(pod map[string]any) []string {
	var refs []string
	spec := dig(pod, "spec")
	for _, v := range list(dig(spec, "volumes")) {
		refs = append(refs, str(dig(v, "secret", "secretName")), str(dig(v, "configMap", "name")))
		for _, src := range list(dig(v, "projected", "sources")) {
			refs = append(refs, str(dig(src, "secret", "name")), str(dig(src, "configMap", "name")))
		}
	}
	for _, field := range []string{"initContainers", "containers"} {
		for _, c := range list(dig(spec, field)) {
			for _, e := range list(dig(c, "env")) {
				refs = append(refs, str(dig(e, "valueFrom", "secretKeyRef", "name")), str(dig(e, "valueFrom", "configMapKeyRef", "name")))
			}
			for _, e := range list(dig(c, "envFrom")) {
				refs = append(refs, str(dig(e, "secretRef", "name")), str(dig(e, "configMapRef", "name")))
			}
		}
	}
	return slices.DeleteFunc(refs, func(s string) bool { return s == "" })
}

// checkDeclaredUse: a workload references a shared object or a credential
// only when the catalog declares its component as the owner or a consumer,
// so the chart and the catalog (and what dpps-render derives from it) agree.
func checkDeclaredUse(t *testing.T, objs []object, cat catalog) {
	t.Helper()
	users := cat.users()
	for _, o := range objs {
		pod := podTemplate(o)
		if pod == nil {
			continue
		}
		comp := podLabels(o)[labelComponent]
		for _, ref := range references(pod) {
			if allowed, ok := users[ref]; ok && !slices.Contains(allowed, comp) {
				t.Errorf("%s (component %s) references %s, which the catalog does not declare it uses (owner and consumers: %s)",
					o, comp, ref, strings.Join(allowed, ", "))
			}
		}
	}
}
