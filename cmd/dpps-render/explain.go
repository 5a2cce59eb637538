package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ctao/dpps-deploy/transforms/netpol"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const explainUsage = `Usage: dpps-render explain [--catalog FILE] [--output table|json] < rendered.yaml

Prints the connections the NetworkPolicies of a rendered stream allow: who
may talk to whom, on which protocol and port, and what allowed each side
(the interface or rule of a policy dpps-render generated, or the name of any
other policy). Workloads are named by component when the stream (or FILE)
has the interface catalog. Helm hooks are left out, as Helm 3 does not
post-render them. "unrestricted" means no policy of that direction selects
the workload; peers outside the stream are address blocks and pods of other
namespaces.

Flags:
`

// explain is the explain command.
func explain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap")
	output := fs.String("output", "table", "output `format`: table or json")
	fs.Usage = func() {
		fmt.Fprint(stdout, explainUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "dpps-render explain: %v (run 'dpps-render explain --help' for usage)\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dpps-render explain: unexpected argument %q; the stream comes on stdin\n", fs.Arg(0))
		return exitUsage
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "dpps-render explain: --output %q: want table or json\n", *output)
		return exitUsage
	}
	nodes, err := (&pipeline.Reader{Input: stdin}).Read()
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render explain: %v\n", err)
		return exitFailed
	}
	flows, err := netpol.Explain(nodes, *catalog)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render explain: %v\n", err)
		return exitFailed
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Flows []netpol.Flow `json:"flows"`
		}{flows}); err != nil {
			fmt.Fprintf(stderr, "dpps-render explain: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tPORT\tALLOWED BY")
	for _, f := range flows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.From, f.To, f.PortString(), f.AllowedBy())
	}
	if err := tw.Flush(); err != nil {
		return exitFailed
	}
	if len(flows) == 0 {
		fmt.Fprintln(stdout, "(no connection allowed)")
	}
	return exitOK
}
