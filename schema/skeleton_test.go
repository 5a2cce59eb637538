package schema_test

import (
	"testing"

	"github.com/ctao/dpps-deploy/schema"
)

// TestSkeleton pins the skeleton of a small schema: global spelt out
// whole ($ref defaults, required, enum placeholders, an external), a
// subchart down to its switches only.
func TestSkeleton(t *testing.T) {
	const in = `{
  "title": "T",
  "type": "object",
  "properties": {
    "$schema": {"type": "string"},
    "global": {
      "description": "Shared.",
      "type": "object",
      "properties": {
        "externals": {
          "type": "object",
          "properties": {
            "db": {
              "$ref": "#/$defs/DB",
              "description": "The site's database.",
              "x-dpps-external": {"name": "db", "direction": "outbound", "protocol": "postgresql", "port": 5432, "auth": "password",
                "fixture": {"components": ["db"], "toggle": "sub.db.enabled"}}
            }
          }
        },
        "mode": {"description": "How.", "enum": ["a: b", "c"]}
      }
    },
    "sub": {
      "description": "A subchart.",
      "type": "object",
      "properties": {
        "enabled": {"description": "Deploy it.", "type": "boolean", "default": true},
        "image": {"type": "object", "properties": {"tag": {"type": "string"}}},
        "global": {"type": "object"},
        "db": {"type": "object", "properties": {"enabled": {"type": "boolean", "default": true}, "size": {"type": "integer"}}}
      }
    }
  },
  "$defs": {
    "DB": {
      "type": "object",
      "required": ["host"],
      "properties": {
        "host": {"description": "Host name.", "$ref": "#/$defs/Host"},
        "port": {"$ref": "#/$defs/Port", "default": 5432},
        "hosts": {"type": "array", "items": {"$ref": "#/$defs/Host"}}
      }
    },
    "Host": {"type": "string", "pattern": "^[a-z.]+$"},
    "Port": {"type": "integer", "minimum": 1}
  }
}`
	const want = `# yaml-language-server: $schema=../chart/values.schema.json
# T for one site, from chart/values.schema.json
# (dpps-schemagen init). Every key is commented out: a key left out keeps
# the chart's default. To set a key, remove the first "# " of its lines and
# of its parents' lines; then check the file:
#   dpps-schemagen lint -f site.yaml && helm lint chart -f site.yaml
# "<...>" marks a value to fill in; "(required)" a key its parent must have.
#
# # Shared.
# global:
#   externals:
#     # The site's database. External interface: outbound postgresql, port
#     # 5432, auth password. Until the site sets it, the test fixture db
#     # stands in; with sub.db.enabled: false the site must set it.
#     db:
#       # Host name. (required)
#       host: "<string>"
#       port: 5432
#       hosts: ["<string>"]
#   # How.
#   mode: "<one of: a: b|c>"
#
# # A subchart.
# sub:
#   # Deploy it.
#   enabled: true
#   db:
#     enabled: true
#     # Also: size (their defaults work; an editor completes them).
#   # Also: image (their defaults work; an editor completes them).
`
	got, err := schema.Skeleton([]byte(in), "../chart/values.schema.json", "chart", "site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := schema.Skeleton([]byte(`{"properties": {"a": {"$ref": "#/$defs/Nope"}}}`), "x", "c", "f"); err == nil {
		t.Error("an unresolvable $ref gave no error")
	}
}
