// Package krm runs dpps-render's pipeline as a KRM function: it reads a
// ResourceList (config.kubernetes.io/v1) from its input, as kustomize
// (`transformers:` with an exec function, `kustomize build --enable-exec`)
// and kpt send it, and writes a ResourceList back.
//
// The items go through transforms/pipeline unchanged in meaning: they are
// written out as the stream a post-renderer would receive, one document per
// item, and pipeline.Transform reads and transforms them, so ordering
// (input items first, in order; generated objects after them, in a fixed
// order), determinism, List expansion, duplicate-key and missing-field
// errors, and "nothing is written on failure" are pipeline's own.
//
// The function config is dpps-render's config file (the schema in
// schema/dpps-render.config.schema.json), given in one of two shapes:
//
//	# a typed object: the config's fields at top level
//	apiVersion: dpps.ctao.org/v1alpha1
//	kind: RenderConfig
//	metadata: {name: dpps-render}
//	transforms: [imagelock, provenance, secretrefs, netpol, externals, monitoring, guards]
//	provenance: {chart: dpps-0.1.0}
//
//	# a ConfigMap: the config file's text under the key config.yaml
//	apiVersion: v1
//	kind: ConfigMap
//	metadata: {name: dpps-render}
//	data:
//	  config.yaml: |
//	    provenance: {chart: dpps-0.1.0}
//
// No function config (or a ConfigMap without data) means the defaults, as a
// post-renderer run without --config.
package krm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// The ResourceList kind and the API versions accepted. kustomize and kpt 1.0
// send v1; kpt before 1.0 sent v1alpha1.
const (
	Kind       = "ResourceList"
	APIVersion = "config.kubernetes.io/v1"
	apiV1Alpha = "config.kubernetes.io/v1alpha1"

	// ConfigAPIVersion and ConfigKind name the typed function config.
	ConfigAPIVersion = "dpps.ctao.org/v1alpha1"
	ConfigKind       = "RenderConfig"
	// ConfigMapKey is the ConfigMap data key holding the config file's text.
	ConfigMapKey = "config.yaml"
)

// IsResourceList reports whether data is a single YAML document of kind
// ResourceList, which is how a KRM function is invoked. Anything else (a
// stream of manifests, a stream that holds a ResourceList among other
// documents, invalid YAML) is not, and goes to the post-renderer path.
func IsResourceList(data []byte) bool {
	if !bytes.Contains(data, []byte(Kind)) {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return false
	}
	var rest yaml.Node
	if err := dec.Decode(&rest); !errors.Is(err, io.EOF) {
		return false
	}
	n := yaml.NewRNode(&doc)
	if n.YNode().Kind != yaml.MappingNode {
		return false
	}
	return n.GetKind() == Kind && (n.GetApiVersion() == APIVersion || n.GetApiVersion() == apiV1Alpha)
}

// Input is a parsed ResourceList.
type Input struct {
	Items []*yaml.RNode
	// FunctionConfig is nil when the list has none (or it is null).
	FunctionConfig *yaml.RNode
}

// Read parses a ResourceList. Its items are returned as parsed, without
// the checks pipeline applies (Run applies them).
func Read(data []byte) (*Input, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("ResourceList: invalid YAML: %w", err)
	}
	rl := yaml.NewRNode(&doc)
	if rl.YNode().Kind != yaml.MappingNode || rl.GetKind() != Kind {
		return nil, errors.New("input is not a ResourceList")
	}
	// Keys written twice are found here, where the lines are the input's:
	// the items and the function config are re-encoded before they are
	// read again.
	if items := rl.Field("items"); items != nil && items.Value.YNode().Kind == yaml.SequenceNode {
		for i, it := range items.Value.YNode().Content {
			if k, first := duplicateKey(it); k != nil {
				return nil, &ItemError{Item: i + 1, Line: it.Line, Msg: fmt.Sprintf("duplicate key %q at line %d (first at line %d)", k.Value, k.Line, first.Line)}
			}
		}
	}
	if k, first := duplicateKey(rl.YNode()); k != nil {
		return nil, fmt.Errorf("ResourceList, line %d: duplicate key %q (first at line %d)", k.Line, k.Value, first.Line)
	}
	in := &Input{}
	if items := rl.Field("items"); items != nil && !isNull(items.Value) {
		if items.Value.YNode().Kind != yaml.SequenceNode {
			return nil, errors.New("ResourceList: items is not a list")
		}
		for _, it := range items.Value.YNode().Content {
			in.Items = append(in.Items, yaml.NewRNode(it))
		}
	}
	if fc := rl.Field("functionConfig"); fc != nil && !isNull(fc.Value) {
		in.FunctionConfig = fc.Value
	}
	return in, nil
}

