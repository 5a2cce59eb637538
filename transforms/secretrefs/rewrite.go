package secretrefs

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

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
		if manifest.Kind(n) == "Secret" {
			r.secrets[n.GetName()] = n
		}
	}
}

// convertConfigMaps turns every ConfigMap that holds a credential into a
// Secret of the same name.
func (r *rewrite) convertConfigMaps(nodes []*yaml.RNode) error {
	r.converted, r.binary = map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		if manifest.Kind(n) != "ConfigMap" || n.GetApiVersion() != "v1" || !r.holdsCredential(n) {
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
	if data := manifest.Field(cm.YNode(), "data"); data != nil && data.Kind == yaml.MappingNode {
		for i := 1; i < len(data.Content); i += 2 {
			if _, _, ok := r.creds.Match(data.Content[i].Value); ok {
				return true
			}
		}
	}
	if data := manifest.Field(cm.YNode(), "binaryData"); data != nil && data.Kind == yaml.MappingNode {
		for i := 1; i < len(data.Content); i += 2 {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data.Content[i].Value))
			if err != nil {
				continue
			}
			if _, _, ok := r.creds.Match(string(b)); ok {
				return true
			}
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
		if manifest.Kind(n) != "Secret" || canonical[n.GetName()] {
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
	return r.commandArgs(c) || changed, nil
}

// commandArgs replaces a credential in command or args by $(DPPS_CRED_X),
// which the kubelet expands from the container's environment, and adds
// that variable, read from the credential's Secret, to the environment.
func (r *rewrite) commandArgs(c *yaml.Node) bool {
	defined := map[string]bool{}
	env := manifest.Field(c, "env")
	if env != nil && env.Kind == yaml.SequenceNode {
		for _, e := range env.Content {
			if name := manifest.Field(e, "name"); name != nil {
				defined[name.Value] = true
			}
		}
	}
	var added []*yaml.Node
	changed := false
	for _, key := range []string{"command", "args"} {
		list := manifest.Field(c, key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, a := range list.Content {
			if a.Kind != yaml.ScalarNode {
				continue
			}
			if _, _, ok := r.creds.Match(a.Value); !ok {
				continue
			}
			text, used := r.replace(a.Value)
			for _, cr := range used {
				if !defined[cr.EnvName()] {
					added = append(added, secretEnv(cr.EnvName(), cr.SecretName, cr.Key))
					defined[cr.EnvName()] = true
				}
			}
			// In place: the arg keeps its quoting and comments.
			a.Value, a.Tag = text, "!!str"
			changed = true
		}
	}
	if len(added) > 0 {
		if env == nil || env.Kind != yaml.SequenceNode {
			env = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			setField(c, "env", env)
		}
		env.Content = append(env.Content, added...)
	}
	return changed
}

// replace puts $(DPPS_CRED_X) in place of every credential value in text:
// the whole text when it is one, else every value long enough to be found
// inside a longer text. It returns the credentials it replaced.
func (r *rewrite) replace(text string) (string, []credentials.Credential) {
	if c, whole, ok := r.creds.Match(text); ok && whole {
		return "$(" + c.EnvName() + ")", []credentials.Credential{c}
	}
	var used []credentials.Credential
	for _, c := range r.creds {
		hit := false
		for _, val := range c.Values {
			if len(val) >= credentials.MinEmbedded && strings.Contains(text, val) {
				text = strings.ReplaceAll(text, val, "$("+c.EnvName()+")")
				hit = true
			}
		}
		if hit {
			used = append(used, c)
		}
	}
	return text, used
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
					text, used := r.replace(v.Value)
					for _, c := range used {
						if !defined[c.EnvName()] {
							out = append(out, secretEnv(c.EnvName(), c.SecretName, c.Key))
							defined[c.EnvName()] = true
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
