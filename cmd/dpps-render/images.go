package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ctao/dpps-deploy/internal/imageresolve"
	"github.com/ctao/dpps-deploy/transforms/imagelock"
)

const imagesUsage = `Usage: dpps-render images lock [flags] [FILE|-]

Commands:
  lock  resolve every image of a render to its digest and write an image lock

Run "dpps-render images lock --help" for its flags.
`

const imagesLockUsage = `Usage: dpps-render images lock [--output FILE] [--insecure-registry HOST[:PORT]]... [FILE|-]
       dpps-render images lock --check LOCK [--insecure-registry HOST[:PORT]]... [FILE|-]

Collects every container image of a rendered stream (FILE, or stdin when
FILE is "-" or absent): the init containers, containers and ephemeral
containers of every Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
Job and CronJob, hooks and test pods included. Asks each image's OCI
registry which digest its tag points to now, and writes an image lock (on
stdout, or to --output): the image as the render writes it and its digest,
sorted by image. An image the render already pins by digest is recorded
with that digest, without asking its registry.

This is the only dpps-render command that contacts the network, and it
does so only here: it sends registry API requests (HEAD, or GET, of each
image's manifest) to the registries the images name, with the
credentials of the docker config ($DOCKER_CONFIG/config.json and its
credential helpers). Rendering with "dpps-render --image-lock LOCK" then
pins every image to its locked digest offline, and refuses an image the
lock lacks.

With --check LOCK, nothing is written: every image of the render is
resolved again and compared with LOCK; a tag that moved since the lock
(its registry now serves another digest), an image LOCK lacks, or a
pinned digest that differs from LOCK's is one line each.

When an image cannot be resolved (registry unreachable, image or tag
missing, access denied) one line names the image and the registry's
answer, and no lock is written.

Exit codes: 0 locked (or, with --check, every image as locked), 1 an image
could not be resolved (or, with --check, differs from LOCK), 2 usage error
or unreadable input.

Flags:
`