func isNull(n *yaml.RNode) bool {
	return n == nil || n.YNode() == nil || n.YNode().Tag == yaml.NodeTagNull
}

// Config returns the dpps-render config a function config holds (see the
// package documentation for the two shapes); nil fc gives the defaults.
func Config(fc *yaml.RNode) (*transforms.Config, error) {
	if fc == nil {
		return &transforms.Config{}, nil
	}
	if fc.YNode().Kind != yaml.MappingNode {
		return nil, errors.New("functionConfig is not an object")
	}
	kind, api, name := fc.GetKind(), fc.GetApiVersion(), fc.GetName()
	what := fmt.Sprintf("functionConfig %s/%s", kind, name)
	switch {
	case kind == "ConfigMap" && api == "v1":
		data := fc.GetDataMap()
		var text string
		for k, v := range data {
			if k != ConfigMapKey {
				return nil, fmt.Errorf("%s: unexpected data key %q (the config file's text goes under %q)", what, k, ConfigMapKey)
			}
			text = v
		}
		return transforms.LoadConfig(what+" data."+ConfigMapKey, []byte(text))
	case kind == ConfigKind && api == ConfigAPIVersion:
		body := fc.Copy()
		for _, f := range []string{"apiVersion", "kind", "metadata"} {
			if err := body.PipeE(yaml.Clear(f)); err != nil {
				return nil, err
			}
		}
		text, err := body.String()
		if err != nil {
			return nil, err
		}
		if len(body.YNode().Content) == 0 {
			text = ""
		}
		return transforms.LoadConfig(what, []byte(text))
	default:
		return nil, fmt.Errorf("%s: unsupported functionConfig %s %s: want a ConfigMap (the config under data.%s) or %s %s",
			what, api, kind, ConfigMapKey, ConfigAPIVersion, ConfigKind)
	}
}

// duplicateKey finds a key written twice in a mapping under n, and the
// first of the two.
func duplicateKey(n *yaml.Node) (key, first *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if f, dup := seen[k.Value]; dup {
				return k, f
			}
			seen[k.Value] = k
		}
	}
	for _, c := range n.Content {
		if k, f := duplicateKey(c); k != nil {
			return k, f
		}
	}
	return nil, nil
}

// ItemError locates a problem in one item of the ResourceList.
type ItemError struct {
	Item   int    // 1-based index in items
	Line   int    // line of the item's first key in the input, 0 if unknown
	Source string // the template, as pipeline.InputError found it
	Msg    string
}

func (e *ItemError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ResourceList item %d", e.Item)
	if e.Source != "" {
		fmt.Fprintf(&b, " (%s)", e.Source)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ", starting at line %d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Run runs steps over the items of the ResourceList in data and writes the
// resulting ResourceList to out, with the post-renderer's caps on the
// items (pipeline.Limits). As with the post-renderer, nothing is written
// when a step fails.
func Run(in *Input, out io.Writer, steps []pipeline.Step, limits pipeline.Limits) (pipeline.Stats, error) {
	var stream bytes.Buffer
	if err := pipeline.Write(&stream, in.Items); err != nil {
		return pipeline.Stats{}, err
	}
	nodes, stats, err := pipeline.Transform(&stream, steps, limits)
	if err != nil {
		var ie *pipeline.InputError
		if errors.As(err, &ie) && ie.Doc >= 1 && ie.Doc <= len(in.Items) {
			return stats, &ItemError{Item: ie.Doc, Line: in.Items[ie.Doc-1].YNode().Line, Source: ie.Source, Msg: ie.Msg}
		}
		return stats, err
	}
	var buf bytes.Buffer
	if err := Write(&buf, nodes); err != nil {
		return stats, err
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		return stats, fmt.Errorf("writing output: %w", err)
	}
	return stats, nil
}

// Write encodes nodes as a ResourceList, in their order, with kyaml's style.
func Write(w io.Writer, nodes []*yaml.RNode) error {
	items := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
	for _, n := range nodes {
		items.Content = append(items.Content, n.YNode())
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: v} }
	rl := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: []*yaml.Node{
		str("apiVersion"), str(APIVersion),
		str("kind"), str(Kind),
		str("items"), items,
	}}
	enc := yaml.NewEncoderWithOptions(w, &yaml.EncoderOptions{SeqIndent: yaml.CompactSequenceStyle})
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{rl}}); err != nil {
		return fmt.Errorf("encoding the ResourceList: %w", err)
	}
	return enc.Close()
}
