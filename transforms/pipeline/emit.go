package pipeline

import (
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// A direct writer for the common shape of rendered manifests: block and
// flow collections of ASCII scalars, in whichever quoting style yaml.v3
// would choose, and literal blocks, with head comments. It writes the bytes
// yaml.v3's encoder writes in the kyaml style (two-space indent, compact
// sequences) without going through yaml.v3's event queue, which keeps every
// event of a document and made encoding a third of a render's CPU time and
// most of its allocations. Anything outside that shape (tags that must be
// written, anchors, line and foot comments, non-ASCII text, escapes, ...)
// makes fastEncode give up, and the document goes through yaml.v3.
// TestFastEncodeMatchesYAMLv3 and FuzzFastEncode hold the two to the same
// bytes.

// fastEncoder mirrors the state of yaml.v3's emitter that the supported
// shape touches.
type fastEncoder struct {
	buf        []byte
	column     int
	indent     int
	whitespace bool // the last character written was whitespace
	indention  bool // only indentation has been written on this line
	flowLevel  int  // depth inside flow collections ([...], {...})
}

// errUnsupported is raised (as a panic, recovered in fastEncode) when a
// document leaves the supported shape.
type errUnsupported struct{}

// fastEncode writes doc as yaml.v3 would, or reports false when doc is not
// of the supported shape.
func fastEncode(doc *yaml.Node) (out []byte, ok bool) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.HeadComment != "" || doc.LineComment != "" || doc.FootComment != "" {
		return nil, false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || len(root.Content) == 0 {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			if _, unsupported := r.(errUnsupported); !unsupported {
				panic(r)
			}
			out, ok = nil, false
		}
	}()
	e := &fastEncoder{indent: -1, whitespace: true, indention: true}
	if root.HeadComment != "" {
		e.writeIndent()
		e.writeComment(root.HeadComment)
	}
	e.blockMapping(root, -1)
	e.indent = -1
	e.writeIndent()
	return e.buf, true
}

func unsupported() { panic(errUnsupported{}) }

func (e *fastEncoder) put(c byte) {
	e.buf = append(e.buf, c)
	e.column++
}

func (e *fastEncoder) putString(s string) {
	e.buf = append(e.buf, s...)
	e.column += len(s)
}

func (e *fastEncoder) putBreak() {
	e.buf = append(e.buf, '\n')
	e.column = 0
	e.indention = true
}

func (e *fastEncoder) writeIndent() {
	indent := max(e.indent, 0)
	if !e.indention || e.column > indent || (e.column == indent && !e.whitespace) {
		e.putBreak()
	}
	for e.column < indent {
		e.put(' ')
	}
	e.whitespace = true
}

func (e *fastEncoder) writeIndicator(s string, needWhitespace, isWhitespace, isIndention bool) {
	if needWhitespace && !e.whitespace {
		e.put(' ')
	}
	e.putString(s)
	e.whitespace = isWhitespace
	e.indention = e.indention && isIndention
}

// writeComment writes a comment block, "# " added to lines without '#'.
func (e *fastEncoder) writeComment(c string) {
	if !asciiText(c) {
		unsupported()
	}
	for i, line := range strings.Split(c, "\n") {
		if i > 0 {
			e.putBreak()
			e.writeIndent()
		}
		if line == "" {
			unsupported() // blank lines inside a comment: left to yaml.v3
		}
		if line[0] != '#' {
			e.putString("# ")
		}
		e.putString(line)
	}
	e.putBreak()
	e.whitespace = true
}

// The parent context of a node, which sets its indentation as yaml.v3's
// increase_indent does.
const (
	inMapping  = iota // a mapping value (or key)
	inSequence        // a sequence item
)

// increaseIndent is yaml.v3's increase_indent for block (flow false) and
// scalar (flow true) content.
func (e *fastEncoder) increaseIndent(flow bool, parent int, compactSeq bool) int {
	saved := e.indent
	switch {
	case e.indent < 0:
		if flow {
			e.indent = 2
		} else {
			e.indent = 0
		}
	case parent == inSequence && e.flowLevel == 0:
		e.indent += 2
	default:
		e.indent = 2 * ((e.indent + 2) / 2)
		if compactSeq {
			e.indent -= 2
		}
	}
	return saved
}

func checkCollection(n *yaml.Node, tag string) {
	if n.Anchor != "" || n.Style&^yaml.FlowStyle != 0 || n.LineComment != "" || n.FootComment != "" ||
		(n.Tag != "" && n.Tag != tag) {
		unsupported()
	}
}

