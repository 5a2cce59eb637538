package schemacheck

import (
	"errors"
	"testing"
)

const schema = `{"$schema": "https://json-schema.org/draft/2020-12/schema",
 "type": "object", "additionalProperties": false,
 "properties": {"port": {"type": "integer", "maximum": 65535}, "a/b~c": {"type": "string"}}}`

func TestDescribe(t *testing.T) {
	sch, err := Compile("https://example.org/s.json", []byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct{ doc, want string }{
		"valid":                       {`{"port": 80}`, ""},
		"bound, helm's number format": {`{"port": 70000}`, "/port: maximum: got 70,000, want 65,535"},
		"escaped pointer":             {`{"a/b~c": 1}`, "/a~1b~0c: got number, want string"},
		"two, in order":               {`{"port": "x", "extra": 1}`, "/port: got string, want integer; /: additional properties 'extra' not allowed"},
		"root":                        {`[]`, "/: got array, want object"},
		"not JSON":                    {`{`, "unexpected EOF"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := Validate(sch, []byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("valid, want an error")
			}
			if got := Describe(err, "; "); got != tc.want {
				t.Errorf("Describe = %q, want %q", got, tc.want)
			}
		})
	}
	if got := Describe(errors.New("plain"), "\n"); got != "plain" {
		t.Errorf("a plain error: %q", got)
	}
}
