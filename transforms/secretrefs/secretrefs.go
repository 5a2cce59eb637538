// Package secretrefs replaces plaintext credentials in rendered manifests by
// references to the Secrets the interface catalog declares for them:
//   - an env value equal to a credential becomes a secretKeyRef;
//   - an env value that embeds one (a DSN) gets a secret-backed variable
//     inserted before it and refers to it with $(VAR), so the container sees
//     the same string;
//   - a ConfigMap that holds one becomes a Secret of the same name, and
//     every reference to it follows;
//   - a Secret that only repeats credentials of another Secret is removed
//     and its references repointed;
//   - a credential anywhere else (command, args, annotations, ...) is an
//     error naming the object and field, never the value.
//
// It then makes sure each credential's Secret will exist, as the site's
// secrets backend says: rendered by the chart, an ExternalSecret against the
// site's store, or created beforehand by a site admin.
package secretrefs

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

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
		return nil, err
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
		if !r.removed[n.GetName()] || n.GetKind() != "Secret" {
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

// rewrite holds what one run learnt about the stream.
type rewrite struct {
	creds   credentials.Set
	secrets map[string]*yaml.RNode
	// converted ConfigMaps, now Secrets of the same name, and those of them
	// that had binaryData.
	converted, binary map[string]bool
	// removed duplicate Secrets, and where their keys went.
	removed map[string]bool
	moved   map[string]map[string]secretKey // old Secret -> old key -> new place
	changed map[*yaml.RNode]bool
}

type secretKey struct{ name, key string }

func (r *rewrite) index(nodes []*yaml.RNode) {
	r.secrets = map[string]*yaml.RNode{}
	for _, n := range nodes {
		if n.GetKind() == "Secret" {
			r.secrets[n.GetName()] = n
		}
	}
}

// convertConfigMaps turns every ConfigMap that holds a credential into a
// Secret of the same name.
func (r *rewrite) convertConfigMaps(nodes []*yaml.RNode) error {
	r.converted, r.binary = map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		if n.GetKind() != "ConfigMap" || n.GetApiVersion() != "v1" || !r.holdsCredential(n) {
			continue
		}
		if _, clash := r.secrets[n.GetName()]; clash {
			return fmt.Errorf("%s holds a credential and cannot become a Secret: a Secret named %s exists already", manifest.Describe(n), n.GetName())
		}
		obj := n.YNode()
		r.binary[n.GetName()] = manifest.Field(obj, "binaryData") != nil
		if err := configMapToSecret(obj); err != nil {
			return fmt.Errorf("%s: %w", manifest.Describe(n), err)
		}
		r.converted[n.GetName()] = true
		r.secrets[n.GetName()] = n
		r.changed[n] = true
	}
	return nil
}

func (r *rewrite) holdsCredential(cm *yaml.RNode) bool {
	data := manifest.Field(cm.YNode(), "data")
	if data == nil || data.Kind != yaml.MappingNode {
		return false
	}
	for i := 1; i < len(data.Content); i += 2 {
		if _, _, ok := r.creds.Match(data.Content[i].Value); ok {
			return true
		}
	}
	return false
}

// configMapToSecret rewrites a ConfigMap in place into an Opaque Secret with
// the same data: data is base64-encoded, binaryData already is.
func configMapToSecret(obj *yaml.Node) error {
	for i := 0; i+1 < len(obj.Content); i += 2 {
		k, v := obj.Content[i], obj.Content[i+1]
		switch k.Value {
		case "kind":
			obj.Content[i+1] = manifest.StringNode("Secret")
		case "data":
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("data is not a mapping")
			}
			for j := 1; j < len(v.Content); j += 2 {
				v.Content[j] = manifest.StringNode(base64.StdEncoding.EncodeToString([]byte(v.Content[j].Value)))
			}
		}
	}
	// binaryData values are base64 already: they move into data as they are.
	var data, binary *yaml.Node
	kept := obj.Content[:0]
	for i := 0; i+1 < len(obj.Content); i += 2 {
		switch obj.Content[i].Value {
		case "binaryData":
			binary = obj.Content[i+1]
			continue
		case "data":
			data = obj.Content[i+1]
		}
		kept = append(kept, obj.Content[i], obj.Content[i+1])
	}
	obj.Content = kept
	if binary != nil && binary.Kind == yaml.MappingNode {
		if data == nil {
			data = manifest.EnsureMap(obj, "data")
		}
		data.Content = append(data.Content, binary.Content...)
	}
	manifest.SetString(obj, "type", "Opaque")
	return nil
}

