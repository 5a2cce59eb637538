package schema

import (
	"bytes"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// TestRenderConfigSchemaCurrent fails when the shipped schema no longer
// matches the Go config types: run 'make generate'.
func TestRenderConfigSchemaCurrent(t *testing.T) {
	got, err := RenderConfigSchema(testutil.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, renderConfigSchema) {
		t.Error("schema/dpps-render.config.schema.json is stale: run 'make generate'")
	}
}
