package main

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// fixtureCredentials are the credential values of the cred-* scripts (and
// any bad-* script that holds one).
var fixtureCredentials = []string{"Cred+Db/Pw=9!x", "cred-container-pw-4711"}

// encodings are the forms a value must not take in a message: as it is,
// base64 (standard), percent-encoded (query and path escaping), computed
// here with the standard library alone.
func encodings(v string) []string {
	return []string{v, base64.StdEncoding.EncodeToString([]byte(v)), url.QueryEscape(v), url.PathEscape(v)}
}

// TestNoCredentialInMessages runs every dpps-render command of every bad-*
// and cred-* script, each in a process of its own (so that no other case
// teaches the redactor a value), with --report on the post-renderer runs,
// and looks for every fixture credential in every encoding in stderr, the
// report file and a command's stdout: there must be none.
func TestNoCredentialInMessages(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".txtar")
		if !strings.HasPrefix(name, "bad-") && !strings.HasPrefix(name, "cred-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(script)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, f := range ar.Files {
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdin string
			var lastStdout []byte
			for i, line := range strings.Split(string(ar.Comment), "\n") {
				words := scriptWords(strings.TrimPrefix(strings.TrimSpace(line), "! "))
				if len(words) == 0 {
					continue
				}
				switch {
				case words[0] == "stdin" && len(words) == 2:
					stdin = filepath.Join(dir, words[1])
				case words[0] == "cp" && len(words) == 3 && words[1] == "stdout":
					if err := os.WriteFile(filepath.Join(dir, words[2]), lastStdout, 0o644); err != nil {
						t.Fatal(err)
					}
				case words[0] == "exec" && len(words) > 1 && (words[1] == "dpps-render" || words[1] == "dpps-gen"):
					args := words[2:]
					_, isCommand := commands[firstOr(args)]
					report := filepath.Join(dir, "nocreds-report.txt")
					os.Remove(report)
					if words[1] == "dpps-render" && !isCommand {
						args = append(args, "--report", report)
					}
					stdout, stderr := runSelf(t, dir, stdin, words[1], args)
					lastStdout = stdout
					stdin = ""
					if words[1] == "dpps-gen" {
						continue
					}
					ran++
					texts := map[string][]byte{"stderr": stderr}
					if data, err := os.ReadFile(report); err == nil {
						texts["report"] = data
					}
					if isCommand {
						texts["stdout"] = stdout
					}
					for where, text := range texts {
						for _, c := range fixtureCredentials {
							for _, form := range encodings(c) {
								if bytes.Contains(text, []byte(form)) {
									t.Errorf("line %d: %s holds a fixture credential (%q):\n%s", i+1, where, form, text)
								}
							}
						}
					}
				}
			}
		})
	}
	if ran < 15 {
		t.Errorf("only %d runs checked", ran)
	}
}

func firstOr(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// runSelf runs dpps-render or dpps-gen in a new process of the test binary.
func runSelf(t *testing.T, dir, stdin, command string, args []string) (stdout, stderr []byte) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), selfCommandEnv+"="+command)
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.Bytes(), errOut.Bytes()
}