// findDuplicates marks Secrets whose every key holds, whole, a credential
// that lives in one other Secret: they repeat it (one copy per subchart)
// and are removed, their references repointed.
func (r *rewrite) findDuplicates(nodes []*yaml.RNode, info *release.Info) {
	r.removed = map[string]bool{}
	r.moved = map[string]map[string]secretKey{}
	canonical := map[string]bool{}
	for _, c := range r.creds {
		canonical[c.SecretName] = true
	}
	for _, n := range nodes {
		// A converted ConfigMap is a Secret now, and a candidate too: left
		// in place, the next run would remove it, and rendering the output
		// again would change it.
		if n.GetKind() != "Secret" || canonical[n.GetName()] {
			continue
		}
		data := credentials.SecretData(n)
		if len(data) == 0 {
			continue
		}
		keys := map[string]secretKey{}
		target := ""
		for k, v := range data {
			c, whole, ok := r.creds.Match(v)
			if !ok || !whole || (target != "" && target != c.SecretName) {
				keys = nil
				break
			}
			target = c.SecretName
			keys[k] = secretKey{c.SecretName, c.Key}
		}
		if keys == nil {
			continue
		}
		// The Secret repeated must exist: rendered, or provided by the
		// site's backend.
		if _, rendered := r.secrets[target]; !rendered && info.Site.Backend() == release.BackendChart {
			continue
		}
		r.removed[n.GetName()] = true
		r.moved[n.GetName()] = keys
	}
}

// podSpec repoints a pod spec's references and rewrites its containers.
func (r *rewrite) podSpec(obj *yaml.RNode, spec *yaml.Node) error {
	path := manifest.PodSpecPath(obj.YNode())
	changed := false
	if vols := manifest.Field(spec, "volumes"); vols != nil && vols.Kind == yaml.SequenceNode {
		for _, v := range vols.Content {
			changed = r.volume(v) || changed
		}
	}
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list := manifest.Field(spec, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range list.Content {
			if c.Kind != yaml.MappingNode {
				continue
			}
			cpath := path + "." + key + manifest.ElementName(c, i)
			ch, err := r.container(obj, c, cpath)
			if err != nil {
				return err
			}
			changed = ch || changed
		}
	}
	if changed {
		r.changed[obj] = true
	}
	return nil
}

// volume repoints a configMap, secret or projected volume.
func (r *rewrite) volume(v *yaml.Node) bool {
	changed := false
	if cm := manifest.Field(v, "configMap"); cm != nil {
		if name := manifest.Field(cm, "name"); name != nil && r.converted[name.Value] {
			renameKey(v, "configMap", "secret")
			renameKey(cm, "name", "secretName")
			changed = true
		}
	}
	if s := manifest.Field(v, "secret"); s != nil {
		changed = r.repointSecretSource(s, "secretName") || changed
	}
	if sources := manifest.Path(v, "projected", "sources"); sources != nil && sources.Kind == yaml.SequenceNode {
		for _, src := range sources.Content {
			if cm := manifest.Field(src, "configMap"); cm != nil {
				if name := manifest.Field(cm, "name"); name != nil && r.converted[name.Value] {
					renameKey(src, "configMap", "secret")
					changed = true
				}
			}
			if s := manifest.Field(src, "secret"); s != nil {
				changed = r.repointSecretSource(s, "name") || changed
			}
		}
	}
	return changed
}

// repointSecretSource points a secret volume or projection at the Secret
// a removed duplicate repeated, mapping its keys to the old file names.
func (r *rewrite) repointSecretSource(src *yaml.Node, nameKey string) bool {
	name := manifest.Field(src, nameKey)
	if name == nil || !r.removed[name.Value] {
		return false
	}
	moved := r.moved[name.Value]
	items := manifest.Field(src, "items")
	if items == nil || items.Kind != yaml.SequenceNode {
		// Every key was mounted as a file named after it: list them.
		items = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		oldKeys := slices.Sorted(maps.Keys(moved))
		for _, k := range oldKeys {
			item := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			manifest.SetString(item, "key", k)
			manifest.SetString(item, "path", k)
			items.Content = append(items.Content, item)
		}
		setField(src, "items", items)
	}
	target := ""
	for _, item := range items.Content {
		if key := manifest.Field(item, "key"); key != nil {
			if to, ok := moved[key.Value]; ok {
				target = to.name
				manifest.SetString(item, "key", to.key)
			}
		}
	}
	manifest.SetString(src, nameKey, target)
	return true
}

