package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The previous release the upgrade path starts from: the package make
// release wrote and the repository keeps, installed with the values of the
// examples as they were at that release (the umbrella's schema is closed:
// today's values may not validate against the old chart).
const (
	prevRelease       = "0.1.0"
	prevReleasePkg    = "releases/dpps-" + prevRelease + ".tgz"
	prevReleaseValues = "releases/dpps-" + prevRelease + "/examples/ci/values.yaml"
)

// The Rucio-version case (olderChart): the working tree's chart relabelled
// as an older version with Rucio one major release older, so the Rucio
// migration Job of the old release differs from the new one's: the real
// migration case, which the previous release (same Rucio) does not have.
const (
	oldChartVersion = "0.0.9"
	oldRucio        = "39.0.0"
	curRucio        = "40.0.0"
)

// The components whose Jobs the upgrade path follows, found by label (their
// names are the chart's business: versioned by chart or Rucio version).
const (
	componentMigrate = "rucio-migrate"
	componentBackup  = "rucio-db-backup"
)

var gvrJob = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// olderChart copies charts/dpps into a temp dir as an older version: every
// version (charts and the umbrella's dependencies) oldChartVersion, the
// appVersions that are the chart's version (the umbrella's,
// cert-generator's) too, Rucio's appVersion and image tags oldRucio.
func olderChart(t *testing.T) string {
	t.Helper()
	src := filepath.Join(env.root, "charts", "dpps")
	dst := filepath.Join(t.TempDir(), "dpps")
	versions := regexp.MustCompile(`(?m)^(\s*-?\s*version:\s*).*$`)
	appVersion := regexp.MustCompile(`(?m)^(appVersion:\s*)"?([^"\n]*)"?\s*$`)
	umbrella, err := os.ReadFile(filepath.Join(src, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version:\s*"?([^"\s]+)"?\s*$`).FindSubmatch(umbrella)
	if m == nil {
		t.Fatal("charts/dpps/Chart.yaml has no version")
	}
	curChart := string(m[1])
	edited := map[string]bool{}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case d.Name() == "Chart.yaml":
			data = versions.ReplaceAll(data, []byte(`${1}"`+oldChartVersion+`"`))
			data = appVersion.ReplaceAllFunc(data, func(m []byte) []byte {
				sub := appVersion.FindSubmatch(m)
				v := string(sub[2])
				switch v {
				case curRucio:
					v = oldRucio
				case curChart:
					v = oldChartVersion
				}
				return []byte(string(sub[1]) + `"` + v + `"`)
			})
			edited[rel] = true
		case rel == "values.yaml":
			n := bytes.Count(data, []byte("release-"+curRucio))
			if n == 0 {
				return fmt.Errorf("%s: no rucio image tag release-%s", p, curRucio)
			}
			data = bytes.ReplaceAll(data, []byte("release-"+curRucio), []byte("release-"+oldRucio))
			edited[rel] = true
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !edited["Chart.yaml"] || !edited["values.yaml"] || !edited[filepath.Join("charts", "bdms", "Chart.yaml")] {
		t.Fatalf("olderChart edited %v: the chart's layout changed", edited)
	}
	return dst
}

// upgradeCase is one upgrade path: a release installed from chart with
// values, then upgraded to the working tree's chart with examples/ci.
type upgradeCase struct {
	h              *helmCLI
	ns             string
	chart, values  string
	version        string // the old chart's version (helm.sh/chart: dpps-VERSION)
	newMigrateName bool   // the old and new migration Jobs have different names
}

