// Command dpps-schemagen generates the DPPS chart's schemas and values from
// their sources and checks that committed copies are current.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ctao/dpps-deploy/schema"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `dpps-schemagen: generate the DPPS chart's schemas and values.

Usage:
  dpps-schemagen generate [--root DIR] [--check]

generate writes every generated file under the repository root:
  schema/dpps-render.config.schema.json   schema of dpps-render's --config file
With --check nothing is written: stale or missing files are printed as a
unified diff and the exit code is 1. CI runs it; the chart author's loop is
edit the sources, run 'make generate', commit.

Exit codes: 0 current (or written), 1 stale, 2 usage or I/O error.

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		newGenerateFlags(new(string), new(bool)).PrintDefaults()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "generate":
		return generate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "dpps-schemagen: unknown command %q; valid commands: generate\n", args[0])
	return 2
}

func newGenerateFlags(root *string, check *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.StringVar(root, "root", ".", "repository `dir`ectory")
	fs.BoolVar(check, "check", false, "write nothing; print a diff and exit 1 when generated files are stale")
	return fs
}

func generate(args []string, stdout, stderr io.Writer) int {
	var root string
	var check bool
	fs := newGenerateFlags(&root, &check)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	outs, err := schema.Outputs(root)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen: %v\n", err)
		return 2
	}
	if !check {
		if err := schema.Write(root, outs); err != nil {
			fmt.Fprintf(stderr, "dpps-schemagen: %v\n", err)
			return 2
		}
		return 0
	}
	d, err := schema.Drift(root, outs)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-schemagen: %v\n", err)
		return 2
	}
	if len(d) > 0 {
		stdout.Write(d)
		fmt.Fprintln(stderr, "dpps-schemagen: generated files are stale: run 'make generate' and commit the result")
		return 1
	}
	return 0
}