// blockMapping writes a non-empty block mapping; parent is the context it
// is in (-1 for the document's root).
func (e *fastEncoder) blockMapping(m *yaml.Node, parent int) {
	checkCollection(m, "!!map")
	saved := e.increaseIndent(false, parent, false)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.LineComment != "" || k.FootComment != "" {
			unsupported()
		}
		if k.HeadComment != "" {
			e.writeIndent()
			e.writeComment(k.HeadComment)
		}
		e.writeIndent()
		e.scalar(k, inMapping, true)
		e.writeIndicator(":", false, false, false)
		e.node(v, inMapping)
	}
	e.indent = saved
}

func (e *fastEncoder) blockSequence(s *yaml.Node, parent int) {
	checkCollection(s, "!!seq")
	// A sequence in a mapping starts at the key's column ("compact").
	compact := parent == inMapping && (e.column == 0 || !e.indention)
	saved := e.increaseIndent(false, parent, compact)
	for _, item := range s.Content {
		if item.LineComment != "" || item.FootComment != "" {
			unsupported()
		}
		if item.HeadComment != "" {
			e.writeIndent()
			e.writeComment(item.HeadComment)
		}
		e.writeIndent()
		e.writeIndicator("-", true, false, true)
		e.node(item, inSequence)
	}
	e.indent = saved
}

// node writes a mapping value or a sequence item (whose head comment the
// sequence has written).
func (e *fastEncoder) node(n *yaml.Node, parent int) {
	if n.HeadComment != "" && parent == inMapping {
		unsupported()
	}
	switch n.Kind {
	case yaml.ScalarNode:
		e.scalar(n, parent, false)
	case yaml.MappingNode:
		checkCollection(n, "!!map")
		if e.flowLevel > 0 || n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
			e.flowMapping(n, parent)
			return
		}
		e.blockMapping(n, parent)
	case yaml.SequenceNode:
		checkCollection(n, "!!seq")
		if e.flowLevel > 0 || n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
			e.flowSequence(n, parent)
			return
		}
		e.blockSequence(n, parent)
	default:
		unsupported()
	}
}

// flowItemStart is what yaml.v3 writes before a flow item or key.
func (e *fastEncoder) flowItemStart(first bool) {
	if !first {
		e.writeIndicator(",", false, false, false)
	}
}

func (e *fastEncoder) flowSequence(s *yaml.Node, parent int) {
	e.writeIndicator("[", true, true, false)
	saved := e.increaseIndent(true, parent, false)
	e.flowLevel++
	for i, item := range s.Content {
		if item.HeadComment != "" || item.LineComment != "" || item.FootComment != "" {
			unsupported()
		}
		e.flowItemStart(i == 0)
		e.node(item, inSequence)
	}
	e.flowLevel--
	e.indent = saved
	e.writeIndicator("]", false, false, false)
}

func (e *fastEncoder) flowMapping(m *yaml.Node, parent int) {
	e.writeIndicator("{", true, true, false)
	saved := e.increaseIndent(true, parent, false)
	e.flowLevel++
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.HeadComment != "" || k.LineComment != "" || k.FootComment != "" {
			unsupported()
		}
		e.flowItemStart(i == 0)
		e.scalar(k, inMapping, true)
		e.writeIndicator(":", false, false, false)
		e.node(v, inMapping)
	}
	e.flowLevel--
	e.indent = saved
	e.writeIndicator("}", false, false, false)
}

// Scalar styles, as yaml.v3's emitter chooses them.
const (
	plainStyle = iota
	singleQuotedStyle
	doubleQuotedStyle
	literalStyle
)