// TestUpgradePath is the N→N+1 upgrade: the previous released package
// (releases/, make release) with its own values, upgraded to the working
// tree, with Helm 4 (the primary path) and Helm 3; and the working tree
// relabelled with an older Rucio (olderChart), upgraded with Helm 4, where
// Rucio's migration Job changes. In each: upgrade-check runs first, on
// helm get manifest's output and with --from-release against the API
// server, and passes; a deliberately broken candidate is refused by it
// (and by the API server's dry run); Helm upgrades twice; the migration and
// backup Jobs (found by their component labels) are those of the new
// render, created once, the old ones removed; the StatefulSets' and the
// backups' PVCs are the same objects throughout.
func TestUpgradePath(t *testing.T) {
	cases := map[string]upgradeCase{
		"release-" + prevRelease + "/helm4": {h: env.helm4, ns: "e2e-upgrade-helm4", chart: prevReleasePkg, values: prevReleaseValues, version: prevRelease},
		"release-" + prevRelease + "/helm3": {h: env.helm3, ns: "e2e-upgrade-helm3", chart: prevReleasePkg, values: prevReleaseValues, version: prevRelease},
		"rucio-" + oldRucio + "/helm4": {h: env.helm4, ns: "e2e-upgrade-rucio", chart: olderChart(t), values: filepath.Join("examples", "ci", "values.yaml"),
			version: oldChartVersion, newMigrateName: true},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testUpgradePath(t, c)
		})
	}
	t.Run("from-release-errors", func(t *testing.T) {
		t.Parallel()
		testFromReleaseErrors(t)
	})
}

