// Package secretrefs replaces plaintext credentials in rendered manifests by
// references to the Secrets the interface catalog declares for them:
//   - an env value equal to a credential becomes a secretKeyRef;
//   - an env value that embeds one (a DSN) gets a secret-backed variable
//     inserted before it and refers to it with $(VAR), so the container sees
//     the same string;
//   - a ConfigMap that holds one becomes a Secret of the same name, and
//     every reference to it follows;
//   - a credential in command or args becomes $(DPPS_CRED_X), which the
//     kubelet expands from a secret-backed variable added to the container;
//   - a Secret that only repeats credentials of another Secret is removed
//     and its references repointed.
//
// A credential anywhere else (an annotation, a CRD field) is left for the
// guards transform to refuse, naming the object and field, never the value.
//
// It then makes sure each credential's Secret will exist, as the site's
// secrets backend says: rendered by the chart, an ExternalSecret against the
// site's store, or created beforehand by a site admin.
package secretrefs

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Config configures the secretrefs transform.
type Config struct {
	// RemoteKeyPrefix is put before a credential's name to form the key an
	// ExternalSecret asks the site's secret store for.
	RemoteKeyPrefix string `json:"remoteKeyPrefix,omitempty" jsonschema:"default=dpps/"`
}

// DefaultRemoteKeyPrefix is the remote key prefix when none is configured.
const DefaultRemoteKeyPrefix = "dpps/"

// GeneratedLabel marks objects dpps-render generates; its value names the
// transform.
const GeneratedLabel = "dpps.ctao.org/generated"

// ExternalSecret's API, as external-secrets serves it.
const (
	externalSecretAPIVersion = "external-secrets.io/v1"
	externalSecretKind       = "ExternalSecret"
)

// Filter is the secretrefs transform.
type Filter struct {
	Config
	// CatalogFile is a catalog for charts that render none (--catalog).
	CatalogFile string
	changed     int
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform.
func New(cfg Config, catalogFile string) *Filter {
	if cfg.RemoteKeyPrefix == "" {
		cfg.RemoteKeyPrefix = DefaultRemoteKeyPrefix
	}
	return &Filter{Config: cfg, CatalogFile: catalogFile}
}

// Changed is the number of input objects the last run modified.
func (f *Filter) Changed() int { return f.changed }

// Filter rewrites the stream. Without a catalog it changes nothing: there is
// no declared credential to look for.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	f.changed = 0
	info, err := release.Find(nodes, f.CatalogFile)
	if err != nil || info == nil {
		return nodes, err
	}
	creds, err := credentials.Find(nodes, info.Catalog)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info.Origin, err)
	}
	r := &rewrite{creds: creds, changed: map[*yaml.RNode]bool{}}
	r.index(nodes)
	if err := r.convertConfigMaps(nodes); err != nil {
		return nil, err
	}
	r.findDuplicates(nodes, info)
	for _, n := range nodes {
		if spec := manifest.PodSpec(n.YNode()); spec != nil {
			if err := r.podSpec(n, spec); err != nil {
				return nil, err
			}
		}
	}
	out := nodes[:0:0]
	for _, n := range nodes {
		if !r.removed[n.GetName()] || manifest.Kind(n) != "Secret" {
			out = append(out, n)
		}
	}
	generated, err := f.backendObjects(out, creds, info)
	if err != nil {
		return nil, err
	}
	f.changed = len(r.changed)
	return appendReplacing(out, generated), nil
}