// container rewrites one container's env, envFrom, command and args.
func (r *rewrite) container(obj *yaml.RNode, c *yaml.Node, path string) (bool, error) {
	changed := false
	var fromEnvFrom []*yaml.Node // env entries replacing a removed Secret's envFrom
	if envFrom := manifest.Field(c, "envFrom"); envFrom != nil && envFrom.Kind == yaml.SequenceNode {
		kept := envFrom.Content[:0]
		for _, src := range envFrom.Content {
			if ref := manifest.Field(src, "configMapRef"); ref != nil {
				if name := manifest.Field(ref, "name"); name != nil && r.converted[name.Value] {
					if r.binary[name.Value] {
						return false, fmt.Errorf("%s: %s.envFrom: ConfigMap %s holds a credential and binaryData; as a Secret its binary keys would join the environment: mount it as a volume instead",
							manifest.Describe(obj), path, name.Value)
					}
					renameKey(src, "configMapRef", "secretRef")
					changed = true
				}
			}
			if ref := manifest.Field(src, "secretRef"); ref != nil {
				if name := manifest.Field(ref, "name"); name != nil && r.removed[name.Value] {
					prefix := ""
					if p := manifest.Field(src, "prefix"); p != nil {
						prefix = p.Value
					}
					fromEnvFrom = append(fromEnvFrom, r.envFromMoved(name.Value, prefix)...)
					changed = true
					continue
				}
			}
			kept = append(kept, src)
		}
		envFrom.Content = kept
		if len(kept) == 0 {
			deleteField(c, "envFrom")
		}
	}
	env := manifest.Field(c, "env")
	if len(fromEnvFrom) > 0 {
		if env == nil || env.Kind != yaml.SequenceNode {
			env = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			setField(c, "env", env)
		}
		// First, so explicit env entries still override them as they
		// overrode envFrom.
		env.Content = append(fromEnvFrom, env.Content...)
	}
	if env != nil && env.Kind == yaml.SequenceNode {
		ch, err := r.env(obj, env, path+".env")
		if err != nil {
			return false, err
		}
		changed = ch || changed
	}
	for _, key := range []string{"command", "args"} {
		list := manifest.Field(c, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, a := range list.Content {
			if cred, _, ok := r.creds.Match(a.Value); ok {
				return false, fmt.Errorf("%s: %s.%s[%d] holds the credential %s, which cannot be replaced by a Secret reference there: pass it through an environment variable ($(VAR) in %s)",
					manifest.Describe(obj), path, key, i, cred.Name, key)
			}
		}
	}
	return changed, nil
}

// envFromMoved lists env entries for every key a removed Secret held.
func (r *rewrite) envFromMoved(secret, prefix string) []*yaml.Node {
	moved := r.moved[secret]
	keys := slices.Sorted(maps.Keys(moved))
	out := make([]*yaml.Node, 0, len(keys))
	for _, k := range keys {
		out = append(out, secretEnv(prefix+k, moved[k].name, moved[k].key))
	}
	return out
}

// env rewrites the entries of one env list.
func (r *rewrite) env(obj *yaml.RNode, env *yaml.Node, path string) (bool, error) {
	changed := false
	defined := map[string]bool{}
	var out []*yaml.Node
	for i, e := range env.Content {
		name := manifest.Field(e, "name")
		epath := path + manifest.ElementName(e, i)
		if vf := manifest.Field(e, "valueFrom"); vf != nil {
			changed = r.valueFrom(vf) || changed
		}
		if v := manifest.Field(e, "value"); v != nil && v.Kind == yaml.ScalarNode {
			if cred, whole, ok := r.creds.Match(v.Value); ok {
				if name == nil {
					return false, fmt.Errorf("%s: %s holds the credential %s in an env entry without a name", manifest.Describe(obj), epath, cred.Name)
				}
				changed = true
				if whole {
					deleteField(e, "value")
					ref := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
					setField(ref, "secretKeyRef", secretKeyRef(cred.SecretName, cred.Key))
					setField(e, "valueFrom", ref)
				} else {
					text := v.Value
					for _, c := range r.creds {
						for _, val := range c.Values {
							if len(val) < credentials.MinEmbedded || !strings.Contains(text, val) {
								continue
							}
							if !defined[c.EnvName()] {
								out = append(out, secretEnv(c.EnvName(), c.SecretName, c.Key))
								defined[c.EnvName()] = true
							}
							text = strings.ReplaceAll(text, val, "$("+c.EnvName()+")")
						}
					}
					manifest.SetString(e, "value", text)
				}
			}
		}
		if name != nil {
			defined[name.Value] = true
		}
		out = append(out, e)
	}
	env.Content = out
	return changed, nil
}

// valueFrom repoints a configMapKeyRef to a converted ConfigMap, and a
// secretKeyRef to a removed duplicate.
func (r *rewrite) valueFrom(vf *yaml.Node) bool {
	if ref := manifest.Field(vf, "configMapKeyRef"); ref != nil {
		if name := manifest.Field(ref, "name"); name != nil && r.converted[name.Value] {
			renameKey(vf, "configMapKeyRef", "secretKeyRef")
			r.valueFrom(vf) // repointed too when the converted Secret is removed
			return true
		}
	}
	if ref := manifest.Field(vf, "secretKeyRef"); ref != nil {
		name, key := manifest.Field(ref, "name"), manifest.Field(ref, "key")
		if name != nil && key != nil && r.removed[name.Value] {
			if to, ok := r.moved[name.Value][key.Value]; ok {
				manifest.SetString(ref, "name", to.name)
				manifest.SetString(ref, "key", to.key)
				return true
			}
		}
	}
	return false
}

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

func secretKeyRef(name, key string) *yaml.Node {
	ref := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	manifest.SetString(ref, "name", name)
	manifest.SetString(ref, "key", key)
	return ref
}

func secretEnv(envName, secret, key string) *yaml.Node {
	e := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	manifest.SetString(e, "name", envName)
	vf := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	setField(vf, "secretKeyRef", secretKeyRef(secret, key))
	setField(e, "valueFrom", vf)
	return e
}

func renameKey(m *yaml.Node, from, to string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == from {
			m.Content[i] = manifest.StringNode(to)
		}
	}
}

func setField(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, manifest.StringNode(key), v)
}

func deleteField(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
