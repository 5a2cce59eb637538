package transforms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"strings"
	"sync"

	invopop "github.com/invopop/jsonschema"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/minischema"
)

// ConfigSchemaID is the $id of the config file's JSON Schema.
const ConfigSchemaID = "https://dpps.ctao.org/schema/dpps-render.config.schema.json"

// ConfigSchema returns the JSON Schema (2020-12) of the config file,
// generated from Config; comments (invopop's CommentMap, from the Go doc
// comments) become descriptions and may be nil. dpps-schemagen writes it,
// with comments, to schema/dpps-render.config.schema.json.
func ConfigSchema(comments map[string]string, header string) ([]byte, error) {
	r := &invopop.Reflector{ExpandedStruct: true, Namer: qualifiedName, CommentMap: comments}
	s := r.ReflectFromType(reflect.TypeOf(Config{}))
	s.ID = ConfigSchemaID
	s.Title = "dpps-render configuration"
	s.Comments = header
	if p, ok := s.Properties.Get("transforms"); ok {
		p.Items.Enum = nil
		for _, n := range Names() {
			p.Items.Enum = append(p.Items.Enum, n)
		}
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// qualifiedName keeps the config types of different transforms, all named
// Config, apart in $defs: provenance.Config becomes "ProvenanceConfig".
func qualifiedName(t reflect.Type) string {
	pkg := path.Base(t.PkgPath())
	if pkg == "" || pkg == "." {
		return t.Name()
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
}

// compiledConfigSchema is the schema without descriptions, which do not
// change what it accepts.
var compiledConfigSchema = sync.OnceValues(func() (*minischema.Schema, error) {
	doc, err := ConfigSchema(nil, "")
	if err != nil {
		return nil, err
	}
	return minischema.Compile(doc)
})

// LoadConfig validates a config file (YAML or JSON) against the config's
// JSON Schema, then decodes it strictly (a key written twice or unknown is
// an error); name is how errors refer to it.
func LoadConfig(name string, data []byte) (*Config, error) {
	sch, err := compiledConfigSchema()
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, oneLine(err))
	}
	if string(js) == "null" {
		js = []byte("{}") // an empty file: the defaults
	}
	if err := sch.Validate(js); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &cfg, nil
}

// oneLine is a YAML error on one line: the parser lists the problems of a
// document (a key written twice) on lines of their own, under a header.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "error converting YAML to JSON: ")
		if l = strings.TrimSuffix(strings.TrimPrefix(l, "yaml: "), "unmarshal errors:"); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
