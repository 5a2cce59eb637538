package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// migrationDB: the database each migration Job's component migrates.
// DIRAC and FTS upgrade their schemas in their servers' init containers
// (docs/chart.md, "Schema migrations"): no Job.
var migrationDB = map[string]string{"rucio-migrate": "rucio-db"}

// checkBackupsFirst reads the Jobs of ns from the API server and fails
// unless every migration Job ran after a backup of its database taken for
// the same chart version: the backup Job (component <db>-backup, not one of
// the CronJob's) exists with the same helm.sh/chart label, both succeeded,
// and every container of the migration's pods except wait-for-backup (the
// one that waits for that backup) started after the backup Job's
// completion. Helm creates both Jobs in the same apply, so the migration
// Job's object is not younger than the backup's completion: the chart's
// ordering is that no migration container starts before it. Every backup
// Job of a chart version must have succeeded and be in the record
// <release>-last-backup, whether or not a migration follows it.
func checkBackupsFirst(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	cs := clientset(t)
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ db, chart string }
	backups := map[key]batchv1.Job{}
	var migrations []batchv1.Job
	for _, j := range jobs.Items {
		comp := j.Labels["app.kubernetes.io/component"]
		switch {
		case migrationDB[comp] != "":
			migrations = append(migrations, j)
		case strings.HasSuffix(comp, "-backup") && !ownedByCronJob(j):
			backups[key{strings.TrimSuffix(comp, "-backup"), j.Labels["helm.sh/chart"]}] = j
		}
	}
	if len(backups) == 0 {
		t.Errorf("namespace %s has no backup Job of a chart version: backups-first cannot be checked", ns)
	}
	record := map[string]string{}
	if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, release+"-last-backup", metav1.GetOptions{}); err != nil {
		t.Errorf("the record %s-last-backup: %v", release, err)
	} else {
		record = cm.Data
		for _, db := range sortedKeys(record) {
			t.Logf("%s-last-backup %s: %s", release, db, record[db])
		}
	}
	var ordered []string
	for k, b := range backups {
		if !jobCondition(b, batchv1.JobComplete) || b.Status.CompletionTime == nil {
			t.Errorf("backup Job %s has not succeeded (conditions %s)", b.Name, conditions(b))
			continue
		}
		var entry struct{ Time, File, Chart, Kind, Job string }
		if err := json.Unmarshal([]byte(record[k.db]), &entry); err != nil || entry.File == "" || entry.Chart == "" {
			t.Errorf("the record %s-last-backup has no entry for %s after its backup Job %s succeeded: %q", release, k.db, b.Name, record[k.db])
		}
	}
	for _, m := range migrations {
		db := migrationDB[m.Labels["app.kubernetes.io/component"]]
		b, ok := backups[key{db, m.Labels["helm.sh/chart"]}]
		switch {
		case !ok:
			t.Errorf("migration Job %s (%s) has no backup Job of %s for the same chart version", m.Name, m.Labels["helm.sh/chart"], db)
			continue
		case !jobCondition(m, batchv1.JobComplete):
			t.Errorf("migration Job %s has not succeeded (conditions %s)", m.Name, conditions(m))
			continue
		case b.Status.CompletionTime == nil || !jobCondition(b, batchv1.JobComplete):
			continue // reported above
		}
		done := b.Status.CompletionTime.Time
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + m.Name})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			t.Errorf("migration Job %s has no pod left to check its start against backup Job %s", m.Name, b.Name)
		}
		for _, p := range pods.Items {
			for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				if s.Name == "wait-for-backup" {
					continue
				}
				if started := containerStart(s); started.IsZero() || started.Before(done) {
					t.Errorf("migration Job %s: container %s of pod %s started at %s, before backup Job %s completed (%s)",
						m.Name, s.Name, p.Name, stamp(started), b.Name, stamp(done))
				}
			}
		}
		ordered = append(ordered, fmt.Sprintf("%s after %s (completed %s)", m.Name, b.Name, stamp(done)))
	}
	sort.Strings(ordered)
	t.Logf("backups first: %d backup Job(s) succeeded and recorded; migrations: %v", len(backups), ordered)
}

func ownedByCronJob(j batchv1.Job) bool {
	for _, o := range j.OwnerReferences {
		if o.Kind == "CronJob" {
			return true
		}
	}
	return false
}

func conditions(j batchv1.Job) string {
	var out []string
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			out = append(out, string(c.Type))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// containerStart is when a container last started; zero if it never did.
func containerStart(s corev1.ContainerStatus) time.Time {
	switch {
	case s.State.Terminated != nil:
		return s.State.Terminated.StartedAt.Time
	case s.State.Running != nil:
		return s.State.Running.StartedAt.Time
	}
	return time.Time{}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
