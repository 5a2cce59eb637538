// Package manifest holds what transforms need to know about rendered Helm
// manifests: where an object came from and where its pods and containers are.
// It works on yaml.Node directly: the kyaml path helpers allocate per call,
// and these run on every object of every stream.
package manifest

import (
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// HelmFilenameAnnotation is stamped by Helm 4 on every document it sends to a
// post-renderer; Helm strips it again afterwards.
const HelmFilenameAnnotation = "postrenderer.helm.sh/postrender-filename"

// SourceAnnotation holds the template path on the object itself, as in
// Helm's "# Source:": the dpps chart stamps it on every object it renders,
// and the provenance transform on every object whose template it knows. It
// is what survives tools that drop comments (kustomize).
const SourceAnnotation = "dpps.ctao.org/source"

// HookAnnotation marks a Helm hook object; its value lists the hook events.
const HookAnnotation = "helm.sh/hook"

// SourceComment finds Helm 3's "# Source: <template>" line in text and
// returns the template; it reads as the pattern `(?m)^# Source: (.+?)\s*$`
// would, without a regular expression (it runs on every object).
func SourceComment(text string) (string, bool) {
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, "# Source: ")
		if rest = strings.TrimSuffix(rest, "\n"); !ok || rest == "" {
			continue
		}
		if v := strings.TrimRight(rest, " \t\f\r"); v != "" {
			return v, true
		}
		return rest[:1], true // the pattern takes at least one character
	}
	return "", false
}

// Source returns the template an object was rendered from: Helm's
// `# Source:` comment, or else Helm 4's filename annotation, or else the
// object's own SourceAnnotation. What Helm says comes first: an annotation
// copied into a template from elsewhere cannot override it. On dpps-render's
// output all three agree, so reading that output again, with or without its
// comments, finds the same template.
func Source(obj *yaml.RNode) string {
	doc := obj.Document()
	comments := doc.HeadComment
	if root := obj.YNode(); len(root.Content) > 0 {
		comments += "\n" + root.HeadComment + "\n" + root.Content[0].HeadComment
	}
	if src, ok := SourceComment(comments); ok {
		return src
	}
	if a := Field(Field(obj.YNode(), "metadata"), "annotations"); a != nil {
		for _, key := range []string{HelmFilenameAnnotation, SourceAnnotation} {
			if v := Field(a, key); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
				return v.Value
			}
		}
	}
	return ""
}

// Origin is where in an umbrella chart a template lives.
type Origin struct {
	Chart    string // the chart Helm rendered, e.g. "dpps"
	Subchart string // the subchart path below it, e.g. "bdms/postgresql"; empty at the top
	Template string // the path below templates/, e.g. "rucio/server.yaml"
}

// Component is the subchart path, or the chart itself for its own templates.
func (o Origin) Component() string {
	if o.Subchart != "" {
		return o.Subchart
	}
	return o.Chart
}

// ParseSource splits a Helm source path such as
// "dpps/charts/bdms/charts/postgresql/templates/statefulset.yaml".
func ParseSource(src string) Origin {
	parts := strings.Split(src, "/")
	if len(parts) < 2 {
		return Origin{Template: src}
	}
	o := Origin{Chart: parts[0]}
	var sub []string
	i := 1
	for i+1 < len(parts) && parts[i] == "charts" {
		sub = append(sub, parts[i+1])
		i += 2
	}
	o.Subchart = strings.Join(sub, "/")
	if i < len(parts) && parts[i] == "templates" {
		i++
	}
	o.Template = strings.Join(parts[i:], "/")
	return o
}

// Field returns the value of key in mapping m, or nil. Aliases are followed.
func Field(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	if m.Kind == yaml.AliasNode {
		m = m.Alias
	}
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				return v.Alias
			}
			return v
		}
	}
	return nil
}

// Kind is obj's kind, as kyaml's GetKind reads it, without the closures
// and copies of kyaml's field visitor: transforms ask it of every object.
func Kind(obj *yaml.RNode) string {
	if k := Field(obj.YNode(), "kind"); k != nil {
		return k.Value
	}
	return ""
}

// Path follows keys from m, or returns nil.
func Path(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		m = Field(m, k)
	}
	return m
}

// EnsureMap returns the mapping under key in m, creating it when absent or
// null. An alias there is replaced by a copy, so shared anchors stay intact.
func EnsureMap(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil && v.Alias.Kind == yaml.MappingNode {
			cp := *v.Alias
			cp.Anchor = ""
			cp.Content = append([]*yaml.Node(nil), v.Alias.Content...)
			m.Content[i+1] = &cp
			return &cp
		}
		if v.Kind != yaml.MappingNode {
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content[i+1] = v
		}
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, StringNode(key), v)
	return v
}

// SetString sets key to a string value in mapping m and reports whether that
// changed anything.
func SetString(m *yaml.Node, key, value string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		if v.Kind == yaml.ScalarNode && v.Value == value && v.Tag == "!!str" {
			return false
		}
		m.Content[i+1] = StringNode(value)
		return true
	}
	m.Content = append(m.Content, StringNode(key), StringNode(value))
	return true
}