// images is the images command; its one subcommand is lock.
func images(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "lock" {
		return imagesLock(args[1:], stdin, stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		fmt.Fprint(stdout, imagesUsage)
		return exitOK
	}
	what := "no subcommand"
	if len(args) > 0 {
		what = fmt.Sprintf("unknown subcommand %q", args[0])
	}
	fmt.Fprintf(stderr, "dpps-render images: %s: want lock (run 'dpps-render images --help' for usage)\n", what)
	return exitUsage
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// imagesLock is "images lock".
func imagesLock(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("images lock", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	output := fs.String("output", "", "write the lock to `file` (default: stdout); written only when every image resolved")
	check := fs.String("check", "", "compare the render's images with the lock `file` instead of writing one")
	var insecure listFlag
	fs.Var(&insecure, "insecure-registry", "reach the registry `host[:port]` over plain HTTP (repeatable; loopback and private addresses always are)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on an image after `duration`")
	fs.Usage = func() {
		fmt.Fprint(stdout, imagesLockUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	file, err := parseWithFile(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil && *output != "" && *check != "" {
		err = errors.New("--output and --check: give one (--check writes nothing)")
	}
	if err == nil && *timeout <= 0 {
		err = fmt.Errorf("--timeout %s: want a positive duration", *timeout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render images lock: %v (run 'dpps-render images lock --help' for usage)\n", err)
		return exitUsage
	}
	var lock *imagelock.Lock
	if *check != "" {
		if lock, err = imagelock.Read(*check); err != nil {
			fmt.Fprintf(stderr, "dpps-render images lock: %v\n", err)
			return exitUsage
		}
	}
	nodes, err := readStream(file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render images lock: %v\n", err)
		return exitUsage
	}
	learnCredentials(nodes, "")
	wanted, err := lockKeys(imagelock.Uses(nodes))
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render images lock: %v\n", err)
		return exitFailed
	}
	r := imageresolve.New(imageresolve.Options{Insecure: insecure, Timeout: *timeout})
	entries, failures := resolveAll(r, wanted)
	if lock != nil {
		return reportCheck(*check, lock, wanted, entries, failures, stdout)
	}
	for _, f := range failures {
		fmt.Fprintf(stderr, "dpps-render images lock: %s\n", f)
	}
	if len(failures) > 0 {
		fmt.Fprintf(stderr, "dpps-render images lock: %d of %d image(s) not resolved: no lock written\n", len(failures), len(wanted))
		return exitFailed
	}
	data := imagelock.Marshal(entries)
	if *output == "" {
		if _, err := stdout.Write(data); err != nil {
			fmt.Fprintf(stderr, "dpps-render images lock: writing output: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	if err := writeAtomic(*output, data); err != nil {
		fmt.Fprintf(stderr, "dpps-render images lock: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "locked %d image(s) in %s\n", len(entries), *output)
	return exitOK
}

// wantedImage is one image a lock records: its key (the reference without
// digest) and the digest the render pins it to, if any.
type wantedImage struct {
	image, pinned string
	// ref is a reference as written, for messages.
	ref string
}

// lockKeys lists the distinct images of uses, sorted. The same image
// pinned to two digests in one render cannot be locked.
func lockKeys(uses []imagelock.Use) ([]wantedImage, error) {
	byKey := map[string]*wantedImage{}
	firstPin := map[string]imagelock.Use{}
	for _, u := range uses {
		image, digest := imagelock.Split(u.Ref)
		w := byKey[image]
		if w == nil {
			w = &wantedImage{image: image, ref: u.Ref}
			byKey[image] = w
		}
		if digest == "" {
			continue
		}
		if w.pinned != "" && w.pinned != digest {
			first := firstPin[image]
			return nil, fmt.Errorf("%s: container %s %s: image %q is pinned to %s, but %s container %s pins it to %s: pin one digest", u.Object, u.Container, u.Field, u.Ref, digest, first.Object, first.Container, w.pinned)
		}
		if w.pinned == "" {
			w.pinned, w.ref = digest, u.Ref
			firstPin[image] = u
		}
	}
	out := make([]wantedImage, 0, len(byKey))
	for _, w := range byKey {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].image < out[j].image })
	return out, nil
}

// resolveAll resolves every image that is not pinned, in order; failures
// are one line each.
func resolveAll(r *imageresolve.Resolver, wanted []wantedImage) (entries []imagelock.Entry, failures []string) {
	ctx := context.Background()
	for _, w := range wanted {
		if w.pinned != "" {
			entries = append(entries, imagelock.Entry{Image: w.image, Digest: w.pinned})
			continue
		}
		d, err := r.Resolve(ctx, w.image)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		entries = append(entries, imagelock.Entry{Image: w.image, Digest: d})
	}
	return entries, failures
}

// reportCheck compares what the registries serve now with the lock.
func reportCheck(path string, lock *imagelock.Lock, wanted []wantedImage, now []imagelock.Entry, failures []string, stdout io.Writer) int {
	locked := lock.Digests()
	pinned := map[string]string{}
	for _, w := range wanted {
		if w.pinned != "" {
			pinned[w.image] = w.ref
		}
	}
	var problems []string
	for _, e := range now {
		was, ok := locked[e.Image]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("image %q is not in the lock: re-run 'dpps-render images lock' on this render", e.Image))
		case was != e.Digest && pinned[e.Image] != "":
			problems = append(problems, fmt.Sprintf("image %q: the render pins it to %s, the lock has %s: fix the values or re-run 'dpps-render images lock'", pinned[e.Image], e.Digest, was))
		case was != e.Digest:
			problems = append(problems, fmt.Sprintf("image %q moved: the lock has %s, its registry now serves %s: review the new image, then re-run 'dpps-render images lock'", e.Image, was, e.Digest))
		}
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "error: %s\n", p)
	}
	for _, f := range failures {
		fmt.Fprintf(stdout, "error: %s\n", f)
	}
	n := len(problems) + len(failures)
	if n > 0 {
		fmt.Fprintf(stdout, "FAILED: %d image(s), %d differ from %s or could not be resolved\n", len(now)+len(failures), n, path)
		return exitFailed
	}
	fmt.Fprintf(stdout, "ok: %d image(s), each as locked in %s\n", len(now), path)
	return exitOK
}

// writeAtomic writes data to path through a temporary file in the same
// directory, so that a reader never sees half a lock.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
