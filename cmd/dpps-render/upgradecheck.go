package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/upgrade"
)

const upgradeCheckUsage = `Usage: dpps-render upgrade-check [--catalog FILE] [--output table|json|junit] OLD NEW
       dpps-render upgrade-check --from-release NAME [--namespace NS] [--kubeconfig FILE] [--kube-context CTX] [flags] NEW

Compares two rendered streams of a release, as dpps-render wrote them: OLD,
the running release (helm get manifest RELEASE), and NEW, the candidate
(helm template ... --post-renderer dpps-render); either may be "-" for stdin.
With --from-release, OLD is read from the cluster as helm get manifest reads
it: the newest deployed revision of release NAME in Helm's storage (Secrets,
or ConfigMaps when HELM_DRIVER=configmap) in NS (default: the kubeconfig
context's namespace), with the kubeconfig kubectl would use (--kubeconfig,
else $KUBECONFIG, else ~/.kube/config); it needs list on those Secrets, as
Helm does, and writes nothing. The revision read is named on stderr.
Reports
  refused         changes the API server refuses on upgrade: workload
                  selectors, StatefulSet volumeClaimTemplates, serviceName
                  and podManagementPolicy, Job templates and selectors,
                  Service clusterIP and headless transitions, PVC storage
                  class, access modes, volume mode and shrinking, the
                  contents of immutable ConfigMaps and Secrets
  data-loss       a PVC (without the keep policy) or StatefulSet removed or
                  renamed, a credential Secret renamed, removed or losing
                  its key, the helm.sh/resource-policy: keep annotation
                  dropped, a StatefulSet that starts deleting its claims
  consumer-break  an interface's Service name or port, or a shared
                  ConfigMap/Secret's name, changed while a consumer in NEW
                  still uses the old one (from NEW's catalog); a Service,
                  or a port of one, removed or renumbered (from the Service
                  or from the catalog) that a consumer of OLD's catalog, or
                  for other Services any workload, still names in NEW; an
                  interface with consumers gone from the catalog
each with what to do, and, for every other object, what changed field by
field. Values of Secret data and of credential-like env variables are
never printed.

Exit codes: 0 no finding, 1 findings, 2 usage error, unreadable input or a
release --from-release cannot read.

Flags:
`

// upgradeCheck is the upgrade-check command.
func upgradeCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("upgrade-check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap")
	output := fs.String("output", "table", "output `format`: "+strings.Join(upgrade.Formats, ", "))
	var from fromRelease
	from.flags(fs)
	fs.Usage = func() {
		fmt.Fprint(stdout, upgradeCheckUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dpps-render upgrade-check: %v (run 'dpps-render upgrade-check --help' for usage)\n", err)
		return exitUsage
	}
	// Flags may come before, between or after the two files.
	var files []string
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return fail(err)
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := from.check(fs, len(files)); err != nil {
		return fail(err)
	}
	if from.name != "" {
		files = append([]string{""}, files...)
	} else if len(files) != 2 {
		return fail(fmt.Errorf("want two files, OLD and NEW; got %d", len(files)))
	}
	if files[0] == "-" && files[1] == "-" {
		return fail(errors.New("only one of OLD and NEW can be stdin"))
	}
	if !contains(upgrade.Formats, *output) {
		return fail(fmt.Errorf("--output %q: want one of %s", *output, strings.Join(upgrade.Formats, ", ")))
	}
	var oldNodes []*yaml.RNode
	var err error
	if from.name != "" {
		oldNodes, err = from.read(stderr)
		if err != nil {
			fmt.Fprintf(stderr, "dpps-render upgrade-check: OLD: %v\n", err)
			return exitUsage
		}
	} else if oldNodes, err = readStream(files[0], stdin); err != nil {
		fmt.Fprintf(stderr, "dpps-render upgrade-check: OLD: %v\n", err)
		return exitUsage
	}
	newNodes, err := readStream(files[1], stdin)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render upgrade-check: NEW: %v\n", err)
		return exitUsage
	}
	learnCredentials(oldNodes, *catalog)
	learnCredentials(newNodes, *catalog)
	rep, err := upgrade.Compare(oldNodes, newNodes, *catalog)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render upgrade-check: %v\n", err)
		return exitUsage
	}
	if err := upgrade.Write(stdout, *output, rep); err != nil {
		fmt.Fprintf(stderr, "dpps-render upgrade-check: %v\n", err)
		return exitUsage
	}
	if !rep.OK {
		return exitFailed
	}
	return exitOK
}
