package secretrefs

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// backendObjects returns the objects the site's backend needs so that every
// credential's Secret exists: Secrets for values found outside any Secret
// (backend chart), ExternalSecrets (external-secrets), nothing (existing).
func (f *Filter) backendObjects(nodes []*yaml.RNode, creds credentials.Set, info *release.Info) ([]*yaml.RNode, error) {
	present := map[string]bool{}
	for _, n := range nodes {
		if n.GetKind() == "Secret" {
			present[n.GetName()] = true
		}
	}
	bySecret := map[string][]credentials.Credential{}
	var names []string
	for _, c := range creds {
		if _, seen := bySecret[c.SecretName]; !seen {
			names = append(names, c.SecretName)
		}
		bySecret[c.SecretName] = append(bySecret[c.SecretName], c)
	}
	sort.Strings(names)
	var out []*yaml.RNode
	switch backend := info.Site.Backend(); backend {
	case release.BackendChart:
		for _, p := range info.Catalog.Provided {
			if p.Kind == "Secret" {
				present[p.Name] = true // created elsewhere, not by dpps-render
			}
		}
		for _, name := range names {
			if present[name] {
				continue
			}
			data := map[string]string{}
			for _, c := range bySecret[name] {
				if len(c.Values) == 1 {
					data[c.Key] = c.Values[0]
				} else if len(c.Values) > 1 {
					return nil, fmt.Errorf("credential %s has %d different values in the stream; which one its Secret %s should hold is ambiguous", c.Name, len(c.Values), name)
				}
			}
			if len(data) > 0 {
				out = append(out, generatedSecret(name, data))
			}
		}
	case release.BackendExternalSecrets:
		store := info.Site.Secrets.SecretStore
		if store == nil || store.Name == "" {
			return nil, fmt.Errorf("secrets backend %s needs global.secrets.secretStore (%s)", backend, info.Origin)
		}
		// Only for Secrets a workload uses: asking the store for the
		// credentials of switched-off components would fail on every sync.
		used := referencedSecrets(nodes)
		for _, name := range names {
			if used[name] {
				out = append(out, f.externalSecret(name, bySecret[name], store))
			}
		}
	case release.BackendExisting:
	default:
		return nil, fmt.Errorf("unknown secrets backend %q (%s); valid: %s, %s, %s", backend, info.Origin, release.BackendChart, release.BackendExternalSecrets, release.BackendExisting)
	}
	return out, nil
}

func referencedSecrets(nodes []*yaml.RNode) map[string]bool {
	used := map[string]bool{}
	for _, n := range nodes {
		if spec := manifest.PodSpec(n.YNode()); spec != nil {
			for _, r := range manifest.References(spec, "") {
				if r.Kind == "Secret" {
					used[r.Name] = true
				}
			}
		}
	}
	return used
}

func generatedSecret(name string, data map[string]string) *yaml.RNode {
	s := yaml.MustParse("apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\ntype: Opaque\n")
	setGeneratedLabel(s)
	keys := slices.Sorted(maps.Keys(data))
	d := manifest.EnsureMap(s.YNode(), "data")
	for _, k := range keys {
		manifest.SetString(d, k, base64.StdEncoding.EncodeToString([]byte(data[k])))
	}
	return s
}

func (f *Filter) externalSecret(name string, creds []credentials.Credential, store *release.SecretStore) *yaml.RNode {
	kind := store.Kind
	if kind == "" {
		kind = "SecretStore"
	}
	es := yaml.MustParse("apiVersion: " + externalSecretAPIVersion + "\nkind: " + externalSecretKind + "\nmetadata:\n  name: " + name + "\n")
	setGeneratedLabel(es)
	spec := manifest.EnsureMap(es.YNode(), "spec")
	ref := manifest.EnsureMap(spec, "secretStoreRef")
	manifest.SetString(ref, "name", store.Name)
	manifest.SetString(ref, "kind", kind)
	target := manifest.EnsureMap(spec, "target")
	manifest.SetString(target, "name", name)
	manifest.SetString(target, "creationPolicy", "Owner")
	data := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	sort.Slice(creds, func(i, j int) bool { return creds[i].Key < creds[j].Key })
	for _, c := range creds {
		item := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		manifest.SetString(item, "secretKey", c.Key)
		remote := manifest.EnsureMap(item, "remoteRef")
		manifest.SetString(remote, "key", f.RemoteKeyPrefix+c.Name)
		data.Content = append(data.Content, item)
	}
	setField(spec, "data", data)
	return es
}

func setGeneratedLabel(n *yaml.RNode) {
	labels := manifest.EnsureMap(manifest.Field(n.YNode(), "metadata"), "labels")
	manifest.SetString(labels, "app.kubernetes.io/managed-by", "dpps-render")
	manifest.SetString(labels, GeneratedLabel, "secretrefs")
}

// appendReplacing appends generated objects after the stream, replacing an
// object of the same kind and name a previous run generated, so a second
// run adds nothing.
func appendReplacing(nodes, generated []*yaml.RNode) []*yaml.RNode {
	for _, g := range generated {
		replaced := false
		for i, n := range nodes {
			if n.GetKind() == g.GetKind() && n.GetName() == g.GetName() && n.GetLabels()[GeneratedLabel] == "secretrefs" {
				nodes[i] = g
				replaced = true
				break
			}
		}
		if !replaced {
			nodes = append(nodes, g)
		}
	}
	return nodes
}
