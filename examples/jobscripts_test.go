package examples

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Messages rucio-admin (Rucio 40.0.0) logs, from its source: Duplicate's
// message with the server's details, error_code 14
// (lib/rucio/common/exception.py, lib/rucio/core/rse.py, scope.py), and
// AccessDenied's, error_code 2.
const (
	rseExists    = "An object with the same identifier already exists.\nDetails: RSE 'STORAGE-1' already exists!"
	scopeExists  = "An object with the same identifier already exists.\nDetails: Scope 'dpps_test' already exists!"
	accessDenied = "Access to the requested resource denied.\nDetails: Account root can not add RSE"
)

// TestConfigureScript runs the rucio-configure script of the ci render
// under /bin/sh with stub rucio and rucio-admin commands: an object that
// exists (exit 14 and Duplicate's message) is left as it is, any other
// failure fails the script with the command's message and stops it.
func TestConfigureScript(t *testing.T) {
	helm, render := tools(t)
	var script string
	for _, o := range parse(t, run(t, helm, renderArgs("ci", render)...)) {
		if o.kind == "ConfigMap" && o.name == "dpps-rucio-configure" {
			script = str(dig(o.m, "data", "configure.sh"))
		}
	}
	if script == "" {
		t.Fatal("the ci render has no ConfigMap dpps-rucio-configure with configure.sh")
	}
	// rule: a glob over rucio-admin's arguments, its exit code and output.
	type rule struct {
		args string
		code int
		out  string
	}
	adds := []string{"rse add *", "rse add-protocol *", "rse add-distance *", "account add *", "identity add *", "scope add *"}
	allExist := func() []rule {
		var rs []rule
		for _, a := range adds {
			rs = append(rs, rule{a, 14, "An object with the same identifier already exists.\nDetails: " + a + " already exists!"})
		}
		return rs
	}
	for _, tc := range []struct {
		name   string
		rules  []rule
		fail   bool
		stdout []string // lines stdout must hold
		stderr []string // lines stderr must hold
		last   string   // the last rucio-admin call
	}{
		{name: "first run", stdout: []string{"Rucio test configuration done"}, last: "scope add --account dppsuser --scope dpps_test"},
		{name: "everything exists", rules: allExist(),
			stdout: []string{"RSE STORAGE-1 exists, left as it is", "protocol root on STORAGE-3 exists, left as it is",
				"distance STORAGE-3 -> STORAGE-2 exists, left as it is", "account dppsuser exists, left as it is",
				"identity of dppsuser exists, left as it is", "scope dpps_test exists, left as it is", "Rucio test configuration done"},
			last: "scope add --account dppsuser --scope dpps_test"},
		{name: "one RSE exists", rules: []rule{{"rse add STORAGE-1", 14, rseExists}},
			stdout: []string{"RSE STORAGE-1 exists, left as it is", "Rucio test configuration done"}, last: "scope add --account dppsuser --scope dpps_test"},
		{name: "access denied", rules: []rule{{"rse add STORAGE-2", 2, accessDenied}}, fail: true,
			stderr: []string{"Access to the requested resource denied.", "Details: Account root can not add RSE", "configure: adding RSE STORAGE-2 failed (rucio-admin exit 2)"},
			last:   "rse add STORAGE-2"},
		{name: "unknown error", rules: []rule{{"scope add *", 1, "Rucio exited with an unexpected/unknown error."}}, fail: true,
			stderr: []string{"Rucio exited with an unexpected/unknown error.", "configure: adding scope dpps_test failed (rucio-admin exit 1)"},
			last:   "scope add --account dppsuser --scope dpps_test"},
		{name: "exists text with another exit code", rules: []rule{{"account add *", 1, scopeExists}}, fail: true,
			stderr: []string{"configure: adding account dppsuser failed (rucio-admin exit 1)"}, last: "account add --type USER --email dpps-ops@example.org dppsuser"},
		{name: "exit 14 without Duplicate's message", rules: []rule{{"identity add *", 14, "something else"}}, fail: true,
			stderr: []string{"something else", "configure: adding identity of dppsuser failed (rucio-admin exit 14)"},
			last:   "identity add --account dppsuser --type X509 --id /CN=DPPS User --email dpps-ops@example.org"},
		{name: "a setting fails", rules: []rule{{"rse set-attribute *", 1, "Cannot connect to the server"}}, fail: true,
			stderr: []string{"Cannot connect to the server"}, last: "rse set-attribute --rse STORAGE-1 --key fts --value https://dpps-fts:8446"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stub := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$STUB_LOG\"\ncase \"$*\" in\n"
			for i, r := range tc.rules {
				out := filepath.Join(dir, "out-"+strconv.Itoa(i))
				writeExec(t, out, r.out+"\n")
				stub += "  " + strings.ReplaceAll(r.args, " ", "\\ ") + ") cat '" + out + "' >&2; exit " + strconv.Itoa(r.code) + " ;;\n"
			}
			stub += "esac\necho \"done: $*\"\n"
			writeExec(t, filepath.Join(dir, "bin", "rucio-admin"), stub)
			writeExec(t, filepath.Join(dir, "bin", "rucio"), "#!/bin/sh\necho root\n")
			writeExec(t, filepath.Join(dir, "configure.sh"), script)
			log := filepath.Join(dir, "calls")
			cmd := exec.Command("/bin/sh", filepath.Join(dir, "configure.sh"))
			cmd.Env = []string{"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin", "STUB_LOG=" + log, "HOME=" + dir,
				"RUCIO_HOST=https://dpps-rucio-server", "FTS_URL=https://dpps-fts:8446", "RUCIO_ROOT_PASSWORD=not-used"}
			runScript(t, cmd, tc.fail, tc.stdout, tc.stderr)
			calls, _ := os.ReadFile(log)
			lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
			if got := lines[len(lines)-1]; got != tc.last {
				t.Errorf("last rucio-admin call %q, want %q (a failure must stop the script)", got, tc.last)
			}
		})
	}
}

