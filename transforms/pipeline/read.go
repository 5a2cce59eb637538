// Package pipeline reads a stream of rendered Kubernetes manifests, runs
// kio.Filters over it and writes it back, keeping every object, its order and
// its comments.
package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// InputError locates a problem in the input stream. Its message never quotes
// the offending document, so a credential in it is never printed.
type InputError struct {
	Doc    int    // 1-based index of the document in the stream
	Source string // the template from Helm's "# Source:" comment, if any
	Line   int    // 1-based line in the whole stream, 0 if unknown
	Msg    string
	// FirstLine, when set, is the line of what Msg's problem repeats (the
	// first of a key written twice), counted as Line is.
	FirstLine int
}

func (e *InputError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "document %d", e.Doc)
	if e.Source != "" {
		fmt.Fprintf(&b, " (%s)", e.Source)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.FirstLine > 0 {
		fmt.Fprintf(&b, " (first at line %d)", e.FirstLine)
	}
	return b.String()
}

// Reader is a kio.Reader for Helm's rendered output. It differs from
// kio.ByteReader in what users of a post-renderer need: errors name the
// document, its template and the absolute line; duplicate keys are refused;
// objects without apiVersion, kind or name are refused; `kind: List` is
// expanded into its items, as Helm's client does before applying.
type Reader struct {
	Input io.Reader

	// MaxBytes caps the input's size and MaxObjects the number of documents
	// and of objects (List items counted one by one); 0 means
	// DefaultMaxBytes and DefaultMaxObjects, a negative value no cap.
	MaxBytes   int64
	MaxObjects int

	// RejectDuplicates refuses two objects with the same identity (API
	// group, kind, namespace, name), naming both documents. Run sets it;
	// readers that report duplicates themselves (upgrade-check) leave it.
	RejectDuplicates bool

	// Dropped counts documents that were empty or held only comments; Helm
	// drops those too.
	Dropped int
}

// The default caps on the input. Peak memory stays under 50 bytes per
// input byte plus 256 MiB (the node budget, budget.go), so the defaults
// bound it at 3.5 GB; Helm's own limit, a release stored in one Secret of
// 1 MiB compressed, keeps real renders far below either cap.
const (
	DefaultMaxBytes   = 64 << 20
	DefaultMaxObjects = 100_000
)

// LimitError is an input over one of the Reader's caps.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

func limit(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 1<<63 - 1
	}
	return v
}

var _ kio.Reader = (*Reader)(nil)

var (
	bom          = []byte("\xef\xbb\xbf")
	yamlLineInfo = regexp.MustCompile(`^yaml: line (\d+): `)
	// The annotations manifest.Source reads the template from when there is
	// no "# Source:" comment, Helm 4's filename and the chart's own, in that
	// order; matched textually so that even a document that does not parse
	// is located.
	sourceAnnotations = []*regexp.Regexp{
		annotationLine(manifest.HelmFilenameAnnotation),
		annotationLine(manifest.SourceAnnotation),
	}
)

// annotationLine matches a block-style annotation line and captures its value.
func annotationLine(key string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(key) + `:\s*(\S+)\s*$`)
}

