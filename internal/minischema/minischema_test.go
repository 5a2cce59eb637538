package minischema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/internal/minischema"
	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
)

// general compiles doc with the general validator Helm and lint use.
func general(t *testing.T, id string, doc []byte) *jsonschema.Schema {
	t.Helper()
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, parsed); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// generalPointers are the places of the general validator's leaf errors,
// but for property names: it locates those wrongly (the name's own
// location "", under a parent that need not hold the name).
func generalPointers(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if _, names := e.ErrorKind.(*kind.PropertyNames); names {
			return
		}
		if len(e.Causes) == 0 {
			p := ""
			for _, tok := range e.InstanceLocation {
				p += "/" + strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
			}
			out = append(out, p)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out)
}

func miniPointers(err error) []string {
	var ve *minischema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, v := range ve.Violations {
		if !v.PropertyName {
			out = append(out, v.Pointer)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mutate changes one random place of a JSON value in one of the ways a
// hand-written catalog or config goes wrong.
func mutate(r *rand.Rand, v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		if len(keys) == 0 || r.IntN(4) == 0 {
			y := maps.Clone(x)
			switch r.IntN(4) {
			case 0:
				y["unknownField"] = "x"
			case 1:
				y["Bad_Name"] = map[string]any{}
			case 2:
				if len(keys) > 0 {
					delete(y, keys[r.IntN(len(keys))])
				}
			default:
				y[strings.Repeat("a", 64)] = x[firstOr(keys)]
			}
			return y
		}
		y := maps.Clone(x)
		k := keys[r.IntN(len(keys))]
		y[k] = mutate(r, x[k])
		return y
	case []any:
		if len(x) == 0 || r.IntN(3) == 0 {
			switch r.IntN(3) {
			case 0:
				return []any{}
			case 1:
				if len(x) > 0 {
					return append(slices.Clone(x), x[0])
				}
			}
			return "not a list"
		}
		y := slices.Clone(x)
		i := r.IntN(len(x))
		y[i] = mutate(r, x[i])
		return y
	}
	replacements := []any{"", "Bad_Name", "x", strings.Repeat("y", 20), "/metrics", "metrics", "TCP", "tcp", "Deployment",
		json.Number("0"), json.Number("1"), json.Number("65535"), json.Number("70000"), json.Number("1.5"), json.Number("-3"),
		true, false, nil, []any{}, map[string]any{}}
	return replacements[r.IntN(len(replacements))]
}

func firstOr(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSameVerdictsAsGeneralValidator holds minischema to the general
// validator on the two schemas dpps-render validates at run time: the
// shipped documents and thousands of mutations of them get the same
// verdict, and invalid ones are faulted at the same places.
func TestSameVerdictsAsGeneralValidator(t *testing.T) {
	root := testutil.RepoRoot(t)
	catalogSchema, err := catalog.JSONSchema("", "")
	if err != nil {
		t.Fatal(err)
	}
	configSchema, err := transforms.ConfigSchema(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var catalogs [][]byte
	if data, err := os.ReadFile(filepath.Join(root, "charts/dpps/catalog.json")); err == nil {
		catalogs = append(catalogs, data)
	} else {
		t.Fatal(err)
	}
	sites, _ := filepath.Glob(filepath.Join(root, "docs/site-catalogs/*.yaml"))
	for _, f := range sites {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		catalogs = append(catalogs, js)
	}
	configs := [][]byte{
		[]byte(`{}`),
		[]byte(`{"transforms": ["provenance", "netpol"], "catalog": "c.json", "provenance": {"partOf": "ctao", "chart": "dpps-1.2.3"},
		  "secretrefs": {"remoteKeyPrefix": "dpps/"}, "netpol": {"dns": {"namespace": "kube-system"}}, "externals": {"metrics": "none"}}`),
	}
	for _, tc := range []struct {
		name   string
		schema []byte
		docs   [][]byte
	}{
		{"catalog", catalogSchema, catalogs},
		{"config", configSchema, configs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen := general(t, "https://example.org/"+tc.name+".json", tc.schema)
			mini, err := minischema.Compile(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			var invalid int
			for d, doc := range tc.docs {
				base := decode(t, doc)
				for i := range 800 {
					v := base
					if i > 0 {
						for range 1 + r.IntN(3) {
							v = mutate(r, v)
						}
					}
					js, err := json.Marshal(v)
					if err != nil {
						t.Fatal(err)
					}
					inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
					if err != nil {
						t.Fatal(err)
					}
					generr := gen.Validate(inst)
					minierr := mini.Validate(js)
					if (generr == nil) != (minierr == nil) {
						t.Fatalf("document %d, mutation %d: general validator: %v; minischema: %v\n%s", d, i, generr, minierr, js)
					}
					if i == 0 && generr != nil {
						t.Fatalf("document %d is invalid: %v", d, generr)
					}
					if generr != nil {
						invalid++
						if g, m := generalPointers(generr), miniPointers(minierr); !slices.Equal(g, m) {
							t.Fatalf("document %d, mutation %d: faulted at %v by the general validator, at %v by minischema\n%v\n%v",
								d, i, g, m, generr, minierr)
						}
					}
				}
			}
			t.Logf("%d invalid documents", invalid)
			if invalid < 100 {
				t.Errorf("only %d mutations made an invalid document: the test tests little", invalid)
			}
		})
	}
}

// TestMessages: violations are worded as the general validator words them,
// with Helm's number format.
func TestMessages(t *testing.T) {
	schema := []byte(`{"type": "object", "additionalProperties": false, "required": ["a", "b", "p"],
	  "properties": {"p": {"type": "integer", "minimum": 1, "maximum": 65535},
	    "e": {"type": "string", "enum": ["x", "y"]}, "s": {"type": "string", "minLength": 2, "pattern": "^/"},
	    "l": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true},
	    "m": {"type": "object", "propertyNames": {"maxLength": 3}, "additionalProperties": {"$ref": "#/$defs/D"}}},
	  "$defs": {"D": {"type": "boolean"}}}`)
	s, err := minischema.Compile(schema)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate([]byte(`{"p": 70000, "e": "z", "s": "a", "l": ["x", "x"], "m": {"long": 1}, "q": 1}`))
	var ve *minischema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v", err)
	}
	want := []string{
		"/: missing properties 'a', 'b'",
		"/e: value must be one of 'x', 'y'",
		"/l: items at 0 and 1 are equal",
		"/m: maxLength: got 4, want 3",
		"/m/long: got number, want boolean",
		"/p: maximum: got 70,000, want 65,535",
		"/s: minLength: got 1, want 2",
		"/s: 'a' does not match pattern '^/'",
		"/: additional properties 'q' not allowed",
	}
	if got := strings.Split(ve.Describe("\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := s.Validate([]byte(`{"a": 1`)); err == nil || errors.As(err, &ve) {
		t.Errorf("truncated JSON: %v", err)
	}
	for _, bad := range []string{`{"not": {}}`, `{"$ref": "http://x/y"}`, `{"$ref": "#/$defs/none"}`} {
		if _, err := minischema.Compile([]byte(bad)); err == nil {
			t.Errorf("%s compiled", bad)
		}
	}
}
