package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ctao/dpps-deploy/transforms/guards"
	"github.com/ctao/dpps-deploy/transforms/imagelock"
)

const hooksUsage = `Usage: dpps-render hooks [--catalog FILE] [--image-lock FILE] [FILE|-]

For Helm 3, which never passes hook objects (helm.sh/hook) through a
post-renderer. Reads the whole output of "helm template" (FILE, or stdin
when FILE is "-" or absent), hooks included, and reports, one line each:
  - a hook object that holds a credential outside a Secret: Helm 3 creates
    it as the chart rendered it;
  - an object Helm 3 post-renders that references a ConfigMap, Secret or
    ServiceAccount only a hook creates: the post-render's guards would
    call it dangling;
  - with --image-lock, a container image of a hook (a helm test pod, a
    hook Job) that does not carry its locked digest: the post-renderer's
    --image-lock pins every other image, but Helm 3 runs a hook's image
    as the chart wrote it. Pin it in the values (repository@digest).
Helm 4 post-renders hooks: with its plugin (helm plugin install
./helm-plugin), dpps-render transforms and checks hook objects like the
rest, and this check is not needed.

  helm template REL CHART -f site.yaml | dpps-render hooks --catalog site-catalog.yaml

Exit codes: 0 nothing found, 1 findings, 2 usage error or unreadable input.

Flags:
`

// hooks is the hooks command.
func hooks(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hooks", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap")
	lockFile := fs.String("image-lock", "", "image lock `file` (dpps-render images lock): report hook images it does not pin")
	fs.Usage = func() {
		fmt.Fprint(stdout, hooksUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	file, err := parseWithFile(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render hooks: %v\nRun 'dpps-render hooks --help' for usage.\n", err)
		return exitUsage
	}
	nodes, err := readStream(file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render hooks: %v\n", err)
		return exitUsage
	}
	learnCredentials(nodes, *catalog)
	findings, n, err := guards.Hooks(nodes, *catalog)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render hooks: %v\n", err)
		return exitUsage
	}
	if *lockFile != "" {
		lock, err := imagelock.Read(*lockFile)
		if err != nil {
			fmt.Fprintf(stderr, "dpps-render hooks: %v\n", err)
			return exitUsage
		}
		var hookUses []imagelock.Use
		for _, u := range imagelock.Uses(nodes) {
			if u.IsHook() {
				hookUses = append(hookUses, u)
			}
		}
		findings = append(findings, imagelock.Unpinned(hookUses, lock, *lockFile)...)
	}
	for _, f := range findings {
		fmt.Fprintln(stdout, f)
	}
	if len(findings) > 0 {
		fmt.Fprintf(stdout, "FAILED: %d finding(s) in %d hook object(s) and the objects that use them\n", len(findings), n)
		return exitFailed
	}
	what := "none holds a credential or is needed by a post-rendered object"
	if *lockFile != "" {
		what = "none holds a credential, is needed by a post-rendered object or runs an image the lock does not pin"
	}
	fmt.Fprintf(stdout, "OK: %d hook object(s); %s\n", n, what)
	return exitOK
}