// Read parses the whole stream. On error it returns no objects at all.
func (r *Reader) Read() ([]*yaml.RNode, error) {
	caps := Limits{MaxBytes: r.MaxBytes}
	maxBytes, maxObjects := caps.InputBytes(), limit(int64(r.MaxObjects), DefaultMaxObjects)
	data, err := inputBytes(r.Input, caps.ReadBytes())
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, &LimitError{fmt.Sprintf("input larger than %d bytes (raise the cap with --max-input-bytes)", maxBytes)}
	}
	data = bytes.TrimPrefix(data, bom)
	if bytes.IndexByte(data, '\r') >= 0 {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	var out []*yaml.RNode
	var ids identities
	if r.RejectDuplicates {
		ids = identities{}
	}
	docIndex := 0
	chunks := splitDocuments(data)
	budget := newNodeBudget(len(data))
	// Chunks are parsed in parallel, a batch at a time; numbering, the first
	// error in stream order, the caps and the node budget are settled here
	// in order, and the batch bounds the parsing done past a cap.
	for start := 0; start < len(chunks); {
		end := batchEnd(chunks, start)
		batch := chunks[start:end]
		start = end
		if err := budget.admit(batch[0], docIndex+1); len(batch) == 1 && err != nil {
			return nil, err
		}
		parsed := make([][]parsedDoc, len(batch))
		parallel(len(batch), func(i int) { parsed[i] = batch[i].parse() })
		for i, c := range batch {
			for _, d := range parsed[i] {
				docIndex++
				if int64(docIndex) > maxObjects {
					return nil, &LimitError{fmt.Sprintf("more than %d documents (raise the cap with --max-objects)", maxObjects)}
				}
				if d.yamlErr != nil {
					return nil, c.yamlError(docIndex, d.yamlErr)
				}
				if d.err == nil {
					d.err = budget.spend(d)
				}
				if d.err == nil && d.aliased {
					// Expanded here, one document at a time, once the
					// budget has room for every copy, and only if
					// Kubernetes' reader would expand them too.
					if d.err = kubernetesExpands(c.text, d.aliasLine); d.err == nil {
						d.objects, d.err = objects(d.doc)
					}
				}
				if d.err != nil {
					var ie *InputError
					if errors.As(d.err, &ie) {
						ie.Doc, ie.Source = docIndex, c.source()
						if ie.Line > 0 {
							ie.Line += c.firstLine - 1
						}
						if ie.FirstLine > 0 {
							ie.FirstLine += c.firstLine - 1
						}
					}
					return nil, d.err
				}
				if len(d.objects) == 0 {
					r.Dropped++
				}
				for _, n := range d.objects {
					if err := ids.add(n, docIndex, c); err != nil {
						return nil, err
					}
				}
				out = append(out, d.objects...)
				if int64(len(out)) > maxObjects {
					return nil, &LimitError{fmt.Sprintf("more than %d objects (raise the cap with --max-objects)", maxObjects)}
				}
			}
		}
	}
	return out, nil
}

// A batch of chunks parsed in parallel holds at most parseBatch chunks and,
// unless it is a single chunk, batchBytes bytes: what is parsed past the
// node budget stays small.
const (
	parseBatch = 1024
	batchBytes = 1 << 20
)

// batchEnd is where the batch that starts at chunks[start] ends.
func batchEnd(chunks []chunk, start int) int {
	end, size := start+1, len(chunks[start].text)
	for end < len(chunks) && end-start < parseBatch && size+len(chunks[end].text) <= batchBytes {
		size += len(chunks[end].text)
		end++
	}
	return end
}

// parsedDoc is one document of a chunk: its objects, or why it has none.
type parsedDoc struct {
	doc       *yaml.Node
	nodes     int64 // YAML nodes, aliases counted as the copies they expand to
	aliased   bool  // objects is left to Read, which expands the aliases
	aliasLine int   // the first alias's line in the chunk
	objects   []*yaml.RNode
	yamlErr   error // the parser's error: the chunk ends here
	err       error // the document parsed but is not acceptable
}

// endCommentLine ends with a line break a chunk whose last line is a comment
// at column 0 without one, and drops blanks without a line break after such
// a comment line: either way yaml.v3 gives the comment to the value above
// it, and writes it back indented, where the next read gives it to the
// document (both found by FuzzReadWrite). A column-0 comment ends every
// block scalar of an object, so neither changes a value.
func endCommentLine(text []byte) []byte {
	if len(text) == 0 || text[len(text)-1] == '\n' {
		return text
	}
	cut := bytes.LastIndexByte(text, '\n') + 1
	last := text[cut:]
	if len(bytes.Trim(last, " \t")) == 0 {
		if cut == 0 {
			return text
		}
		prev := text[bytes.LastIndexByte(text[:cut-1], '\n')+1 : cut-1]
		if len(prev) > 0 && prev[0] == '#' {
			return text[:cut]
		}
		return text
	}
	if last[0] != '#' {
		return text
	}
	return append(text[:len(text):len(text)], '\n')
}