// scalar writes a scalar as a mapping key (simpleKey), value or item.
func (e *fastEncoder) scalar(n *yaml.Node, parent int, simpleKey bool) {
	if n.Anchor != "" || n.Style&(yaml.TaggedStyle|yaml.FoldedStyle|yaml.FlowStyle) != 0 ||
		(n.LineComment != "" || n.FootComment != "") || !asciiText(n.Value) {
		unsupported()
	}
	value := n.Value
	forceQuoting := false
	if n.Tag != "" {
		quoted := n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle) != 0
		if !(n.Tag == "!!str" && quoted) {
			resolved, ok := resolveTag(value)
			switch {
			case !ok:
				unsupported()
			case resolved == n.Tag:
			case n.Tag == "!!str":
				forceQuoting = true
			default:
				unsupported() // the tag would have to be written
			}
		}
	}
	style := plainStyle
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		style = doubleQuotedStyle
	case n.Style&yaml.SingleQuotedStyle != 0:
		style = singleQuotedStyle
	case n.Style&yaml.LiteralStyle != 0:
		style = literalStyle
	case strings.Contains(value, "\n"):
		style = literalStyle
	case forceQuoting:
		style = doubleQuotedStyle
	}
	a := analyze(value)
	if simpleKey && (a.multiline || len(value) > 128) {
		unsupported() // yaml.v3 writes a complex key
	}
	// yaml.v3's select_scalar_style, in block context.
	if style == plainStyle {
		plainAllowed := a.plainAllowed
		if e.flowLevel > 0 {
			plainAllowed = a.flowPlainAllowed
		}
		if !plainAllowed || (value == "" && (simpleKey || e.flowLevel > 0)) {
			style = singleQuotedStyle
		}
	}
	if style == singleQuotedStyle && !a.singleQuotedAllowed {
		style = doubleQuotedStyle
	}
	if style == literalStyle && (!a.blockAllowed || simpleKey || e.flowLevel > 0) {
		style = doubleQuotedStyle
	}

	saved := e.increaseIndent(true, parent, false)
	switch style {
	case plainStyle:
		e.writePlain(value)
	case singleQuotedStyle:
		e.writeSingleQuoted(value)
	case doubleQuotedStyle:
		e.writeDoubleQuoted(value)
	case literalStyle:
		e.literal(value)
	}
	e.indent = saved
}

// yaml.v3's encoder sets no line width: scalars are never folded.

func (e *fastEncoder) writePlain(value string) {
	if value != "" && !e.whitespace {
		e.put(' ')
	}
	e.putString(value)
	if value != "" {
		e.whitespace = false
	}
	e.indention = false
}

func (e *fastEncoder) writeSingleQuoted(value string) {
	if strings.Contains(value, "\n") {
		// A line break inside single quotes is written doubled (a single
		// one folds into a space when read): left to yaml.v3.
		unsupported()
	}
	e.writeIndicator("'", true, false, false)
	e.putString(strings.ReplaceAll(value, "'", "''"))
	e.writeIndicator("'", false, false, false)
	e.whitespace, e.indention = false, false
}

func (e *fastEncoder) writeDoubleQuoted(value string) {
	if strings.ContainsAny(value, "\"\\\n\t") {
		unsupported() // escapes: left to yaml.v3
	}
	e.writeIndicator(`"`, true, false, false)
	e.putString(value)
	e.writeIndicator(`"`, false, false, false)
	e.whitespace, e.indention = false, false
}

func (e *fastEncoder) literal(value string) {
	e.writeIndicator("|", true, false, false)
	if value[0] == ' ' || value[0] == '\n' {
		e.writeIndicator("2", false, false, false)
	}
	switch {
	case !strings.HasSuffix(value, "\n"):
		e.writeIndicator("-", false, false, false)
	case value == "\n" || strings.HasSuffix(value, "\n\n"):
		unsupported() // "keep" chomping: yaml.v3 then ends the stream with "..."
	}
	e.putBreak()
	e.whitespace = true
	breaks := true
	for i := 0; i < len(value); {
		if value[i] == '\n' {
			e.putBreak()
			breaks = true
			i++
			continue
		}
		if breaks {
			e.writeIndent()
		}
		end := strings.IndexByte(value[i:], '\n')
		if end < 0 {
			end = len(value) - i
		}
		e.putString(value[i : i+end])
		e.indention = false
		breaks = false
		i += end
	}
}

// asciiText reports whether s holds only printable ASCII and line feeds:
// the only characters this writer handles.
func asciiText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c > 0x7e) && c != '\n' {
			return false
		}
	}
	return true
}

// analysis is what yaml.v3's analyze_scalar finds, for printable ASCII and
// line feeds, in block context.
type analysis struct {
	multiline, plainAllowed, flowPlainAllowed, singleQuotedAllowed, blockAllowed bool
}

