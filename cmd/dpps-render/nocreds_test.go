package main

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"testing"
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
	ran := replayScripts(t, []string{"bad-", "cred-"}, func(t *testing.T, r scriptRun) []byte {
		args := r.args
		_, isCommand := commands[firstOr(args)]
		report := filepath.Join(r.dir, "nocreds-report.txt")
		os.Remove(report)
		if !isCommand {
			args = append(args[:len(args):len(args)], "--report", report)
		}
		stdout, stderr := runSelf(t, r.dir, args, r.stdin)
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
						t.Errorf("%s: %s holds a fixture credential (%q):\n%s", r.where, where, form, text)
					}
				}
			}
		}
		return stdout
	})
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
