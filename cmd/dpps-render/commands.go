package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/ctao/dpps-deploy/internal/version"
	"github.com/ctao/dpps-deploy/transforms"
)

// command is a subcommand: dpps-render NAME [args].
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands are the subcommands besides post-rendering; each lives in its
// own file and registers here.
var commands = map[string]command{
	"check":      {summary: "check a render's external interfaces for a profile (fixtures, annotations, undeclared and malformed endpoints)", run: check},
	"hooks":      {summary: "for Helm 3: report hook objects that hold credentials, and post-rendered objects that need an object only a hook creates", run: hooks},
	"explain":    {summary: "print the connections the stream's NetworkPolicies allow, and what allowed them", run: explain},
	"images":     {summary: "images lock: resolve every image of a render to its digest and write an image lock (the one command that contacts a network)", run: images},
	"inventory":  {summary: "list every workload with its images, subchart, chart version and interfaces; across sites' renders, which sites run an image", run: inventory},
	"transforms": {summary: "list the transforms, in the order they run", run: noArgs("transforms", listTransforms)},
	"version":    {summary: "print the version", run: noArgs("version", printVersion)},
	// A long name: its own alignment block, so adding it realigns nothing.
	"upgrade-check": {summary: "compare the renders of a running release and a candidate: refused changes, data loss, broken consumers, what changed", run: upgradeCheck},
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// noArgs wraps a command that takes no arguments.
func noArgs(name string, f func(stdout io.Writer)) func([]string, io.Reader, io.Writer, io.Writer) int {
	return func(args []string, _ io.Reader, stdout, stderr io.Writer) int {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "dpps-render: %s takes no arguments\n", name)
			return exitUsage
		}
		f(stdout)
		return exitOK
	}
}

func listTransforms(stdout io.Writer) {
	for _, r := range transforms.Registered() {
		fmt.Fprintf(stdout, "%-12s %s\n", r.Name, r.Summary)
	}
}

func printVersion(stdout io.Writer) {
	fmt.Fprintf(stdout, "dpps-render %s\n", version.Version)
}

// parseFlags parses args with fs and prints fs's usage only when help was
// asked for: the flag package prints it on every error too, on stdout
// here, where a failed run must write nothing.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
	}
	return err
}
