// Command dpps-render is the Helm post-renderer of the DPPS umbrella chart.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ctao/dpps-deploy/internal/boundedfile"
	"github.com/ctao/dpps-deploy/internal/gcpolicy"
	"github.com/ctao/dpps-deploy/internal/redact"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/krm"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

func main() {
	// Only the process itself tunes its garbage collector, not the tests
	// that call run in-process.
	inputRead = func(size int) { gcpolicy.ForInput(size) }
	// A reader that went away: the write fails with EPIPE and the run
	// exits 1 with one line, instead of dying of the signal.
	signal.Ignore(syscall.SIGPIPE)
	if stdoutClosed() {
		fmt.Fprintln(os.Stderr, "dpps-render: stdout is closed: nothing to write the output to")
		os.Exit(exitFailed)
	}
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
	// Every message passes through the redactor: no credential value
	// reaches stderr, whatever message happens to hold one.
	errw := redact.Process.Writer(stderr)
	defer errw.Flush()
	stderr = errw
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			// A command's output is for people too; the post-renderer's
			// stdout is the manifests and stays as it is.
			outw := redact.Process.Writer(stdout)
			defer outw.Flush()
			return cmd.run(args[1:], stdin, outw, stderr)
		}
	}
	opts, err := parseArgs(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err == nil {
		err = checkReportPath(opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v (run 'dpps-render --help' for usage)\n", err)
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
	nodes, stats, err := pipeline.Transform(stdin, steps, limits)
	var out pipeline.Encoded
	if err == nil {
		out, err = pipeline.Encode(nodes)
	}
	// A cap's message quotes nothing of the input: no need to read it again.
	var capped *pipeline.LimitError
	if err != nil && !errors.As(err, &capped) {
		learnFromInput(data, cfg.Catalog)
	}
	return finish(stats, err, opts, stderr, func() error { return out.WriteStream(stdout) })
}

// finish reports a run: the error on stderr, and the summary or the error
// in the --report file (Helm 4 hides a post-renderer's stderr). Only then,
// when everything succeeded, does write put the output on stdout; when
// that fails, the report is rewritten with the error.
func finish(stats pipeline.Stats, err error, opts options, stderr io.Writer, write func() error) int {
	if err != nil {
		msg := redact.Process.Redact(fmt.Sprintf("dpps-render: %v\n", err))
		fmt.Fprint(stderr, msg)
		writeReport(opts, msg)
		return exitFailed
	}
	if werr := writeReport(opts, stats.Summary()); werr != nil {
		fmt.Fprintf(stderr, "dpps-render: writing report: %v\n", werr)
		return exitFailed
	}
	if werr := write(); werr != nil {
		msg := fmt.Sprintf("dpps-render: writing output: %v\n", werr)
		fmt.Fprint(stderr, msg)
		writeReport(opts, msg)
		return exitFailed
	}
	return exitOK
}

// writeReport writes the --report file, if one was asked for.
func writeReport(opts options, report string) error {
	if opts.reportFile == "" {
		return nil
	}
	return os.WriteFile(opts.reportFile, []byte(report), 0o644)
}

// checkReportPath refuses a --report path that names an input: writing the
// report would overwrite it.
func checkReportPath(opts options) error {
	if opts.reportFile == "" {
		return nil
	}
	report, err := filepath.Abs(opts.reportFile)
	if err != nil {
		return err
	}
	reportInfo, reportErr := os.Stat(report)
	for _, in := range []struct{ flag, path string }{{"--config", opts.configFile}, {"--catalog", opts.catalog}, {"--image-lock", opts.imageLock}} {
		if in.path == "" {
			continue
		}
		same := false
		if p, err := filepath.Abs(in.path); err == nil && p == report {
			same = true
		} else if info, err := os.Stat(in.path); err == nil && reportErr == nil && os.SameFile(info, reportInfo) {
			same = true
		}
		if same {
			return fmt.Errorf("--report %s is the %s file: writing the report would overwrite it; give another path", opts.reportFile, in.flag)
		}
	}
	return nil
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