// parse decodes the documents of one chunk (normally one) and checks each;
// it stops at the first that fails. The fast parser (fastparse.go) takes
// the common shape; yaml.v3 everything else.
func (c chunk) parse() []parsedDoc {
	if FastParser {
		if doc, ok := fastParse(c.text); ok {
			return []parsedDoc{inspect(doc)}
		}
	}
	var docs []parsedDoc
	dec := yaml.NewDecoder(bytes.NewReader(endCommentLine(c.text)))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			return append(docs, parsedDoc{yamlErr: err})
		}
		if err := nonSpecificTag(c.text, &doc); err != nil {
			return append(docs, parsedDoc{doc: &doc, err: err})
		}
		d := inspect(&doc)
		docs = append(docs, d)
		if d.err != nil {
			return docs
		}
	}
}

// inspect checks a decoded document and counts its nodes; unless it has
// aliases, it also takes its objects (objects), in the parallel part of
// the read.
func inspect(doc *yaml.Node) parsedDoc {
	d := parsedDoc{doc: doc}
	if len(doc.Content) == 0 {
		return d
	}
	root := doc.Content[0]
	var count nodeCount
	if d.err = checkNode(root, 0, &count); d.err != nil {
		return d
	}
	d.nodes, d.aliased, d.aliasLine = count.nodes, count.aliases, count.aliasLine
	if d.aliased {
		d.nodes, d.err = expandedSize(root)
		return d
	}
	d.objects, d.err = objects(doc)
	return d
}

// kubernetesExpands refuses a document whose aliases Kubernetes' reader
// (sigs.k8s.io/yaml) refuses as "excessive aliasing": it weighs aliases
// against the rest of the document, where dpps-render's budget weighs the
// whole stream. Only documents with aliases, rare in rendered charts, are
// read a second time.
func kubernetesExpands(text []byte, aliasLine int) error {
	var v any
	if err := sigsyaml.Unmarshal(text, &v); err != nil && strings.Contains(err.Error(), "excessive aliasing") {
		return &InputError{Line: aliasLine, Msg: "aliases that Kubernetes' reader refuses (excessive aliasing for the document's size): write the values out"}
	}
	return nil
}

// inputBytes reads up to n bytes of in. A *bytes.Buffer (a caller that has
// the input in memory already) is read without a copy, and is left as is.
func inputBytes(in io.Reader, n int64) ([]byte, error) {
	if b, ok := in.(*bytes.Buffer); ok {
		return b.Bytes()[:min(int64(b.Len()), n)], nil
	}
	return io.ReadAll(io.LimitReader(in, n))
}

// chunk is the text from one `---` line to the next.
type chunk struct {
	text      []byte
	firstLine int // line number of text[0] in the stream
}

// source is the template the chunk came from: Helm 3's "# Source:" comment,
// Helm 4's filename annotation or the chart's dpps.ctao.org/source.
func (c chunk) source() string {
	if src, ok := manifest.SourceComment(string(c.text)); ok {
		return src
	}
	for _, re := range sourceAnnotations {
		if m := re.FindSubmatch(c.text); m != nil {
			return strings.Trim(string(m[1]), `"'`)
		}
	}
	return ""
}

func (c chunk) yamlError(doc int, err error) error {
	msg, line := splitYAMLError(err)
	if line > 0 {
		line = c.problemLine(msg, line) + c.firstLine - 1
	} else if l := c.locate(msg); l > 0 {
		line = l + c.firstLine - 1
	}
	return &InputError{Doc: doc, Source: c.source(), Line: line, Msg: "invalid YAML: " + msg}
}

