package pipeline

import (
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// resolveMerges replaces every merge key (`<<`) by the keys it brings, as
// Kubernetes' reader (sigs.k8s.io/yaml, yaml.v2) does when it decodes:
// otherwise a transform that adds `labels:` to a metadata that got its
// labels from a merge would hide them. It runs after expandAliases, so
// every merged mapping is a copy of its own and its nodes can be moved.
//
// yaml.v2 applies a mapping's keys in order, a merge key setting each key
// it brings, so a key written before `<<` is overridden by a merged one,
// where YAML 1.2 readers keep the written one; that one case is refused
// rather than guessed. Of several mappings merged at once, the first
// wins, as both read it.
func resolveMerges(n *yaml.Node, depth int) error {
	for _, c := range n.Content {
		if err := resolveMerges(c, depth+1); err != nil {
			return err
		}
	}
	if n.Kind != yaml.MappingNode || !hasMergeKey(n) {
		return nil
	}
	var out []*yaml.Node
	at := map[string]int{} // key text -> index of its value in out
	written := map[string]bool{}
	set := func(k, v *yaml.Node) {
		if i, ok := at[k.Value]; ok {
			out[i] = v
			return
		}
		at[k.Value] = len(out) + 1
		out = append(out, k, v)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			set(k, v)
			written[k.Value] = true
			continue
		}
		var sources []*yaml.Node
		switch v.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{v}
		case yaml.SequenceNode:
			for j := len(v.Content) - 1; j >= 0; j-- {
				sources = append(sources, v.Content[j])
			}
		}
		if len(sources) == 0 {
			return &InputError{Line: k.Line, Msg: "a merge key (<<) must name a mapping or a sequence of mappings"}
		}
		for _, src := range sources {
			if src.Kind != yaml.MappingNode {
				return &InputError{Line: src.Line, Msg: "a merge key (<<) must name a mapping or a sequence of mappings"}
			}
			for j := 0; j+1 < len(src.Content); j += 2 {
				if written[src.Content[j].Value] {
					return &InputError{Line: src.Content[j].Line, Msg: "key " + strconv.Quote(src.Content[j].Value) + " is written before a merge key (<<) that sets it again: Kubernetes takes the merged value, YAML 1.2 readers the written one; write it after the merge key"}
				}
				set(src.Content[j], src.Content[j+1])
			}
		}
	}
	n.Content = out
	return nil
}

func hasMergeKey(m *yaml.Node) bool {
	for i := 0; i < len(m.Content); i += 2 {
		if isMergeKey(m.Content[i]) {
			return true
		}
	}
	return false
}

// isMergeKey is yaml.v2's test: a plain `<<`, or one tagged !!merge.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || (k.Style == 0 && k.Tag == ""))
}
