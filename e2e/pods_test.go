package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The example whose fixtures run on the node: images built here
// (scripts/images.sh), components that cannot run here switched off.
const localExample = "e2e-local"

// kubectl runs the kubectl built with the cluster against it and returns its
// combined output.
func kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.kubeBin, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.cluster.kubeconfig)
	cmd.Dir = env.root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// apiEndpoint is where pods reach the API server: the endpoint behind the
// kubernetes Service, as the cluster publishes it.
func apiEndpoint(t *testing.T) (string, int) {
	t.Helper()
	eps, err := clientset(t).DiscoveryV1().EndpointSlices("default").List(context.Background(),
		metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range eps.Items {
		for _, e := range s.Endpoints {
			for _, p := range s.Ports {
				if len(e.Addresses) > 0 && p.Port != nil {
					return e.Addresses[0], int(*p.Port)
				}
			}
		}
	}
	t.Fatal("the kubernetes Service has no endpoint")
	return "", 0
}

func clientset(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// installLocal is helm upgrade --install --wait of the e2e-local example
// into ns through dpps-render, as h runs it. dpps-render's config says
// where the API server is, as a site's does: the cert-generator's kubectl
// may reach it there.
func installLocal(t *testing.T, h *helmCLI, ns string) {
	t.Helper()
	ip, port := apiEndpoint(t)
	config := filepath.Join(t.TempDir(), "dpps-render.yaml")
	writeFile(t, config, fmt.Sprintf("netpol:\n  kubernetesAPI: {cidrs: [%s/32], ports: [%d]}\n", ip, port))
	args := append([]string{"upgrade", "--install", release, chart, "-n", ns,
		"-f", filepath.Join("examples", localExample, "values.yaml"), "--wait", "--timeout", "5m"}, h.postRenderer()...)
	args = append(args, "--post-renderer-args", "--config="+config)
	start := time.Now()
	if _, err := h.run(args...); err != nil {
		t.Fatalf("%v\n%s", err, podReport(t, ns))
	}
	t.Logf("%s upgrade --install --wait: %s", h.name, time.Since(start).Round(time.Second))
}

// podReport describes the pods of ns that are not running and ready, with
// the last lines of their logs, for a failure message.
func podReport(t *testing.T, ns string) string {
	pods, err := clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	if jobs, err := clientset(t).BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
		for _, j := range jobs.Items {
			for _, c := range j.Status.Conditions {
				if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
					fmt.Fprintf(&b, "job %s failed: %s: %s\n", j.Name, c.Reason, c.Message)
				}
			}
		}
	}
	// A failed Job's pods may be gone: their events stay.
	events, _ := kubectl("get", "events", "-n", ns, "--field-selector", "type=Warning")
	fmt.Fprintf(&b, "warning events:\n%s\n", events)
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || (p.Status.Phase == corev1.PodRunning && podReady(&p)) {
			continue
		}
		fmt.Fprintf(&b, "pod %s: %s", p.Name, p.Status.Phase)
		for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if w := s.State.Waiting; w != nil {
				fmt.Fprintf(&b, "; %s waiting: %s %s", s.Name, w.Reason, w.Message)
			}
			if x := s.State.Terminated; x != nil {
				fmt.Fprintf(&b, "; %s terminated: %s exit %d", s.Name, x.Reason, x.ExitCode)
			}
		}
		out, _ := kubectl("logs", "-n", ns, p.Name, "--all-containers", "--tail=15")
		fmt.Fprintf(&b, "\n%s\n", out)
	}
	return b.String()
}