func analyze(v string) analysis {
	if v == "" {
		return analysis{plainAllowed: true, singleQuotedAllowed: true}
	}
	var flowIndicators, blockIndicators, lineBreaks, leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
	if strings.HasPrefix(v, "---") || strings.HasPrefix(v, "...") {
		flowIndicators, blockIndicators = true, true
	}
	precededByWhitespace := true
	previousSpace, previousBreak := false, false
	for i := 0; i < len(v); i++ {
		if i > 0 && inertByte[v[i]] {
			// A run of bytes that only clear the state: skip it at once.
			for i+1 < len(v) && inertByte[v[i+1]] {
				i++
			}
			precededByWhitespace, previousSpace, previousBreak = false, false, false
			continue
		}
		c := v[i]
		followedByWhitespace := i+1 >= len(v) || v[i+1] == ' ' || v[i+1] == '\t' || v[i+1] == '\n'
		if i == 0 {
			switch c {
			case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
				flowIndicators, blockIndicators = true, true
			case '?', ':':
				flowIndicators = true
				if followedByWhitespace {
					blockIndicators = true
				}
			case '-':
				if followedByWhitespace {
					flowIndicators, blockIndicators = true, true
				}
			}
		} else {
			switch c {
			case ',', '?', '[', ']', '{', '}':
				flowIndicators = true
			case ':':
				flowIndicators = true
				if followedByWhitespace {
					blockIndicators = true
				}
			case '#':
				if precededByWhitespace {
					flowIndicators, blockIndicators = true, true
				}
			}
		}
		switch c {
		case ' ':
			if i == 0 {
				leadingSpace = true
			}
			if i == len(v)-1 {
				trailingSpace = true
			}
			if previousBreak {
				breakSpace = true
			}
			previousSpace, previousBreak = true, false
		case '\n':
			lineBreaks = true
			if i == 0 {
				leadingBreak = true
			}
			if i == len(v)-1 {
				trailingBreak = true
			}
			if previousSpace {
				spaceBreak = true
			}
			previousSpace, previousBreak = false, true
		default:
			previousSpace, previousBreak = false, false
		}
		precededByWhitespace = c == ' ' || c == '\t' || c == '\n'
	}
	a := analysis{multiline: lineBreaks, plainAllowed: true, flowPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak || lineBreaks {
		a.plainAllowed, a.flowPlainAllowed = false, false
	}
	if blockIndicators {
		a.plainAllowed = false
	}
	if flowIndicators {
		a.flowPlainAllowed = false
	}
	if trailingSpace || spaceBreak {
		a.blockAllowed = false
	}
	if breakSpace || spaceBreak {
		a.plainAllowed, a.flowPlainAllowed, a.singleQuotedAllowed = false, false, false
	}
	return a
}

// inertByte marks the bytes that, past the first, change nothing in
// analyze but the whitespace state: all but whitespace and the indicators
// it looks for there.
var inertByte = func() (t [256]bool) {
	for c := range t {
		t[c] = !strings.ContainsRune(" \t\n,?[]{}:#", rune(c))
	}
	return t
}()

// resolveTag is the tag yaml.v3 resolves a plain scalar to: the fast
// parser tags plain scalars with it, and the direct writer quotes a string
// that would resolve to another tag. ok is false for merge keys and what
// may be a timestamp, left to yaml.v3. TestResolveTagAsYAMLv3 holds it to
// yaml.v3's resolver.
func resolveTag(v string) (tag string, ok bool) {
	switch v {
	case "", "~", "null", "Null", "NULL":
		return "!!null", true
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool", true
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float", true
	case "<<":
		return "", false // a merge key: yaml.v3 writes its tag
	}
	switch c := v[0]; {
	case c == '.':
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return "!!float", true
		}
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		return resolveNumber(v)
	}
	return "!!str", true
}

// yamlFloat is the float syntax yaml.v3 accepts.
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolveNumber resolves a plain scalar that starts with a sign or a digit
// as yaml.v3 does: an integer in any base Go reads (underscores ignored),
// a float, or a string.
func resolveNumber(v string) (tag string, ok bool) {
	if len(v) > 4 && strings.Trim(v[:4], "0123456789") == "" && v[4] == '-' {
		return "", false // maybe a timestamp
	}
	plain := strings.ReplaceAll(v, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return "!!int", true
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return "!!int", true
	}
	if yamlFloat.MatchString(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return "!!float", true
		}
	}
	for _, p := range []struct {
		prefix string
		base   int
	}{{"0b", 2}, {"-0b", 2}, {"0o", 8}, {"-0o", 8}} {
		if digits, found := strings.CutPrefix(plain, p.prefix); found {
			if strings.HasPrefix(p.prefix, "-") {
				digits = "-" + digits
			}
			if _, err := strconv.ParseInt(digits, p.base, 64); err == nil {
				return "!!int", true
			}
			if _, err := strconv.ParseUint(digits, p.base, 64); err == nil && !strings.HasPrefix(p.prefix, "-") {
				return "!!int", true
			}
		}
	}
	return "!!str", true
}
