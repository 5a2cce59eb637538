package schema

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueyaml "cuelang.org/go/encoding/yaml"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestConvert runs the txtar cases of testdata/cue2jsonschema: each holds
// schema.cue (with #Values) and the golden schema.json, or the golden error;
// valid/*.yaml and invalid/*.yaml are values both CUE and the generated
// schema must accept, or both reject. -update rewrites the goldens.
func TestConvert(t *testing.T) {
	files, err := filepath.Glob("testdata/cue2jsonschema/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ctx := cuecontext.New()
			root := ctx.CompileBytes(section(t, ar, "schema.cue"), cue.Filename("schema.cue"))
			if err := root.Err(); err != nil {
				t.Fatal(err)
			}
			def := root.LookupPath(cue.ParsePath("#Values"))
			n, err := convert(def, nil)
			var got []byte
			golden := "schema.json"
			if err != nil {
				golden = "error"
				got = []byte(err.Error() + "\n")
			} else if got, err = encode(n); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, file, ar, golden, got)
			if golden == "error" {
				return
			}
			sch := compileSchema(t, got)
			for _, f := range ar.Files {
				want := strings.HasPrefix(f.Name, "valid/")
				if !want && !strings.HasPrefix(f.Name, "invalid/") {
					continue
				}
				cueErr := validateCUE(ctx, def, f.Name, f.Data)
				jsErr := validateJSON(sch, f.Data)
				if (cueErr == nil) != want {
					t.Errorf("%s: CUE says %v", f.Name, cueErr)
				}
				if (jsErr == nil) != want {
					t.Errorf("%s: JSON Schema says %v", f.Name, jsErr)
				}
			}
		})
	}
}

func section(t *testing.T, ar *txtar.Archive, name string) []byte {
	t.Helper()
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("no section %s", name)
	return nil
}

// compareGolden compares got with the archive's section name, or rewrites
// it with -update.
func compareGolden(t *testing.T, file string, ar *txtar.Archive, name string, got []byte) {
	t.Helper()
	for i, f := range ar.Files {
		if f.Name != name {
			continue
		}
		if bytes.Equal(f.Data, got) {
			return
		}
		if !*update {
			t.Fatalf("%s differs from the golden; run go test -update to accept:\n%s", name, got)
		}
		ar.Files[i].Data = got
		writeArchive(t, file, ar)
		return
	}
	if !*update {
		t.Fatalf("no golden %s; run go test -update to write:\n%s", name, got)
	}
	// Goldens go right after schema.cue.
	var files []txtar.File
	for _, f := range ar.Files {
		files = append(files, f)
		if f.Name == "schema.cue" {
			files = append(files, txtar.File{Name: name, Data: got})
		}
	}
	ar.Files = files
	writeArchive(t, file, ar)
}

func writeArchive(t *testing.T, file string, ar *txtar.Archive) {
	t.Helper()
	if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

func compileSchema(t testing.TB, doc []byte) *jsonschema.Schema {
	t.Helper()
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///values.schema.json", parsed); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validateCUE(ctx *cue.Context, def cue.Value, name string, data []byte) error {
	f, err := cueyaml.Extract(name, data)
	if err != nil {
		return err
	}
	return def.Unify(ctx.BuildFile(f)).Validate(cue.Concrete(true))
}

func validateJSON(sch *jsonschema.Schema, data []byte) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}
