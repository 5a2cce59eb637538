package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestBadInputsOneLine replays every failing run of every bad-*.txtar case
// and checks the contract every one of them shares, whatever its golden
// says: nothing on stdout and exactly one line on stderr, naming the
// command. It understands the few script commands those cases use to set
// up a run (stdin, cp stdout, exec of dpps-gen and of system tools) and
// skips the assertions, which TestScripts checks.
func TestBadInputsOneLine(t *testing.T) {
	files, err := filepath.Glob("testdata/script/bad-*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad-*.txtar cases: %v", err)
	}
	runs := 0
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, f := range ar.Files {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		name := filepath.Base(file)
		var stdin, lastStdout []byte
		for i, line := range strings.Split(string(ar.Comment), "\n") {
			args := scriptWords(line)
			words := append(args[:len(args):len(args)], "", "", "") // padded for the checks
			if words[0] == "" {
				continue
			}
			where := name + ":" + strconv.Itoa(i+1)
			switch {
			case words[0] == "stdin":
				if stdin, err = os.ReadFile(filepath.Join(dir, words[1])); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
			case words[0] == "cp" && words[1] == "stdout":
				if err := os.WriteFile(filepath.Join(dir, words[2]), lastStdout, 0o644); err != nil {
					t.Fatal(err)
				}
			case words[0] == "exec" && words[1] == "dpps-gen":
				lastStdout = genOutput(t, args[2:])
			case words[0] == "exec" && words[1] != "dpps-render":
				cmd := exec.Command(args[1], args[2:]...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Skipf("%s: %s: %v %s", where, line, err, out)
				}
			case words[0] == "!" && words[1] == "exec" && words[2] == "dpps-render":
				runs++
				stdout, stderr := runIn(t, dir, args[3:], stdin)
				stdin = nil
				if len(stdout) != 0 {
					t.Errorf("%s: %d bytes on stdout", where, len(stdout))
				}
				if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.HasPrefix(stderr, "dpps-render") {
					t.Errorf("%s: stderr is not one line:\n%s", where, stderr)
				}
			case words[0] == "exec" && words[1] == "dpps-render":
				stdin = nil // a successful run: TestScripts checks it
			}
		}
	}
	if runs < len(files) {
		t.Errorf("%d failing runs in %d cases: a case without one?", runs, len(files))
	}
}

// runIn runs dpps-render in dir, as the script would.
func runIn(t *testing.T, dir string, args []string, stdin []byte) (stdout []byte, stderr string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errOut bytes.Buffer
	if code := run(args, bytes.NewReader(stdin), &out, &errOut); code == exitOK {
		t.Errorf("dpps-render %s: exit 0", strings.Join(args, " "))
	}
	return out.Bytes(), errOut.String()
}

// genOutput is what the script's dpps-gen writes.
func genOutput(t *testing.T, args []string) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(r)
		done <- b.Bytes()
	}()
	code := gen(args)
	os.Stdout = saved
	w.Close()
	out := <-done
	if code != 0 {
		t.Fatalf("dpps-gen %v: exit %d", args, code)
	}
	return out
}

// scriptWords splits a script line into words as testscript does for the
// lines these cases hold: spaces separate, single quotes group (” is a
// quote), # starts a comment.
func scriptWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			cur.WriteByte('\'')
			i++
		case c == '\'':
			quoted, inWord = !quoted, true
		case quoted:
			cur.WriteByte(c)
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
