package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ctao/dpps-deploy/transforms/externals"
)

const inventoryUsage = `Usage: dpps-render inventory [--image TEXT] [--catalog FILE] [--output table|json] [FILE|-]

Lists every workload of a rendered stream (FILE, or stdin when FILE is "-"
or absent), in stream order: its images (init containers first; tag, and
digest when pinned), subchart, chart version, and the interfaces it uses:
external interfaces, and the internal interfaces (Services) of the catalog
it provides or consumes. The table has one row per container, so
"--image rucio-server" (or grep) answers "which systems are affected by this
image?".

Exit codes: 0 listed, 2 usage error or unreadable input.

Flags:
`

// inventory is the inventory command.
func inventory(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	image := fs.String("image", "", "list only workloads running an image whose reference contains `text`")
	catalog := fs.String("catalog", "", "interface catalog `file`, for streams without the catalog ConfigMap")
	output := fs.String("output", "table", "output `format`: "+strings.Join(externals.InventoryFormats, ", "))
	fs.Usage = func() {
		fmt.Fprint(stdout, inventoryUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	file, err := parseWithFile(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil && !contains(externals.InventoryFormats, *output) {
		err = fmt.Errorf("--output %q: want one of %s", *output, strings.Join(externals.InventoryFormats, ", "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render inventory: %v (run 'dpps-render inventory --help' for usage)\n", err)
		return exitUsage
	}
	nodes, err := readStream(file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render inventory: %v\n", err)
		return exitUsage
	}
	learnCredentials(nodes, *catalog)
	ws, err := externals.Inventory(nodes, *catalog, *image)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render inventory: %v\n", err)
		return exitUsage
	}
	if err := externals.WriteInventory(stdout, *output, ws); err != nil {
		fmt.Fprintf(stderr, "dpps-render inventory: %v\n", err)
		return exitUsage
	}
	return exitOK
}