func testUpgradePath(t *testing.T, c upgradeCase) {
	h, ns := c.h, c.ns
	values := filepath.Join("examples", "ci", "values.yaml")
	newArgs := func(verb ...string) []string {
		a := append(verb, release, chart, "-n", ns, "-f", values)
		return append(a, h.postRenderer()...)
	}
	dir := t.TempDir()
	ctx := context.Background()
	pvcClient := env.dyn.Resource(gvrPVC).Namespace(ns)

	// The previous release.
	install := append([]string{"install", release, c.chart, "-n", ns, "-f", c.values, "--create-namespace"}, h.postRenderer()...)
	if _, err := h.run(install...); err != nil {
		t.Fatal(err)
	}
	oldManifest, err := h.run("get", "manifest", release, "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	oldObjs, err := parseObjects(oldManifest)
	if err != nil {
		t.Fatal(err)
	}
	if want := "dpps-" + c.version; !strings.Contains(oldManifest, "helm.sh/chart: "+want+"\n") {
		t.Fatalf("the installed release is not chart %s", want)
	}
	before := map[string]map[string]types.UID{}
	for _, comp := range []string{componentMigrate, componentBackup} {
		before[comp] = liveJobs(t, ns, comp)
		if got, want := slices.Sorted(maps.Keys(before[comp])), renderedJobs(oldObjs, comp); !slices.Equal(got, want) {
			t.Fatalf("%s Jobs of the previous release: %v on the server, %v in its manifest", comp, got, want)
		}
	}
	if len(before[componentMigrate]) == 0 {
		t.Fatal("the previous release has no rucio-migrate Job")
	}
	// The StatefulSet controller creates the claims; wait for them.
	pvcs := expectedPVCs(oldObjs)
	if len(pvcs) == 0 {
		t.Fatal("the previous release has no StatefulSet claims")
	}
	// and the PVCs the chart renders (the backup PVCs, which ci switches on).
	for _, o := range oldObjs {
		if o.GetKind() == "PersistentVolumeClaim" {
			pvcs = append(pvcs, o.GetName())
		}
	}
	pvcUIDs := map[string]types.UID{}
	for _, name := range pvcs {
		err := poll(60*time.Second, func() error {
			pvc, err := pvcClient.Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				pvcUIDs[name] = pvc.GetUID()
			}
			return err
		})
		if err != nil {
			t.Fatalf("PVC %s of the previous release: %v", name, err)
		}
	}
	t.Logf("%s: chart dpps-%s installed from %s: %d objects, Jobs %v, PVCs %v",
		h.name, c.version, c.chart, len(oldObjs), before, pvcs)

	// The candidate, checked before Helm runs: the running release against
	// the working tree's render, from helm get manifest's output and from
	// the cluster (--from-release), which must agree.
	oldFile := filepath.Join(dir, "old.yaml")
	newFile := filepath.Join(dir, "new.yaml")
	brokenFile := filepath.Join(dir, "broken.yaml")
	newRender, err := h.run(append([]string{"template"}, newArgs("--skip-tests")...)...)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, oldFile, oldManifest)
	writeFile(t, newFile, newRender)
	out, errOut, code := dppsRender(t, "upgrade-check", oldFile, newFile)
	if code != 0 {
		t.Fatalf("upgrade-check old.yaml new.yaml (chart %s -> working tree): exit %d, want 0:\n%s%s", c.version, code, out, errOut)
	}
	t.Logf("upgrade-check old.yaml new.yaml: exit 0:\n%s", reportExcerpt(out))
	live, liveErr, code := dppsRender(t, "upgrade-check", "--from-release", release, "--namespace", ns, "--kubeconfig", env.cluster.kubeconfig, newFile)
	if code != 0 || live != out {
		t.Fatalf("upgrade-check --from-release %s: exit %d, want 0 and the output of upgrade-check on helm get manifest's:\n%s%s", release, code, live, liveErr)
	}
	wantRead := fmt.Sprintf("dpps-render upgrade-check: OLD is release %s revision 1 (chart dpps-%s, deployed) in namespace %s on ", release, c.version, ns)
	if !strings.HasPrefix(liveErr, wantRead) || strings.Count(liveErr, "\n") != 1 {
		t.Errorf("upgrade-check --from-release: stderr %q, want one line %q...", liveErr, wantRead)
	}
	t.Logf("upgrade-check --from-release %s -n %s new.yaml: exit 0, the same report; %s", release, ns, strings.TrimSpace(liveErr))

	// A deliberately broken candidate: rucio-server's selector changed.
	// upgrade-check refuses it, so Helm is never run with it.
	newObjs, err := parseObjects(newRender)
	if err != nil {
		t.Fatal(err)
	}
	var broken *unstructured.Unstructured
	var docs []string
	for _, o := range newObjs {
		if o.GetKind() == "Deployment" && o.GetName() == release+"-rucio-server" {
			for _, path := range [][]string{{"spec", "selector", "matchLabels"}, {"spec", "template", "metadata", "labels"}} {
				if err := unstructured.SetNestedField(o.Object, "api", append(path, "dpps.ctao.org/tier")...); err != nil {
					t.Fatal(err)
				}
			}
			broken = o
		}
		data, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	if broken == nil {
		t.Fatalf("no Deployment %s-rucio-server in the working tree's render", release)
	}
	writeFile(t, brokenFile, strings.Join(docs, "\n---\n")+"\n")
	want := "Deployment " + release + "-rucio-server: selector spec.selector"
	for _, args := range [][]string{
		{"upgrade-check", oldFile, brokenFile},
		{"upgrade-check", "--from-release", release, "--namespace", ns, "--kubeconfig", env.cluster.kubeconfig, brokenFile},
	} {
		out, errOut, code := dppsRender(t, args...)
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("dpps-render %s (a changed selector): exit %d, want 1 and %q:\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
	}
	// What upgrade-check predicts is what the server says: a dry run of the
	// broken Deployment against the running one is refused.
	if err := dryRunApply(broken, ns); err == nil || !strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("server-side dry run of the broken Deployment: %v, want the selector refused as immutable", err)
	}
	t.Logf("upgrade-check of broken.yaml (file and --from-release): exit 1, rule selector on Deployment %s-rucio-server (the API server's dry run refuses it too)", release)

	// The upgrade, twice.
	wantJobs := map[string][]string{}
	for _, comp := range []string{componentMigrate, componentBackup} {
		wantJobs[comp] = renderedJobs(newObjs, comp)
	}
	if c.newMigrateName && slices.Equal(wantJobs[componentMigrate], slices.Sorted(maps.Keys(before[componentMigrate]))) {
		t.Fatalf("the migration Job of Rucio %s has the name of Rucio %s's (%v): the Rucio-version case tests nothing", curRucio, oldRucio, wantJobs[componentMigrate])
	}
	var first map[string]map[string]types.UID
	for i := 1; i <= 2; i++ {
		if _, err := h.run(newArgs("upgrade", "--install")...); err != nil {
			t.Fatalf("upgrade %d to the working tree: %v", i, err)
		}
		// The migration and backup Jobs on the server are the new
		// render's: Helm removes what it no longer renders (the previous
		// version's completed Jobs); a Job of the same name is the same
		// object (Helm leaves it), and the second upgrade recreates none.
		after := map[string]map[string]types.UID{}
		for _, comp := range []string{componentMigrate, componentBackup} {
			err := poll(60*time.Second, func() error {
				after[comp] = liveJobs(t, ns, comp)
				if got := slices.Sorted(maps.Keys(after[comp])); !slices.Equal(got, wantJobs[comp]) {
					return fmt.Errorf("%v on the server, %v in the render", got, wantJobs[comp])
				}
				return nil
			})
			if err != nil {
				t.Errorf("after upgrade %d: %s Jobs: %v", i, comp, err)
				continue
			}
			for name, uid := range after[comp] {
				if old, ok := before[comp][name]; ok && old != uid {
					t.Errorf("after upgrade %d: Job %s of the previous release was recreated (uid %s -> %s)", i, name, old, uid)
				}
				if first != nil && first[comp][name] != uid {
					t.Errorf("upgrade %d recreated Job %s (uid %s -> %s): it must be created once per version", i, name, first[comp][name], uid)
				}
			}
		}
		if first == nil {
			first = after
		}
		// The order of backup and migration is checked where pods run
		// (TestPodsRun's checkBackupsFirst, e2e-local's images): the ci
		// values' Rucio images cannot be pulled here, so these Jobs never
		// start.

		for _, name := range pvcs {
			pvc, err := pvcClient.Get(ctx, name, metav1.GetOptions{})
			switch {
			case err != nil:
				t.Errorf("after upgrade %d: PVC %s: %v", i, name, err)
			case pvc.GetUID() != pvcUIDs[name]:
				t.Errorf("after upgrade %d: PVC %s is a new object (uid %s, was %s): the data is gone", i, name, pvc.GetUID(), pvcUIDs[name])
			case pvc.GetDeletionTimestamp() != nil:
				t.Errorf("after upgrade %d: PVC %s is being deleted", i, name)
			}
		}
	}
	hist, err := h.run("history", release, "-n", ns, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(hist, `"status":"deployed"`); n != 1 || strings.Count(hist, `"revision":`) != 3 {
		t.Errorf("helm history: want 3 revisions, the last deployed:\n%s", hist)
	}
	// The upgraded release, read back from the cluster: the working tree's
	// chart, nothing to change.
	_, liveErr, code = dppsRender(t, "upgrade-check", "--from-release", release, "--namespace", ns, "--kubeconfig", env.cluster.kubeconfig, newFile)
	wantRead = fmt.Sprintf("OLD is release %s revision 3 (chart dpps-%s, deployed)", release, chartVersion(t))
	if code != 0 || !strings.Contains(liveErr, wantRead) {
		t.Errorf("upgrade-check --from-release after the upgrades: exit %d, stderr %q; want 0 and %q", code, liveErr, wantRead)
	}
	t.Logf("%s: upgraded twice from chart dpps-%s to the working tree: rucio-migrate Jobs %v -> %v, rucio-db-backup Jobs %v -> %v, each created once; %d PVCs (StatefulSets' and backups') kept with their UIDs",
		h.name, c.version, slices.Sorted(maps.Keys(before[componentMigrate])), wantJobs[componentMigrate],
		slices.Sorted(maps.Keys(before[componentBackup])), wantJobs[componentBackup], len(pvcs))
}

// testFromReleaseErrors: upgrade-check --from-release against the real API
// server, for a namespace that does not exist, a release that does not,
// and a user without access to Secrets (a ServiceAccount's token, no RBAC).
func testFromReleaseErrors(t *testing.T) {
	ns := "e2e-upgrade-errors"
	createNamespace(t, ns, nil)
	newFile := filepath.Join(t.TempDir(), "new.yaml")
	writeFile(t, newFile, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	kc := env.cluster.kubeconfig
	server := serverOf(t, kc)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--namespace", "e2e-upgrade-nope", "--kubeconfig", kc},
			`namespace "e2e-upgrade-nope" does not exist on ` + server + `: pass the release's namespace with --namespace`},
		{[]string{"--namespace", ns, "--kubeconfig", kc},
			`release "dpps" not found in namespace "` + ns + `" on ` + server + ` (no Secret labelled owner=helm,name=dpps): 'helm list -n ` + ns + `' shows the releases there`},
		{[]string{"--namespace", ns, "--kubeconfig", saKubeconfig(t, ns, "no-access")},
			`access denied by ` + server + `: secrets is forbidden: User "system:serviceaccount:` + ns + `:no-access" cannot list resource "secrets" in API group "" in the namespace "` + ns + `"; --from-release needs what 'helm get manifest' needs: list on secrets in namespace "` + ns + `"`},
	} {
		args := append([]string{"upgrade-check", "--from-release", release}, append(tc.args, newFile)...)
		out, errOut, code := dppsRender(t, args...)
		want := "dpps-render upgrade-check: OLD: " + tc.want + "\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("dpps-render %s: exit %d, stdout %q, stderr\n%s\nwant exit 2, no stdout, stderr\n%s", strings.Join(args, " "), code, out, errOut, want)
			continue
		}
		t.Logf("exit 2: %s", strings.TrimSpace(errOut))
	}
}

