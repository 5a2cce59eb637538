package credentials

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
)

func TestIsValue(t *testing.T) {
	for text, want := range map[string]bool{
		"":                                   false,
		"  ":                                 false,
		"$(DPPS_CRED_RUCIO_DB_PASSWORD)":     false,
		"$(A)$(B_2)":                         false,
		" $(A) ":                             false,
		"s3cret":                             true,
		"$(A)x":                              true,
		"$A":                                 true,
		"$(not a var)":                       true,
		"pre-$(DPPS_CRED_X)":                 true,
		"$(DPPS_CRED_X":                      true,
		"$(app.kubernetes.io-name_1)$(VAR2)": false,
	} {
		if got := IsValue(text); got != want {
			t.Errorf("IsValue(%q) = %v, want %v", text, got, want)
		}
	}
}

func parse(t *testing.T, stream string) []*yaml.RNode {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// dsnCatalog declares one credential found by the DSN pattern of
// docs/site-catalogs/rucio.yaml.
func dsnCatalog() *catalog.Catalog {
	return &catalog.Catalog{Credentials: map[string]catalog.Credential{
		"rucio-db-password": {SecretName: "db", Key: "password", Detect: []string{`postgres(?:ql)?://[^:/@\s]+:([^@\s]+)@`}},
	}}
}

// What secretrefs leaves in place of a value is never taken for it: the
// pattern captures "$(DPPS_CRED_RUCIO_DB_PASSWORD)" from the rewritten DSN.
func TestFindSkipsReferences(t *testing.T) {
	rewritten := `apiVersion: apps/v1
kind: Deployment
metadata: {name: server}
spec:
  template:
    spec:
      containers:
      - name: server
        env:
        - name: DPPS_CRED_RUCIO_DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
        - name: RUCIO_CFG_DATABASE_DEFAULT
          value: postgresql://rucio:$(DPPS_CRED_RUCIO_DB_PASSWORD)@db/rucio
        - name: EMPTY
          value: postgresql://rucio:$(A)$(B)@db/rucio
`
	set, err := Find(parse(t, rewritten), dsnCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 1 || len(set[0].Values) != 0 {
		t.Fatalf("a reference was taken for a value: %d values", len(set[0].Values))
	}
	if set.Known() {
		t.Error("Known with no value")
	}

	// The original DSN still yields its password.
	plain := strings.ReplaceAll(rewritten, "$(DPPS_CRED_RUCIO_DB_PASSWORD)", "pl41n-passw0rd")
	set, err = Find(parse(t, plain), dsnCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if len(set[0].Values) != 1 || set[0].Values[0] != "pl41n-passw0rd" {
		t.Errorf("values: %d, want the one password", len(set[0].Values))
	}
}

// A Secret whose key holds only a reference (as a chart may template it)
// gives no value either.
func TestFindSkipsReferenceInSecret(t *testing.T) {
	stream := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: $(DB_PASSWORD)\n"
	set, err := Find(parse(t, stream), dsnCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if len(set[0].Values) != 0 {
		t.Error("a reference in a Secret was taken for a value")
	}
}
