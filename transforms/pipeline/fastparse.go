package pipeline

import (
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// fastParse builds the node tree yaml.v3 builds for one document, for the
// shape charts render: block mappings and sequences, plain and one-line
// quoted keys and scalars, literal block scalars ("|", "|-"), one-line flow
// collections, and comment blocks directly above a key or an entry (yaml.v3
// makes them head comments). It does without yaml.v3's scanner, parser and
// composer, which took half of a post-render's time. On anything else
// (anchors, aliases, tags, merge keys, what may be a timestamp, folded or
// multi-line flow scalars, line and foot comments, tabs outside literal
// text, a second document) it returns false and the caller parses the
// chunk with yaml.v3, which also reports the errors: the fast path never
// rejects input. TestFastParseMatchesYAMLv3 and FuzzFastParse hold it to
// yaml.v3's trees, field by field, positions and comments included.
//
// The grammar it takes, and nothing else: a chunk of valid, printable UTF-8
// (no YAML 1.1 line breaks) ending in a newline; an optional "---" line
// and "#" comment lines at column 0; then a block mapping at column 0.
// Keys: plain (not starting with an indicator, no tab, no " #", ending at
// ": " or ":" at the line's end, not "<<", not what may be a timestamp) or
// one-line single- or double-quoted with the escapes listed in escapes; at
// most 1000 bytes, in flow mappings too. Values: those scalars, on the key's line or
// the next; "|" and "|-" literal blocks; a block mapping or sequence
// below; a one-line flow collection of such quoted scalars, flow
// collections and plain scalars of flowPlainByte's bytes. Sequence
// entries "- " hold a scalar or a mapping. Comment lines directly above a
// key or an entry at its indentation. Blank lines between them.
func fastParse(text []byte) (*yaml.Node, bool) {
	if !plainText(text) || len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, false
	}
	p := fastParser{src: string(text), colLine: -1}
	if !p.splitLines() {
		return nil, false
	}
	return p.document()
}

// FastParser turns the fast parser on. The benchmarks turn it off to
// measure yaml.v3 alone (docs/bench.md); so does a dpps-render built with
// -ldflags "-X github.com/ctao/dpps-deploy/transforms/pipeline.yamlV3Only=true".
var FastParser = yamlV3Only != "true"

var yamlV3Only string

// plainText reports whether text holds only characters yaml.v3 reads as
// they are: valid UTF-8, printable, no control characters but newline and
// tab (carriage returns are gone already), and none of the line breaks
// YAML 1.1 adds to newline (U+0085, U+2028, U+2029): yaml.v3 and
// Kubernetes' reader end a line there.
func plainText(text []byte) bool {
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError || !printable(r) {
			return false
		}
		i += size
	}
	return true
}

// printable is yaml.v3's set of printable non-ASCII characters, less the
// YAML 1.1 line breaks.
func printable(r rune) bool {
	return (r >= 0xA0 && r <= 0xD7FF && r != 0x2028 && r != 0x2029) || (r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF) || (r >= 0x10000 && r <= 0x10FFFF)
}

type fastParser struct {
	src   string
	lines []srcLine
	li    int // the line being parsed

	slab    []yaml.Node  // nodes are carved from here, a block at a time
	stack   []*yaml.Node // children of the collections being built
	comment string       // the comment block above the current line

	// The last column computed: the line's start, the offset and its column.
	colLine, colOff, col int
}

// srcLine is one line of the chunk, without its newline.
type srcLine struct {
	start, end int // byte offsets in src
	indent     int // leading spaces
	blank      bool
}

// splitLines cuts the chunk into lines. It returns false when a line
// other than the first, or a first line that is not exactly "---", starts
// with a document marker.
func (p *fastParser) splitLines() bool {
	n := strings.Count(p.src, "\n")
	p.lines = make([]srcLine, 0, n)
	for start := 0; start < len(p.src); {
		end := start + strings.IndexByte(p.src[start:], '\n')
		if line := p.src[start:end]; (strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...")) && (start > 0 || line != "---") {
			return false
		}
		indent := 0
		for start+indent < end && p.src[start+indent] == ' ' {
			indent++
		}
		p.lines = append(p.lines, srcLine{start: start, end: end, indent: indent, blank: start+indent == end})
		start = end + 1
	}
	return true
}

