package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	release        = "dpps"
	chart          = "charts/dpps"
	annRendered    = "dpps.ctao.org/rendered-by"
	labelGenerated = "dpps.ctao.org/generated"
	labelManagedBy = "app.kubernetes.io/managed-by"
	annHook        = "helm.sh/hook"
	annPolicy      = "helm.sh/resource-policy"
	fieldManager   = "dpps-e2e"
)

var gvrPVC = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}

// The examples helm install deploys: the reference CI environment (every
// fixture, StatefulSets with kept PVCs) and a production site (externals
// only).
var installExamples = []string{"ci", "prod-site"}

func helms() []*helmCLI { return []*helmCLI{env.helm3, env.helm4} }

// render is helm template of the chart with an example's values through
// dpps-render, as h runs it, into ns.
func render(t *testing.T, h *helmCLI, example, ns string) (objs, hooks []*unstructured.Unstructured) {
	t.Helper()
	args := append([]string{"template", release, chart, "-n", ns, "-f", filepath.Join("examples", example, "values.yaml")}, h.postRenderer()...)
	out, err := h.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	all, err := parseObjects(out)
	if err != nil {
		t.Fatalf("%s template: %v", h.name, err)
	}
	for _, o := range all {
		if _, ok := o.GetAnnotations()[annHook]; ok {
			hooks = append(hooks, o)
		} else {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("%s template of examples/%s rendered no object", h.name, example)
	}
	return objs, hooks
}

// TestRelease runs each install example through a release's life with each
// Helm: install, upgrade --install twice, uninstall.
func TestRelease(t *testing.T) {
	for _, example := range installExamples {
		for _, h := range helms() {
			t.Run(example+"/"+h.name, func(t *testing.T) {
				t.Parallel()
				testRelease(t, h, example)
			})
		}
	}
}

func testRelease(t *testing.T, h *helmCLI, example string) {
	ns := "e2e-" + example + "-" + h.name
	values := filepath.Join("examples", example, "values.yaml")
	helmArgs := func(verb ...string) []string {
		a := append(verb, release, chart, "-n", ns, "-f", values)
		return append(a, h.postRenderer()...)
	}
	objs, hooks := render(t, h, example, ns)
	for _, o := range hooks {
		// Only helm test hooks are expected: install would wait for any
		// other hook Job, which never finishes without a kubelet.
		if o.GetAnnotations()[annHook] != "test" {
			t.Errorf("%s is a %q hook: without a kubelet, install would wait for it", key(o), o.GetAnnotations()[annHook])
		}
	}

	// The namespace enforces the Pod Security level the example declares,
	// as a site's would: the API server refuses a pod that violates it
	// when the controller-manager creates it.
	createNamespace(t, ns, psaLabels(declaredPodSecurity(t, example)))

	// 1. The release deploys and every rendered object is on the server,
	// as dpps-render wrote it.
	if !t.Run("install", func(t *testing.T) {
		if _, err := h.run(helmArgs("install", "--create-namespace")...); err != nil {
			t.Fatal(err)
		}
		manifest, err := h.run("get", "manifest", release, "-n", ns)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := parseObjects(manifest)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := keys(applied), keys(objs); !slices.Equal(got, want) {
			t.Errorf("helm get manifest holds\n  %v\nhelm template rendered\n  %v", got, want)
		}
		generated := 0
		var relabelled []string
		for _, o := range objs {
			live, err := get(o, ns)
			if err != nil {
				t.Errorf("%s: %v", key(o), err)
				continue
			}
			// dpps-render's marks: provenance annotations on objects from
			// templates, the dpps.ctao.org/generated label on the objects
			// its transforms add. The server has them as rendered.
			// The chart stamps dpps.ctao.org/source itself: rendered-by
			// (templates) or the generated label (transforms) is what only
			// dpps-render adds.
			marks := dppsMarks(o)
			if marks["dpps.ctao.org/rendered-by"] == "" && o.GetLabels()[labelGenerated] == "" {
				t.Errorf("%s: the render has no dpps.ctao.org/rendered-by annotation or generated label: not post-rendered?", key(o))
			}
			if got := dppsMarks(live); !maps.Equal(got, marks) {
				t.Errorf("%s: dpps.ctao.org/ marks on the server\n  %v\nin the render\n  %v", key(o), got, marks)
			}
			if o.GetLabels()[labelGenerated] != "" {
				generated++
			}
			// Helm labels what it creates app.kubernetes.io/managed-by:
			// Helm, whatever the render said; worth knowing, not an error.
			if want, got := o.GetLabels()[labelManagedBy], live.GetLabels()[labelManagedBy]; want != got {
				relabelled = append(relabelled, fmt.Sprintf("%s (%q -> %q)", key(o), want, got))
			}
		}
		if len(relabelled) > 0 {
			t.Logf("%s: the server has another %s than the render on %d objects: %v", h.name, labelManagedBy, len(relabelled), relabelled)
		}
		t.Logf("%s install: all %d rendered objects on the server with dpps-render's marks (%d generated by its transforms; %d helm test hooks not installed)",
			h.name, len(objs), generated, len(hooks))
	}) {
		return
	}

	// 2. The controller-manager creates every pod of the release: the API
	// server's Pod Security admission refuses none.
	t.Run("pod security", func(t *testing.T) { checkPodSecurity(t, ns) })

	// 3. A second helm upgrade --install with the same values changes no
	// object: every resourceVersion stays the same. The controllers update
	// status after each step, so each snapshot waits until they are done.
	t.Run("upgrade twice changes nothing", func(t *testing.T) {
		before := settle(t, ns, objs)
		if _, err := h.run(helmArgs("upgrade", "--install")...); err != nil {
			t.Fatal(err)
		}
		first := settle(t, ns, objs)
		if changed := diffSnapshots(before, first); len(changed) > 0 {
			t.Logf("the first upgrade after install changed %v", changed)
		}
		if _, err := h.run(helmArgs("upgrade", "--install")...); err != nil {
			t.Fatal(err)
		}
		second := settle(t, ns, objs)
		for _, k := range diffSnapshots(first, second) {
			t.Errorf("the second helm upgrade --install changed %s: resourceVersion %s -> %s; managed fields now: %s",
				k, first[k].rv, second[k].rv, second[k].managers)
		}
		hist, err := h.run("history", release, "-n", ns, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(hist, `"revision":`); n != 3 {
			t.Errorf("helm history has %d revisions, want 3 (install and two upgrades)", n)
		}
		t.Logf("%s: second upgrade --install left all %d resourceVersions unchanged", h.name, len(second))
	})

	// 4. helm uninstall: the PVCs the StatefulSet controller created from
	// volumeClaimTemplates (they carry the keep policy) and every object
	// with the keep policy are still there; the rest is gone.
	t.Run("uninstall keeps PVCs", func(t *testing.T) {
		pvcs := expectedPVCs(objs)
		ctx := context.Background()
		pvcClient := env.dyn.Resource(gvrPVC).Namespace(ns)
		for _, name := range pvcs {
			err := poll(60*time.Second, func() error {
				_, err := pvcClient.Get(ctx, name, metav1.GetOptions{})
				return err
			})
			if err != nil {
				t.Errorf("PVC %s (volumeClaimTemplate of a StatefulSet): the StatefulSet controller did not create it: %v", name, err)
			}
		}
		var kept, removed []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetAnnotations()[annPolicy] == "keep" {
				kept = append(kept, o)
			} else {
				removed = append(removed, o)
			}
		}
		if _, err := h.run("uninstall", release, "-n", ns); err != nil {
			t.Fatal(err)
		}
		for _, o := range removed {
			err := poll(60*time.Second, func() error {
				_, err := get(o, ns)
				if apierrors.IsNotFound(err) {
					return nil
				}
				if err != nil {
					return err
				}
				return fmt.Errorf("still there")
			})
			if err != nil {
				t.Errorf("%s after helm uninstall: %v", key(o), err)
			}
		}
		// The StatefulSets are gone; give the garbage collector a moment
		// to delete what they owned, then look at what must remain.
		time.Sleep(3 * time.Second)
		for _, name := range pvcs {
			pvc, err := pvcClient.Get(ctx, name, metav1.GetOptions{})
			switch {
			case err != nil:
				t.Errorf("PVC %s after helm uninstall: %v", name, err)
			case pvc.GetDeletionTimestamp() != nil:
				t.Errorf("PVC %s is being deleted after helm uninstall", name)
			case pvc.GetAnnotations()[annPolicy] != "keep":
				t.Errorf("PVC %s has %s %q, want keep", name, annPolicy, pvc.GetAnnotations()[annPolicy])
			}
		}
		for _, o := range kept {
			live, err := get(o, ns)
			if err != nil {
				t.Errorf("%s (%s: keep) after helm uninstall: %v", key(o), annPolicy, err)
			} else if live.GetDeletionTimestamp() != nil {
				t.Errorf("%s (%s: keep) is being deleted after helm uninstall", key(o), annPolicy)
			}
		}
		t.Logf("%s uninstall: %d objects removed; kept %d PVCs %v and %d objects with the keep policy %v",
			h.name, len(removed), len(pvcs), pvcs, len(kept), keys(kept))
	})
}

// dppsMarks are an object's dpps.ctao.org/ labels and annotations.
func dppsMarks(o *unstructured.Unstructured) map[string]string {
	m := map[string]string{}
	for _, kv := range []map[string]string{o.GetLabels(), o.GetAnnotations()} {
		for k, v := range kv {
			if strings.HasPrefix(k, "dpps.ctao.org/") {
				m[k] = v
			}
		}
	}
	return m
}

// expectedPVCs are the claims the StatefulSet controller creates for the
// rendered StatefulSets: <template>-<statefulset>-0. With OrderedReady and
// no kubelet, pod 0 never becomes ready, so only ordinal 0 is expected.
func expectedPVCs(objs []*unstructured.Unstructured) []string {
	var names []string
	for _, o := range objs {
		if o.GetKind() != "StatefulSet" {
			continue
		}
		tmpls, _, _ := unstructured.NestedSlice(o.Object, "spec", "volumeClaimTemplates")
		for _, tm := range tmpls {
			m, _ := tm.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "metadata", "name")
			names = append(names, name+"-"+o.GetName()+"-0")
		}
	}
	sort.Strings(names)
	return names
}