func writeExec(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

func hasLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestDiracBackupScript runs the dirac-db backup Job's command of the ci
// render under /bin/sh with stub mysql and mysqldump, the backup volume's
// mount path (/backup) pointed at a temporary directory: a database that
// is not there yet is left out, but a failure to list the databases fails
// the Job instead of reading as "none exists".
func TestDiracBackupScript(t *testing.T) {
	helm, render := tools(t)
	var script string
	env := map[string]string{}
	for _, o := range parse(t, run(t, helm, renderArgs("ci", render)...)) {
		if o.kind != "Job" || o.labels[labelComponent] != "dirac-db-backup" {
			continue
		}
		for _, c := range list(dig(podTemplate(o), "spec", "initContainers")) {
			c, _ := c.(map[string]any)
			if str(c["name"]) != "backup" {
				continue
			}
			if cmd := list(c["command"]); len(cmd) == 3 {
				script = str(cmd[2])
			}
			for _, e := range list(c["env"]) {
				e, _ := e.(map[string]any)
				if v, ok := e["value"].(string); ok {
					env[str(e["name"])] = v
				}
			}
		}
	}
	if script == "" || env["DATABASES"] == "" {
		t.Fatal("the ci render has no dirac-db backup Job with a backup init container running /bin/sh -c SCRIPT and DATABASES")
	}
	dbs := strings.Fields(env["DATABASES"])
	for _, tc := range []struct {
		name      string
		mysql     string // the stub's script body
		fail      bool
		stdout    []string
		stderr    []string
		dumpsOf   string // mysqldump's --databases, "" when it must not run
		noBackups bool
	}{
		{name: "server gone after the login check", mysql: "case \"$*\" in *'SELECT 1') exit 0 ;; esac; echo \"ERROR 2005 (HY000): Unknown MySQL server host 'dpps-dirac-db' (-2)\" >&2; exit 1", fail: true,
			stderr: []string{"ERROR 2005 (HY000): Unknown MySQL server host 'dpps-dirac-db' (-2)", "cannot list the databases on dpps-dirac-db:3306"}, noBackups: true},
		{name: "no database yet", mysql: "printf 'information_schema\\nmysql\\n'",
			stdout: []string{"database " + dbs[0] + " does not exist (yet): not in this backup"}},
		{name: "first database there", mysql: "printf 'information_schema\\n" + dbs[0] + "\\n'", dumpsOf: dbs[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			backup := filepath.Join(dir, "backup")
			if err := os.Mkdir(backup, 0o755); err != nil {
				t.Fatal(err)
			}
			writeExec(t, filepath.Join(dir, "bin", "mysql"), "#!/bin/sh\n"+tc.mysql+"\n")
			writeExec(t, filepath.Join(dir, "bin", "sleep"), "#!/bin/sh\n")
			writeExec(t, filepath.Join(dir, "bin", "mysqldump"), "#!/bin/sh\nprintf '%s\\n' \"$*\" > '"+filepath.Join(dir, "dump-args")+"'\necho '-- dump'\n")
			cmd := exec.Command("/bin/sh", "-c", localize(script, backup, dir))
			cmd.Env = []string{"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin", "HOME=" + dir, "MYSQL_PWD=not-used"}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			runScript(t, cmd, tc.fail, tc.stdout, tc.stderr)
			args, _ := os.ReadFile(filepath.Join(dir, "dump-args"))
			switch {
			case tc.dumpsOf == "" && len(args) > 0:
				t.Errorf("mysqldump ran: %s", args)
			case tc.dumpsOf != "" && !strings.HasSuffix(strings.TrimSpace(string(args)), "--databases "+tc.dumpsOf):
				t.Errorf("mysqldump %s, want --databases %s", args, tc.dumpsOf)
			}
			files, _ := os.ReadDir(backup)
			if tc.noBackups != (len(files) == 0) {
				t.Errorf("backup directory holds %d file(s); want none: %t", len(files), tc.noBackups)
			}
		})
	}
}

// runScript runs a Job's script and checks its outcome: a failure when fail
// says so, else success, and each wanted line in its stdout and stderr.
func runScript(t *testing.T, cmd *exec.Cmd, fail bool, stdoutLines, stderrLines []string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		t.Fatal(err)
	case fail && err == nil:
		t.Errorf("the script succeeded, want a failure\nstdout:\n%s", stdout.String())
	case !fail && err != nil:
		t.Errorf("the script failed (%v), want success\nstderr:\n%s", err, stderr.String())
	}
	for _, w := range stdoutLines {
		if !hasLine(stdout.String(), w) {
			t.Errorf("stdout lacks the line %q:\n%s", w, stdout.String())
		}
	}
	for _, w := range stderrLines {
		if !hasLine(stderr.String(), w) {
			t.Errorf("stderr lacks the line %q:\n%s", w, stderr.String())
		}
	}
}
