// Package minischema validates documents against the JSON Schemas the
// toolkit generates for its own files (the interface catalog and
// dpps-render's config), which use a fixed subset of JSON Schema 2020-12.
//
// dpps-render validates both on every run. A general validator
// (santhosh-tekuri/jsonschema, which dpps-schemagen's lint keeps, as Helm
// does) compiles every draft's meta-schema when the process starts and
// the schema on first use: a fifth of a whole post-render of the DPPS
// chart. This package reads the generated schema as it is, refuses any
// keyword outside the subset (so a change in the generator cannot
// silently weaken validation), and words its violations as that library
// does; a test in package catalog holds both to the same verdicts.
package minischema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled schema.
type Schema struct {
	never                bool // the schema false
	types                []string
	ref                  *Schema
	refName              string
	properties           map[string]*Schema
	required             []string
	additionalProperties *Schema // nil: any
	noAdditional         bool    // additionalProperties: false
	propertyNames        *Schema
	items                *Schema
	enum                 []any
	minLength, maxLength *int
	minimum, maximum     *big.Rat
	pattern              *regexp.Regexp
	minItems             *int
	uniqueItems          bool
}

// annotations are keywords that do not validate.
var annotations = map[string]bool{"$schema": true, "$id": true, "$comment": true, "$defs": true,
	"title": true, "description": true, "default": true, "examples": true}

// Compile compiles a schema document; local "#/$defs/..." references are
// the only ones allowed.
func Compile(doc []byte) (*Schema, error) {
	var root map[string]any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	defs, _ := root["$defs"].(map[string]any)
	c := &compiler{defs: defs, compiled: map[string]*Schema{}}
	s, err := c.compile(root, "#")
	if err != nil {
		return nil, err
	}
	for _, r := range c.refs {
		if r.ref = c.compiled[r.refName]; r.ref == nil {
			return nil, fmt.Errorf("schema: $ref to unknown #/$defs/%s", r.refName)
		}
	}
	return s, nil
}

type compiler struct {
	defs     map[string]any
	compiled map[string]*Schema
	refs     []*Schema // schemas with a $ref, resolved once every def is compiled
}

func (c *compiler) compile(v any, at string) (*Schema, error) {
	if b, ok := v.(bool); ok {
		return &Schema{never: !b}, nil // true: anything; false: nothing
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %s: not an object", at)
	}
	s := &Schema{}
	for key, val := range m {
		var err error
		switch key {
		case "$ref":
			name, found := strings.CutPrefix(fmt.Sprint(val), "#/$defs/")
			if !found {
				return nil, fmt.Errorf("schema %s: $ref %v is not local", at, val)
			}
			if _, started := c.compiled[name]; !started && c.defs[name] != nil {
				c.compiled[name] = nil // a def that refers to itself
				def, err := c.compile(c.defs[name], "#/$defs/"+name)
				if err != nil {
					return nil, err
				}
				c.compiled[name] = def
			}
			s.refName = name
			c.refs = append(c.refs, s)
		case "type":
			switch t := val.(type) {
			case string:
				s.types = []string{t}
			case []any:
				for _, x := range t {
					s.types = append(s.types, fmt.Sprint(x))
				}
			}
		case "properties":
			props, _ := val.(map[string]any)
			s.properties = map[string]*Schema{}
			for name, p := range props {
				if s.properties[name], err = c.compile(p, at+"/properties/"+name); err != nil {
					return nil, err
				}
			}
		case "required":
			for _, r := range val.([]any) {
				s.required = append(s.required, fmt.Sprint(r))
			}
		case "additionalProperties":
			if b, isBool := val.(bool); isBool {
				s.noAdditional = !b
			} else if s.additionalProperties, err = c.compile(val, at+"/additionalProperties"); err != nil {
				return nil, err
			}
		case "propertyNames":
			s.propertyNames, err = c.compile(val, at+"/propertyNames")
		case "items":
			s.items, err = c.compile(val, at+"/items")
		case "enum":
			s.enum = val.([]any)
		case "minLength":
			s.minLength, err = count(val, at, key)
		case "maxLength":
			s.maxLength, err = count(val, at, key)
		case "minItems":
			s.minItems, err = count(val, at, key)
		case "minimum":
			s.minimum, err = number(val, at, key)
		case "maximum":
			s.maximum, err = number(val, at, key)
		case "pattern":
			s.pattern, err = regexp.Compile(fmt.Sprint(val))
		case "uniqueItems":
			s.uniqueItems = val == true
		default:
			if !annotations[key] {
				return nil, fmt.Errorf("schema %s: keyword %q is outside the subset minischema validates", at, key)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func count(v any, at, key string) (*int, error) {
	f, ok := v.(float64)
	if !ok || f < 0 || f != float64(int(f)) {
		return nil, fmt.Errorf("schema %s: %s is not a count", at, key)
	}
	n := int(f)
	return &n, nil
}

func number(v any, at, key string) (*big.Rat, error) {
	f, ok := v.(float64)
	if !ok {
		return nil, fmt.Errorf("schema %s: %s is not a number", at, key)
	}
	return new(big.Rat).SetFloat64(f), nil
}

// Violation is one failed keyword at one place in the instance.
type Violation struct {
	Pointer string // JSON pointer into the instance, "" for the root
	Message string
	// PropertyName is set when a property name failed (propertyNames):
	// Pointer is then the object holding it.
	PropertyName bool
}

// ValidationError lists every violation, in a stable order.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string { return e.Describe("; ") }

// Describe renders the violations as "pointer: message", joined by sep;
// the root is "/".
func (e *ValidationError) Describe(sep string) string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		p := v.Pointer
		if p == "" {
			p = "/"
		}
		parts[i] = p + ": " + v.Message
	}
	return strings.Join(parts, sep)
}

// printer formats numbers as the general validator does.
var printer = message.NewPrinter(language.English)

// Validate checks a JSON document against s. An error that is not a
// *ValidationError means the document is not JSON.
func (s *Schema) Validate(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("invalid character after the top-level value")
	}
	var vs []Violation
	s.validate(v, "", &vs)
	if len(vs) > 0 {
		return &ValidationError{Violations: vs}
	}
	return nil
}

func (s *Schema) validate(v any, ptr string, out *[]Violation) {
	if s.ref != nil {
		s.ref.validate(v, ptr, out)
	}
	add := func(format string, args ...any) {
		*out = append(*out, Violation{Pointer: ptr, Message: printer.Sprintf(format, args...)})
	}
	if s.never {
		add("false schema")
		return
	}
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return hasType(v, t) }) {
		add("got %s, want %s", typeOf(v), strings.Join(s.types, " or "))
		return
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, func(e any) bool { return equal(e, v) }) {
		if len(s.enum) == 1 {
			add("value must be %s", display(s.enum[0]))
		} else {
			shown := make([]string, len(s.enum))
			for i, e := range s.enum {
				shown[i] = display(e)
			}
			add("value must be one of %s", strings.Join(shown, ", "))
		}
	}
	switch v := v.(type) {
	case string:
		s.validateString(v, add)
	case json.Number:
		n, _ := new(big.Rat).SetString(v.String())
		if s.minimum != nil && n.Cmp(s.minimum) < 0 {
			add("minimum: got %v, want %v", ratFloat(n), ratFloat(s.minimum))
		}
		if s.maximum != nil && n.Cmp(s.maximum) > 0 {
			add("maximum: got %v, want %v", ratFloat(n), ratFloat(s.maximum))
		}
	case []any:
		if s.minItems != nil && len(v) < *s.minItems {
			add("minItems: got %d, want %d", len(v), *s.minItems)
		}
		if s.uniqueItems {
		unique:
			for i := range v {
				for j := i + 1; j < len(v); j++ {
					if equal(v[i], v[j]) {
						add("items at %d and %d are equal", i, j)
						break unique
					}
				}
			}
		}
		if s.items != nil {
			for i, item := range v {
				s.items.validate(item, fmt.Sprintf("%s/%d", ptr, i), out)
			}
		}
	case map[string]any:
		s.validateObject(v, ptr, add, out)
	}
}