// TestServerDryRunEveryExample applies the post-rendered output of every
// example with server-side apply and dryRun=All, with each Helm: the API
// server validates every object (schemas, defaults, admission) and stores
// none. Kinds the bare server lacks have minimal CRDs from testdata/crds
// (TestMain).
func TestServerDryRunEveryExample(t *testing.T) {
	ns := "e2e-dryrun"
	createNamespace(t, ns, nil)
	examples, err := filepath.Glob(filepath.Join(env.root, "examples", "*", "values.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, h := range helms() {
		for _, path := range examples {
			example := filepath.Base(filepath.Dir(path))
			t.Run(h.name+"/"+example, func(t *testing.T) {
				objs, hooks := render(t, h, example, ns)
				all := append(objs, hooks...)
				var failed, monitoring int
				for _, o := range all {
					if o.GetObjectKind().GroupVersionKind().Group == "monitoring.coreos.com" {
						monitoring++
					}
					if err := dryRunApply(o, ns); err != nil {
						failed++
						t.Errorf("%s: %v", key(o), err)
					}
				}
				// ci, staging and prod-site scrape through PodMonitors and
				// get the PrometheusRule: the operator's CRDs must accept them.
				if (example == "ci" || example == "staging" || example == "prod-site") && monitoring == 0 {
					t.Errorf("examples/%s rendered no monitoring.coreos.com object (PodMonitor, PrometheusRule)", example)
				}
				// Nothing was stored.
				if _, err := get(objs[0], ns); !apierrors.IsNotFound(err) {
					t.Errorf("%s exists after a dry run: %v", key(objs[0]), err)
				}
				t.Logf("%s template | apply --dry-run=server: %d objects (%d monitoring.coreos.com), %d server-side errors", h.name, len(all), monitoring, failed)
			})
		}
	}
}

// TestServerRejectionSurfaces installs a chart whose one Service has an
// invalid port, through dpps-render (which does not validate ports): the
// install fails and the user sees the API server's message.
func TestServerRejectionSurfaces(t *testing.T) {
	const (
		brokenChart = "e2e/testdata/broken-chart"
		wantInvalid = `Service "broken" is invalid`
		wantField   = "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
	)
	for _, h := range helms() {
		t.Run(h.name, func(t *testing.T) {
			ns := "e2e-broken-" + h.name
			out, err := h.run(append([]string{"template", "broken", brokenChart, "-n", ns}, h.postRenderer()...)...)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := parseObjects(out)
			if err != nil {
				t.Fatal(err)
			}
			var svc *unstructured.Unstructured
			for _, o := range objs {
				if o.GetKind() == "Service" {
					svc = o
				}
			}
			if svc == nil || svc.GetAnnotations()[annRendered] == "" {
				t.Fatalf("the broken Service was not post-rendered by dpps-render:\n%s", out)
			}
			createNamespace(t, ns, nil)
			if err := dryRunApply(svc, ns); err == nil || !strings.Contains(err.Error(), wantField) {
				t.Errorf("server-side dry run of the broken Service: %v, want %q", err, wantField)
			}

			_, err = h.run(append([]string{"install", "broken", brokenChart, "-n", ns}, h.postRenderer()...)...)
			if err == nil {
				t.Fatalf("%s install of a Service with port 70000 succeeded", h.name)
			}
			msg := err.Error()
			for _, want := range []string{wantInvalid, wantField} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s install failed without the API server's message %q:\n%s", h.name, want, msg)
				}
			}
			t.Logf("%s install fails as it should; the user sees:\n%s", h.name, msg[strings.Index(msg, "stderr:"):])
		})
	}
}