func (p *fastParser) text(l srcLine) string { return p.src[l.start:l.end] }

// slabNodes is how many nodes are allocated at once: fewer allocations,
// and little left unused at the end of a document.
const slabNodes = 64

// node returns a fresh node from the slab.
func (p *fastParser) node(kind yaml.Kind, tag, value string, line, col int) *yaml.Node {
	if len(p.slab) == 0 {
		p.slab = make([]yaml.Node, min(slabNodes, 2*len(p.lines)+2))
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	n.Kind, n.Tag, n.Value, n.Line, n.Column = kind, tag, value, line, col
	return n
}

// column is the 1-based column, in characters as yaml.v3 counts them, of
// byte offset off of line l. Offsets on a line are asked for left to right,
// so it counts on from the last one: a line of many flow entries costs its
// length once, not once per entry.
func (p *fastParser) column(l srcLine, off int) int {
	from, col := l.start, 1
	if p.colLine == l.start && p.colOff <= off {
		from, col = p.colOff, p.col
	}
	for i := from; i < off; col++ {
		if p.src[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRuneInString(p.src[i:])
			i += size
		}
	}
	p.colLine, p.colOff, p.col = l.start, off, col
	return col
}

// document parses the whole chunk: an optional `---` line, an optional
// comment block directly above the first key, and a block mapping at
// column 0.
func (p *fastParser) document() (*yaml.Node, bool) {
	docLine := 0
	if len(p.lines) > 0 && p.text(p.lines[0]) == "---" {
		docLine, p.li = 1, 1
	}
	head := p.li
	for p.li < len(p.lines) && strings.HasPrefix(p.text(p.lines[p.li]), "#") {
		p.li++
	}
	var comment string
	if p.li > head {
		comment = p.src[p.lines[head].start:p.lines[p.li-1].end]
	}
	if p.li >= len(p.lines) {
		return nil, false
	}
	first := p.lines[p.li]
	if first.blank || first.indent != 0 {
		return nil, false
	}
	if docLine == 0 {
		docLine = p.li + 1
	}
	doc := p.node(yaml.DocumentNode, "", "", docLine, 1)
	root, ok := p.mapping(0)
	if !ok || !p.atEnd() {
		return nil, false
	}
	root.Content[0].HeadComment = comment
	doc.Content = []*yaml.Node{root}
	return doc, true
}

// Every parsing method below starts on the line its construct begins on
// and leaves p.li on the first line it did not take.

// atEnd reports whether only blank lines are left.
func (p *fastParser) atEnd() bool {
	p.skipBlank()
	return p.li >= len(p.lines)
}

func (p *fastParser) skipBlank() {
	for p.li < len(p.lines) && p.lines[p.li].blank {
		p.li++
	}
}

// peek skips blank lines and returns the line there; more is false at the
// end of the chunk. A comment block directly above a line at its own
// indentation is kept for the node that line starts (as yaml.v3 keeps it
// as that node's head comment); ok is false for any other comment.
func (p *fastParser) peek() (l srcLine, more, ok bool) {
	from := p.li
	p.skipBlank()
	if p.li >= len(p.lines) {
		return srcLine{}, false, true
	}
	l = p.lines[p.li]
	if p.src[l.start+l.indent] != '#' {
		return l, true, true
	}
	if p.li > from && p.li > 0 && p.lines[p.li-1].blank {
		return srcLine{}, false, false // a blank line above the comment
	}
	first := p.li
	for p.li < len(p.lines) && !p.lines[p.li].blank && p.src[p.lines[p.li].start+p.lines[p.li].indent] == '#' {
		if p.lines[p.li].indent != l.indent {
			return srcLine{}, false, false
		}
		p.li++
	}
	if p.li >= len(p.lines) || p.lines[p.li].blank || p.lines[p.li].indent != l.indent {
		return srcLine{}, false, false // a foot comment, or one apart from what follows
	}
	var b strings.Builder
	for i := first; i < p.li; i++ {
		if i > first {
			b.WriteByte('\n')
		}
		c := p.lines[i]
		b.WriteString(p.src[c.start+c.indent : c.end])
	}
	p.comment = b.String()
	return p.lines[p.li], true, true
}

// takeComment returns the comment block peek kept for the current line.
func (p *fastParser) takeComment() string {
	c := p.comment
	p.comment = ""
	return c
}

// mapping parses a block mapping whose keys start at column col (0-based,
// in bytes: only spaces and "- " come before), the first on this line.
func (p *fastParser) mapping(col int) (*yaml.Node, bool) {
	l := p.lines[p.li]
	m := p.node(yaml.MappingNode, "!!map", "", p.li+1, p.column(l, l.start+col))
	base := len(p.stack)
	for {
		key, value, ok := p.pair(col)
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, key, value)
		next, more, ok := p.peek()
		if !ok || (more && next.indent > col) {
			return nil, false
		}
		if !more || next.indent < col {
			break
		}
	}
	m.Content = p.collect(base)
	return m, true
}

