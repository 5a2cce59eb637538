package manifest

import "sigs.k8s.io/kustomize/kyaml/yaml"

// Reference is one object a pod spec names.
type Reference struct {
	Kind, Name string
	Path       string     // field path of the name
	Optional   *yaml.Node // the reference's optional field, if any
}

func str(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// References lists every ConfigMap, Secret and ServiceAccount a pod spec
// names, with field paths below base: volumes and projections, env and
// envFrom, imagePullSecrets, serviceAccountName.
func References(spec *yaml.Node, base string) []Reference {
	var out []Reference
	add := func(kind string, holder *yaml.Node, nameKey, path string) {
		out = append(out, Reference{kind, str(Field(holder, nameKey)), path + "." + nameKey, Field(holder, "optional")})
	}
	if sa := Field(spec, "serviceAccountName"); sa != nil {
		out = append(out, Reference{"ServiceAccount", sa.Value, base + ".serviceAccountName", nil})
	}
	forEach(Field(spec, "imagePullSecrets"), func(e *yaml.Node, p string) {
		add("Secret", e, "name", base+".imagePullSecrets"+p)
	})
	forEach(Field(spec, "volumes"), func(v *yaml.Node, p string) {
		vp := base + ".volumes" + p
		if s := Field(v, "secret"); s != nil {
			add("Secret", s, "secretName", vp+".secret")
		}
		if c := Field(v, "configMap"); c != nil {
			add("ConfigMap", c, "name", vp+".configMap")
		}
		forEach(Path(v, "projected", "sources"), func(src *yaml.Node, sp string) {
			if s := Field(src, "secret"); s != nil {
				add("Secret", s, "name", vp+".projected.sources"+sp+".secret")
			}
			if c := Field(src, "configMap"); c != nil {
				add("ConfigMap", c, "name", vp+".projected.sources"+sp+".configMap")
			}
		})
	})
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		forEach(Field(spec, key), func(c *yaml.Node, p string) {
			cp := base + "." + key + p
			forEach(Field(c, "envFrom"), func(src *yaml.Node, sp string) {
				if s := Field(src, "secretRef"); s != nil {
					add("Secret", s, "name", cp+".envFrom"+sp+".secretRef")
				}
				if cm := Field(src, "configMapRef"); cm != nil {
					add("ConfigMap", cm, "name", cp+".envFrom"+sp+".configMapRef")
				}
			})
			forEach(Field(c, "env"), func(e *yaml.Node, ep string) {
				vf := Field(e, "valueFrom")
				if s := Field(vf, "secretKeyRef"); s != nil {
					add("Secret", s, "name", cp+".env"+ep+".valueFrom.secretKeyRef")
				}
				if cm := Field(vf, "configMapKeyRef"); cm != nil {
					add("ConfigMap", cm, "name", cp+".env"+ep+".valueFrom.configMapKeyRef")
				}
			})
		})
	}
	return out
}

func forEach(list *yaml.Node, fn func(elem *yaml.Node, path string)) {
	if list == nil || list.Kind != yaml.SequenceNode {
		return
	}
	for i, e := range list.Content {
		fn(e, ElementName(e, i))
	}
}
