package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// node is one JSON Schema (2020-12) object as dpps-schemagen writes it.
// Keywords are written in a fixed order, properties in CUE order: the same
// model always gives the same bytes.
type node struct {
	Ref         string
	Comment     string
	Title       string
	Description string
	Types       []string
	Enum        []any
	Const       any
	HasConst    bool
	Default     any
	HasDefault  bool
	Patterns    []string
	MinLength   *int
	MaxLength   *int
	Minimum     string
	Maximum     string
	ExclMinimum string
	ExclMaximum string
	Items       *node
	MinItems    *int
	MaxItems    *int
	UniqueItems bool
	Props       []prop
	Required    []string
	// AdditionalProperties: nil means open (omitted), Closed means false.
	Closed     bool
	Additional *node
	Not        *node
	AnyOf      []*node
	AllOf      []*node
	If         *node
	Then       *node
	// External is the x-dpps-external keyword.
	External any
	Defs     []prop
	// Schema is the $schema keyword (root only).
	Schema string
}

type prop struct {
	Name string
	Node *node
}

func (n *node) prop(name string) *node {
	for _, p := range n.Props {
		if p.Name == name {
			return p.Node
		}
	}
	return nil
}

// children are the schemas n holds, other than its $defs.
func (n *node) children() []*node {
	out := []*node{n.Items, n.Additional, n.Not, n.If, n.Then}
	out = append(out, n.AnyOf...)
	out = append(out, n.AllOf...)
	for _, p := range n.Props {
		out = append(out, p.Node)
	}
	return out
}

func intPtr(i int) *int { return &i }

// MarshalJSON writes the keywords in a fixed order.
func (n *node) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	first := true
	put := func(k string, v any) error {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		b.Write(vb)
		return nil
	}
	type kv struct {
		k    string
		v    any
		show bool
	}
	props := func(ps []prop) any { return orderedProps(ps) }
	var pattern any
	var allOf []*node
	allOf = append(allOf, n.AllOf...)
	switch len(n.Patterns) {
	case 0:
	case 1:
		pattern = n.Patterns[0]
	default:
		// Several patterns must all match: the first is the keyword, the
		// others go to allOf.
		pattern = n.Patterns[0]
		for _, p := range n.Patterns[1:] {
			allOf = append(allOf, &node{Patterns: []string{p}})
		}
	}
	var typ any
	switch len(n.Types) {
	case 0:
	case 1:
		typ = n.Types[0]
	default:
		typ = n.Types
	}
	var additional any
	if n.Closed {
		additional = false
	} else if n.Additional != nil {
		additional = n.Additional
	}
	num := func(s string) any { return json.Number(s) }
	for _, e := range []kv{
		{"$schema", n.Schema, n.Schema != ""},
		{"$comment", n.Comment, n.Comment != ""},
		{"$ref", n.Ref, n.Ref != ""},
		{"title", n.Title, n.Title != ""},
		{"description", n.Description, n.Description != ""},
		{"type", typ, typ != nil},
		{"enum", n.Enum, n.Enum != nil},
		{"const", n.Const, n.HasConst},
		{"default", n.Default, n.HasDefault},
		{"pattern", pattern, pattern != nil},
		{"minLength", n.MinLength, n.MinLength != nil},
		{"maxLength", n.MaxLength, n.MaxLength != nil},
		{"minimum", num(n.Minimum), n.Minimum != ""},
		{"exclusiveMinimum", num(n.ExclMinimum), n.ExclMinimum != ""},
		{"maximum", num(n.Maximum), n.Maximum != ""},
		{"exclusiveMaximum", num(n.ExclMaximum), n.ExclMaximum != ""},
		{"items", n.Items, n.Items != nil},
		{"minItems", n.MinItems, n.MinItems != nil},
		{"maxItems", n.MaxItems, n.MaxItems != nil},
		{"uniqueItems", true, n.UniqueItems},
		{"properties", props(n.Props), len(n.Props) > 0},
		{"required", n.Required, len(n.Required) > 0},
		{"additionalProperties", additional, additional != nil},
		{"not", n.Not, n.Not != nil},
		{"anyOf", n.AnyOf, len(n.AnyOf) > 0},
		{"allOf", allOf, len(allOf) > 0},
		{"if", n.If, n.If != nil},
		{"then", n.Then, n.Then != nil},
		{"x-dpps-external", n.External, n.External != nil},
		{"$defs", props(n.Defs), n.Defs != nil},
	} {
		if !e.show {
			continue
		}
		if err := put(e.k, e.v); err != nil {
			return nil, err
		}
	}
	if first {
		return []byte("{}"), nil
	}
	return append(append([]byte{'{'}, b.Bytes()...), '}'), nil
}

type orderedProps []prop

func (ps orderedProps) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(p.Name))
		b.WriteByte(':')
		vb, err := marshal(p.Node)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// encode writes a schema indented by two spaces with a final newline.
func encode(n *node) ([]byte, error) {
	raw, err := marshal(n)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// merge folds b's constraints into a (a conjunction).
func merge(a, b *node) *node {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	switch {
	case len(a.Types) == 0:
		a.Types = b.Types
	case len(b.Types) > 0:
		a.Types = intersectTypes(a.Types, b.Types)
	}
	if b.Ref != "" {
		a.Ref = b.Ref
	}
	if b.Enum != nil {
		a.Enum = b.Enum
	}
	if b.HasConst {
		a.Const, a.HasConst = b.Const, true
	}
	a.Patterns = append(a.Patterns, b.Patterns...)
	a.MinLength = maxPtr(a.MinLength, b.MinLength)
	a.MaxLength = minPtr(a.MaxLength, b.MaxLength)
	a.MinItems = maxPtr(a.MinItems, b.MinItems)
	a.MaxItems = minPtr(a.MaxItems, b.MaxItems)
	a.UniqueItems = a.UniqueItems || b.UniqueItems
	a.Minimum = pickNum(a.Minimum, b.Minimum, true)
	a.Maximum = pickNum(a.Maximum, b.Maximum, false)
	a.ExclMinimum = pickNum(a.ExclMinimum, b.ExclMinimum, true)
	a.ExclMaximum = pickNum(a.ExclMaximum, b.ExclMaximum, false)
	if b.Items != nil {
		a.Items = merge(a.Items, b.Items)
	}
	if b.Props != nil {
		a.Props = b.Props
		a.Required = b.Required
		a.Closed = b.Closed
		a.Additional = b.Additional
	}
	if b.Not != nil {
		a.Not = b.Not
	}
	a.AnyOf = append(a.AnyOf, b.AnyOf...)
	a.AllOf = append(a.AllOf, b.AllOf...)
	return a
}

func intersectTypes(a, b []string) []string {
	var out []string
	for _, t := range a {
		switch {
		case slices.Contains(b, t):
			out = append(out, t)
		case t == "number" && slices.Contains(b, "integer"):
			out = append(out, "integer")
		case t == "integer" && slices.Contains(b, "number"):
			out = append(out, "integer")
		}
	}
	return out
}

func maxPtr(a, b *int) *int {
	if a == nil || (b != nil && *b > *a) {
		return b
	}
	return a
}

func minPtr(a, b *int) *int {
	if a == nil || (b != nil && *b < *a) {
		return b
	}
	return a
}

func pickNum(a, b string, larger bool) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	fa, _ := strconv.ParseFloat(a, 64)
	fb, _ := strconv.ParseFloat(b, 64)
	if (fb > fa) == larger {
		return b
	}
	return a
}
