package secretrefs

import (
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
)

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