// StringNode is a plain string scalar; the encoder quotes it when needed.
func StringNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// PodSpec returns the pod spec of a workload (Pod, the controllers with a
// pod template, CronJob, PodTemplate), or nil for other objects.
func PodSpec(obj *yaml.Node) *yaml.Node {
	if kind := Field(obj, "kind"); kind != nil {
		switch kind.Value {
		case "Pod":
			return Field(obj, "spec")
		case "PodTemplate":
			return Path(obj, "template", "spec")
		case "CronJob":
			return Path(obj, "spec", "jobTemplate", "spec", "template", "spec")
		}
	}
	return Path(obj, "spec", "template", "spec")
}

// Containers returns every container of a pod spec: init containers first,
// then containers, then ephemeral containers, in the order written.
func Containers(podSpec *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		if list := Field(podSpec, key); list != nil && list.Kind == yaml.SequenceNode {
			for _, c := range list.Content {
				if c.Kind == yaml.AliasNode {
					c = c.Alias
				}
				if c != nil && c.Kind == yaml.MappingNode {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// ContainerImage is the image field of one container of a pod template.
type ContainerImage struct {
	// Container is the container's name ("" when it has none).
	Container string
	// Field is the image's path in the object:
	// "spec.template.spec.containers[0].image".
	Field string
	// Node is the image scalar, to read or rewrite.
	Node *yaml.Node
}

// ContainerImages lists the image field of every container of obj's pod
// template (init containers, containers, ephemeral containers, in the
// order written); a container whose image is not a scalar is left out.
func ContainerImages(obj *yaml.Node) []ContainerImage {
	spec := PodSpec(obj)
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil
	}
	base := PodSpecPath(obj)
	var out []ContainerImage
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		l := Field(spec, list)
		if l == nil || l.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range l.Content {
			if c.Kind == yaml.AliasNode {
				c = c.Alias
			}
			if c == nil || c.Kind != yaml.MappingNode {
				continue
			}
			img := Field(c, "image")
			if img == nil || img.Kind != yaml.ScalarNode {
				continue
			}
			name := ""
			if f := Field(c, "name"); f != nil {
				name = f.Value
			}
			out = append(out, ContainerImage{Container: name, Field: base + "." + list + "[" + strconv.Itoa(i) + "].image", Node: img})
		}
	}
	return out
}

// Images returns the distinct images of a pod spec's containers, in order.
func Images(podSpec *yaml.Node) []string {
	var out []string
	for _, c := range Containers(podSpec) {
		img := Field(c, "image")
		if img == nil || img.Value == "" {
			continue
		}
		dup := false
		for _, seen := range out {
			if seen == img.Value {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, img.Value)
		}
	}
	return out
}

// WalkScalars calls fn for every scalar under n with its field path, in
// document order: "spec.template.spec.containers[server].args[1]". A
// sequence element with a name field is shown by its name. Aliases are not
// followed: their anchor is visited where it is defined.
func WalkScalars(n *yaml.Node, path string, fn func(path string, s *yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			WalkScalars(c, path, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			WalkScalars(n.Content[i+1], p, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			WalkScalars(c, path+ElementName(c, i), fn)
		}
	case yaml.ScalarNode:
		fn(path, n)
	}
}

// AnyScalar reports whether a scalar value below n satisfies pred, without
// the field paths WalkScalars builds: a cheap first pass before a walk that
// reports where.
func AnyScalar(n *yaml.Node, pred func(s *yaml.Node) bool) bool {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if AnyScalar(c, pred) {
				return true
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if AnyScalar(n.Content[i], pred) {
				return true
			}
		}
	case yaml.ScalarNode:
		return pred(n)
	}
	return false
}

// ElementName renders a sequence element in a field path: "[name]" for an
// element with a name field (containers, env, volumes), else "[i]".
func ElementName(elem *yaml.Node, i int) string {
	if elem.Kind == yaml.MappingNode {
		if name := Field(elem, "name"); name != nil && name.Kind == yaml.ScalarNode && name.Value != "" {
			return "[" + name.Value + "]"
		}
	}
	return "[" + strconv.Itoa(i) + "]"
}

// Describe names an object for messages: "Deployment dpps-rucio-server
// (dpps/charts/bdms/templates/server.yaml)".
func Describe(obj *yaml.RNode) string {
	s := obj.GetKind() + " " + obj.GetName()
	if src := Source(obj); src != "" {
		s += " (" + src + ")"
	}
	return s
}

// PodSpecPath is the field path of the pod spec PodSpec returns.
func PodSpecPath(obj *yaml.Node) string {
	if kind := Field(obj, "kind"); kind != nil {
		switch kind.Value {
		case "Pod":
			return "spec"
		case "PodTemplate":
			return "template.spec"
		case "CronJob":
			return "spec.jobTemplate.spec.template.spec"
		}
	}
	return "spec.template.spec"
}