// sequence parses a block sequence whose entries ("- ") are at column col.
func (p *fastParser) sequence(col int) (*yaml.Node, bool) {
	l := p.lines[p.li]
	s := p.node(yaml.SequenceNode, "!!seq", "", p.li+1, p.column(l, l.start+col))
	base := len(p.stack)
	for {
		item := p.skipSpaces(l.start+col+1, l.end)
		if item == l.end || p.isEntry(item, l.end) {
			return nil, false // an empty entry, or a sequence in a sequence
		}
		comment := p.takeComment()
		var n *yaml.Node
		var ok bool
		if _, _, _, isKey := p.key(item, l.end); isKey {
			n, ok = p.mapping(item - l.start)
		} else {
			n, ok = p.scalar(l, item, col)
		}
		if !ok {
			return nil, false
		}
		n.HeadComment = comment
		p.stack = append(p.stack, n)
		var more bool
		l, more, ok = p.peek()
		if !ok || (more && l.indent > col) {
			return nil, false
		}
		if !more || l.indent < col || !p.isEntry(l.start+col, l.end) {
			break // a key after a sequence at the key's own column
		}
	}
	s.Content = p.collect(base)
	return s, true
}

// isEntry reports whether a sequence entry ("- ", or "-" ending the line)
// starts at byte offset i of a line ending at end.
func (p *fastParser) isEntry(i, end int) bool {
	return p.src[i] == '-' && (i+1 == end || p.src[i+1] == ' ')
}

// collect moves the children pushed since base into a slice of their own
// (nil for none, as yaml.v3 leaves it).
func (p *fastParser) collect(base int) []*yaml.Node {
	if len(p.stack) == base {
		return nil
	}
	content := make([]*yaml.Node, len(p.stack)-base)
	copy(content, p.stack[base:])
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	return content
}

// key reads the mapping key starting at byte offset i of a line ending at
// end: a plain key or a one-line quoted one, and the ':' after it.
func (p *fastParser) key(i, end int) (name string, style yaml.Style, colon int, ok bool) {
	if q := p.src[i]; q == '"' || q == '\'' {
		name, next, ok := p.quoted(i, end)
		if !ok || next >= end || p.src[next] != ':' || (next+1 < end && p.src[next+1] != ' ') || next-i > maxKeyBytes {
			return "", 0, 0, false
		}
		return name, quoteStyle(q), next, true
	}
	colon, ok = p.keyEnd(i, end)
	if !ok {
		return "", 0, 0, false
	}
	return strings.TrimRight(p.src[i:colon], " "), 0, colon, true
}