func (s *Schema) validateString(v string, add func(string, ...any)) {
	n := utf8.RuneCountInString(v)
	if s.minLength != nil && n < *s.minLength {
		add("minLength: got %d, want %d", n, *s.minLength)
	}
	if s.maxLength != nil && n > *s.maxLength {
		add("maxLength: got %d, want %d", n, *s.maxLength)
	}
	if s.pattern != nil && !s.pattern.MatchString(v) {
		add("%s does not match pattern %s", quote(v), quote(s.pattern.String()))
	}
}

func (s *Schema) validateObject(v map[string]any, ptr string, add func(string, ...any), out *[]Violation) {
	var missing []string
	for _, r := range s.required {
		if _, ok := v[r]; !ok {
			missing = append(missing, quote(r))
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		add("missing property %s", missing[0])
	default:
		add("missing properties %s", strings.Join(missing, ", "))
	}
	names := slices.Sorted(maps.Keys(v))
	if s.propertyNames != nil {
		for _, name := range names {
			// Violations of a name are reported at the object.
			before := len(*out)
			s.propertyNames.validate(name, ptr, out)
			for i := before; i < len(*out); i++ {
				(*out)[i].PropertyName = true
			}
		}
	}
	var additional []string
	for _, name := range names {
		child := ptr + "/" + escape(name)
		switch p, ok := s.properties[name]; {
		case ok:
			p.validate(v[name], child, out)
		case s.noAdditional:
			additional = append(additional, quote(name))
		case s.additionalProperties != nil:
			s.additionalProperties.validate(v[name], child, out)
		}
	}
	if len(additional) > 0 {
		add("additional properties %s not allowed", strings.Join(additional, ", "))
	}
}

func hasType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	case json.Number:
		if t == "number" {
			return true
		}
		r, ok := new(big.Rat).SetString(v.String())
		return t == "integer" && ok && r.IsInt()
	}
	return false
}

func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}

func equal(a, b any) bool {
	if an, ok := a.(json.Number); ok {
		a, _ = new(big.Rat).SetString(an.String())
	}
	if bn, ok := b.(json.Number); ok {
		b, _ = new(big.Rat).SetString(bn.String())
	}
	if af, ok := a.(float64); ok {
		a = new(big.Rat).SetFloat64(af)
	}
	if bf, ok := b.(float64); ok {
		b = new(big.Rat).SetFloat64(bf)
	}
	if ar, ok := a.(*big.Rat); ok {
		br, ok := b.(*big.Rat)
		return ok && ar != nil && br != nil && ar.Cmp(br) == 0
	}
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, equal)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			if bv, found := b[k]; !found || !equal(av, bv) {
				return false
			}
		}
		return true
	}
	return a == b
}

func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

// quote is the general validator's quoting: single quotes, Go escapes.
func quote(s string) string {
	s = fmt.Sprintf("%q", s)
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s[1:len(s)-1] + "'"
}

func display(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case []any, map[string]any:
		return "value"
	}
	return fmt.Sprint(v)
}

func escape(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}