// locate finds, in the text, the line of the errors the parser reports
// without one: an unknown alias, and bytes that are not UTF-8.
func (c chunk) locate(msg string) int {
	at := -1
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		at = bytes.Index(c.text, []byte("*"+m[1]))
	} else if strings.Contains(msg, "UTF-8") || strings.Contains(msg, "control characters") {
		for i := 0; i < len(c.text); {
			r, size := utf8.DecodeRune(c.text[i:])
			if r == utf8.RuneError && size <= 1 || !allowedRune(r) {
				at = i
				break
			}
			i += size
		}
	}
	if at < 0 {
		return 0
	}
	return bytes.Count(c.text[:at], []byte("\n")) + 1
}

// allowedRune is what yaml.v3 reads without "control characters are not
// allowed" (a byte-order mark is read inside a document too).
func allowedRune(r rune) bool {
	if r < 0x80 {
		return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r < 0x7f
	}
	return r == 0xfeff || printable(r)
}

var unknownAnchor = regexp.MustCompile(`unknown anchor '(.*)' referenced`)

// splitYAMLError separates the parser's message from its line number.
func splitYAMLError(err error) (msg string, line int) {
	msg = err.Error()
	if m := yamlLineInfo.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		return msg[len(m[0]):], line
	}
	return strings.TrimPrefix(msg, "yaml: "), 0
}

// problemScanBudget bounds the bytes problemLine re-parses, so a broken
// huge document costs at most a few milliseconds more.
const problemScanBudget = 4 << 20

// problemLine finds the line that breaks the chunk. The YAML parser reports
// the line where the enclosing block started, which can be far above the
// mistake; the first prefix of the chunk that fails with the same message
// ends at the line to show.
func (c chunk) problemLine(msg string, reported int) int {
	lines := bytes.SplitAfter(c.text, []byte("\n"))
	prefix := 0
	for _, l := range lines[:min(max(reported, 1)-1, len(lines))] {
		prefix += len(l)
	}
	spent := 0
	for k := max(reported, 1); k <= len(lines); k++ {
		prefix += len(lines[k-1])
		if spent += prefix; spent > problemScanBudget {
			break
		}
		dec := yaml.NewDecoder(bytes.NewReader(c.text[:prefix]))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			if !errors.Is(err, io.EOF) {
				if m, _ := splitYAMLError(err); m == msg {
					return k
				}
			}
			break
		}
	}
	return reported
}

// splitDocuments cuts the stream before every line that starts a document
// (`---` alone or followed by a space or tab). Each part keeps its `---` line
// so the YAML parser sees the stream exactly as written.
func splitDocuments(data []byte) []chunk {
	var chunks []chunk
	start, startLine, line := 0, 1, 1
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		if pos > start && isSeparator(data[pos:next]) {
			chunks = append(chunks, chunk{text: data[start:pos], firstLine: startLine})
			start, startLine = pos, line
		}
		pos = next
		line++
	}
	if start < len(data) {
		chunks = append(chunks, chunk{text: data[start:], firstLine: startLine})
	}
	return chunks
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == '\n' || rest[0] == ' ' || rest[0] == '\t'
}