// saKubeconfig writes a kubeconfig for the cluster whose user is a new
// ServiceAccount name of ns, with a token from the TokenRequest API and no
// role bound.
func saKubeconfig(t *testing.T, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	gvrSA := schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": name}}}
	if _, err := env.dyn.Resource(gvrSA).Namespace(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	req := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"expirationSeconds": int64(600)},
	}}
	tr, err := env.dyn.Resource(gvrSA).Namespace(ns).Create(ctx, req, metav1.CreateOptions{}, "token")
	if err != nil {
		t.Fatalf("TokenRequest for ServiceAccount %s/%s: %v", ns, name, err)
	}
	token, _, _ := unstructured.NestedString(tr.Object, "status", "token")
	if token == "" {
		t.Fatalf("TokenRequest for ServiceAccount %s/%s: no token", ns, name)
	}
	cfg, err := clientcmd.LoadFromFile(env.cluster.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctxName := cfg.CurrentContext
	kctx := cfg.Contexts[ctxName]
	if kctx == nil {
		t.Fatalf("%s: no current context", env.cluster.kubeconfig)
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{name: {Token: token}}
	kctx.AuthInfo = name
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverOf is the API server URL of a kubeconfig's current context.
func serverOf(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Host
}

// chartVersion is the working tree's chart version.
func chartVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.root, "charts", "dpps", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version:\s*"?([^"\s]+)"?\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("charts/dpps/Chart.yaml has no version")
	}
	return string(m[1])
}

