package transforms_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/transforms"
)

// dsnCatalog declares one credential found, as docs/site-catalogs/rucio.yaml
// finds it, by a DSN pattern.
const dsnCatalog = `apiVersion: dpps.ctao.org/v1alpha1
kind: InterfaceCatalog
release: rel
subcharts:
  app: {description: app, toggle: app.enabled, components: [server, db]}
components:
  server: {description: server, subchart: app, workload: Deployment, name: rel-server, selector: {app: server}}
  db: {description: db, subchart: app, workload: StatefulSet, name: rel-db, selector: {app: db}}
interfaces: {}
shared: {}
credentials:
  rucio-db-password:
    description: database password
    secretName: rel-db
    key: password
    owner: db
    consumers: [server]
    detect: ['postgres(?:ql)?://[^:/@\s]+:([^@\s]+)@']
externals: {}
`

// A stream of 250 Deployments, each with the password in a DSN env value
// and no Secret: secretrefs rewrites every DSN to $(DPPS_CRED_...), and
// guards, running the same pattern over the output, must not take the
// reference for the password.
func TestRewriteIsNotACredential(t *testing.T) {
	const password = "Zq8-synthetic-db-passw0rd"
	var in strings.Builder
	for i := range 250 {
		fmt.Fprintf(&in, `---
# Source: app/templates/server.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-server-%d
spec:
  template:
    spec:
      containers:
      - name: server
        env:
        - name: RUCIO_CFG_DATABASE_DEFAULT
          value: postgresql://rucio:%s@rel-db/rucio
`, i, password)
	}
	cat := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(cat, []byte(dsnCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &transforms.Config{Transforms: []string{"provenance", "secretrefs", "guards"}, Catalog: cat}
	out, err := runSteps(t, cfg, []byte(in.String()))
	if err != nil {
		t.Fatalf("the rewritten stream is refused: %v", err)
	}
	if n := bytes.Count(out, []byte("$(DPPS_CRED_RUCIO_DB_PASSWORD)@rel-db")); n != 250 {
		t.Errorf("%d DSNs rewritten, want 250", n)
	}
	if bytes.Contains(out, []byte(password)) {
		t.Error("the password is in the output in plain text")
	}
	// The generated Secret holds it; feeding the output back in changes
	// nothing.
	again, err := runSteps(t, cfg, out)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !bytes.Equal(again, out) {
		t.Error("not idempotent")
	}
}