// objects checks one decoded document and returns the objects it holds: none
// for an empty document, the items of a List, or the document itself.
func objects(doc *yaml.Node) ([]*yaml.RNode, error) {
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if err := expandAliases(root); err != nil {
		return nil, err
	}
	if err := resolveMerges(root, 0); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, &InputError{Line: root.Line, Msg: fmt.Sprintf("a document must be a Kubernetes object (a mapping), not a %s", kindName(root))}
	}
	if root.Style&yaml.FlowStyle != 0 && doc.HeadComment != "" && root.HeadComment == "" {
		// yaml.v3 reads a comment block that a blank line parts from a
		// flow mapping as the document's, but writes it back so that it
		// reads as the mapping's: moved there now, the output reads back
		// to itself.
		root.HeadComment, doc.HeadComment = doc.HeadComment, ""
	}
	if root.Style&yaml.FlowStyle == 0 && doc.HeadComment != "" && len(root.Content) > 0 && root.Content[0].HeadComment == "" {
		// A comment block parted from the first key by a blank line, at
		// the top of a stream without "---", is the document's to yaml.v3;
		// after the "---" the writer adds, it is the first key's, blank
		// line kept as a trailing newline: moved there now, as that read
		// sees it, the output reads back to itself.
		root.Content[0].HeadComment, doc.HeadComment = doc.HeadComment+"\n", ""
	}
	if isList(root) {
		return listItems(doc, root, 0)
	}
	if err := checkObject(root); err != nil {
		return nil, err
	}
	return []*yaml.RNode{yaml.NewRNode(doc)}, nil
}

// maxListDepth bounds `kind: List` nesting.
const maxListDepth = 10

func isList(obj *yaml.Node) bool {
	kind := fieldValue(obj, "kind")
	return kind != nil && kind.Value == "List" && fieldValue(obj, "items") != nil
}

func listItems(doc, list *yaml.Node, depth int) ([]*yaml.RNode, error) {
	if depth >= maxListDepth {
		return nil, &InputError{Line: list.Line, Msg: fmt.Sprintf("kind: List nested deeper than %d levels", maxListDepth)}
	}
	items := fieldValue(list, "items")
	if items.Kind != yaml.SequenceNode {
		return nil, &InputError{Line: items.Line, Msg: "List items must be a sequence"}
	}
	var out []*yaml.RNode
	for _, item := range items.Content {
		if item.Kind != yaml.MappingNode {
			return nil, &InputError{Line: item.Line, Msg: fmt.Sprintf("a List item must be a Kubernetes object (a mapping), not a %s", kindName(item))}
		}
		if isList(item) {
			nested, err := listItems(doc, item, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, nested...)
			continue
		}
		if err := checkObject(item); err != nil {
			return nil, err
		}
		// Each item becomes a document of its own, under the List's head
		// comment (Helm's "# Source:"), placed where the parser puts it.
		if c := headComment(doc); c != "" && len(item.Content) > 0 && item.Content[0].HeadComment == "" {
			item.Content[0].HeadComment = c
		}
		out = append(out, yaml.NewRNode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{item}}))
	}
	return out, nil
}

// headComment is the comment block before a document's content.
func headComment(doc *yaml.Node) string {
	parts := []string{doc.HeadComment}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		parts = append(parts, root.HeadComment)
		if len(root.Content) > 0 {
			parts = append(parts, root.Content[0].HeadComment)
		}
	}
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "\n")
}

func checkObject(obj *yaml.Node) error {
	for _, f := range []string{"apiVersion", "kind"} {
		v := fieldValue(obj, f)
		if v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
			return &InputError{Line: obj.Line, Msg: fmt.Sprintf("object has no %s", f)}
		}
		if err := checkString(f, v); err != nil {
			return err
		}
	}
	metaKey, meta := field(obj, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		return &InputError{Line: obj.Line, Msg: "object has no metadata"}
	}
	if _, ns := field(meta, "namespace"); ns != nil {
		if err := checkString("metadata.namespace", ns); err != nil {
			return err
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		if err := checkStringMap("metadata."+f, fieldValue(meta, f)); err != nil {
			return err
		}
	}
	nameKey, name := field(meta, "name")
	if name != nil && name.Kind != yaml.ScalarNode {
		return checkString("metadata.name", name)
	}
	if name == nil || name.Value == "" {
		if _, gen := field(meta, "generateName"); gen != nil && gen.Kind == yaml.ScalarNode && gen.Value != "" {
			return checkString("metadata.generateName", gen)
		}
	}
	if name == nil || name.Kind != yaml.ScalarNode || name.Value == "" {
		line := metaKey.Line // a missing name is reported at metadata:
		if nameKey != nil {
			line = nameKey.Line
		}
		return &InputError{Line: line, Msg: "object has no metadata.name"}
	}
	return checkString("metadata.name", name)
}