// waitJobs waits until every Job of ns has completed, and fails naming those
// that failed.
func waitJobs(t *testing.T, cs kubernetes.Interface, ns string) []batchv1.Job {
	t.Helper()
	var jobs *batchv1.JobList
	err := poll(5*time.Minute, func() error {
		var err error
		if jobs, err = cs.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{}); err != nil {
			return err
		}
		for _, j := range jobs.Items {
			if jobCondition(j, batchv1.JobFailed) {
				return fmt.Errorf("job %s failed", j.Name)
			}
			if !jobCondition(j, batchv1.JobComplete) {
				return fmt.Errorf("job %s has not completed", j.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, podReport(t, ns))
	}
	return jobs.Items
}

func jobCondition(j batchv1.Job, c batchv1.JobConditionType) bool {
	for _, cond := range j.Status.Conditions {
		if cond.Type == c && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// runningComponents are the app.kubernetes.io/component values of the
// running, ready pods of ns.
func runningComponents(t *testing.T, cs kubernetes.Interface, ns string) []string {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && podReady(&p) {
			if c := p.Labels["app.kubernetes.io/component"]; c != "" {
				seen[c] = true
			}
		}
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// The fixtures e2e-local runs, each must be running and ready after
// install --wait: the databases, the broker, the storage elements.
var wantRunning = []string{"dirac-db", "fts-broker", "fts-db", "rucio-db", "rucio-storage-1", "rucio-storage-2", "rucio-storage-3"}

// TestPodsRun installs e2e-local on the node with each Helm: every fixture
// runs and every Job completes. With Helm 4 the release then goes through
// backups first (checkBackupsFirst), the traffic matrix, backup and
// restore, and an uninstall and reinstall that keeps the data.
func TestPodsRun(t *testing.T) {
	for _, h := range []*helmCLI{env.helm4, env.helm3} {
		t.Run(h.name, func(t *testing.T) {
			ns := "local-" + h.name
			createNamespace(t, ns, psaLabels(declaredPodSecurity(t, localExample)))
			cs := clientset(t)
			installLocal(t, h, ns)
			jobs := waitJobs(t, cs, ns)
			running := runningComponents(t, cs, ns)
			for _, c := range wantRunning {
				if !slices.Contains(running, c) {
					t.Errorf("%s is not running after install --wait (running: %v)", c, running)
				}
			}
			var done []string
			for _, j := range jobs {
				done = append(done, j.Name)
			}
			t.Logf("running: %s; completed Jobs: %s", strings.Join(running, ", "), strings.Join(done, ", "))
			if t.Failed() || h != env.helm4 {
				uninstall(t, h, ns)
				return
			}
			t.Run("backups-first", func(t *testing.T) { checkBackupsFirst(t, ns) })
			objs, _ := render(t, h, localExample, ns)
			t.Run("traffic", func(t *testing.T) { testTraffic(t, cs, ns, objs) })
			t.Run("backup-restore", func(t *testing.T) { testBackupRestore(t, h, cs, ns) })
			uninstall(t, h, ns)
		})
	}
}

func uninstall(t *testing.T, h *helmCLI, ns string) {
	t.Helper()
	if _, err := h.run("uninstall", release, "-n", ns, "--wait", "--timeout", "3m"); err != nil {
		t.Error(err)
	}
}

// clients run one statement ($0) in a database's pod with the client and
// credentials its image's environment holds, as docs/chart.md's commands do.
var clients = map[string]string{
	"rucio-db": `PGPASSWORD="$POSTGRES_PASSWORD" psql -qtA -U "$POSTGRES_USER" -d "$POSTGRES_DATABASE" -c "$0"`,
	"dirac-db": `mysql -N -uroot -p"$MYSQL_ROOT_PASSWORD" -e "$0"`,
	"fts-db":   `mariadb -N -uroot -p"$MARIADB_ROOT_PASSWORD" -e "$0"`,
}

// query runs stmt in db's pod and returns its output.
func query(ns, db, stmt string) (string, error) {
	out, err := kubectl("exec", "-n", ns, release+"-"+db+"-0", "--", "sh", "-c", clients[db], stmt)
	return strings.TrimSpace(out), err
}

// sql is query that must succeed.
func sql(t *testing.T, ns, db, stmt string) string {
	t.Helper()
	out, err := query(ns, db, stmt)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", db, stmt, err, out)
	}
	return out
}

// markers: a table per database with one row the test writes and reads
// back. Each database's own schema is left alone.
var markers = map[string]struct{ create, read string }{
	"rucio-db": {
		create: "CREATE TABLE e2e_marker (v text); INSERT INTO e2e_marker VALUES ('%s')",
		read:   "SELECT v FROM e2e_marker",
	},
	"dirac-db": {
		create: "CREATE DATABASE IF NOT EXISTS JobDB; CREATE TABLE JobDB.e2e_marker (v text); INSERT INTO JobDB.e2e_marker VALUES ('%s')",
		read:   "SELECT v FROM JobDB.e2e_marker",
	},
	"fts-db": {
		create: "CREATE TABLE fts.e2e_marker (v text); INSERT INTO fts.e2e_marker VALUES ('%s')",
		read:   "SELECT v FROM fts.e2e_marker",
	},
}

var wroteDump = regexp.MustCompile(`wrote (/backup/\S+)`)

// testBackupRestore: a row written into each database is in the dump its
// backup Job writes to the kept PVC; after uninstall and reinstall the data
// is still there (kept PVCs); with the data PVCs deleted the reinstall
// brings fresh, empty servers, and docs/chart.md's restore, run as written,
// brings the row back.
func testBackupRestore(t *testing.T, h *helmCLI, cs kubernetes.Interface, ns string) {
	dbs := []string{"dirac-db", "fts-db", "rucio-db"}
	value := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	for _, db := range dbs {
		sql(t, ns, db, fmt.Sprintf(markers[db].create, value))
	}

	// A backup now, as docs/chart.md says: delete the Job, upgrade again.
	ctx := context.Background()
	bg := metav1.DeletePropagationBackground
	for _, db := range dbs {
		if err := cs.BatchV1().Jobs(ns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg},
			metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=" + db + "-backup"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := poll(time.Minute, func() error {
		jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(jobs.Items) == 0 {
			return err
		}
		for _, j := range jobs.Items {
			if strings.Contains(j.Name, "-backup-") {
				return fmt.Errorf("job %s still there", j.Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	installLocal(t, h, ns)
	waitJobs(t, cs, ns)
	dumps := map[string]string{}
	for _, db := range dbs {
		// The Jobs' pods only (not a traffic probe with the same labels),
		// their dump container.
		out, err := kubectl("logs", "-n", ns, "-l", "app.kubernetes.io/component="+db+"-backup,batch.kubernetes.io/job-name", "-c", "backup", "--tail=-1")
		m := wroteDump.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("%s backup: no \"wrote /backup/...\" in its log: %v\n%s", db, err, out)
		}
		dumps[db] = filepath.Base(m[1])
	}
	t.Logf("dumps: %v", dumps)

	// Kept PVCs: uninstall, reinstall, the rows are there.
	uninstall(t, h, ns)
	installLocal(t, h, ns)
	for _, db := range dbs {
		if got := sql(t, ns, db, markers[db].read); got != value {
			t.Fatalf("%s after uninstall and reinstall: marker %q, want %q", db, got, value)
		}
	}

	// Fresh servers: without their data PVCs the databases start empty.
	uninstall(t, h, ns)
	for _, db := range dbs {
		if err := cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "data-"+release+"-"+db+"-0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := poll(time.Minute, func() error {
		for _, db := range dbs {
			if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-"+release+"-"+db+"-0", metav1.GetOptions{}); err == nil {
				return fmt.Errorf("PVC of %s still there", db)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	installLocal(t, h, ns)
	waitJobs(t, cs, ns)
	for _, db := range dbs {
		// The query fails on a fresh server: the table is not there.
		if got, _ := query(ns, db, markers[db].read); got == value {
			t.Fatalf("%s: the fresh server already holds the marker: its data PVC was not fresh", db)
		}
	}

	for _, db := range dbs {
		restore := restoreCommand(t, cs, ns, db, dumps[db])
		cmd := exec.Command("sh", "-c", restore)
		cmd.Dir = env.root
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.cluster.kubeconfig, "PATH="+env.kubeBin+":"+os.Getenv("PATH"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: docs/chart.md's restore failed: %v\n%s\n%s\n%s", db, err, restore, out.String(), restoreDiagnosis(ns, restore))
		}
		if got := sql(t, ns, db, markers[db].read); got != value {
			t.Errorf("%s after restore: marker %q, want %q", db, got, value)
		}
	}
}

// restoreCommand is docs/chart.md's "kubectl run <db>-restore" command for
// db, as a site admin would adapt it: in namespace ns, with the image the
// database runs here and the dump the backup Job wrote.
func restoreCommand(t *testing.T, cs kubernetes.Interface, ns, db, dump string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(env.root, "docs", "chart.md"))
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(doc, []byte("kubectl run "+strings.TrimSuffix(db, "-db")+"-restore "))
	if start < 0 {
		t.Fatalf("docs/chart.md has no \"kubectl run %s-restore\" command", strings.TrimSuffix(db, "-db"))
	}
	end := bytes.Index(doc[start:], []byte("\n```"))
	if end < 0 {
		t.Fatal("docs/chart.md: the restore command's code block does not end")
	}
	command := string(doc[start : start+end])
	pod, err := cs.CoreV1().Pods(ns).Get(context.Background(), release+"-"+db+"-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	image := pod.Spec.Containers[0].Image
	docImage := regexp.MustCompile(`--image=(\S+)`).FindStringSubmatch(command)
	docDump := regexp.MustCompile(`"(` + strings.TrimSuffix(db, "-db") + `-\d{8}T\d{6}Z-chart-[^"]+)"`).FindStringSubmatch(command)
	if docImage == nil || docDump == nil {
		t.Fatalf("docs/chart.md's %s restore names no --image= or no dump file:\n%s", db, command)
	}
	command = strings.ReplaceAll(command, docImage[1], image)
	command = strings.ReplaceAll(command, docDump[1], dump)
	return strings.Replace(command, "kubectl run ", "kubectl -n "+ns+" run ", 1)
}

// restoreDiagnosis runs a failed restore command again without --rm and
// returns its pod's events and log: kubectl run --rm -i may lose the output
// of a container that exits before it attaches.
func restoreDiagnosis(ns, restore string) string {
	name := regexp.MustCompile(`run (\S+-restore) `).FindStringSubmatch(restore)
	if name == nil {
		return ""
	}
	again := exec.Command("sh", "-c", strings.Replace(restore, " --rm -i ", " ", 1))
	again.Dir = env.root
	again.Env = append(os.Environ(), "KUBECONFIG="+env.cluster.kubeconfig, "PATH="+env.kubeBin+":"+os.Getenv("PATH"))
	_ = again.Run()
	_ = poll(time.Minute, func() error {
		out, _ := kubectl("get", "pod", "-n", ns, name[1], "-o", "jsonpath={.status.phase}")
		if out == "Succeeded" || out == "Failed" {
			return nil
		}
		return fmt.Errorf("phase %q", out)
	})
	logs, _ := kubectl("logs", "-n", ns, name[1])
	events, _ := kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name[1])
	_, _ = kubectl("delete", "pod", "-n", ns, name[1], "--wait=false")
	return "the same pod kept: log:\n" + logs + "\nevents:\n" + events
}
