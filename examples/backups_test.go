package examples

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// container is one container of a rendered workload: its /bin/sh -c
// script and its literal env values.
type container struct {
	script string
	env    map[string]string
}

// findContainer is the container (or init container) name of the workload
// of the given kind and component in objs.
func findContainer(t *testing.T, objs []object, kind, component, name string) container {
	t.Helper()
	for _, o := range objs {
		if o.kind != kind || o.labels[labelComponent] != component {
			continue
		}
		spec := dig(podTemplate(o), "spec")
		for _, c := range append(list(dig(spec, "initContainers")), list(dig(spec, "containers"))...) {
			c, _ := c.(map[string]any)
			if str(c["name"]) != name {
				continue
			}
			out := container{env: map[string]string{}}
			if cmd := list(c["command"]); len(cmd) == 3 {
				out.script = str(cmd[2])
			}
			for _, e := range list(c["env"]) {
				e, _ := e.(map[string]any)
				if v, ok := e["value"].(string); ok {
					out.env[str(e["name"])] = v
				}
			}
			if out.script != "" {
				return out
			}
		}
	}
	t.Fatalf("the render has no %s of component %s with a container %s running /bin/sh -c SCRIPT", kind, component, name)
	return container{}
}

// localize points a backup pod's paths at a test's directories: the
// backup volume (/backup) and the shared scratch volume (/tmp).
func localize(script, backup, tmp string) string {
	script = strings.ReplaceAll(script, "/tmp/backup-record", "\x00record")
	script = strings.ReplaceAll(script, "/backup", backup)
	return strings.ReplaceAll(script, "\x00record", filepath.Join(tmp, "backup-record"))
}

