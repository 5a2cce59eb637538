package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// renderedCatalog is the chart's generated catalog with its names rendered
// for release "dpps", as the chart's catalog template does.
func renderedCatalog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "charts", "dpps", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(data), "{{ .Release.Name }}", "dpps")
}

func catalogConfigMap(name, catalogJSON, siteJSON string) *yaml.RNode {
	cm := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  labels:\n    dpps.ctao.org/catalog: \"true\"\n")
	data := map[string]string{CatalogKey: catalogJSON}
	if siteJSON != "" {
		data[SiteKey] = siteJSON
	}
	if err := cm.LoadMapIntoConfigMapData(data); err != nil {
		panic(err)
	}
	return cm
}

func TestFind(t *testing.T) {
	cat := renderedCatalog(t)
	other := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n")

	info, err := Find([]*yaml.RNode{other, catalogConfigMap("dpps-dpps-catalog", cat, `{"externals": {}, "secrets": {"backend": "external-secrets", "secretStore": {"name": "vault", "kind": "ClusterSecretStore"}}}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if info == nil || info.Catalog.Credentials["rucio-db-password"].SecretName != "dpps-rucio-db" {
		t.Fatalf("catalog not read: %+v", info)
	}
	if info.Site.Backend() != BackendExternalSecrets || info.Site.Secrets.SecretStore.Name != "vault" {
		t.Errorf("site: %+v", info.Site)
	}

	if info, err := Find([]*yaml.RNode{other}, ""); info != nil || err != nil {
		t.Errorf("no catalog: got %v, %v", info, err)
	}
	if _, err := Find([]*yaml.RNode{catalogConfigMap("a", cat, ""), catalogConfigMap("b", cat, "")}, ""); err == nil || !strings.Contains(err.Error(), "two catalog ConfigMaps") {
		t.Errorf("two catalogs: %v", err)
	}
	if _, err := Find([]*yaml.RNode{catalogConfigMap("a", `{"apiVersion": "x"}`, "")}, ""); err == nil || !strings.HasPrefix(err.Error(), "ConfigMap a (): catalog") {
		t.Errorf("invalid catalog: %v", err)
	}

	info, err = Find(nil, "")
	if info != nil || err != nil {
		t.Errorf("empty stream: %v, %v", info, err)
	}
}

func TestFromFileWinsAndDefaultsToChart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.yaml")
	js, err := kio.FromBytes([]byte(renderedCatalog(t)))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := js[0].String()
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := Find([]*yaml.RNode{catalogConfigMap("x", `{}`, "")}, path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Origin != path || info.Site.Backend() != BackendChart {
		t.Errorf("got origin %q backend %q", info.Origin, info.Site.Backend())
	}
	if _, err := FromFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file is not an error")
	}
}

// A site catalog's secrets key is the site's backend, as global.secrets is
// for the chart.
func TestFromFileCopiesSecrets(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "secretrefs", "testdata", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	site := "secrets: {backend: external-secrets, secretStore: {name: vault, kind: SecretStore}}\n"
	if err := os.WriteFile(path, append(data, site...), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Site.Backend() != BackendExternalSecrets || info.Site.Secrets.SecretStore == nil ||
		*info.Site.Secrets.SecretStore != (SecretStore{Name: "vault", Kind: "SecretStore"}) {
		t.Errorf("site secrets: %+v", info.Site.Secrets)
	}
}
