package schema

import (
	"errors"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer formats messages as Helm prints them (Helm uses the same library).
var printer = message.NewPrinter(language.English)

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
			out = append(out, Violation{Pointer: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// Describe renders a validation error on one line per violation.
func Describe(err error) string {
	var parts []string
	for _, v := range Violations(err) {
		p := v.Pointer
		if p == "" {
			p = "/"
		}
		parts = append(parts, p+": "+v.Message)
	}
	return strings.Join(parts, "; ")
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
