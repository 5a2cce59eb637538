package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const usage = `dpps-render: Helm post-renderer for the CTAO DPPS umbrella chart.

Usage:
  helm install|upgrade|template ... --post-renderer dpps-render [--post-renderer-args ARG ...]
  dpps-render [flags] < rendered.yaml > out.yaml
  dpps-render COMMAND [flags]  (commands below; "dpps-render COMMAND --help" for each)

Reads a multi-document YAML stream on stdin, runs the transforms and writes
the stream on stdout: every object, in input order, with its comments (such
as Helm's "# Source:") and annotations; objects a transform generates come
after them. Empty documents are dropped and "kind: List" is expanded into its
items, as Helm does before applying. The output is deterministic, and
feeding it back in gives the same bytes. When stdin is a KRM ResourceList
(config.kubernetes.io/v1), dpps-render runs as a KRM function (kustomize,
kpt) and writes a ResourceList back; its functionConfig is the config file.

Helm 4 accepts only a plugin as post-renderer: install the plugin shipped in
helm-plugin/ ("helm plugin install ./helm-plugin"), then use
"--post-renderer dpps-render" as with Helm 3.

What a post-renderer does not see: Helm 3 does not pass hook resources
(helm.sh/hook annotations) through a post-renderer; helm install and
upgrade create the chart's crds/ apart from the rendered manifests (only
Helm 3's "helm template --include-crds" post-renders them); Helm 3's
"helm template --output-dir" writes the files before post-rendering. Nothing
in those objects is transformed, so the DPPS chart keeps its bootstrap work
in ordinary Jobs, not hooks; with Helm 3, "dpps-render hooks" checks the
hooks of charts that use them. Helm 4 post-renders hooks but hides a
post-renderer's error message: use --report, which also records failures.

Flags:
`

const exitCodes = `
Exit codes:
  0  the stream was transformed and written
  1  the input or a transform failed (invalid YAML, an object without
     apiVersion/kind/metadata.name, ...): nothing is written on stdout and
     one line on stderr names the document, its template and the line
  2  usage error, or a config file that cannot be read or is invalid
`

// options is what the command line asks for.
type options struct {
	configFile string   // --config
	transforms []string // --transforms, nil when not given
	partOf     string   // --part-of
	chart      string   // --chart
	reportFile string   // --report
	catalog    string   // --catalog
	imageLock  string   // --image-lock
	maxBytes   int64    // --max-input-bytes, 0 for the default
	maxObjects int      // --max-objects, 0 for the default
}

// limits are the caps on the input the flags ask for.
func (o options) limits() pipeline.Limits {
	return pipeline.Limits{MaxBytes: o.maxBytes, MaxObjects: o.maxObjects}
}

// errHelp is returned when the user asked for help.
var errHelp = errors.New("help requested")

// parseArgs turns arguments into options without touching the environment,
// so it can be table-tested. usageOut receives the flag defaults for --help.
func parseArgs(args []string, usageOut io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dpps-render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.configFile, "config", "", "config `file` (YAML or JSON), schema in schema/dpps-render.config.schema.json")
	var list string
	fs.StringVar(&list, "transforms", "", "comma-separated `names` of the transforms to run, in order (default: all, see 'dpps-render transforms')")
	fs.StringVar(&o.partOf, "part-of", "", "value of the app.kubernetes.io/part-of label (default \"dpps\")")
	fs.StringVar(&o.chart, "chart", "", "`name-version` of the chart, for objects without a helm.sh/chart label")
	fs.StringVar(&o.catalog, "catalog", "", "interface catalog `file`, for charts that render no catalog ConfigMap (labelled dpps.ctao.org/catalog)")
	fs.StringVar(&o.imageLock, "image-lock", "", "pin every image to its digest in the lock `file` written by 'dpps-render images lock'; an image the lock lacks fails the run (no registry is contacted)")
	fs.StringVar(&o.reportFile, "report", "", "write a human summary of what each transform did, or the error, to `file` (Helm 4 hides a post-renderer's stderr)")
	fs.Int64Var(&o.maxBytes, "max-input-bytes", 0, fmt.Sprintf("refuse an input larger than `n` bytes (default %d; -1: no cap)", pipeline.DefaultMaxBytes))
	fs.IntVar(&o.maxObjects, "max-objects", 0, fmt.Sprintf("refuse an input of more than `n` documents or objects (default %d; -1: no cap)", pipeline.DefaultMaxObjects))
	fs.Usage = func() {
		fmt.Fprint(usageOut, usage)
		fs.SetOutput(usageOut)
		fs.PrintDefaults()
		fmt.Fprint(usageOut, "\nCommands:\n")
		for _, name := range commandNames() {
			fmt.Fprintf(usageOut, "  %-14s %s\n", name, commands[name].summary)
		}
		fmt.Fprint(usageOut, exitCodes)
	}
	if len(args) > 0 && args[0] == "help" {
		fs.Usage()
		return o, errHelp
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp // parseFlags printed the usage
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (the manifests are read from stdin)", fs.Arg(0))
	}
	// Limits take 0 for the default: a cap given as 0, or as a negative
	// number other than -1, is a mistake, not a request for the default.
	var capErr error
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "max-objects" && f.Name != "max-input-bytes" || capErr != nil {
			return
		}
		if n := asInt64(f.Value.(flag.Getter).Get()); n == 0 || n < -1 {
			capErr = fmt.Errorf("--%s %s: want a positive number, or -1 for no cap", f.Name, f.Value)
		}
	})
	if capErr != nil {
		return o, capErr
	}
	if list != "" {
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.transforms = append(o.transforms, name)
			}
		}
	}
	return o, nil
}

// asInt64 is the value of an int or int64 flag.
func asInt64(v any) int64 {
	if n, ok := v.(int); ok {
		return int64(n)
	}
	return v.(int64)
}
