package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/boundedfile"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/monitoring"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
	"github.com/ctao/dpps-deploy/transforms/podsecurity"
	"github.com/ctao/dpps-deploy/transforms/release"
)

const checkUsage = `Usage: dpps-render check --profile dev|ci|staging|prod [--pod-security LEVEL] [--catalog FILE] [--output table|json|junit] [FILE|-|SITE=FILE ...]

Checks the external interfaces of a rendered stream (FILE, or stdin when
FILE is "-" or absent), as dpps-render wrote it: lists every external
interface of the catalog with the site's endpoint, "test fixture in use" or
"unset (not used)", and reports
  fixture              a test fixture stands in for an external interface
  annotations          a workload that uses an external interface lacks its
                       dpps.ctao.org/external.<name> annotations, or they
                       disagree with the catalog and the site's values
  undeclared-endpoint  an env value or ConfigMap names a host no external
                       interface declares (Services of the release and
                       cluster-local names are fine), or names a host an
                       external declares on a port it does not declare
                       for it, or an Ingress or a
                       LoadBalancer/NodePort Service exposes the release
                       without an inbound interface
  malformed-endpoint   the site's endpoint is not a valid URL, host or port,
                       or lacks a required field
  catalog              the stream has no interface catalog
  inbound              (prod only) a deployed component of an inbound
                       interface is not exposed (global.inbound.<name>),
                       or exposed without sources: nobody could reach it
  netpol               (prod only) an outbound external the release reaches
                       sets no cidrs (its egress would allow any address),
                       or a component serves metrics and
                       global.observability.prometheus is not set
  image                a container image cannot be pulled (a versioned
                       image of docker.io/bitnami: Bitnami moved them to
                       docker.io/bitnamilegacy); (prod only) the site
                       declares no registry (global.externals.registry),
                       or a container image is outside it, names its host
                       on another port, or has the tag latest or neither
                       tag nor digest: one line per object, container and
                       field
  metrics              a component declares a metrics port its pod lacks
                       (a database exporter switched off: the message
                       names the value that switches it on): nothing
                       scrapes it
  pod-security         a pod template (of a Deployment, StatefulSet,
                       DaemonSet, Job, CronJob or Pod) fails a check of the
                       Pod Security Standards at --pod-security (default:
                       the site's global.podSecurity.level, baseline when
                       unset), as the API server evaluates it: one line per
                       container and check. A component that declares it
                       meets only a lower level (components.<name>.podSecurity
                       in the catalog) gets a note with its reason instead,
                       and an error when that level is below the site's
  failover             the site's failover topology (global.failover) and
                       the render disagree: the database of a replica site
                       runs writable or streams from another host than the
                       primary's, the primary's runs as a replica, or a
                       workload that writes to the database (the Rucio
                       server, daemons and Jobs) has a pod at a replica
                       site; or a site of the topology is not among
                       global.externals.rucio-database-peers
In the prod profile every finding is an error. In dev, ci and staging a
fixture is expected, annotations, undeclared endpoints and metrics are warnings, and
malformed endpoints, a missing catalog and an image that cannot be pulled
are errors. Pod Security findings are errors or notes in every profile.

Across sites: name each site's render, SITE=FILE (SITE=- for stdin,
once): each render is checked as above under a line "== site SITE (FILE) ==",
then the failover topology across the sites, one line per finding: a
render whose global.failover.site is not SITE, two sites that claim the
primary of a database, sites that disagree on the primary, a primary whose
render declares no topology, sites that list different peers. Output table
or json.

Exit codes: 0 no error, 1 errors found, 2 usage error or unreadable input.

Flags:
`

