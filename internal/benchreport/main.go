// Command benchreport reads the output of `go test -bench` on
// transforms/bench_test.go and prints the ratios dpps-render's speed targets
// are stated in (issue 2): dpps-render against a bare kyaml round trip and
// against kustomize, its growth from 500 to 5,000 objects, and its peak
// memory. It exits 1 when a target is missed, a figure is missing or a
// benchmark failed. `make bench` runs it.
//
// Usage: benchreport [file]   (default: standard input)
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: benchreport [go-test-bench-output]")
		os.Exit(2)
	}
	if len(os.Args) == 2 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	res, err := Parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(2)
	}
	if !Summarize(os.Stdout, res) {
		os.Exit(1)
	}
}
