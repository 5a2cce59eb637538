package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/helmrelease"
)

// fromRelease is upgrade-check's --from-release: OLD read from the cluster.
type fromRelease struct {
	name, namespace, kubeconfig, kubeContext string
}

func (f *fromRelease) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "from-release", "", "read OLD from the cluster: the deployed revision of Helm release `name` (then give NEW only)")
	fs.StringVar(&f.namespace, "namespace", "", "with --from-release: the release's `namespace` (default: the kubeconfig context's)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "with --from-release: kubeconfig `file` (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&f.kubeContext, "kube-context", "", "with --from-release: kubeconfig `context` (default: the current one)")
}

// check validates the flags against the number of files given.
func (f *fromRelease) check(fs *flag.FlagSet, files int) error {
	if f.name == "" {
		var set []string
		fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "namespace", "kubeconfig", "kube-context":
				set = append(set, "--"+fl.Name)
			}
		})
		if len(set) > 0 {
			return fmt.Errorf("%s only with --from-release", strings.Join(set, ", "))
		}
		return nil
	}
	if files != 1 {
		return fmt.Errorf("with --from-release, want one file, NEW; got %d", files)
	}
	return nil
}

// read fetches the release's manifest and parses it as upgrade-check reads
// a file; the revision read is named on stderr.
func (f *fromRelease) read(stderr io.Writer) ([]*yaml.RNode, error) {
	c, err := helmrelease.Connect(f.kubeconfig, f.kubeContext)
	if err != nil {
		return nil, err
	}
	ns := f.namespace
	if ns == "" {
		ns = c.Namespace
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := c.Deployed(ctx, ns, f.name, os.Getenv("HELM_DRIVER"))
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("release %s revision %d (chart %s, %s) in namespace %s", r.Name, r.Revision, r.Chart, r.Status, ns)
	if strings.TrimSpace(r.Manifest) == "" {
		return nil, errors.New(what + ": empty manifest")
	}
	nodes, err := readStream("-", strings.NewReader(r.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(stderr, "dpps-render upgrade-check: OLD is %s on %s\n", what, c.Server)
	return nodes, nil
}
