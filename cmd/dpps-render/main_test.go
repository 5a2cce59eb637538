package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/script")

// selfCommandEnv makes the test binary run one of the script commands
// (TestNoCredentialInMessages starts it so).
const selfCommandEnv = "DPPS_RENDER_TEST_COMMAND"

func TestMain(m *testing.M) {
	switch os.Getenv(selfCommandEnv) {
	case "dpps-render":
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	case "dpps-gen":
		os.Exit(gen(os.Args[1:]))
	}
	testscript.Main(m, map[string]func(){
		"dpps-render": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"dpps-gen":    func() { os.Exit(gen(os.Args[1:])) },
		"dpps-maxrss": func() { os.Exit(maxRSS(os.Args[1:])) },
	})
}

// TestScripts pins the command's behaviour: stdin, stdout, stderr and exit
// codes, one txtar file per case. Run with -update to rewrite the goldens.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
	})
}

// gen writes test input the scripts would otherwise commit as huge files:
//
//	dpps-gen objects N    a stream of N ConfigMaps, one document each
//	dpps-gen scalar N     one ConfigMap whose data value is N bytes long
//	dpps-gen annotation N one ConfigMap with an annotation "big" N bytes long
//	dpps-gen bytes TEXT   TEXT with Go escapes (\xe9, \r, \n) decoded
//	dpps-gen replace FILE OLD NEW [OLD NEW...]
//	                      FILE with each OLD (Go escapes decoded, or @F: the
//	                      file F), which must occur exactly once, replaced by
//	                      NEW: a modified copy of a large render without
//	                      committing it twice
func gen(args []string) int {
	if len(args) > 0 && args[0] == "replace" {
		return genReplace(args[1:])
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dpps-gen objects|scalar|annotation|bytes ARG")
		return 2
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	switch args[0] {
	case "objects", "scalar", "annotation":
		n, err := strconv.Atoi(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if args[0] == "annotation" {
			fmt.Fprintf(w, "# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: annotated\n  annotations:\n    big: %s\n", strings.Repeat("x", n))
			return 0
		}
		if args[0] == "scalar" {
			fmt.Fprintf(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  big: %s\n", strings.Repeat("x", n))
			return 0
		}
		for i := range n {
			fmt.Fprintf(w, "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n", i)
		}
	case "bytes":
		text, err := strconv.Unquote(`"` + args[1] + `"`)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		w.WriteString(text)
	default:
		fmt.Fprintln(os.Stderr, "usage: dpps-gen objects|scalar|annotation|bytes ARG")
		return 2
	}
	return 0
}

func genReplace(args []string) int {
	if len(args) < 3 || len(args)%2 != 1 {
		fmt.Fprintln(os.Stderr, "usage: dpps-gen replace FILE OLD NEW [OLD NEW...]")
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	text := string(data)
	for i := 1; i < len(args); i += 2 {
		old, err1 := replaceArg(args[i])
		repl, err2 := replaceArg(args[i+1])
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if n := strings.Count(text, old); n != 1 {
			fmt.Fprintf(os.Stderr, "dpps-gen replace: %q occurs %d times in %s, want once\n", old, n, args[0])
			return 2
		}
		text = strings.Replace(text, old, repl, 1)
	}
	os.Stdout.WriteString(text)
	return 0
}

func replaceArg(arg string) (string, error) {
	if f, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := os.ReadFile(f)
		return string(b), err
	}
	return strconv.Unquote(`"` + arg + `"`)
}

// endless is a stdin that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}

// TestInputCapStopsReading: an input over --max-input-bytes is refused after
// reading one byte past the cap, not after reading all of it (an endless
// stdin would otherwise never be refused), also when what was read so far
// is a valid KRM ResourceList (a trailing comment that never ends).
func TestInputCapStopsReading(t *testing.T) {
	resourceList := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n"
	for name, stdin := range map[string]io.Reader{
		"stream":        endless{},
		"resource list": io.MultiReader(strings.NewReader(resourceList), endless{}),
	} {
		var stdout, stderr strings.Builder
		if code := run([]string{"--max-input-bytes=1000"}, stdin, &stdout, &stderr); code != exitFailed {
			t.Errorf("%s: exit %d, want %d", name, code, exitFailed)
		}
		if stdout.Len() != 0 || !strings.Contains(stderr.String(), "input larger than 1000 bytes") {
			t.Errorf("%s: stdout %q, stderr %q", name, stdout.String(), stderr.String())
		}
	}
}
