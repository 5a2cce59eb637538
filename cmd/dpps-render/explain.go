package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/netpol"
)

const explainUsage = `Usage: dpps-render explain [--catalog FILE] [--output table|json] < rendered.yaml
       dpps-render explain --from A --to B [--port P] [--catalog FILE] < rendered.yaml

Prints the connections the NetworkPolicies of a rendered stream allow: who
may talk to whom, on which protocol and port, and what allowed each side
(the interface or rule of a policy dpps-render generated, or the name of any
other policy). Workloads are named by component when the stream (or FILE)
has the interface catalog. Helm hooks are left out, as Helm 3 does not
post-render them. "unrestricted" means no policy of that direction selects
the workload; peers outside the stream are address blocks and pods of other
namespaces.

With --from and --to, answers for one pair: may A connect to B (on port
P)? A and B are components, workloads ("Kind/name" or a name) or, for one
of them, an IP address outside the stream. It prints the verdict, then for
each side (A's egress, B's ingress) the policies that select it and each
of their rules: those that admit the other side, and those that do not.
A connection needs both sides. The exit code is 0 either way.

Flags:
`

// explain is the explain command.
func explain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap")
	output := fs.String("output", "table", "output `format`: table or json")
	from := fs.String("from", "", "source `workload` of the one connection to explain (with --to)")
	to := fs.String("to", "", "destination `workload` of the one connection to explain (with --from)")
	port := fs.Int("port", 0, "destination `port` of the one connection to explain (default any)")
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
	if (*from == "") != (*to == "") || (*port != 0 && *from == "") {
		fmt.Fprintf(stderr, "dpps-render explain: --from and --to go together (and --port with them)\n")
		return exitUsage
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "dpps-render explain: --port %d: want 1 to 65535\n", *port)
		return exitUsage
	}
	nodes, err := readStream("", stdin)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render explain: %v\n", err)
		return exitFailed
	}
	learnCredentials(nodes, *catalog)
	if *from != "" {
		return explainPair(nodes, *catalog, *from, *to, *port, *output, stdout, stderr)
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

// explainPair writes the answer for one pair.
func explainPair(nodes []*yaml.RNode, catalog, from, to string, port int, output string, stdout, stderr io.Writer) int {
	r, err := netpol.Why(nodes, catalog, from, to, port)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render explain: %v\n", err)
		return exitFailed
	}
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "dpps-render explain: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	var b strings.Builder
	what := "any port"
	if port != 0 {
		what = "port " + strconv.Itoa(port)
	}
	verdict := "ALLOWED"
	if len(r.Allowed) == 0 {
		verdict = "DENIED"
	}
	fmt.Fprintf(&b, "%s -> %s, %s: %s\n", r.Egress.Workload, r.Ingress.Workload, what, verdict)
	for _, f := range r.Allowed {
		fmt.Fprintf(&b, "  %s (%s)\n", f.PortString(), f.AllowedBy())
	}
	side := func(label, other string, s netpol.SideReport) {
		switch {
		case s.Outside:
			fmt.Fprintf(&b, "%s %s: outside the stream, not evaluated\n", label, s.Workload)
			return
		case s.Open:
			fmt.Fprintf(&b, "%s %s: unrestricted (no policy selects it)\n", label, s.Workload)
			return
		case len(s.Admitting) > 0:
			fmt.Fprintf(&b, "%s %s: admits %s\n", label, s.Workload, other)
		default:
			fmt.Fprintf(&b, "%s %s: no rule admits %s\n", label, s.Workload, other)
		}
		fmt.Fprintf(&b, "  selected by: %s\n", strings.Join(s.Policies, ", "))
		for _, a := range s.Admitting {
			fmt.Fprintf(&b, "  admits: %s\n", a)
		}
		for _, o := range s.Others {
			fmt.Fprintf(&b, "  not:    %s\n", o)
		}
	}
	side("egress of", r.Ingress.Workload, r.Egress)
	side("ingress of", r.Egress.Workload, r.Ingress)
	if len(r.Allowed) == 0 {
		b.WriteString("A connection needs the egress of its source and the ingress of its destination. dpps-render allows what the catalog declares: an interface the destination provides and the source consumes (interfaces.<name>.consumers), an external the source consumes (externals.<name>), an inbound interface and its sources (global.inbound.<name>), a metrics port (global.observability.prometheus).\n")
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return exitFailed
	}
	return exitOK
}