// installCRDFixtures creates the minimal CRDs in testdata/crds, and the
// Prometheus Operator's real CRDs that scripts/prometheus-operator-crds.sh
// put in $DPPS_PROM_CRDS (PodMonitor, ServiceMonitor, PrometheusRule:
// every example renders some), and waits until they are served.
func installCRDFixtures() error {
	files, err := filepath.Glob("testdata/crds/*.yaml")
	if err != nil {
		return err
	}
	dir := os.Getenv("DPPS_PROM_CRDS")
	if dir == "" {
		return fmt.Errorf("DPPS_PROM_CRDS is not set: scripts/e2e.sh sets it to the Prometheus Operator's CRDs (scripts/prometheus-operator-crds.sh)")
	}
	prom, err := filepath.Glob(filepath.Join(dir, "monitoring.coreos.com_*.yaml"))
	if err != nil || len(prom) == 0 {
		return fmt.Errorf("DPPS_PROM_CRDS=%s holds no monitoring.coreos.com CRD (%v)", dir, err)
	}
	files = append(files, prom...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		crds, err := parseObjects(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, crd := range crds {
			res, err := resourceFor(crd, "")
			if err != nil {
				return err
			}
			if _, err := res.Apply(context.Background(), crd.GetName(), crd, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
				return fmt.Errorf("%s: %w", crd.GetName(), err)
			}
			err = poll(30*time.Second, func() error {
				live, err := res.Get(context.Background(), crd.GetName(), metav1.GetOptions{})
				if err != nil {
					return err
				}
				conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
				for _, c := range conds {
					m, _ := c.(map[string]any)
					if m["type"] == "Established" && m["status"] == "True" {
						return nil
					}
				}
				return fmt.Errorf("not established")
			})
			if err != nil {
				return fmt.Errorf("CRD %s: %w", crd.GetName(), err)
			}
		}
	}
	env.mapper.Reset()
	return nil
}

// createNamespace applies the namespace name with the given labels (the
// Pod Security level it enforces: psaLabels).
func createNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	meta := map[string]any{"name": name}
	if len(labels) > 0 {
		l := map[string]any{}
		for k, v := range labels {
			l[k] = v
		}
		meta["labels"] = l
	}
	nsObj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
	}}
	_, err := env.dyn.Resource(gvrNamespace).Apply(context.Background(), name, nsObj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		t.Fatal(err)
	}
}

