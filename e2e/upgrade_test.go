package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The previous release the upgrade path starts from: charts/dpps copied
// with every chart at this version and Rucio one major release older (bdms
// and testkit appVersion, every rucio/* image tag), so the Rucio migration
// Job of the old release has another name than the current one's.
const (
	oldChartVersion = "0.0.9"
	oldRucio        = "39.0.0"
	curRucio        = "40.0.0"
)

var gvrJob = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// olderChart copies charts/dpps into a temp dir as the previous release:
// every version (charts and the umbrella's dependencies) oldChartVersion,
// the umbrella's and cert-generator's appVersion too, Rucio's appVersion
// and image tags oldRucio.
func olderChart(t *testing.T) string {
	t.Helper()
	src := filepath.Join(env.root, "charts", "dpps")
	dst := filepath.Join(t.TempDir(), "dpps")
	versions := regexp.MustCompile(`(?m)^(\s*-?\s*version:\s*).*$`)
	appVersion := regexp.MustCompile(`(?m)^(appVersion:\s*)"?([^"\n]*)"?\s*$`)
	edited := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
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
				case "0.1.0":
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

// TestUpgradePath installs the previous release of the chart (olderChart)
// with the ci values through dpps-render, checks the candidate with
// dpps-render upgrade-check, then upgrades to the current chart twice:
// Helm succeeds, the Rucio migration Job of each version is created once,
// the StatefulSets' PVCs are the same objects throughout, and a
// deliberately broken candidate (a Deployment's selector changed) is
// refused by upgrade-check before Helm runs. One Helm (3): the upgrade
// logic is the chart's and dpps-render's, TestRelease covers both Helms.
func TestUpgradePath(t *testing.T) {
	h := env.helm3
	ns := "e2e-upgrade"
	values := filepath.Join("examples", "ci", "values.yaml")
	oldChart := olderChart(t)
	helmArgs := func(chart string, verb ...string) []string {
		a := append(verb, release, chart, "-n", ns, "-f", values)
		return append(a, h.postRenderer()...)
	}
	// Named after the chart's version and Rucio's (migrate.yaml).
	oldMigrate := release + "-rucio-migrate-" + strings.ReplaceAll(oldChartVersion+"-rucio-"+oldRucio, ".", "-")
	newMigrate := release + "-rucio-migrate-" + strings.ReplaceAll("0.1.0-rucio-"+curRucio, ".", "-") // the bdms chart version
	dir := t.TempDir()
	ctx := context.Background()
	jobs := env.dyn.Resource(gvrJob).Namespace(ns)
	pvcClient := env.dyn.Resource(gvrPVC).Namespace(ns)

	// The previous release.
	if _, err := h.run(helmArgs(oldChart, "install", "--create-namespace")...); err != nil {
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
	oldJob, err := jobs.Get(ctx, oldMigrate, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the previous release's migration Job: %v", err)
	}
	if _, err := jobs.Get(ctx, newMigrate, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("%s exists before the upgrade: %v", newMigrate, err)
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
	t.Logf("chart %s (Rucio %s) installed: %d objects, migration Job %s, PVCs %v",
		oldChartVersion, oldRucio, len(oldObjs), oldMigrate, pvcs)

	// The candidate, checked before Helm runs: the running release's
	// manifest against the current chart's render.
	oldFile := filepath.Join(dir, "old.yaml")
	newFile := filepath.Join(dir, "new.yaml")
	brokenFile := filepath.Join(dir, "broken.yaml")
	newRender, err := h.run(append([]string{"template"}, helmArgs(chart, "--skip-tests")...)...)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, oldFile, oldManifest)
	writeFile(t, newFile, newRender)
	out, code := upgradeCheck(t, oldFile, newFile)
	if code != 0 {
		t.Fatalf("upgrade-check previous release -> current chart: exit %d, want 0:\n%s", code, out)
	}
	t.Logf("upgrade-check old.yaml new.yaml: exit 0; %s", lastLine(out))

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
		t.Fatalf("no Deployment %s-rucio-server in the current render", release)
	}
	writeFile(t, brokenFile, strings.Join(docs, "\n---\n")+"\n")
	out, code = upgradeCheck(t, oldFile, brokenFile)
	if code != 1 {
		t.Fatalf("upgrade-check of a candidate with a changed selector: exit %d, want 1:\n%s", code, out)
	}
	if want := "Deployment " + release + "-rucio-server: selector spec.selector"; !strings.Contains(out, want) {
		t.Fatalf("upgrade-check of a candidate with a changed selector does not report %q:\n%s", want, out)
	}
	// What upgrade-check predicts is what the server says: a dry run of the
	// broken Deployment against the running one is refused.
	if err := dryRunApply(broken, ns); err == nil || !strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("server-side dry run of the broken Deployment: %v, want the selector refused as immutable", err)
	}
	t.Logf("upgrade-check old.yaml broken.yaml: exit 1, rule selector on Deployment %s-rucio-server (the API server's dry run refuses it too); %s", release, lastLine(out))

	// The upgrade, twice.
	var newJobUID types.UID
	for i := 1; i <= 2; i++ {
		if _, err := h.run(helmArgs(chart, "upgrade", "--install")...); err != nil {
			t.Fatalf("upgrade %d to the current chart: %v", i, err)
		}
		job, err := jobs.Get(ctx, newMigrate, metav1.GetOptions{})
		switch {
		case err != nil:
			t.Fatalf("after upgrade %d: the migration Job of Rucio %s: %v", i, curRucio, err)
		case i == 1:
			newJobUID = job.GetUID()
		case job.GetUID() != newJobUID:
			t.Errorf("upgrade %d replaced the migration Job %s (uid %s -> %s): it must be created once per version", i, newMigrate, newJobUID, job.GetUID())
		}
		// Helm removes what the new release no longer renders: the
		// previous version's completed Jobs, the old migration among them.
		err = poll(60*time.Second, func() error {
			j, err := jobs.Get(ctx, oldMigrate, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if j.GetUID() != oldJob.GetUID() {
				return fmt.Errorf("recreated (uid %s)", j.GetUID())
			}
			return errors.New("still there")
		})
		if err != nil {
			t.Errorf("after upgrade %d: the previous version's migration Job %s: %v", i, oldMigrate, err)
		}
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
	t.Logf("upgraded twice to the current chart: migration Job %s created once (uid %s), %s removed by Helm, %d PVCs (StatefulSets' and backups') kept with their UIDs",
		newMigrate, newJobUID, oldMigrate, len(pvcs))
}

// upgradeCheck runs bin/dpps-render upgrade-check and returns its output
// and exit code.
func upgradeCheck(t *testing.T, oldFile, newFile string) (string, int) {
	t.Helper()
	cmd := exec.Command(env.render, "upgrade-check", oldFile, newFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	default:
		t.Fatalf("dpps-render upgrade-check: %v", err)
		return "", -1
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
