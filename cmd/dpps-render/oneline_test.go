package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputsOneLine replays every failing run of every bad-*.txtar case
// and checks the contract every one of them shares, whatever its golden
// says: nothing on stdout and exactly one line on stderr, naming the
// command.
func TestBadInputsOneLine(t *testing.T) {
	failing := 0
	cases := replayScripts(t, []string{"bad-"}, func(t *testing.T, r scriptRun) []byte {
		stdout, stderr, code := runIn(t, r.dir, r.args, r.stdin)
		if !r.fails {
			return stdout // a successful run: TestScripts checks it
		}
		failing++
		if code == exitOK {
			t.Errorf("%s: dpps-render %s: exit 0", r.where, strings.Join(r.args, " "))
		}
		if len(stdout) != 0 {
			t.Errorf("%s: %d bytes on stdout", r.where, len(stdout))
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.HasPrefix(stderr, "dpps-render") {
			t.Errorf("%s: stderr is not one line:\n%s", r.where, stderr)
		}
		return stdout
	})
	files, _ := filepath.Glob("testdata/script/bad-*.txtar")
	if failing < len(files) || cases == 0 {
		t.Errorf("%d failing runs in %d cases: a case without one?", failing, len(files))
	}
}
