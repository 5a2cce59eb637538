// Command dpps-schemagen generates the DPPS chart's schema, subchart values
// and interface catalog from the CUE model in interfaces/, checks that the
// committed copies are current, lints values files for CI and writes a new
// site's values skeleton.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ctao/dpps-deploy/interfaces"
	"github.com/ctao/dpps-deploy/internal/boundedfile"
	"github.com/ctao/dpps-deploy/schema"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `dpps-schemagen: generate the DPPS chart's schema, values and catalog from
interfaces/*.cue, lint values files against the chart's schema, and start a
site's values file.

Usage:
  dpps-schemagen generate [--root DIR] [--check]
  dpps-schemagen lint -f FILE [-f FILE ...] [--set|--set-string|--set-file K=V ...]
                      [--chart DIR] [--output text|json|junit]
  dpps-schemagen init [-o FILE] [--force] [--chart DIR]

generate writes every generated file under the repository root:
  charts/dpps/values.yaml                 the chart's defaults, every key with
                                          its description (#Values' defaults)
  charts/dpps/values.schema.json          the umbrella chart's values schema
                                          (JSON Schema 2020-12, from #Values)
  charts/dpps/charts/<subchart>/values.yaml
                                          each subchart's interfaces, shared
                                          objects and credential references
  charts/dpps/charts/<subchart>/values.schema.json
                                          each subchart's values schema (Helm
                                          checks it too; global included)
  charts/dpps/catalog.json                the interface catalog dpps-render reads
  schema/catalog.schema.json              the catalog's schema
  catalog/validation.schema.json          the same without descriptions, built
                                          into the binaries
  schema/dpps-render.config.schema.json   schema of dpps-render's --config file
The CUE module is read from DIR/interfaces when it exists, else the copy
built into this binary is used (and said so on stderr). The two schemas
whose descriptions are Go doc comments need the Go sources (DIR/transforms,
DIR/catalog): outside the repository they are skipped, each named on
stderr with the reason, and the rest is written. With --check nothing is
written: stale or missing files are printed as a unified diff and the
exit code is 1. CI runs it. Then it prints how many of the chart's default values (the umbrella's
and every subchart's, coalesced as Helm does) the schemas type, naming any
that are not. The chart author's loop:
edit interfaces/*.cue, run 'make generate', commit the CUE and the
generated files together.

lint merges the -f files in order (a later file wins, as with helm -f),
applies every --set, then every --set-string, then every --set-file with
Helm's parser, as helm install does, coalesces the result with the chart's
defaults as Helm does, and validates it against the chart's
values.schema.json (and each subchart's) with the library Helm uses, so
lint and 'helm install' agree. Every problem is printed as
  file:line:col: /json/pointer: message
pointing at the line of the file that set the value; a missing key points at
its parent mapping in your files (else at the first line of the last -f
file). A value a --set flag set is reported as
  --set ARG:1:col: /json/pointer: message
with col the column in ARG of the assignment that set it. Values that may
be credentials are never printed, not even in ARG.
--output json prints an object, --output junit JUnit XML for GitLab CI.

init writes a new site values file from the chart's values.schema.json: a
'# yaml-language-server: $schema=...' line (editors then complete and check
keys), every key of global and the 'enabled' switches of the subcharts,
commented out, each after its description and default and, for each
external interface, what stands in for it until the site sets it.
As written it sets nothing and passes lint and helm lint. It writes to
stdout, or to FILE, which it never overwrites without --force.

Exit codes: 0 current / valid, 1 stale files / invalid values, 2 usage or
I/O error (including a CUE model that does not load: its errors are printed
as interfaces/<file>.cue:line:col: message).

Flags of generate:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		g := newGenerateFlags(&generateConfig{})
		g.SetOutput(stdout)
		g.PrintDefaults()
		fmt.Fprint(stdout, "\nFlags of lint:\n")
		l := newLintFlags(&lintConfig{})
		l.SetOutput(stdout)
		l.PrintDefaults()
		fmt.Fprint(stdout, "\nFlags of init:\n")
		i := newInitFlags(&initConfig{})
		i.SetOutput(stdout)
		i.PrintDefaults()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "generate":
		return generate(args[1:], stdout, stderr)
	case "lint":
		return lint(args[1:], stdout, stderr)
	case "init":
		return initValues(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "dpps-schemagen: unknown command %q; valid commands: generate, lint, init\n", args[0])
	return 2
}

type generateConfig struct {
	root  string
	check bool
}

func newGenerateFlags(c *generateConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.StringVar(&c.root, "root", ".", "repository `dir`ectory")
	fs.BoolVar(&c.check, "check", false, "write nothing; print a diff and exit 1 when generated files are stale")
	return fs
}

func generate(args []string, stdout, stderr io.Writer) int {
	var c generateConfig
	if code, done := parseFlags(newGenerateFlags(&c), args, stderr, ""); done {
		return code
	}
	outs, err := schema.Outputs(c.root)
	if err != nil {
		report(stderr, err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(c.root, interfaces.Dir, "cue.mod", "module.cue")); err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen: no CUE module in %s: using the copy built into this binary\n", filepath.Join(c.root, interfaces.Dir))
	}
	for _, o := range outs {
		if o.Skip != "" {
			fmt.Fprintf(stderr, "dpps-schemagen: skipped %s: %s\n", o.Path, o.Skip)
		}
	}
	if !c.check {
		if err := schema.Write(c.root, outs); err != nil {
			fmt.Fprintf(stderr, "dpps-schemagen: %v\n", err)
			return 2
		}
		return coverage(c.root, stdout, stderr)
	}
	d, err := schema.Drift(c.root, outs)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen: %v\n", err)
		return 2
	}
	if len(d) > 0 {
		stdout.Write(d)
		fmt.Fprintln(stderr, "dpps-schemagen: generated files are stale: run 'make generate' and commit the result")
		return 1
	}
	return coverage(c.root, stdout, stderr)
}

// coverage prints how many of the chart's default values its schemas type,
// and names the others. Outside a repository, with no chart, it prints
// nothing.
func coverage(root string, stdout, stderr io.Writer) int {
	dir := filepath.Join(root, "charts", "dpps")
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return 0
	}
	cov, err := schema.MeasureCoverage(dir)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen: measuring the schema's coverage of %s: %v\n", dir, err)
		return 2
	}
	fmt.Fprintf(stdout, "dpps-schemagen: %s/values.yaml and its subcharts' defaults: %v\n", dir, cov)
	for _, p := range cov.Untyped {
		fmt.Fprintf(stderr, "dpps-schemagen: not typed by the schemas: %s\n", p)
	}
	return 0
}

// parseFlags parses a subcommand's flags, which take no arguments; done
// says the command ends here, with code (0 for --help, 2 for a usage
// error, printed with hint).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, hint string) (code int, done bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dpps-schemagen %s: unexpected arguments %q%s\n", fs.Name(), fs.Args(), hint)
		return 2, true
	}
	return 0, false
}

// report prints an error; a CUE model error gets one line per issue, each
// starting with its file:line:col.
func report(w io.Writer, err error) {
	var ce *interfaces.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "dpps-schemagen: the CUE model in %s/ does not load:\n%s\n", interfaces.Dir, ce.Error())
		return
	}
	fmt.Fprintf(w, "dpps-schemagen: %v\n", err)
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

type lintConfig struct {
	files, set, setString, setFile stringList
	chart                          string
	output                         string
}

func newLintFlags(c *lintConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.Var(&c.files, "f", "values `file`, repeatable; later files win (as helm -f)")
	fs.Var(&c.files, "values", "same as -f")
	fs.Var(&c.set, "set", "set `key=value`[,key=value...] after the files, repeatable (as helm --set)")
	fs.Var(&c.setString, "set-string", "set `key=value` as a string, after every --set (as helm --set-string)")
	fs.Var(&c.setFile, "set-file", "set key=`path`: key to the content of the local file, last (as helm --set-file)")
	fs.StringVar(&c.chart, "chart", "charts/dpps", "chart `dir`ectory whose values.schema.json and defaults apply")
	fs.StringVar(&c.output, "output", "text", "output `format`: text, json or junit")
	return fs
}

// parseLintArgs parses lint's arguments; an error is a usage error.
func parseLintArgs(args []string, stderr io.Writer) (*lintConfig, error) {
	var c lintConfig
	fs := newLintFlags(&c)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, flagError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: give values files with -f", fs.Args())
	}
	if len(c.files)+len(c.set)+len(c.setString)+len(c.setFile) == 0 {
		return nil, errors.New("no values file: give at least one with -f (or values with --set)")
	}
	if !slices.Contains(schema.LintFormats, c.output) {
		return nil, fmt.Errorf("unknown --output %q; valid formats: %s", c.output, strings.Join(schema.LintFormats, ", "))
	}
	return &c, nil
}

func lint(args []string, stdout, stderr io.Writer) int {
	c, err := parseLintArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if !isFlagError(err) {
			fmt.Fprintf(stderr, "dpps-schemagen lint: %v\n", err)
		}
		return 2
	}
	problems, err := schema.LintValues(c.chart, schema.Values{Files: c.files, Set: c.set, SetString: c.setString, SetFile: c.setFile})
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen lint: %v\n", err)
		return 2
	}
	if err := schema.WriteLint(stdout, c.output, c.chart, c.files, problems); err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen lint: %v\n", err)
		return 2
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "dpps-schemagen lint: %d problem(s) in the values of %s\n", len(problems), c.chart)
		return 1
	}
	return 0
}

// flagError is an error the flag package has already printed.
type flagError struct{ error }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

type initConfig struct {
	out   string
	chart string
	force bool
}

func newInitFlags(c *initConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.StringVar(&c.out, "o", "", "write the values to `file` (default stdout)")
	fs.StringVar(&c.chart, "chart", "charts/dpps", "chart `dir`ectory whose values.schema.json the values follow")
	fs.BoolVar(&c.force, "force", false, "overwrite the -o file if it exists")
	return fs
}

func initValues(args []string, stdout, stderr io.Writer) int {
	var c initConfig
	if code, done := parseFlags(newInitFlags(&c), args, stderr, ": name the file with -o"); done {
		return code
	}
	schemaFile := filepath.Join(c.chart, "values.schema.json")
	data, err := boundedfile.Read(schemaFile, 0)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen init: %v\n", err)
		return 2
	}
	// The modeline's path is relative to the file's directory, as editors
	// resolve it.
	from := "."
	if c.out != "" {
		from = filepath.Dir(c.out)
	}
	ref, err := relPath(from, schemaFile)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen init: %v\n", err)
		return 2
	}
	name := "FILE"
	if c.out != "" {
		name = c.out
	}
	out, err := schema.Skeleton(data, ref, c.chart, name)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen init: %s: %v\n", c.chart, err)
		return 2
	}
	if c.out == "" {
		stdout.Write(out)
		return 0
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if c.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(c.out, flags, 0o644)
	if errors.Is(err, iofs.ErrExist) {
		fmt.Fprintf(stderr, "dpps-schemagen init: %s exists: give --force to overwrite it\n", c.out)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen init: %v\n", err)
		return 2
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "dpps-schemagen init: %v\n", err)
		return 2
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen init: %v\n", err)
		return 2
	}
	return 0
}

// relPath is target relative to dir, with forward slashes.
func relPath(dir, target string) (string, error) {
	a, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	b, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(a, b)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(r), nil
}