// dryRunApply is kubectl apply --server-side --dry-run=server for one
// object.
func dryRunApply(o *unstructured.Unstructured, ns string) error {
	res, err := resourceFor(o, ns)
	if err != nil {
		return err
	}
	o = o.DeepCopy()
	if o.GetNamespace() == "" {
		o.SetNamespace(ns)
	}
	_, err = res.Apply(context.Background(), o.GetName(), o, metav1.ApplyOptions{
		FieldManager: fieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
	return err
}

func get(o *unstructured.Unstructured, ns string) (*unstructured.Unstructured, error) {
	res, err := resourceFor(o, ns)
	if err != nil {
		return nil, err
	}
	return res.Get(context.Background(), o.GetName(), metav1.GetOptions{})
}

func keys(objs []*unstructured.Unstructured) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, key(o))
	}
	sort.Strings(ks)
	return ks
}

// version is an object's resourceVersion, with who manages which part of it
// for messages.
type version struct {
	rv       string
	managers string
}

type snapshot map[string]version

func takeSnapshot(ns string, objs []*unstructured.Unstructured) (snapshot, error) {
	s := snapshot{}
	for _, o := range objs {
		live, err := get(o, ns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key(o), err)
		}
		var ms []string
		for _, mf := range live.GetManagedFields() {
			m := mf.Manager + "/" + string(mf.Operation)
			if mf.Subresource != "" {
				m += "/" + mf.Subresource
			}
			if mf.Time != nil {
				m += "@" + mf.Time.UTC().Format(time.TimeOnly)
			}
			ms = append(ms, m)
		}
		s[key(o)] = version{rv: live.GetResourceVersion(), managers: strings.Join(ms, " ")}
	}
	return s, nil
}

// settle takes snapshots until two in a row, 2 s apart, are the same: the
// controllers have finished reacting to the last change.
func settle(t *testing.T, ns string, objs []*unstructured.Unstructured) snapshot {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	prev, err := takeSnapshot(ns, objs)
	if err != nil {
		t.Fatal(err)
	}
	for {
		time.Sleep(2 * time.Second)
		cur, err := takeSnapshot(ns, objs)
		if err != nil {
			t.Fatal(err)
		}
		changed := diffSnapshots(prev, cur)
		if len(changed) == 0 {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects still changing after 90 s: %v", changed)
		}
		prev = cur
	}
}

func diffSnapshots(a, b snapshot) []string {
	var changed []string
	for k, v := range b {
		if a[k].rv != v.rv {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

// poll calls f every 500 ms until it returns nil or timeout passes.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