// keyEnd finds the ':' that ends a plain key starting at byte offset i of
// a line ending at end. ok is false when the text there is not a plain
// key this parser takes.
func (p *fastParser) keyEnd(i, end int) (colon int, ok bool) {
	if !plainStart(p.src, i, end) {
		return 0, false
	}
	for j := i; j < end; j++ {
		switch p.src[j] {
		case ':':
			if j+1 == end || p.src[j+1] == ' ' {
				return j, j-i <= maxKeyBytes
			}
		case '#':
			if p.src[j-1] == ' ' {
				return 0, false // a comment
			}
		case '\t':
			return 0, false
		}
	}
	return 0, false
}

// maxKeyBytes keeps keys, block or flow, plain or quoted, well inside
// YAML's 1024-character limit on implicit keys (found by FuzzFastParse for
// flow keys).
const maxKeyBytes = 1000

// plainStart reports whether a plain scalar may start at byte offset i:
// not an indicator, and '-', '?' or ':' only when followed by text.
func plainStart(src string, i, end int) bool {
	switch src[i] {
	case '-':
		return i+1 < end && src[i+1] != ' '
	case '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return false
	}
	return true
}

// pair parses one "key: value" whose key starts at column col of this line.
func (p *fastParser) pair(col int) (key, value *yaml.Node, ok bool) {
	l := p.lines[p.li]
	start := l.start + col
	name, style, colon, ok := p.key(start, l.end)
	if !ok || (style == 0 && name == "<<") {
		return nil, nil, false // not a key, or a merge key
	}
	tag := "!!str"
	if style == 0 {
		if tag, ok = resolveTag(name); !ok {
			return nil, nil, false
		}
	}
	key = p.node(yaml.ScalarNode, tag, name, p.li+1, p.column(l, start))
	key.Style = style
	key.HeadComment = p.takeComment()
	v := colon + 1
	for v < l.end && p.src[v] == ' ' {
		v++
	}
	if v < l.end {
		value, ok = p.scalar(l, v, col)
		return key, value, ok
	}
	// Nothing after the colon: a block below, a sequence at the key's own
	// column, or null.
	keyLine := p.li + 1
	p.li++
	next, more, ok := p.peek()
	if !ok {
		return nil, nil, false
	}
	switch first := next.start + next.indent; {
	case more && next.indent > col && p.isEntry(first, next.end):
		value, ok = p.sequence(next.indent)
	case more && next.indent > col:
		if _, _, _, isKey := p.key(first, next.end); isKey {
			value, ok = p.mapping(next.indent)
		} else if value, ok = p.scalar(next, first, col); ok {
			value.HeadComment = p.takeComment()
		}
	case more && next.indent == col && p.isEntry(next.start+col, next.end):
		value, ok = p.sequence(col)
	default:
		value = p.node(yaml.ScalarNode, "!!null", "", keyLine, p.column(l, colon)+1)
	}
	return key, value, ok
}

// scalar parses the scalar starting at byte offset i of line l, the value
// of a key or an entry of a block at column col.
func (p *fastParser) scalar(l srcLine, i, col int) (*yaml.Node, bool) {
	line, column := p.li+1, p.column(l, i)
	switch p.src[i] {
	case '"', '\'':
		value, end, ok := p.quoted(i, l.end)
		if !ok || !onlySpaces(p.src[end:l.end]) {
			return nil, false
		}
		n := p.node(yaml.ScalarNode, "!!str", value, line, column)
		n.Style = quoteStyle(p.src[i])
		p.li++
		return n, true
	case '|':
		return p.literal(l, i, col)
	case '{', '[':
		n, end, ok := p.flow(l, i)
		if !ok || !onlySpaces(p.src[end:l.end]) {
			return nil, false
		}
		p.li++
		return n, true
	}
	if !plainStart(p.src, i, l.end) {
		return nil, false
	}
	value := strings.TrimRight(p.src[i:l.end], " ")
	if strings.Contains(value, " #") || strings.Contains(value, ": ") || strings.HasSuffix(value, ":") || strings.IndexByte(value, '\t') >= 0 || value == "<<" {
		return nil, false
	}
	tag, ok := resolveTag(value)
	if !ok {
		return nil, false
	}
	p.li++
	return p.node(yaml.ScalarNode, tag, value, line, column), true
}

func onlySpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			return false
		}
	}
	return true
}

// quoted reads a one-line single- or double-quoted scalar opening at byte
// offset i, up to end; it returns the value and the offset past the closing
// quote. Escapes other than the common ones are left to yaml.v3.
func (p *fastParser) quoted(i, end int) (value string, next int, ok bool) {
	q := p.src[i]
	var b *strings.Builder
	from := i + 1
	for j := i + 1; j < end; j++ {
		c := p.src[j]
		switch {
		case c == '\t':
			return "", 0, false
		case c == q && q == '\'' && j+1 < end && p.src[j+1] == '\'':
			b = grow(b, p.src[from:j+1])
			j++
			from = j + 1
		case c == q:
			if b == nil {
				return p.src[i+1 : j], j + 1, true
			}
			b.WriteString(p.src[from:j])
			return b.String(), j + 1, true
		case c == '\\' && q == '"':
			if j+1 == end {
				return "", 0, false
			}
			r, known := escapes[p.src[j+1]]
			if !known {
				return "", 0, false
			}
			b = grow(b, p.src[from:j])
			b.WriteByte(r)
			j++
			from = j + 1
		}
	}
	return "", 0, false // the scalar goes on past this line
}

// quoteStyle is the style of a scalar quoted with q.
func quoteStyle(q byte) yaml.Style {
	if q == '\'' {
		return yaml.SingleQuotedStyle
	}
	return yaml.DoubleQuotedStyle
}

// grow starts b when needed and appends s.
func grow(b *strings.Builder, s string) *strings.Builder {
	if b == nil {
		b = &strings.Builder{}
	}
	b.WriteString(s)
	return b
}

// escapes are the double-quoted escapes taken here, and what they stand for.
var escapes = map[byte]byte{
	'\\': '\\', '"': '"', 'n': '\n', 't': '\t', 'r': '\r', '0': 0,
	'a': '\a', 'b': '\b', 'v': '\v', 'f': '\f', 'e': 0x1b, ' ': ' ',
}

// literal parses a literal block scalar ("|" or "|-") whose indicator is at
// byte offset i of line l, in a block at column col.
func (p *fastParser) literal(l srcLine, i, col int) (*yaml.Node, bool) {
	line, column := p.li+1, p.column(l, i)
	header := p.src[i+1 : l.end]
	strip := strings.HasPrefix(header, "-")
	if strip {
		header = header[1:]
	}
	if !onlySpaces(header) {
		return nil, false // "|+", an indentation indicator or a comment
	}
	indent, maxBlank := 0, 0
	var parts []string
	blanks, last := 0, 0
	j := p.li + 1
	for ; j < len(p.lines); j++ {
		bl := p.lines[j]
		if bl.blank {
			if width := bl.end - bl.start; indent == 0 {
				maxBlank = max(maxBlank, width)
			} else if width > indent {
				return nil, false // spaces that would be text
			}
			blanks++
			continue
		}
		if indent == 0 {
			if bl.indent <= col || maxBlank > bl.indent || p.src[bl.start+bl.indent] == '\t' {
				return nil, false // an empty block, leading blank lines deeper than the text, or a tab in the indentation
			}
			indent = bl.indent
		}
		if bl.indent < indent {
			if p.src[bl.start+bl.indent] == '\t' {
				return nil, false
			}
			break
		}
		for ; blanks > 0; blanks-- {
			parts = append(parts, "")
		}
		parts = append(parts, p.src[bl.start+indent:bl.end])
		last = j
	}
	if indent == 0 {
		return nil, false
	}
	value := strings.Join(parts, "\n")
	if !strip {
		value += "\n"
	}
	n := p.node(yaml.ScalarNode, "!!str", value, line, column)
	n.Style = yaml.LiteralStyle
	p.li = last + 1 // trailing blank lines are the next construct's to see
	return n, true
}

