package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// failingWriter is a stdout that refuses every write, as /dev/full does.
type failingWriter struct{ written int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.written += len(p)
	return 0, errors.New("no space left on device")
}

const oneObject = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"

// TestUnwritableStdout: when the output cannot be written the run fails
// (exit 1) with one line, and the report, written before, is replaced by
// that line, for the post-renderer and the KRM function alike.
func TestUnwritableStdout(t *testing.T) {
	resourceList := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n"
	for name, in := range map[string]string{"stream": oneObject, "resource list": resourceList} {
		report := filepath.Join(t.TempDir(), "report.txt")
		var stderr strings.Builder
		code := run([]string{"--transforms", "provenance", "--report", report}, strings.NewReader(in), &failingWriter{}, &stderr)
		want := "dpps-render: writing output: no space left on device\n"
		if code != exitFailed || stderr.String() != want {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", name, code, stderr.String(), exitFailed, want)
		}
		if got, err := os.ReadFile(report); err != nil || string(got) != want {
			t.Errorf("%s: report %q (%v), want %q", name, got, err, want)
		}
	}
}

// TestUnwritableReport: a report that cannot be written fails the run
// before anything is written on stdout.
func TestUnwritableReport(t *testing.T) {
	stdout := &failingWriter{}
	var stderr strings.Builder
	code := run([]string{"--transforms", "provenance", "--report", filepath.Join(t.TempDir(), "missing", "r.txt")}, strings.NewReader(oneObject), stdout, &stderr)
	if code != exitFailed || stdout.written != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasPrefix(stderr.String(), "dpps-render: writing report: ") {
		t.Errorf("exit %d, %d bytes to stdout, stderr %q", code, stdout.written, stderr.String())
	}
}

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "dpps-render-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "dpps-render")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// binary builds dpps-render once for the tests that need a process of its
// own: what its main does (stdout, signals, the collector), and its memory.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("building dpps-render: %v", err)
	}
	return bin
}

// TestClosedStdout: a process started with stdout closed, or whose reader
// went away, fails with one line instead of exiting 0 (the Go runtime
// gives a closed stdout /dev/null) or dying of SIGPIPE.
func TestClosedStdout(t *testing.T) {
	bin := binary(t)
	t.Run("no reader", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before anything is written
		defer w.Close()
		var stderr strings.Builder
		cmd := exec.Command(bin, "--transforms", "provenance")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(oneObject), w, &stderr
		err = cmd.Run()
		var ee *exec.ExitError
		want := "dpps-render: writing output: write /dev/stdout: broken pipe\n"
		if !errors.As(err, &ee) || ee.ExitCode() != exitFailed || stderr.String() != want {
			t.Errorf("%v, stderr %q; want exit %d, %q", err, stderr.String(), exitFailed, want)
		}
	})
	for name, script := range map[string]string{
		"closed":       `"$BIN" --transforms provenance <"$IN" >&-`,
		"/dev/full":    `"$BIN" --transforms provenance <"$IN" >/dev/full`,
		"/dev/null ok": `"$BIN" --transforms provenance <"$IN" >/dev/null`,
	} {
		in := filepath.Join(t.TempDir(), "in.yaml")
		if err := os.WriteFile(in, []byte(oneObject), 0o644); err != nil {
			t.Fatal(err)
		}
		// The exit code of the command itself, not of the pipeline's end.
		cmd := exec.Command("bash", "-c", "set -o pipefail; "+script)
		cmd.Env = append(os.Environ(), "BIN="+bin, "IN="+in)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		wantCode, wantMsg := exitFailed, map[string]string{
			"closed":    "dpps-render: stdout is closed: nothing to write the output to\n",
			"/dev/full": "dpps-render: writing output: write /dev/stdout: no space left on device\n",
		}[name]
		if name == "/dev/null ok" {
			wantCode = exitOK
		}
		if code != wantCode || string(out) != wantMsg {
			t.Errorf("%s: exit %d, output %q; want %d, %q", name, code, out, wantCode, wantMsg)
		}
	}
}