// liveJobs are the Jobs of ns with the component label comp, by name.
func liveJobs(t *testing.T, ns, comp string) map[string]types.UID {
	t.Helper()
	list, err := env.dyn.Resource(gvrJob).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=" + comp})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, j := range list.Items {
		if j.GetDeletionTimestamp() == nil {
			out[j.GetName()] = j.GetUID()
		}
	}
	return out
}

// renderedJobs are the names of a render's Jobs with the component label
// comp, sorted.
func renderedJobs(objs []*unstructured.Unstructured, comp string) []string {
	var names []string
	for _, o := range objs {
		if o.GetKind() == "Job" && o.GetLabels()["app.kubernetes.io/component"] == comp {
			names = append(names, o.GetName())
		}
	}
	slices.Sort(names)
	return names
}

// dppsRender runs bin/dpps-render and returns its stdout, stderr and exit
// code.
func dppsRender(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(env.render, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.ExitCode()
	default:
		t.Fatalf("dpps-render %s: %v", strings.Join(args, " "), err)
		return "", "", -1
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reportExcerpt is an upgrade-check table without the per-field lines and
// the changed objects: its first line, the findings, the objects added and
// removed, and the summary.
func reportExcerpt(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for i, l := range lines {
		if i == 0 || i == len(lines)-1 || strings.HasPrefix(l, "+ ") || strings.HasPrefix(l, "- ") || (l != "" && !strings.HasPrefix(l, "~ ") && !strings.HasPrefix(l, "    ")) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