// flow parses a flow collection opening at byte offset i of line l and
// closing on that line, of plain and quoted scalars and flow collections;
// it returns the offset past the closing bracket.
func (p *fastParser) flow(l srcLine, i int) (n *yaml.Node, next int, ok bool) {
	kind, tag, closing := yaml.SequenceNode, "!!seq", byte(']')
	if p.src[i] == '{' {
		kind, tag, closing = yaml.MappingNode, "!!map", '}'
	}
	n = p.node(kind, tag, "", p.li+1, p.column(l, i))
	n.Style = yaml.FlowStyle
	base := len(p.stack)
	j := p.skipSpaces(i+1, l.end)
	if j < l.end && p.src[j] == closing {
		return n, j + 1, true
	}
	for {
		if kind == yaml.MappingNode {
			var key *yaml.Node
			start := j
			key, j, ok = p.flowPlain(l, j)
			if !ok || j+1 >= l.end || p.src[j] != ':' || p.src[j+1] != ' ' || j-start > maxKeyBytes {
				return nil, 0, false
			}
			p.stack = append(p.stack, key)
			j = p.skipSpaces(j+1, l.end)
		}
		var item *yaml.Node
		item, j, ok = p.flowItem(l, j)
		if !ok {
			return nil, 0, false
		}
		p.stack = append(p.stack, item)
		j = p.skipSpaces(j, l.end)
		if j == l.end {
			return nil, 0, false
		}
		if p.src[j] == closing {
			break
		}
		if p.src[j] != ',' {
			return nil, 0, false
		}
		j = p.skipSpaces(j+1, l.end)
		if j == l.end || p.src[j] == closing {
			return nil, 0, false // a trailing comma
		}
	}
	n.Content = p.collect(base)
	return n, j + 1, true
}

// flowItem parses one entry of a flow collection at byte offset j of line l.
func (p *fastParser) flowItem(l srcLine, j int) (*yaml.Node, int, bool) {
	if j == l.end {
		return nil, 0, false
	}
	switch p.src[j] {
	case '[', '{':
		return p.flow(l, j)
	case '"', '\'':
		value, end, ok := p.quoted(j, l.end)
		if !ok {
			return nil, 0, false
		}
		n := p.node(yaml.ScalarNode, "!!str", value, p.li+1, p.column(l, j))
		n.Style = quoteStyle(p.src[j])
		return n, end, true
	}
	return p.flowPlain(l, j)
}

// flowPlain parses a plain scalar inside a flow collection: up to the next
// flow indicator, of the characters flowPlainByte lists (anything else,
// ':' and '#' among them, is left to yaml.v3).
func (p *fastParser) flowPlain(l srcLine, j int) (*yaml.Node, int, bool) {
	if j == l.end || !plainStart(p.src, j, l.end) {
		return nil, 0, false
	}
	k := j
	for k < l.end && !strings.ContainsRune(",[]{}:", rune(p.src[k])) {
		if !flowPlainByte[p.src[k]] {
			return nil, 0, false
		}
		k++
	}
	value := strings.TrimRight(p.src[j:k], " ")
	tag, ok := resolveTag(value)
	if !ok {
		return nil, 0, false
	}
	return p.node(yaml.ScalarNode, tag, value, p.li+1, p.column(l, j)), j + len(value), true
}

// flowPlainByte lists the bytes a plain scalar in a flow collection may
// hold here: letters, digits, spaces, "-._/+=@~$%^()<>;!&*" and UTF-8
// (checked printable by plainText). '?', quotes, '\\', '|' and '`' are
// not: yaml.v3 refuses "{0?: {}}", and the fast parser must never take
// what yaml.v3 refuses.
var flowPlainByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			strings.ContainsRune(" -._/+=@~$%^()<>;!&*", rune(c))
	}
	return t
}()

func (p *fastParser) skipSpaces(j, end int) int {
	for j < end && p.src[j] == ' ' {
		j++
	}
	return j
}
