// Package schemacheck compiles the toolkit's JSON Schemas and describes what
// fails them, with the library Helm validates values with
// (santhosh-tekuri/jsonschema/v6) and the English printer Helm's messages
// come out of.
package schemacheck

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Printer formats messages as Helm prints them (numbers with thousands
// separators).
var Printer = message.NewPrinter(language.English)

// Compile compiles one self-contained schema document whose $id is id.
func Compile(id string, doc []byte) (*jsonschema.Schema, error) {
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, parsed); err != nil {
		return nil, err
	}
	return c.Compile(id)
}

// Validate checks a JSON document against sch.
func Validate(sch *jsonschema.Schema, jsonDoc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(jsonDoc))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// Violation is one schema error at one place in the instance.
type Violation struct {
	Pointer string // JSON pointer into the instance, "" for the root
	Message string
}

// Violations flattens a validation error into its leaf causes, in the
// library's order.
func Violations(err error) []Violation {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, Violation{Pointer: Pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(Printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// Describe renders a validation error as "pointer: message" per violation,
// joined by sep; the root is "/". Other errors (a document that is not
// JSON) keep their own message.
func Describe(err error, sep string) string {
	if ve := (*jsonschema.ValidationError)(nil); !errors.As(err, &ve) {
		return err.Error()
	}
	var parts []string
	for _, v := range Violations(err) {
		p := v.Pointer
		if p == "" {
			p = "/"
		}
		parts = append(parts, p+": "+v.Message)
	}
	return strings.Join(parts, sep)
}

// Pointer is the JSON pointer (RFC 6901) of a token path.
func Pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
