package transforms_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// The README's worked example: a site admin describes the public Rucio and
// DiracX charts in a catalog file; their real renders then carry no declared
// credential in plain text outside Secrets and no reference nobody creates.
func TestSiteCatalogsOnTheCorpus(t *testing.T) {
	root := testutil.RepoRoot(t)
	corpus := testutil.CorpusDir(t)
	cases := map[string]string{
		"rucio-server.ci.yaml":            "rucio.yaml",
		"rucio-daemons.ci.yaml":           "rucio.yaml",
		"rucio-ui.default.yaml":           "rucio.yaml",
		"rucio-probes.default.yaml":       "rucio.yaml",
		"bitnami-postgresql-15.5.38.yaml": "rucio.yaml",
		"diracx.demo.yaml":                "diracx.yaml",
	}
	for file, cat := range cases {
		t.Run(file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(corpus, file))
			if err != nil {
				t.Fatal(err)
			}
			cfg := &transforms.Config{
				Transforms: []string{"provenance", "secretrefs", "guards"},
				Catalog:    filepath.Join(root, "docs", "site-catalogs", cat),
			}
			// The demo's S3 secret key sits in ConfigMap seaweedfs-s3-config:
			// the catalog locates it, so that ConfigMap becomes a Secret.
			out, err := runSteps(t, cfg, in)
			if file == "diracx.demo.yaml" && err == nil && !bytes.Contains(out, []byte("kind: Secret\nmetadata:\n  name: seaweedfs-s3-config\n")) {
				t.Error("ConfigMap seaweedfs-s3-config, which holds the S3 key, did not become a Secret")
			}
			if err != nil {
				t.Fatalf("with the site catalog: %v", err)
			}
			// Without the catalog's provided objects, the references to
			// what hooks and admins create are dangling.
			if file != "rucio-ui.default.yaml" && file != "bitnami-postgresql-15.5.38.yaml" {
				data, err := os.ReadFile(cfg.Catalog)
				if err != nil {
					t.Fatal(err)
				}
				bare := filepath.Join(t.TempDir(), "catalog.yaml")
				if err := os.WriteFile(bare, []byte(strings.Split(string(data), "\nprovided:")[0]+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				cfg.Catalog = bare
				if _, err := runSteps(t, cfg, in); err == nil || !strings.Contains(err.Error(), "is not in the output and the catalog does not declare who creates it") {
					t.Errorf("without provided objects: %v", err)
				}
			}
		})
	}
}

// The Bitnami render holds Rucio's database password in its Secret; a copy
// in a ConfigMap (as Rucio's config files carry it) ends up in a Secret.
func TestSiteCatalogMovesAPlaintextCopy(t *testing.T) {
	root := testutil.RepoRoot(t)
	in, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), "bitnami-postgresql-15.5.38.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const password = "XcL0xT9FgFgJEc4i3OcQf2DMVKpjIWDGezqcIPmXlM" // the render's own, in its Secret
	copyCM := "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rucio-cfg\ndata:\n  rucio.cfg: |\n    [database]\n    default = postgresql://rucio:" + password + "@bdms-postgresql/rucio\n"
	cfg := &transforms.Config{Catalog: filepath.Join(root, "docs", "site-catalogs", "rucio.yaml"), Transforms: []string{"secretrefs", "guards"}}
	out, err := runSteps(t, cfg, append(in, copyCM...))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(password)) {
		t.Error("the password is still in plain text")
	}
	if !bytes.Contains(out, []byte("kind: Secret\nmetadata:\n  name: rucio-cfg\n")) {
		t.Error("the ConfigMap did not become a Secret")
	}
}

func runSteps(t *testing.T, cfg *transforms.Config, in []byte) ([]byte, error) {
	t.Helper()
	steps, err := transforms.Steps(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = pipeline.Run(bytes.NewReader(in), &out, steps)
	return out.Bytes(), err
}
