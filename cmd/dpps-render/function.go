package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/krm"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// readInput reads stdin, up to one byte past the input cap: dpps-render
// looks at the whole input before choosing the post-renderer or the KRM
// function path, and an endless or huge stdin must not fill the memory
// before the pipeline refuses it. replay gives the post-renderer path the
// same bytes (a *bytes.Buffer, which the pipeline reads without a copy),
// then the read error if there was one, so that the pipeline reports it.
func readInput(stdin io.Reader, limits pipeline.Limits) (data []byte, replay io.Reader, err error) {
	var b bytes.Buffer
	// Capacity is only touched as it is filled: a release's render fits
	// without the copies of a growing buffer.
	b.Grow(1 << 20)
	if _, err := b.ReadFrom(io.LimitReader(stdin, limits.ReadBytes())); err != nil {
		return b.Bytes(), io.MultiReader(bytes.NewReader(b.Bytes()), errReader{err}), err
	}
	return b.Bytes(), &b, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// runFunction is dpps-render as a KRM function: the functionConfig is the
// config file (flags given in the function's exec args override it, as they
// override --config).
func runFunction(opts options, data []byte, stdout, stderr io.Writer) int {
	in, err := krm.Read(data)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v\n", err)
		return exitFailed
	}
	if opts.configFile != "" && in.FunctionConfig != nil {
		fmt.Fprintf(stderr, "dpps-render: both --config and a functionConfig given; use one\n")
		return exitUsage
	}
	var cfg *transforms.Config
	if opts.configFile != "" {
		cfg, err = loadConfig(opts)
	} else if cfg, err = krm.Config(in.FunctionConfig); err == nil {
		cfg = overrideConfig(cfg, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v\n", err)
		return exitUsage
	}
	steps, err := transforms.Steps(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render: %v\n", err)
		return exitUsage
	}
	var out bytes.Buffer
	stats, err := krm.Run(in, &out, steps, opts.limits())
	if err != nil {
		learnCredentials(in.Items, cfg.Catalog)
	}
	return finish(stats, err, opts, stderr, func() error {
		_, err := stdout.Write(out.Bytes())
		return err
	})
}

// overrideConfig lets the flags override a config file or a KRM functionConfig.
func overrideConfig(cfg *transforms.Config, opts options) *transforms.Config {
	if opts.transforms != nil {
		cfg.Transforms = opts.transforms
	}
	if opts.catalog != "" {
		cfg.Catalog = opts.catalog
	}
	if opts.imageLock != "" {
		cfg.ImageLock = opts.imageLock
	}
	if opts.partOf != "" {
		cfg.Provenance.PartOf = opts.partOf
	}
	if opts.chart != "" {
		cfg.Provenance.Chart = opts.chart
	}
	return cfg
}