// checkStringMap refuses labels or annotations that are not a mapping of
// strings: Kubernetes refuses the object (`app: 1`, `enabled: true`). A
// null map reads as empty. A null value (`app:`, `app: ~`) is refused:
// Kubernetes creates it as "" but a patch (helm upgrade) reads it as
// "remove this key", and transforms that rewrite the map would turn it into
// one or the other (found by FuzzProvenance).
func checkStringMap(field string, m *yaml.Node) error {
	if m == nil || m.Kind == yaml.ScalarNode && m.ShortTag() == "!!null" {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		return &InputError{Line: m.Line, Msg: fmt.Sprintf("%s is a %s, not a mapping", field, kindName(m))}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].ShortTag() == "!!merge" {
			continue // merged entries are not this map's to check
		}
		k, v := m.Content[i].Value, m.Content[i+1]
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			return &InputError{Line: v.Line, Msg: fmt.Sprintf("%s.%s has no value (null), which Kubernetes reads as \"\" on create and as removing it on upgrade: give a string (\"\" for an empty one)", field, k)}
		}
		if err := checkString(field+"."+k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkString refuses an identifying field that YAML reads as something
// other than a string (`name: 123`, `name: ~`, `namespace: true`): the API
// server refuses the object, or reads another name than the one checked
// here.
func checkString(field string, v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		return nil
	}
	what := map[string]string{
		"!!null": "null", "!!int": "an integer", "!!float": "a float", "!!bool": "a boolean",
		"!!timestamp": "a timestamp", "!!binary": "binary data",
	}[v.ShortTag()]
	switch {
	case v.Kind != yaml.ScalarNode:
		what = "a " + kindName(v)
	case what == "":
		what = "tagged " + v.ShortTag()
	}
	return &InputError{Line: v.Line, Msg: fmt.Sprintf("%s is %s, not a string: quote it, or give a string", field, what)}
}

// nodeCount is what checkNode saw.
type nodeCount struct {
	nodes     int64
	aliases   bool
	aliasLine int // the first alias's
}