func command(script, dir string, env map[string]string, extra ...string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append([]string{"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin", "HOME=" + dir}, extra...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestBackupRetention runs the fts-db backup container of the ci render
// (the CronJob's and the chart version Job's) under /bin/sh with stub
// mariadb, mariadb-dump and sleep, /backup pointed at a directory that
// already holds dumps: after a successful dump the oldest dumps of the same
// kind beyond the kept count are deleted, those of the other kind and
// unfinished .part files are not; a failed dump or a database that never
// accepts the login deletes nothing and leaves no record.
func TestBackupRetention(t *testing.T) {
	helm, render := tools(t)
	objs := parse(t, run(t, helm, renderArgs("ci", render, "--set", "fts.fts-db.backup.keep.scheduled=3", "--set", "fts.fts-db.backup.keep.upgrade=2")...))
	scheduled := findContainer(t, objs, "CronJob", "fts-db-backup", "backup")
	upgrade := findContainer(t, objs, "Job", "fts-db-backup", "backup")
	if scheduled.env["KEEP"] != "3" || upgrade.env["KEEP"] != "2" {
		t.Fatalf("KEEP: CronJob %q, Job %q; want 3 and 2 (keep.scheduled, keep.upgrade)", scheduled.env["KEEP"], upgrade.env["KEEP"])
	}
	v := subchartVersion(t, "fts") // the render names new dumps after it
	existing := []string{
		"fts-20260101T020000Z-scheduled-chart-0.1.0.sql",
		"fts-20260102T020000Z-scheduled-chart-0.1.0.sql",
		"fts-20260103T020000Z-scheduled-chart-0.1.0.sql",
		"fts-20260104T020000Z-scheduled-chart-0.1.0.sql",
		"fts-20250601T120000Z-chart-0.0.9.sql",
		"fts-20251201T120000Z-chart-0.1.0.sql",
		"fts-20251215T120000Z-chart-0.1.0.sql.part",
		"other-20250101T000000Z-scheduled-chart-0.1.0.sql",
	}
	for _, tc := range []struct {
		name    string
		c       container
		mariadb string // the stub's body
		dump    string // the stub's body
		fail    bool
		stdout  []string
		stderr  []string
		deleted []string // of existing
		newKind string   // "-scheduled-" or "-chart-": the name of the new dump; "" none
	}{
		{name: "scheduled", c: scheduled, mariadb: "exit 0", dump: "echo '-- dump'",
			stdout: []string{"retention: deleted " + "BACKUP/fts-20260101T020000Z-scheduled-chart-0.1.0.sql (keeping the newest 3 scheduled dumps)",
				"retention: deleted BACKUP/fts-20260102T020000Z-scheduled-chart-0.1.0.sql (keeping the newest 3 scheduled dumps)"},
			deleted: []string{"fts-20260101T020000Z-scheduled-chart-0.1.0.sql", "fts-20260102T020000Z-scheduled-chart-0.1.0.sql"},
			newKind: "-scheduled-chart-" + v + ".sql"},
		{name: "before an upgrade", c: upgrade, mariadb: "exit 0", dump: "echo '-- dump'",
			stdout:  []string{"retention: deleted BACKUP/fts-20250601T120000Z-chart-0.0.9.sql (keeping the newest 2 upgrade dumps)"},
			deleted: []string{"fts-20250601T120000Z-chart-0.0.9.sql"}, newKind: "Z-chart-" + v + ".sql"},
		{name: "dump fails", c: scheduled, mariadb: "exit 0", dump: "echo 'mariadb-dump: Got error: 1045: Access denied' >&2; exit 2", fail: true,
			stderr: []string{"mariadb-dump: Got error: 1045: Access denied"}},
		{name: "login never accepted", c: scheduled, mariadb: "echo \"ERROR 1045 (28000): Access denied for user 'root'@'10.0.0.7'\" >&2; exit 1",
			dump: "echo '-- dump'", fail: true,
			stdout: []string{"backup: waiting for dpps-fts-db:3306 to accept the backup's login"},
			stderr: []string{"ERROR 1045 (28000): Access denied for user 'root'@'10.0.0.7'",
				"backup: dpps-fts-db:3306 did not accept the backup's login in 60 tries (5 minutes): no dump taken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			backup := filepath.Join(dir, "backup")
			for _, n := range existing {
				writeExec(t, filepath.Join(backup, n), "-- old\n")
			}
			writeExec(t, filepath.Join(dir, "bin", "mariadb"), "#!/bin/sh\necho x >> '"+filepath.Join(dir, "logins")+"'\n"+tc.mariadb+"\n")
			writeExec(t, filepath.Join(dir, "bin", "mariadb-dump"), "#!/bin/sh\n"+tc.dump+"\n")
			writeExec(t, filepath.Join(dir, "bin", "sleep"), "#!/bin/sh\n")
			for i := range tc.stdout {
				tc.stdout[i] = strings.ReplaceAll(tc.stdout[i], "BACKUP", backup)
			}
			runScript(t, command(localize(tc.c.script, backup, dir), dir, tc.c.env, "MYSQL_PWD=not-used"), tc.fail, tc.stdout, tc.stderr)
			got := names(t, backup)
			var added []string
			for _, n := range got {
				// A failed dump leaves its .part: never taken for a dump.
				if !slices.Contains(existing, n) && !strings.HasSuffix(n, ".part") {
					added = append(added, n)
				}
			}
			for _, n := range existing {
				if slices.Contains(tc.deleted, n) == slices.Contains(got, n) {
					t.Errorf("%s: deleted %t, want %t (left: %v)", n, !slices.Contains(got, n), slices.Contains(tc.deleted, n), got)
				}
			}
			record, _ := os.ReadFile(filepath.Join(dir, "backup-record"))
			switch {
			case tc.newKind == "" && (len(added) > 0 || len(record) > 0):
				t.Errorf("a failed run left %v and the record %q", added, record)
			case tc.newKind != "" && (len(added) != 1 || !strings.HasSuffix(added[0], tc.newKind) || !strings.HasPrefix(added[0], "fts-2")):
				t.Errorf("new files %v, want one dump fts-<time>%s", added, tc.newKind)
			case tc.newKind != "":
				if f := strings.Fields(string(record)); len(f) != 3 || f[2] != added[0] || f[1] != "8" {
					t.Errorf("record %q, want \"<time> 8 %s\"", record, added[0])
				}
			}
			if tc.name == "login never accepted" {
				logins, _ := os.ReadFile(filepath.Join(dir, "logins"))
				if n := strings.Count(string(logins), "x"); n != 60 {
					t.Errorf("%d login attempts, want 60", n)
				}
			}
		})
	}
}

// TestBackupRecord runs the record container of the rucio-db backup Job
// of the ci render with a stub kubectl: it patches the ConfigMap
// dpps-last-backup's key rucio-db with one line of JSON holding the dump
// the backup container left; a refused patch fails the Job.
func TestBackupRecord(t *testing.T) {
	helm, render := tools(t)
	c := findContainer(t, parse(t, run(t, helm, renderArgs("ci", render)...)), "Job", "rucio-db-backup", "record")
	for _, tc := range []struct {
		name   string
		code   int
		fail   bool
		stderr []string
	}{
		{name: "recorded"},
		{name: "forbidden", code: 1, fail: true, stderr: []string{`Error from server (Forbidden): configmaps "dpps-last-backup" is forbidden`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExec(t, filepath.Join(dir, "backup-record"), "2026-12-04T23:59:58Z 4096 rucio-20261204T235957Z-chart-0.1.0.dump\n")
			stub := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + filepath.Join(dir, "args") + "'\n"
			if tc.code != 0 {
				stub += "echo '" + tc.stderr[0] + "' >&2; exit 1\n"
			}
			writeExec(t, filepath.Join(dir, "bin", "kubectl"), stub)
			runScript(t, command(localize(c.script, filepath.Join(dir, "backup"), dir), dir, c.env, "JOB=dpps-rucio-db-backup-0-1-0"), tc.fail, nil, tc.stderr)
			raw, _ := os.ReadFile(filepath.Join(dir, "args"))
			args := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(args) != 6 || strings.Join(args[:5], " ") != "patch configmap dpps-last-backup --type=merge -p" {
				t.Fatalf("kubectl %q, want patch configmap dpps-last-backup --type=merge -p PATCH", args)
			}
			var patch struct {
				Data map[string]string `json:"data"`
			}
			if err := json.Unmarshal([]byte(args[5]), &patch); err != nil {
				t.Fatalf("the patch is not JSON: %v\n%s", err, args[5])
			}
			var entry map[string]any
			if err := json.Unmarshal([]byte(patch.Data["rucio-db"]), &entry); err != nil || len(patch.Data) != 1 {
				t.Fatalf("the patch's data %q: want one key rucio-db holding JSON (%v)", patch.Data, err)
			}
			want := map[string]any{"time": "2026-12-04T23:59:58Z", "file": "rucio-20261204T235957Z-chart-0.1.0.dump", "bytes": 4096.0,
				"chart": "bdms-" + subchartVersion(t, "bdms"), "kind": "upgrade", "job": "dpps-rucio-db-backup-0-1-0"}
			for k, v := range want {
				if entry[k] != v {
					t.Errorf("record %s = %v, want %v", k, entry[k], v)
				}
			}
			if len(entry) != len(want) {
				t.Errorf("record %v has other keys than %v", entry, want)
			}
		})
	}
}

// TestWaitForBackup runs the rucio-migrate Job's wait-for-backup init
// container of the ci render with a stub kubectl answering the backup
// Job's true conditions: it goes on once the Job completed, fails at once
// when the Job failed, and fails after WAIT_SECONDS when the Job is still
// running or cannot be read.
func TestWaitForBackup(t *testing.T) {
	helm, render := tools(t)
	objs := parse(t, run(t, helm, renderArgs("ci", render)...))
	c := findContainer(t, objs, "Job", "rucio-migrate", "wait-for-backup")
	// The backup Job of the chart's version.
	job := "dpps-rucio-db-backup-" + strings.ReplaceAll(subchartVersion(t, "bdms"), ".", "-")
	if c.env["BACKUP_JOB"] != job || c.env["WAIT_SECONDS"] != "3600" {
		t.Fatalf("wait-for-backup env %v: want BACKUP_JOB %s and WAIT_SECONDS 3600", c.env, job)
	}
	for _, tc := range []struct {
		name    string
		answers []string // kubectl's output on each call; "!" prefix: stderr and exit 1
		wait    string
		fail    bool
		stdout  []string
		stderr  []string
		calls   int
	}{
		{name: "complete", answers: []string{"Complete "}, stdout: []string{"backup Job " + job + " completed: migrating"}, calls: 1},
		{name: "running, then complete", answers: []string{"", "", "SuccessCriteriaMet ", "SuccessCriteriaMet Complete "},
			stdout: []string{"waiting for backup Job " + job + " (running)", "waiting for backup Job " + job + " (SuccessCriteriaMet )",
				"backup Job " + job + " completed: migrating"}, calls: 4},
		{name: "failed", answers: []string{"", "FailureTarget Failed "}, fail: true, calls: 2,
			stderr: []string{"backup Job " + job + " failed: no migration without a backup taken first. See kubectl logs job/" + job + " -c backup; fix, delete the Job and this one, and upgrade again"}},
		{name: "still running at the deadline", answers: []string{""}, wait: "0", fail: true, calls: 1,
			stderr: []string{"backup Job " + job + " has not completed after 0 s (last seen: running): no migration without a backup taken first. See kubectl describe job " + job}},
		{name: "forbidden", answers: []string{`!Error from server (Forbidden): jobs.batch "` + job + `" is forbidden`}, wait: "0", fail: true, calls: 1,
			stderr: []string{`backup Job ` + job + ` has not completed after 0 s (last seen: unreadable: Error from server (Forbidden): jobs.batch "` + job + `" is forbidden): no migration without a backup taken first. See kubectl describe job ` + job}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stub := "#!/bin/sh\nn=$(cat '" + filepath.Join(dir, "calls") + "' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '" + filepath.Join(dir, "calls") + "'\n" +
				"[ \"$*\" = \"get job " + job + " -o jsonpath={range .status.conditions[?(@.status==\\\"True\\\")]}{.type} {end}\" ] || { echo \"unexpected: $*\" >&2; exit 3; }\ncase $n in\n"
			for i, a := range tc.answers {
				n := "*"
				if i < len(tc.answers)-1 {
					n = string(rune('1' + i))
				}
				if strings.HasPrefix(a, "!") {
					stub += "  " + n + ") echo '" + a[1:] + "' >&2; exit 1 ;;\n"
				} else {
					stub += "  " + n + ") printf '%s' '" + a + "' ;;\n"
				}
			}
			stub += "esac\n"
			writeExec(t, filepath.Join(dir, "bin", "kubectl"), stub)
			writeExec(t, filepath.Join(dir, "bin", "sleep"), "#!/bin/sh\n")
			env := map[string]string{"BACKUP_JOB": c.env["BACKUP_JOB"], "WAIT_SECONDS": c.env["WAIT_SECONDS"]}
			if tc.wait != "" {
				env["WAIT_SECONDS"] = tc.wait
			}
			runScript(t, command(c.script, dir, env), tc.fail, tc.stdout, tc.stderr)
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			if got := strings.TrimSpace(string(calls)); got != string(rune('0'+tc.calls)) {
				t.Errorf("kubectl called %s times, want %d", got, tc.calls)
			}
		})
	}
}

// TestBackupCopy runs the copy container of the rucio-db backup Job of the
// ci render with global.externals.backup-target set, under /bin/sh with a
// stub xrdcp: the dump goes to <url>/<release>-rucio-db/<file> with the
// certificate's key at mode 0400; three failures fail the Job with a line
// saying what to check, and leave nothing for the record; the record
// container adds the copy's destination.
func TestBackupCopy(t *testing.T) {
	helm, render := tools(t)
	objs := parse(t, run(t, helm, renderArgs("ci", render,
		"--set", "global.externals.backup-target.url=roots://eos.site-a.example.org:1094//eos/dpps/backups/",
		"--set", "global.externals.backup-target.secretName=dpps-backup-cert")...))
	c := findContainer(t, objs, "CronJob", "rucio-db-backup", "copy")
	if want := "roots://eos.site-a.example.org:1094//eos/dpps/backups/dpps-rucio-db"; c.env["TARGET"] != want {
		t.Fatalf("TARGET %q, want %q", c.env["TARGET"], want)
	}
	rec := findContainer(t, objs, "CronJob", "rucio-db-backup", "record")
	const file = "rucio-20261205T021700Z-scheduled-chart-0.1.0.dump"
	for _, tc := range []struct {
		name   string
		fails  int // xrdcp fails this many times first
		fail   bool
		stdout []string
		stderr []string
	}{
		{name: "copied", stdout: []string{"copied /backup/" + file + " to roots://eos.site-a.example.org:1094//eos/dpps/backups/dpps-rucio-db/" + file}},
		{name: "one failure", fails: 1, stdout: []string{"copy: xrdcp failed, trying again in 10 s", "copied /backup/" + file + " to roots://eos.site-a.example.org:1094//eos/dpps/backups/dpps-rucio-db/" + file}},
		{name: "target down", fails: 3, fail: true, stderr: []string{"[ERROR] Server responded with an error: [3010] Unable to open file; Permission denied",
			"copy: xrdcp of /backup/" + file + " to roots://eos.site-a.example.org:1094//eos/dpps/backups/dpps-rucio-db/" + file + " failed 3 times: the dump is in the PVC only; check global.externals.backup-target (url, secretName, cidrs)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExec(t, filepath.Join(dir, "backup-record"), "2026-12-05T02:17:09Z 4096 "+file+"\n")
			writeExec(t, filepath.Join(dir, "grid", "tls.crt"), "CERT\n")
			writeExec(t, filepath.Join(dir, "grid", "tls.key"), "KEY\n")
			stub := "#!/bin/sh\nn=$(cat '" + filepath.Join(dir, "n") + "' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '" + filepath.Join(dir, "n") + "'\n" +
				"printf '%s\\n' \"$*\" >> '" + filepath.Join(dir, "xrdcp-args") + "'\n" +
				"stat -c %a \"$X509_USER_KEY\" >> '" + filepath.Join(dir, "key-mode") + "'\n" +
				"if [ \"$n\" -le " + string(rune('0'+tc.fails)) + " ]; then echo '[ERROR] Server responded with an error: [3010] Unable to open file; Permission denied' >&2; exit 54; fi\n"
			writeExec(t, filepath.Join(dir, "bin", "xrdcp"), stub)
			writeExec(t, filepath.Join(dir, "bin", "sleep"), "#!/bin/sh\n")
			script := localize(strings.ReplaceAll(strings.ReplaceAll(c.script, "/tmp/backup-copy", "\x00copy"), "/grid/", "\x00grid/"), filepath.Join(dir, "backup"), dir)
			script = strings.ReplaceAll(strings.ReplaceAll(script, "\x00copy", filepath.Join(dir, "backup-copy")), "\x00grid", filepath.Join(dir, "grid"))
			for i := range tc.stdout {
				tc.stdout[i] = strings.ReplaceAll(tc.stdout[i], " /backup/", " "+filepath.Join(dir, "backup")+"/")
			}
			for i := range tc.stderr {
				tc.stderr[i] = strings.ReplaceAll(tc.stderr[i], " /backup/", " "+filepath.Join(dir, "backup")+"/")
			}
			env := map[string]string{"TARGET": c.env["TARGET"], "X509_USER_CERT": filepath.Join(dir, "x509.crt"), "X509_USER_KEY": filepath.Join(dir, "x509.key")}
			runScript(t, command(script, dir, env), tc.fail, tc.stdout, tc.stderr)
			args, _ := os.ReadFile(filepath.Join(dir, "xrdcp-args"))
			want := "--nopbar --force --posc --path " + filepath.Join(dir, "backup") + "/" + file + " roots://eos.site-a.example.org:1094//eos/dpps/backups/dpps-rucio-db/" + file
			for _, l := range strings.Split(strings.TrimSpace(string(args)), "\n") {
				if l != want {
					t.Errorf("xrdcp %s, want %s", l, want)
				}
			}
			if mode, _ := os.ReadFile(filepath.Join(dir, "key-mode")); !strings.HasPrefix(string(mode), "400\n") {
				t.Errorf("the key's mode when xrdcp ran: %q, want 400", mode)
			}
			copied, _ := os.ReadFile(filepath.Join(dir, "backup-copy"))
			if tc.fail != (len(copied) == 0) {
				t.Errorf("backup-copy %q after a run that failed: %t", copied, tc.fail)
			}
			if tc.fail {
				return
			}
			// The record container adds the copy.
			writeExec(t, filepath.Join(dir, "bin", "kubectl"), "#!/bin/sh\nprintf '%s' \"$6\" > '"+filepath.Join(dir, "patch")+"'\n")
			rscript := strings.ReplaceAll(localize(strings.ReplaceAll(rec.script, "/tmp/backup-copy", "\x00copy"), filepath.Join(dir, "backup"), dir), "\x00copy", filepath.Join(dir, "backup-copy"))
			runScript(t, command(rscript, dir, rec.env, "JOB=dpps-rucio-db-backup-29412857"), false, nil, nil)
			raw, _ := os.ReadFile(filepath.Join(dir, "patch"))
			var patch struct{ Data map[string]string }
			var entry map[string]any
			if err := json.Unmarshal(raw, &patch); err != nil || json.Unmarshal([]byte(patch.Data["rucio-db"]), &entry) != nil {
				t.Fatalf("patch %s: %v", raw, err)
			}
			if entry["copy"] != "roots://eos.site-a.example.org:1094//eos/dpps/backups/dpps-rucio-db/"+file || entry["kind"] != "scheduled" {
				t.Errorf("record %v: want copy roots://.../dpps-rucio-db/%s and kind scheduled", entry, file)
			}
		})
	}
}

// subchartVersion is the version in charts/dpps/charts/<sub>/Chart.yaml:
// the backup Jobs and dumps are named after it.
func subchartVersion(t *testing.T, sub string) string {
	t.Helper()
	v, _ := readValues(t, filepath.Join(chart, "charts", sub, "Chart.yaml"))["version"].(string)
	if v == "" {
		t.Fatalf("charts/dpps/charts/%s/Chart.yaml has no version", sub)
	}
	return v
}
