package pipeline

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The node budget bounds the memory a stream's YAML takes: a parsed node
// costs about 200 bytes, so nodes are what make a small input large, by
// density (`[a,a,a,...]` is a node every two bytes) or by aliases (a
// "billion laughs" document is a few hundred bytes). The whole stream may
// hold one node per bytesPerNode input bytes, plus baseNodes: manifests
// hold one per 12 to 30 bytes (the corpus of real renders), so the budget
// leaves them three times the room they need, and it holds the nodes of
// any input to about 50 bytes of memory per input byte. Aliases count as
// the copies they expand to, and are refused before they are expanded.
const (
	bytesPerNode = 5
	baseNodes    = 250_000
	// denseCheckBytes: a document larger than this, parsed alone, must
	// first show, by counting its structure characters, that it cannot
	// hold more nodes than the budget has left.
	denseCheckBytes = 1 << 20
)

// nodeBudget is what is left of a stream's node budget.
type nodeBudget struct{ total, left int64 }

func newNodeBudget(inputBytes int) *nodeBudget {
	n := int64(inputBytes)/bytesPerNode + baseNodes
	return &nodeBudget{total: n, left: n}
}

func (b *nodeBudget) why() string {
	return fmt.Sprintf("the stream may hold %d YAML nodes (one per %d input bytes, plus %d)", b.total, bytesPerNode, baseNodes)
}

// admit refuses, before it is parsed, a large document that may hold more
// nodes than are left.
func (b *nodeBudget) admit(c chunk, doc int) error {
	if len(c.text) <= denseCheckBytes {
		return nil
	}
	if most := maxNodes(c.text); most > b.left {
		return &InputError{Doc: doc, Source: c.source(), Line: c.firstLine,
			Msg: fmt.Sprintf("a document of %d bytes may hold up to %d YAML nodes, more than are left: %s; split it", len(c.text), most, b.why())}
	}
	return nil
}

// spend charges a parsed document's nodes.
func (b *nodeBudget) spend(d parsedDoc) error {
	if b.left -= d.nodes; b.left >= 0 {
		return nil
	}
	line := 0
	if len(d.doc.Content) > 0 {
		line = d.doc.Content[0].Line
	}
	if d.aliased {
		return &InputError{Line: d.aliasLine, Msg: "aliases expand to more YAML nodes than the budget has left, refused before expanding them: " + b.why()}
	}
	return &InputError{Line: line, Msg: "more YAML nodes than the budget allows: " + b.why()}
}

// maxNodes bounds the nodes YAML text can hold without parsing it: every
// node but a document's root starts after one of these characters or a
// line break, and each may bring an implicit null value with it.
func maxNodes(text []byte) int64 {
	n := int64(2)
	for _, c := range []byte(",[{:-?\n") {
		n += 2 * int64(bytes.Count(text, []byte{c}))
	}
	return n
}

// expandedSize is the number of nodes root holds once its aliases are
// expanded, counted without expanding them (each anchored node is counted
// once and its count reused), saturated far above any budget.
func expandedSize(root *yaml.Node) (int64, error) {
	const saturated = 1 << 50
	memo := map[*yaml.Node]int64{}
	var size func(n *yaml.Node, depth int) (int64, error)
	size = func(n *yaml.Node, depth int) (int64, error) {
		if depth > maxDepth {
			return 0, &InputError{Line: n.Line, Msg: fmt.Sprintf("aliases nest deeper than %d levels", maxDepth)}
		}
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if s, ok := memo[n]; ok {
			return s, nil
		}
		s := int64(1)
		for _, c := range n.Content {
			cs, err := size(c, depth+1)
			if err != nil {
				return 0, err
			}
			s = min(s+cs, saturated)
		}
		memo[n] = s
		return s, nil
	}
	return size(root, 0)
}