// checkNode refuses what Kubernetes would treat ambiguously: duplicate keys,
// non-scalar keys, and plain scalars it reads otherwise (yaml11.go); it
// counts the nodes.
func checkNode(n *yaml.Node, depth int, count *nodeCount) error {
	count.nodes++
	if n.Kind == yaml.AliasNode && !count.aliases {
		count.aliases, count.aliasLine = true, n.Line
	}
	if depth > maxDepth {
		return &InputError{Line: n.Line, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	if (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!map" && n.Tag != "!!seq" {
		// yaml.v3 keeps such a tag and writes it back, where comments
		// around it may not come back the same; Kubernetes ignores it.
		return &InputError{Line: n.Line, Msg: "a mapping or sequence with a tag of its own, which Kubernetes ignores: drop the tag"}
	}
	switch n.Kind {
	case yaml.MappingNode:
		var seen map[string]*yaml.Node
		if len(n.Content) > 2*smallMapping {
			seen = make(map[string]*yaml.Node, len(n.Content)/2)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return &InputError{Line: k.Line, Msg: "mapping key is not a scalar"}
			}
			if first := earlierKey(n, i, seen); first != nil {
				msg := fmt.Sprintf("duplicate key %q", k.Value)
				if first.Value != k.Value {
					msg += fmt.Sprintf(" (to Kubernetes the same key as %q)", first.Value)
				}
				return &InputError{Line: k.Line, Msg: msg, FirstLine: first.Line}
			}
			if err := checkScalar(k, true); err != nil {
				return err
			}
			count.nodes++ // the key
			if err := checkNode(n.Content[i+1], depth+1, count); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := checkNode(c, depth+1, count); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		return checkScalar(n, false)
	}
	return nil
}

// smallMapping is the size up to which a linear scan for duplicate keys is
// cheaper than a map.
const smallMapping = 16

// earlierKey returns the key before position i that Kubernetes reads as
// the key at i (jsonKey).
func earlierKey(m *yaml.Node, i int, seen map[string]*yaml.Node) *yaml.Node {
	k := jsonKey(m.Content[i])
	if seen != nil {
		if first, ok := seen[k]; ok {
			return first
		}
		seen[k] = m.Content[i]
		return nil
	}
	for j := 0; j < i; j += 2 {
		if jsonKey(m.Content[j]) == k {
			return m.Content[j]
		}
	}
	return nil
}

// jsonKey is the key Kubernetes sees for a mapping key: it reads YAML as
// YAML 1.1 (sigs.k8s.io/yaml) and turns keys into JSON strings, so `~` and
// `null`, `yes` and `true`, `0x1` and `1` are the same key there, and one
// of two values would be lost silently.
func jsonKey(k *yaml.Node) string {
	v := k.Value
	if k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 || v == "" {
		return v
	}
	switch c := v[0]; {
	case c >= '0' && c <= '9', c == '-', c == '+', c == '.':
	case strings.ContainsRune("~nNyYoOtTfF", rune(c)):
		switch v {
		case "~", "null", "Null", "NULL":
			return "null"
		case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE":
			return "true"
		case "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE":
			return "false"
		}
		return v
	default:
		return v
	}
	plain := strings.ReplaceAll(v, "_", "")
	if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if f, err := strconv.ParseFloat(plain, 64); err == nil && !strings.ContainsAny(plain, "xXpP") {
		return strconv.FormatFloat(f, 'g', -1, 32)
	}
	return v
}

// maxDepth bounds nesting so that a hostile document cannot exhaust the stack.
const maxDepth = 200

func fieldValue(m *yaml.Node, key string) *yaml.Node {
	_, v := field(m, key)
	return v
}

// field returns the key and value nodes of key in mapping m.
func field(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "mapping"
}

// identities finds two objects with the same identity (API group, kind,
// namespace, name): Kubernetes would keep only one, and Helm refuses such a
// release at install, so the stream is refused here, naming both documents.
type identities map[string]identityAt

// identityAt is where an identity was first seen; its template is looked
// up only for the error.
type identityAt struct {
	doc   int
	chunk chunk
}

func (ids identities) add(n *yaml.RNode, doc int, c chunk) error {
	if ids == nil {
		return nil
	}
	name := n.GetName()
	if name == "" {
		return nil // generateName: the server picks the name
	}
	group, _, found := strings.Cut(n.GetApiVersion(), "/")
	if !found {
		group = "" // the core group: "v1"
	}
	namespace := n.GetNamespace()
	clusterScoped := ClusterScoped(group, n.GetKind())
	if clusterScoped {
		namespace = "" // the API server ignores it
	}
	key := group + "\x00" + n.GetKind() + "\x00" + namespace + "\x00" + name
	first, dup := ids[key]
	if !dup {
		ids[key] = identityAt{doc, c}
		return nil
	}
	where := fmt.Sprintf("document %d", first.doc)
	if src := first.chunk.source(); src != "" {
		where += " (" + src + ")"
	}
	if first.doc == doc {
		where = "the same List"
	}
	what := n.GetKind() + " " + name
	if clusterScoped {
		what += " (cluster-scoped: metadata.namespace does not set it apart)"
	} else if namespace != "" {
		what += " in namespace " + namespace
	}
	line := 0
	if y := n.YNode(); y != nil {
		line = y.Line + c.firstLine - 1
	}
	return &InputError{Doc: doc, Source: c.source(), Line: line, Msg: fmt.Sprintf("%s is defined twice, first in %s", what, where)}
}

// expandAliases replaces every alias by a copy of what it names and drops
// the anchors, so that a transform changing one place (provenance adding a
// label to an anchored metadata.labels) never changes another through an
// alias (the same labels as a Deployment's selector). Kubernetes expands
// aliases when it decodes, so what it sees is unchanged.
//
// The copies were counted (expandedSize) and admitted by the stream's node
// budget before this runs.
func expandAliases(root *yaml.Node) error {
	var walk func(n *yaml.Node, depth int) error
	var clone func(n *yaml.Node, depth int) (*yaml.Node, error)
	clone = func(n *yaml.Node, depth int) (*yaml.Node, error) {
		if depth > maxDepth {
			return nil, &InputError{Line: n.Line, Msg: fmt.Sprintf("aliases nest deeper than %d levels", maxDepth)}
		}
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		c := *n
		c.Anchor = ""
		if len(n.Content) > 0 {
			c.Content = make([]*yaml.Node, len(n.Content))
			for i, k := range n.Content {
				var err error
				if c.Content[i], err = clone(k, depth+1); err != nil {
					return nil, err
				}
			}
		}
		return &c, nil
	}
	walk = func(n *yaml.Node, depth int) error {
		n.Anchor = ""
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode && c.Alias != nil {
				cp, err := clone(c, depth+1)
				if err != nil {
					return err
				}
				// Keep where the alias was written, for error lines.
				cp.Line, cp.Column = c.Line, c.Column
				n.Content[i] = cp
				continue
			}
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, 0)
}

// clusterScoped are the built-in kinds without a namespace, by API group
// ("" is the core group); for them the API server ignores
// metadata.namespace, so two objects that differ only there are one.
var clusterScoped = map[string]bool{
	"\x00Namespace": true, "\x00Node": true, "\x00PersistentVolume": true, "\x00ComponentStatus": true,
	"rbac.authorization.k8s.io\x00ClusterRole":                         true,
	"rbac.authorization.k8s.io\x00ClusterRoleBinding":                  true,
	"storage.k8s.io\x00StorageClass":                                   true,
	"storage.k8s.io\x00CSIDriver":                                      true,
	"storage.k8s.io\x00CSINode":                                        true,
	"storage.k8s.io\x00VolumeAttachment":                               true,
	"storage.k8s.io\x00VolumeAttributesClass":                          true,
	"apiextensions.k8s.io\x00CustomResourceDefinition":                 true,
	"apiregistration.k8s.io\x00APIService":                             true,
	"admissionregistration.k8s.io\x00MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io\x00ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io\x00ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io\x00ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io\x00MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io\x00MutatingAdmissionPolicyBinding":   true,
	"scheduling.k8s.io\x00PriorityClass":                               true,
	"node.k8s.io\x00RuntimeClass":                                      true,
	"networking.k8s.io\x00IngressClass":                                true,
	"networking.k8s.io\x00IPAddress":                                   true,
	"networking.k8s.io\x00ServiceCIDR":                                 true,
	"certificates.k8s.io\x00CertificateSigningRequest":                 true,
	"certificates.k8s.io\x00ClusterTrustBundle":                        true,
	"flowcontrol.apiserver.k8s.io\x00FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io\x00PriorityLevelConfiguration":       true,
	"resource.k8s.io\x00DeviceClass":                                   true,
	"resource.k8s.io\x00ResourceSlice":                                 true,
	"storagemigration.k8s.io\x00StorageVersionMigration":               true,
	"internal.apiserver.k8s.io\x00StorageVersion":                      true,
	"policy\x00PodSecurityPolicy":                                      true,
}

// ClusterScoped reports whether kind, in the API group, is one of
// Kubernetes' built-in cluster-scoped kinds.
func ClusterScoped(group, kind string) bool { return clusterScoped[group+"\x00"+kind] }
