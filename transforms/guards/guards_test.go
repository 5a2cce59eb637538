package guards

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const secretValue = "s3cret-db-passw0rd"

var creds = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata:\n  db-password: " + base64.StdEncoding.EncodeToString([]byte(secretValue)) +
	"\n  token: " + base64.StdEncoding.EncodeToString([]byte("tok-0123456789abcdef")) + "\n---\n"

func workload(podSpec string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: rel-web}\nspec:\n  template:\n    spec:\n" + podSpec
}

// The secretrefs test catalog: credentials db-password and api-token in
// Secret "creds"; components web (Deployment) and db.
func testCatalog(t *testing.T, extra string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "secretrefs", "testdata", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(p, append(data, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGuards(t *testing.T) {
	tests := map[string]struct {
		in, catalogExtra string
		wantErr          string // "" for none
	}{
		"clean": {
			in: creds + workload("      containers:\n      - name: web\n        env:\n        - name: P\n          valueFrom: {secretKeyRef: {name: creds, key: db-password}}\n"),
		},
		"plaintext in an annotation": {
			in:      creds + "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    note: pw is " + secretValue + "\n",
			wantErr: "Service s: metadata.annotations.note holds the credential db-password outside a Secret: keep it only in its Secret: remove it from the chart's values, or declare this place in credentials.db-password.locations for secretrefs to move it",
		},
		"secretrefs' rewrite is no credential": {
			in: creds + workload("      containers:\n      - name: web\n        env:\n        - name: DPPS_CRED_DB_PASSWORD\n          valueFrom: {secretKeyRef: {name: creds, key: db-password}}\n        - {name: DSN, value: 'postgresql://u:$(DPPS_CRED_DB_PASSWORD)@db/x'}\n"),
		},
		"dangling secret volume": {
			in:      creds + workload("      volumes:\n      - name: ca\n        secret: {secretName: rel-ca}\n      containers: [{name: web}]\n"),
			wantErr: "Deployment rel-web: spec.template.spec.volumes[ca].secret.secretName: Secret rel-ca is not in the output",
		},
		"dangling configMapKeyRef, envFrom, projection, pull secret, service account": {
			in:      creds + workload("      serviceAccountName: robot\n      imagePullSecrets: [{name: pull}]\n      volumes:\n      - name: p\n        projected: {sources: [{configMap: {name: cm1}}]}\n      containers:\n      - name: web\n        envFrom: [{secretRef: {name: s1}}]\n        env:\n        - name: X\n          valueFrom: {configMapKeyRef: {name: cm2, key: k}}\n"),
			wantErr: "ServiceAccount robot is not in the output",
		},
		"optional references may dangle": {
			in: creds + workload("      volumes:\n      - name: ca\n        secret: {secretName: rel-ca, optional: true}\n      containers: [{name: web}]\n"),
		},
		"provided by the catalog, a Certificate, an ExternalSecret, Kubernetes": {
			in: creds + "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretName: from-cert}\n---\n" +
				"apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: es}\nspec: {target: {name: from-eso}}\n---\n" +
				workload("      volumes:\n      - {name: a, secret: {secretName: from-cert}}\n      - {name: b, secret: {secretName: from-eso}}\n      - {name: c, secret: {secretName: by-admin}}\n      - {name: d, configMap: {name: kube-root-ca.crt}}\n      containers: [{name: web}]\n"),
			catalogExtra: "provided:\n- {kind: Secret, name: by-admin, by: the site admin}\n",
		},
		"a declared credential found nowhere": {
			in:      workload("      containers: [{name: web}]\n"),
			wantErr: "credential api-token: its value is in no Secret of the output (Secret creds, key token) and no location or detect pattern finds it: declare where the chart puts it in credentials.api-token.locations, or list Secret creds under provided; credential db-password: its value is in no Secret of the output (Secret creds, key db-password) and no location or detect pattern finds it: declare where the chart puts it in credentials.db-password.locations, or list Secret creds under provided",
		},
		"a Secret without the credential's key": {
			in:      "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {db-password: " + secretValue + "}\n---\n" + workload("      containers: [{name: web}]\n"),
			wantErr: "credential api-token: its value is in no Secret of the output (Secret creds, key token)",
		},
		"found nowhere, switched off: none of its workloads is in the output": {
			in: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\nspec:\n  template:\n    spec:\n      containers: [{name: other}]\n",
		},
		"found nowhere, its Secret read by a workload that is not its owner or consumer": {
			in: "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {other: x}\n---\n" +
				"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\nspec:\n  template:\n    spec:\n      containers:\n      - name: other\n        envFrom: [{secretRef: {name: creds}}]\n",
			wantErr: "credential api-token: its value is in no Secret of the output (Secret creds, key token)",
		},
		"found nowhere, its owner found by component label": {
			in:      "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db-v2, labels: {app.kubernetes.io/component: db}}\nspec:\n  template:\n    spec:\n      containers: [{name: db}]\n",
			wantErr: "credential db-password: its value is in no Secret of the output (Secret creds, key db-password)",
		},
		"found nowhere, provided by the site": {
			in:           workload("      containers: [{name: web}]\n"),
			catalogExtra: "provided:\n- {kind: Secret, name: creds, by: the site admin}\n",
		},
		"found nowhere, backend existing": {
			in:           workload("      containers: [{name: web}]\n"),
			catalogExtra: "secrets: {backend: existing}\n",
		},
		"found nowhere, backend external-secrets": {
			in:           workload("      containers: [{name: web}]\n"),
			catalogExtra: "secrets: {backend: external-secrets, secretStore: {name: vault}}\n",
		},
		"found nowhere, an ExternalSecret creates it": {
			in: "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: es}\nspec: {target: {name: creds}}\n---\n" +
				workload("      containers: [{name: web}]\n"),
		},
		"found nowhere, a Certificate creates it": {
			in: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretName: creds}\n---\n" +
				workload("      containers: [{name: web}]\n"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			nodes, err := (&pipeline.Reader{Input: strings.NewReader(tc.in)}).Read()
			if err != nil {
				t.Fatal(err)
			}
			out, err := (&Filter{CatalogFile: testCatalog(t, tc.catalogExtra)}).Filter(nodes)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != len(nodes) {
					t.Errorf("guards changed the stream")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v\nwant %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Error("the error prints the credential")
			}
		})
	}
}

// A value found by a location is accounted for: a copy in a Secret other
// than the declared one passes; the same value in an env var is refused as
// plain text, not as a credential found nowhere.
func TestLocatedValueIsAccountedFor(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "secretrefs", "testdata", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cat := strings.NewReplacer(
		"key: db-password, owner: db, consumers: [web]}", "key: db-password, owner: db, consumers: [web], locations: [{env: DB_PW}, {object: {kind: Secret, name: cfg}, key: app.ini, format: ini, field: db.password}]}",
		"key: token, owner: web, consumers: [web]}", "key: token, owner: web, consumers: [web], locations: [{object: {kind: Secret, name: cfg}, key: app.ini, format: ini, field: api.token}]}",
	).Replace(string(data))
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(path, []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "apiVersion: v1\nkind: Secret\nmetadata: {name: cfg}\nstringData:\n  app.ini: |\n    [db]\n    password = " + secretValue + "\n    [api]\n    token = tok-0123456789abcdef\n---\n"
	for name, tc := range map[string]struct{ in, wantErr string }{
		"in a Secret": {in: cfg + workload("      containers: [{name: web}]\n")},
		"in an env var": {
			in:      workload("      containers:\n      - name: web\n        env:\n        - {name: DB_PW, value: " + secretValue + "}\n"),
			wantErr: "Deployment rel-web: spec.template.spec.containers[web].env[DB_PW].value holds the credential db-password outside a Secret: keep it only in its Secret: remove it from the chart's values, or declare this place in credentials.db-password.locations for secretrefs to move it; credential api-token: its value is in no Secret of the output",
		},
	} {
		nodes, err := (&pipeline.Reader{Input: strings.NewReader(tc.in)}).Read()
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&Filter{CatalogFile: path}).Filter(nodes)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)) {
			t.Errorf("%s: error %v\nwant %q", name, err, tc.wantErr)
		}
	}
}

// TestWithoutCatalog: with no catalog, the value-independent rules still
// refuse a credential outside a Secret, and nothing else is checked.
func TestWithoutCatalog(t *testing.T) {
	in := workload("      volumes: [{name: ca, secret: {secretName: nowhere}}]\n      containers:\n      - name: web\n        env:\n        - {name: DB_PASSWORD, value: s3cret-db-passw0rd}\n")
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Filter{}).Filter(nodes)
	want := "Deployment rel-web: spec.template.spec.containers[web].env[DB_PASSWORD].value holds a literal value in an env var named like a secret outside a Secret: move it into a Secret, or declare this place in the catalog: in credentials.<name>.locations, or in notSecret if it is not a credential"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
}
