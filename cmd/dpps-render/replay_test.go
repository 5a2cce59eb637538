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

// scriptRun is one dpps-render command of a golden script, replayed.
type scriptRun struct {
	where string   // the script and line
	fails bool     // the script expects it to fail (`! exec`)
	args  []string // dpps-render's arguments
	dir   string   // the script's files, written out
	stdin []byte   // from a `stdin` line, else nothing
}

// replayScripts replays the golden scripts whose names start with one of
// prefixes, each in a directory of its own, and hands every dpps-render
// command to check, which runs it and returns its stdout. It understands
// the few script commands those cases use to set up a run (stdin, cp
// stdout, exec of dpps-gen and of system tools) and skips the assertions,
// which TestScripts checks. It returns how many runs it handed over.
func replayScripts(t *testing.T, prefixes []string, check func(t *testing.T, r scriptRun) []byte) int {
	t.Helper()
	files, err := filepath.Glob("testdata/script/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		if !hasAnyPrefix(name, prefixes) {
			continue
		}
		t.Run(name, func(t *testing.T) {
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
			var stdin, lastStdout []byte
			for i, line := range strings.Split(string(ar.Comment), "\n") {
				words := scriptWords(line)
				fails := len(words) > 0 && words[0] == "!"
				if fails {
					words = words[1:]
				}
				if len(words) < 2 {
					continue
				}
				where := name + ":" + strconv.Itoa(i+1)
				switch {
				case words[0] == "stdin":
					if stdin, err = os.ReadFile(filepath.Join(dir, words[1])); err != nil {
						t.Fatalf("%s: %v", where, err)
					}
				case words[0] == "cp" && words[1] == "stdout" && len(words) == 3:
					if err := os.WriteFile(filepath.Join(dir, words[2]), lastStdout, 0o644); err != nil {
						t.Fatal(err)
					}
				case words[0] == "exec" && words[1] == "dpps-gen":
					lastStdout = genOutput(t, words[2:])
				case words[0] == "exec" && words[1] == "dpps-render":
					runs++
					lastStdout = check(t, scriptRun{where: where, fails: fails, args: words[2:], dir: dir, stdin: stdin})
					stdin = nil
				case words[0] == "exec":
					cmd := exec.Command(words[1], words[2:]...)
					cmd.Dir = dir
					if out, err := cmd.CombinedOutput(); err != nil && !fails {
						t.Skipf("%s: %s: %v %s", where, line, err, out)
					}
				}
			}
		})
	}
	return runs
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// runIn runs dpps-render in process, in dir, as the script would.
func runIn(t *testing.T, dir string, args []string, stdin []byte) (stdout []byte, stderr string, code int) {
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
	code = run(args, bytes.NewReader(stdin), &out, &errOut)
	return out.Bytes(), errOut.String(), code
}

// runSelf runs dpps-render in a new process of the test binary, in dir.
func runSelf(t *testing.T, dir string, args []string, stdin []byte) (stdout, stderr []byte) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), selfCommandEnv+"=dpps-render")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.Bytes(), errOut.Bytes()
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
