package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	invopop "github.com/invopop/jsonschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ctao/dpps-deploy/internal/godoc"
)

// SchemaFile is where dpps-schemagen writes the catalog's JSON Schema,
// relative to the repository root.
const SchemaFile = "schema/catalog.schema.json"

// SchemaID is the catalog schema's $id.
const SchemaID = "https://dpps.ctao.org/schema/catalog.schema.json"

// JSONSchema returns the catalog's JSON Schema (2020-12), generated from the
// Go types. With root set (the repository root) the types' doc comments,
// read from root/catalog, become descriptions; binaries pass "".
func JSONSchema(root, comment string) ([]byte, error) {
	r := &invopop.Reflector{ExpandedStruct: true}
	if root != "" {
		m, err := godoc.Comments(importPath, filepath.Join(root, "catalog"))
		if err != nil {
			return nil, err
		}
		r.CommentMap = m
	}
	s := r.ReflectFromType(reflect.TypeOf(Catalog{}))
	s.ID = SchemaID
	s.Title = "DPPS interface catalog"
	s.Comments = comment
	// Map keys are DNS-1123 labels.
	for _, key := range []string{"subcharts", "components", "interfaces", "shared", "credentials", "externals"} {
		if p, ok := s.Properties.Get(key); ok {
			p.PropertyNames = &invopop.Schema{Pattern: nameRE.String(), MaxLength: uint64Ptr(63)}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

const importPath = "github.com/ctao/dpps-deploy/catalog"

func uint64Ptr(v uint64) *uint64 { return &v }

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := JSONSchema("", "")
	if err != nil {
		return nil, err
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, parsed); err != nil {
		return nil, err
	}
	return c.Compile(SchemaID)
})

func validateSchema(data []byte) error {
	sch, err := compiled()
	if err != nil {
		return fmt.Errorf("catalog schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("catalog: %s", describe(err))
	}
	return nil
}

var printer = message.NewPrinter(language.English)

// describe lists the leaf causes of a validation error, one per line.
func describe(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var lines []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			var p strings.Builder
			for _, t := range e.InstanceLocation {
				p.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
			}
			ptr := p.String()
			if ptr == "" {
				ptr = "/"
			}
			lines = append(lines, ptr+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(lines, "\n")
}
