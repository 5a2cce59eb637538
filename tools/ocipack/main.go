// Command ocipack packs a root filesystem directory as a one-layer OCI image
// and writes it as an archive `ctr images import` accepts. scripts/images.sh
// uses it for the images of the real-node acceptance suite (docs/e2e.md),
// which are built here from Debian packages because no registry is
// reachable.
//
//	ocipack -rootfs DIR -name localhost/dpps-e2e/NAME:TAG -o NAME.tar \
//	  [-user U] [-workdir D] [-entrypoint '["cmd"]'] [-cmd '["arg"]'] \
//	  [-env K=V]... [-port 5432/tcp]... [-label K=V]... [-annotation-file K=FILE]...
//
// The creation time, which also clamps every mtime in the layer, is
// -created (Unix seconds), else $SOURCE_DATE_EPOCH, else 0.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ocipack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("ocipack", flag.ContinueOnError)
	var (
		o          Options
		out        string
		entrypoint string
		cmd        string
		created    = os.Getenv("SOURCE_DATE_EPOCH")
	)
	o.Config.Labels = map[string]string{}
	o.Config.ExposedPorts = map[string]struct{}{}
	fl.StringVar(&o.Rootfs, "rootfs", "", "root filesystem `dir`")
	fl.StringVar(&o.Name, "name", "", "image `reference`, e.g. localhost/dpps-e2e/busybox:1.35-bookworm")
	fl.StringVar(&out, "o", "", "output archive `file`")
	fl.StringVar(&created, "created", created, "creation time and mtime clamp, Unix `seconds`")
	fl.IntVar(&o.GzipLevel, "gzip-level", 6, "gzip `level` of the layer")
	fl.StringVar(&o.Config.User, "user", "", "`user`[:group] the container runs as")
	fl.StringVar(&o.Config.WorkingDir, "workdir", "", "working `dir`")
	fl.StringVar(&entrypoint, "entrypoint", "", "entrypoint as a JSON `array`")
	fl.StringVar(&cmd, "cmd", "", "command as a JSON `array`")
	fl.Func("env", "`K=V` in the environment (repeatable)", func(s string) error {
		o.Config.Env = append(o.Config.Env, s)
		_, _, err := parseLabel(s)
		return err
	})
	fl.Func("port", "exposed `port`[/proto] (repeatable)", func(s string) error {
		if !strings.Contains(s, "/") {
			s += "/tcp"
		}
		o.Config.ExposedPorts[s] = struct{}{}
		return nil
	})
	fl.Func("label", "`K=V` label (repeatable)", func(s string) error {
		k, v, err := parseLabel(s)
		o.Config.Labels[k] = v
		return err
	})
	// Long values go into the manifest's annotations: containerd copies
	// labels onto containers and refuses one over 4 KiB.
	fl.Func("annotation-file", "`K=FILE`: manifest annotation K is FILE's content, trailing newlines cut (repeatable)", func(s string) error {
		k, f, err := parseLabel(s)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(f)
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[k] = strings.TrimRight(string(b), "\n")
		return err
	})
	if err := fl.Parse(args); err != nil {
		return err
	}
	if o.Rootfs == "" || o.Name == "" || out == "" || fl.NArg() > 0 {
		return fmt.Errorf("usage: ocipack -rootfs DIR -name REF -o FILE [flags]; see -h")
	}
	for _, a := range []struct {
		flag, val string
		dst       *[]string
	}{{"entrypoint", entrypoint, &o.Config.Entrypoint}, {"cmd", cmd, &o.Config.Cmd}} {
		if a.val != "" {
			if err := json.Unmarshal([]byte(a.val), a.dst); err != nil {
				return fmt.Errorf("-%s: %w", a.flag, err)
			}
		}
	}
	var secs int64
	if created != "" {
		var err error
		if secs, err = strconv.ParseInt(strings.TrimSpace(created), 10, 64); err != nil {
			return fmt.Errorf("-created: %w", err)
		}
	}
	o.Created = time.Unix(secs, 0)
	// As `docker build` gives every image: exec of a bare command name
	// (kubectl exec, ctr task exec) needs a PATH.
	if !slices.ContainsFunc(o.Config.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		o.Config.Env = append([]string{"PATH=" + defaultPath}, o.Config.Env...)
	}
	if len(o.Config.Labels) == 0 {
		o.Config.Labels = nil
	}
	if len(o.Config.ExposedPorts) == 0 {
		o.Config.ExposedPorts = nil
	}

	// Written beside the target and renamed: a failed run leaves no archive
	// that looks whole.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".ocipack-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	digest, err := Pack(tmp, o, filepath.Dir(out))
	if err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ocipack: %s %s -> %s\n", o.Name, digest, out)
	return nil
}
