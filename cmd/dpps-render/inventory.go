package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ctao/dpps-deploy/transforms/externals"
)

const inventoryUsage = `Usage: dpps-render inventory [--image TEXT] [--digest sha256:HEX] [--by workload|image]
                           [--catalog FILE] [--output table|json] [FILE|-|SITE=FILE ...]

Lists every workload of a rendered stream (FILE, or stdin when FILE is "-"
or absent), in stream order: its images (init containers first; tag, and
digest when pinned), subchart, chart version, and the interfaces it uses:
external interfaces, and the internal interfaces (Services) of the catalog
it provides or consumes. The table has one row per container, so
"--image rucio-server" (or grep) answers "which systems are affected by this
image?".

Across sites: name each site's render, SITE=FILE (SITE=- for stdin, once):
every row gains a SITE column (JSON: a "site" field), sites in argument
order, then stream order. "--by image" answers "which sites, systems and
chart versions run image X / digest D": one row per image, its repository
path and tag without the registry (the site's registry mirror, or the
image's own registry), so the same image pulled through each site's mirror
is one row; a pinned digest makes its own row. A render without DPPS
provenance still lists, with chart "-" when no helm.sh/chart label names
it either.

Exit codes: 0 listed, 2 usage error (a malformed SITE=FILE, a site named
twice) or unreadable input.

Flags:
`

// inventoryBy are the values of --by.
var inventoryBy = []string{"workload", "image"}

// render is one render inventory reads: a named site's file, or the one
// unnamed FILE or stdin ("-" or "").
type render struct{ site, file string }

// siteName is what a SITE of SITE=FILE may be.
var siteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parseRenders turns the arguments that are not flags into renders: none
// (stdin) or one bare FILE or "-", unnamed; else SITE=FILE each (split at
// the first "="), every site once, stdin at most once. named says whether
// the renders are named.
func parseRenders(args []string) (renders []render, named bool, err error) {
	if len(args) == 0 {
		return []render{{}}, false, nil
	}
	if len(args) == 1 && !strings.Contains(args[0], "=") {
		return []render{{file: args[0]}}, false, nil
	}
	seen := map[string]bool{}
	stdin := false
	for _, a := range args {
		site, file, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return nil, false, fmt.Errorf("%q: with several renders, name each one SITE=FILE", a)
		case !siteName.MatchString(site) || file == "":
			return nil, false, fmt.Errorf("%q: want SITE=FILE, SITE of letters, digits, '.', '_' and '-', FILE a path or - for stdin", a)
		case seen[site]:
			return nil, false, fmt.Errorf("site %q is named twice: give each site's render once", site)
		case file == "-" && stdin:
			return nil, false, fmt.Errorf("%q: stdin (-) is already another site's render: give files", a)
		}
		seen[site] = true
		stdin = stdin || file == "-"
		renders = append(renders, render{site: site, file: file})
	}
	return renders, true, nil
}

// parseDigest checks --digest: "" or "sha256:<64 hex digits>".
func parseDigest(s string) error {
	if s == "" {
		return nil
	}
	if _, err := v1.NewHash(s); err != nil {
		return fmt.Errorf("--digest %q: want sha256:<64 hex digits> (%v)", s, err)
	}
	return nil
}

// inventory is the inventory command.
func inventory(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	image := fs.String("image", "", "list only images whose reference contains `text`")
	digest := fs.String("digest", "", "list only images pinned to this `digest` (sha256:..., exact)")
	by := fs.String("by", "workload", "`what` a row is: workload (a row per container) or image (a row per image: the sites, systems and chart versions running it)")
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap (every render)")
	output := fs.String("output", "table", "output `format`: "+strings.Join(externals.InventoryFormats, ", "))
	fs.Usage = func() {
		fmt.Fprint(stdout, inventoryUsage)
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
	if err == nil && !contains(externals.InventoryFormats, *output) {
		err = fmt.Errorf("--output %q: want one of %s", *output, strings.Join(externals.InventoryFormats, ", "))
	}
	if err == nil && !contains(inventoryBy, *by) {
		err = fmt.Errorf("--by %q: want one of %s", *by, strings.Join(inventoryBy, ", "))
	}
	if err == nil {
		err = parseDigest(*digest)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render inventory: %v (run 'dpps-render inventory --help' for usage)\n", err)
		return exitUsage
	}
	filter := externals.InventoryFilter{Image: *image, Digest: *digest}
	// One render at a time: only its workloads are kept, not its objects.
	var ws []externals.Workload
	for _, r := range renders {
		nodes, err := readStream(r.file, stdin)
		if err == nil {
			learnCredentials(nodes, *catalog)
			var got []externals.Workload
			got, err = externals.Inventory(nodes, *catalog, filter)
			for i := range got {
				got[i].Site = r.site
			}
			ws = append(ws, got...)
		}
		if err != nil {
			if r.site != "" {
				err = fmt.Errorf("site %s: %w", r.site, err)
			}
			fmt.Fprintf(stderr, "dpps-render inventory: %v\n", err)
			return exitUsage
		}
	}
	if ws == nil {
		ws = []externals.Workload{}
	}
	if *by == "image" {
		err = externals.WriteImages(stdout, *output, externals.ByImage(ws), named)
	} else {
		err = externals.WriteInventory(stdout, *output, ws, named)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render inventory: %v\n", err)
		return exitUsage
	}
	return exitOK
}
