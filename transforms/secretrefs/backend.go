package secretrefs

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sort"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// backendObjects returns the objects the site's backend needs so that every
// credential's Secret exists: Secrets for values found outside any Secret
// (backend chart), ExternalSecrets (external-secrets), nothing (existing).
func (f *Filter) backendObjects(nodes []*yaml.RNode, creds credentials.Set, info *release.Info) ([]*yaml.RNode, error) {
	// A Secret a previous run generated is generated again and replaces the
	// copy in the input, which provenance, running first, has stamped: so a
	// second run gives the same bytes.
	present := map[string]bool{}
	for _, n := range nodes {
		if manifest.Kind(n) == "Secret" && n.GetLabels()[GeneratedLabel] != "secretrefs" {
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
		used := usedSecretKeys(nodes)
		for _, name := range names {
			keys, ok := used[name]
			if !ok {
				continue
			}
			var wanted []credentials.Credential
			for _, c := range bySecret[name] {
				if keys == nil || keys[c.Key] {
					wanted = append(wanted, c)
				}
			}
			if len(wanted) > 0 {
				out = append(out, f.externalSecret(name, wanted, store))
			}
		}
	case release.BackendExisting:
	default:
		return nil, fmt.Errorf("unknown secrets backend %q (%s); valid: %s, %s, %s", backend, info.Origin, release.BackendChart, release.BackendExternalSecrets, release.BackendExisting)
	}
	return out, nil
}

// usedSecretKeys maps every Secret a pod spec uses to the keys it reads:
// nil when it uses them all (a volume without items, envFrom).
func usedSecretKeys(nodes []*yaml.RNode) map[string]map[string]bool {
	used := map[string]map[string]bool{}
	use := func(name string, keys []string) {
		if name == "" {
			return
		}
		if keys == nil {
			used[name] = nil
			return
		}
		have, seen := used[name]
		if seen && have == nil {
			return // already all
		}
		if have == nil {
			have = map[string]bool{}
			used[name] = have
		}
		for _, k := range keys {
			have[k] = true
		}
	}
	itemKeys := func(src *yaml.Node) []string {
		items := manifest.Field(src, "items")
		if items == nil || items.Kind != yaml.SequenceNode {
			return nil
		}
		keys := []string{}
		for _, it := range items.Content {
			if k := manifest.Field(it, "key"); k != nil {
				keys = append(keys, k.Value)
			}
		}
		return keys
	}
	name := func(n *yaml.Node, key string) string {
		if v := manifest.Field(n, key); v != nil {
			return v.Value
		}
		return ""
	}
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		if spec == nil {
			continue
		}
		if vols := manifest.Field(spec, "volumes"); vols != nil {
			for _, v := range vols.Content {
				if s := manifest.Field(v, "secret"); s != nil {
					use(name(s, "secretName"), itemKeys(s))
				}
				if sources := manifest.Path(v, "projected", "sources"); sources != nil {
					for _, src := range sources.Content {
						if s := manifest.Field(src, "secret"); s != nil {
							use(name(s, "name"), itemKeys(s))
						}
					}
				}
			}
		}
		for _, c := range manifest.Containers(spec) {
			if envFrom := manifest.Field(c, "envFrom"); envFrom != nil {
				for _, src := range envFrom.Content {
					if ref := manifest.Field(src, "secretRef"); ref != nil {
						use(name(ref, "name"), nil)
					}
				}
			}
			if env := manifest.Field(c, "env"); env != nil {
				for _, e := range env.Content {
					if ref := manifest.Path(e, "valueFrom", "secretKeyRef"); ref != nil {
						use(name(ref, "name"), []string{name(ref, "key")})
					}
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
		kind = catalog.DefaultSecretStoreKind
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
