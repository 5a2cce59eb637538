package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"

	invopop "github.com/invopop/jsonschema"

	"github.com/ctao/dpps-deploy/internal/godoc"
	"github.com/ctao/dpps-deploy/internal/minischema"
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

// ValidationSchemaFile is the schema Load validates with: SchemaFile
// without the descriptions, which do not change what it accepts. It is
// generated with the other files (dpps-schemagen generate) and built into
// the binaries, which then need not reflect the Go types on every run.
const ValidationSchemaFile = "catalog/validation.schema.json"

//go:embed validation.schema.json
var validationSchema []byte

// ValidationSchema is the content of ValidationSchemaFile.
func ValidationSchema(comment string) ([]byte, error) { return JSONSchema("", comment) }

var compiled = sync.OnceValues(func() (*minischema.Schema, error) {
	return minischema.Compile(validationSchema)
})

func validateSchema(data []byte) error {
	sch, err := compiled()
	if err != nil {
		return fmt.Errorf("catalog schema: %w", err)
	}
	if err := sch.Validate(data); err != nil {
		if ve, ok := err.(*minischema.ValidationError); ok {
			return fmt.Errorf("catalog: %s", ve.Describe("\n"))
		}
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}
