// Package transforms registers dpps-render's transforms by name and holds
// their configuration, the data a config file or flags set.
package transforms

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/ctao/dpps-deploy/transforms/dashboards"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/guards"
	"github.com/ctao/dpps-deploy/transforms/imagelock"
	"github.com/ctao/dpps-deploy/transforms/monitoring"
	"github.com/ctao/dpps-deploy/transforms/netpol"
	"github.com/ctao/dpps-deploy/transforms/otel"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
	"github.com/ctao/dpps-deploy/transforms/provenance"
	"github.com/ctao/dpps-deploy/transforms/secretrefs"
)

// Config is dpps-render's configuration file. Its JSON Schema is generated
// from this type (schema/dpps-render.config.schema.json).
type Config struct {
	// Transforms to run, in this order. Empty means every registered
	// transform, in registry order.
	Transforms []string `json:"transforms,omitempty" jsonschema:"uniqueItems=true"`
	// Catalog is the path of an interface catalog file (JSON or YAML, schema
	// schema/catalog.schema.json), for charts that render no catalog
	// ConfigMap. It wins over a catalog found in the stream.
	Catalog string `json:"catalog,omitempty"`
	// ImageLock is the path of an image lock written by "dpps-render images
	// lock": every image is pinned to its locked digest, and an image the
	// lock lacks fails the run. Needs the imagelock transform, before
	// provenance.
	ImageLock string `json:"imageLock,omitempty"`
	// Provenance configures the provenance transform.
	Provenance provenance.Config `json:"provenance,omitempty"`
	// Secretrefs configures the secretrefs transform.
	Secretrefs secretrefs.Config `json:"secretrefs,omitempty"`
	// Netpol configures the netpol transform.
	Netpol netpol.Config `json:"netpol,omitempty"`
	// Externals configures the externals transform.
	Externals externals.Config `json:"externals,omitempty"`
	// Otel configures the otel transform.
	Otel otel.Config `json:"otel,omitempty"`
	// Dashboards configures the dashboards transform.
	Dashboards dashboards.Config `json:"dashboards,omitempty"`
	// Monitoring configures the monitoring transform (its scrape mode is
	// externals.metrics).
	Monitoring monitoring.Config `json:"monitoring,omitempty"`
}

// Registration describes one transform.
type Registration struct {
	Name    string
	Summary string
	New     func(*Config) kio.Filter
}

// registry lists the transforms in the order they run by default.
var registry = []Registration{
	// imagelock runs first: provenance then records the pinned images.
	{
		Name:    "imagelock",
		Summary: "with --image-lock, pins every image to its locked digest; refuses an image the lock lacks or that carries another digest",
		New:     func(c *Config) kio.Filter { return imagelock.New(c.ImageLock) },
	},
	{
		Name:    "provenance",
		Summary: "stamps part-of, source template, subchart, chart and renderer versions and workload images",
		New:     func(c *Config) kio.Filter { return provenance.New(c.Provenance) },
	},
	{
		Name:    "secretrefs",
		Summary: "replaces plaintext credentials by references to their Secrets; emits ExternalSecrets for that backend",
		New:     func(c *Config) kio.Filter { return secretrefs.New(c.Secretrefs, c.Catalog) },
	},
	{
		Name:    "netpol",
		Summary: "appends NetworkPolicies generated from the interface catalog: default deny, DNS, interfaces, externals, inbound",
		New:     func(c *Config) kio.Filter { return netpol.New(c.Netpol, c.Catalog) },
	},
	{
		Name:    "externals",
		Summary: "annotates users of external interfaces (direction, endpoint, protocol, port, auth); log labels and metrics scraping",
		New:     func(c *Config) kio.Filter { return externals.New(c.Externals, c.Catalog) },
	},
	{
		Name:    "monitoring",
		Summary: "appends PodMonitors (metrics podmonitor), the PrometheusRule <release>-dpps-alerts and the ConfigMap <release>-dpps-observability, from the catalog",
		New:     func(c *Config) kio.Filter { return monitoring.New(c.Monitoring, c.Externals.Metrics, c.Catalog) },
	},
	{
		Name:    "otel",
		Summary: "gives the containers of components that declare traces OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the site's OTLP endpoint and protocol",
		New:     func(c *Config) kio.Filter { return otel.New(c.Otel, c.Catalog) },
	},
	{
		Name:    "dashboards",
		Summary: "appends Grafana dashboards generated from the interface catalog, one per subchart and an overview, as ConfigMaps for the Grafana sidecar",
		New:     func(c *Config) kio.Filter { return dashboards.New(c.Dashboards, c.Catalog) },
	},
	// guards stays last: it checks what every other transform produced.
	{
		Name:    "guards",
		Summary: "fails on a credential outside a Secret (declared, or named, in a URL or SQL even without a catalog) or found nowhere, or a reference to an object nobody creates",
		New:     func(c *Config) kio.Filter { return &guards.Filter{CatalogFile: c.Catalog} },
	},
}

// Registered returns every transform, in default order.
func Registered() []Registration { return append([]Registration(nil), registry...) }

// Names returns the names of every transform, in default order.
func Names() []string {
	names := make([]string, len(registry))
	for i, r := range registry {
		names[i] = r.Name
	}
	return names
}

// UnknownTransformError names a transform that is not registered.
type UnknownTransformError struct{ Name string }

func (e *UnknownTransformError) Error() string {
	return fmt.Sprintf("unknown transform %q; valid transforms: %s", e.Name, strings.Join(Names(), ", "))
}

// Steps builds the pipeline steps cfg asks for.
func Steps(cfg *Config) ([]pipeline.Step, error) {
	names := cfg.Transforms
	if len(names) == 0 {
		names = Names()
	}
	if p := cfg.Provenance.PartOf; p != "" && !validLabelValue.MatchString(p) {
		return nil, fmt.Errorf("provenance.partOf (--part-of) %q is not a label value Kubernetes accepts: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", p)
	}
	if cfg.ImageLock != "" {
		lock, prov := slices.Index(names, "imagelock"), slices.Index(names, "provenance")
		switch {
		case lock < 0:
			return nil, fmt.Errorf("an image lock (imageLock, --image-lock) is given but the transform imagelock is not listed: add it, or the images would not be pinned")
		case prov >= 0 && prov < lock:
			return nil, fmt.Errorf("transform imagelock is listed after provenance: list it first, so that provenance records the pinned images")
		}
	}
	steps := make([]pipeline.Step, 0, len(names))
	seen := map[string]bool{}
	for _, name := range names {
		r, ok := lookup(name)
		if !ok {
			return nil, &UnknownTransformError{Name: name}
		}
		if seen[name] {
			return nil, fmt.Errorf("transform %q is listed twice", name)
		}
		seen[name] = true
		steps = append(steps, pipeline.Step{Name: name, Filter: r.New(cfg)})
	}
	return steps, nil
}

// validLabelValue is Kubernetes' syntax of a label value (at most 63
// characters).
var validLabelValue = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)

func lookup(name string) (Registration, bool) {
	for _, r := range registry {
		if r.Name == name {
			return r, true
		}
	}
	return Registration{}, false
}
