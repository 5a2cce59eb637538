// Command dpps-render is the Helm post-renderer of the DPPS umbrella chart.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ctao/dpps-deploy/internal/boundedfile"
	"github.com/ctao/dpps-deploy/internal/gcpolicy"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/krm"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

func main() {
	// Only the process itself tunes its garbage collector, not the tests
	// that call run in-process.
	inputRead = func(size int) { gcpolicy.ForInput(size) }
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// inputRead, when set, is told the input's size once it is read.
var inputRead func(size int)

// Exit codes, as documented in --help.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd.run(args[1:], stdin, stdout, stderr)
		}
	}
	opts, err := parseArgs(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v\nRun 'dpps-render --help' for usage.\n", err)
		return exitUsage
	}
	limits := opts.limits()
	data, stdin, readErr := readInput(stdin, limits)
	if inputRead != nil {
		inputRead(len(data))
	}
	// A ResourceList on stdin: dpps-render runs as a KRM function
	// (function.go). A partial input or one over the cap goes to the
	// pipeline, which reports the read error or the cap.
	if readErr == nil && int64(len(data)) <= limits.InputBytes() && krm.IsResourceList(data) {
		return runFunction(opts, data, stdout, stderr)
	}
	cfg, err := loadConfig(opts)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v\n", err)
		return exitUsage
	}
	steps, err := transforms.Steps(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v\n", err)
		return exitUsage
	}
	stats, err := pipeline.RunLimited(stdin, stdout, steps, limits)
	return finish(stats, err, opts, stderr)
}

// finish reports a run: the error on stderr, and the summary or the error
// in the --report file (Helm 4 hides a post-renderer's stderr).
func finish(stats pipeline.Stats, err error, opts options, stderr io.Writer) int {
	report := stats.Summary()
	if err != nil {
		report = fmt.Sprintf("dpps-render: %v\n", err)
		fmt.Fprint(stderr, report)
	}
	if opts.reportFile != "" {
		if werr := os.WriteFile(opts.reportFile, []byte(report), 0o644); werr != nil {
			fmt.Fprintf(stderr, "dpps-render: writing report: %v\n", werr)
			return exitFailed
		}
	}
	if err != nil {
		return exitFailed
	}
	return exitOK
}

// loadConfig reads the config file, if any, and lets flags override it.
func loadConfig(opts options) (*transforms.Config, error) {
	cfg := &transforms.Config{}
	if opts.configFile != "" {
		data, err := boundedfile.Read(opts.configFile, 0)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		if cfg, err = transforms.LoadConfig(opts.configFile, data); err != nil {
			return nil, err
		}
	}
	return overrideConfig(cfg, opts), nil
}