// check is the check command.
func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	profile := fs.String("profile", "", "deployment `profile`: "+strings.Join(externals.Profiles, ", ")+" (required)")
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap")
	output := fs.String("output", "table", "output `format`: "+strings.Join(externals.CheckFormats, ", "))
	level := fs.String("pod-security", "", "Pod Security Standards `level`: "+strings.Join(podsecurity.Levels, ", ")+" (default: the site's global.podSecurity.level)")
	fs.Usage = func() {
		fmt.Fprint(stdout, checkUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	var positional []string
	err := parseFlags(fs, args)
	for err == nil && fs.NArg() > 0 {
		positional = append(positional, fs.Arg(0))
		err = parseFlags(fs, fs.Args()[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var renders []render
	var named bool
	if err == nil {
		renders, named, err = parseRenders(positional)
	}
	if err == nil && named && *output == "junit" {
		err = errors.New("--output junit checks one render: give one FILE, or table or json with SITE=FILE")
	}
	if err == nil && *profile == "" {
		err = errors.New("--profile is required")
	}
	if err == nil && !externals.ValidProfile(*profile) {
		err = fmt.Errorf("--profile %q: want one of %s", *profile, strings.Join(externals.Profiles, ", "))
	}
	if err == nil && !contains(externals.CheckFormats, *output) {
		err = fmt.Errorf("--output %q: want one of %s", *output, strings.Join(externals.CheckFormats, ", "))
	}
	if err == nil && *level != "" && !podsecurity.ValidLevel(*level) {
		err = fmt.Errorf("--pod-security %q: want one of %s", *level, strings.Join(podsecurity.Levels, ", "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render check: %v (run 'dpps-render check --help' for usage)\n", err)
		return exitUsage
	}
	if named {
		return checkSites(renders, *profile, *catalog, *output, *level, stdin, stdout, stderr)
	}
	rep, _, err := checkRender(renders[0].file, *profile, *catalog, *level, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render check: %v\n", err)
		return exitUsage
	}
	if err := externals.WriteCheck(stdout, *output, rep); err != nil {
		fmt.Fprintf(stderr, "dpps-render check: %v\n", err)
		return exitUsage
	}
	if !rep.OK {
		return exitFailed
	}
	return exitOK
}

// checkPodSecurity adds the Pod Security findings to the report.
func checkPodSecurity(rep *externals.Report, nodes []*yaml.RNode, catalog, level string) error {
	info, err := release.Find(nodes, catalog)
	if err != nil {
		return err
	}
	fs, err := podsecurity.Check(nodes, info, level)
	if err != nil {
		return err
	}
	rep.Findings = append(rep.Findings, fs...)
	rep.OK = rep.Errors() == 0
	return nil
}

// checkMetrics adds a finding for every declared metrics endpoint absent
// from its pod (an exporter switched off, an upstream chart without the
// port): no monitor scrapes it. An error in prod, a warning elsewhere.
func checkMetrics(rep *externals.Report, nodes []*yaml.RNode, catalog, profile string) error {
	plan, err := monitoring.New(monitoring.Config{}, "", catalog).Plan(nodes)
	if err != nil || plan == nil {
		return err
	}
	sev := externals.SeverityWarning
	if profile == "prod" {
		sev = externals.SeverityError
	}
	for _, u := range plan.Unscraped {
		rep.Findings = append(rep.Findings, externals.Finding{Severity: sev, Rule: "metrics", Message: u + "; nothing scrapes it"})
	}
	rep.OK = rep.Errors() == 0
	return nil
}

// parseWithFile parses flags that may come before or after one optional
// FILE argument.
func parseWithFile(fs *flag.FlagSet, args []string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", nil
	}
	file := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q: give one FILE, or none for stdin", fs.Arg(0))
	}
	return file, nil
}

// readStream reads a rendered stream from file, or stdin for "" and "-".
// When it does not parse, the credentials of the documents that do are
// registered with the redactor; a command that reads a stream calls
// learnCredentials with its catalog.
func readStream(file string, stdin io.Reader) ([]*yaml.RNode, error) {
	in := stdin
	if file != "" && file != "-" {
		data, err := boundedfile.Read(file, 0)
		if err != nil {
			return nil, err
		}
		in = bytes.NewBuffer(data)
	}
	// Up to one byte past the reader's cap, which it then refuses.
	data, err := io.ReadAll(io.LimitReader(in, pipeline.Limits{}.ReadBytes()))
	if err != nil {
		return nil, err
	}
	nodes, err := (&pipeline.Reader{Input: bytes.NewReader(data)}).Read()
	if err != nil {
		learnFromInput(data, "")
		if file != "" && file != "-" {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return nil, err
	}
	return nodes, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
