package secretrefs

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const (
	dbPassword = "s3cret-db-passw0rd"
	apiToken   = "tok-0123456789abcdef"
)

// credsSecret is the Secret the test catalog declares for both credentials.
var credsSecret = `apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  db-password: ` + b64(dbPassword) + `
  token: ` + b64(apiToken) + `
`

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func catalogFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, f *Filter, in string) (string, error) {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Filter(nodes)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := pipeline.Write(&b, out); err != nil {
		t.Fatal(err)
	}
	return b.String(), nil
}

func deployment(containerYAML string, volumes string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-web
spec:
  template:
    spec:
      containers:
` + containerYAML + volumes
}

type rewriteCase struct {
	in      string
	want    []string // substrings of the output
	notWant []string // not in the workload (the last object)
}

func rewriteCases() map[string]rewriteCase {
	return map[string]rewriteCase{
		"env value equal to a credential becomes a secretKeyRef": {
			in: credsSecret + "---\n" + deployment(`      - name: web
        env:
        - name: DB_PASSWORD
          value: `+dbPassword+`
`, ""),
			want: []string{"        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: db-password\n"},
		},
		"env value embedding a credential gets a variable before it": {
			in: credsSecret + "---\n" + deployment(`      - name: web
        env:
        - name: DSN
          value: postgresql://rucio:`+dbPassword+`@db:5432/rucio
`, ""),
			want: []string{
				"        - name: DPPS_CRED_DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: db-password\n        - name: DSN\n          value: postgresql://rucio:$(DPPS_CRED_DB_PASSWORD)@db:5432/rucio\n",
			},
		},
		"a ConfigMap holding a credential becomes a Secret and references follow": {
			in: credsSecret + `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  app.cfg: |
    [database]
    default = postgresql://rucio:` + dbPassword + `@db/rucio
---
` + deployment(`      - name: web
        envFrom:
        - configMapRef:
            name: app-config
        env:
        - name: CFG
          valueFrom:
            configMapKeyRef:
              name: app-config
              key: app.cfg
`, `      volumes:
      - name: cfg
        configMap:
          name: app-config
          defaultMode: 0444
      - name: all
        projected:
          sources:
          - configMap:
              name: app-config
`),
			want: []string{
				"kind: Secret\nmetadata:\n  name: app-config\ndata:\n  app.cfg: " + b64("[database]\ndefault = postgresql://rucio:"+dbPassword+"@db/rucio\n") + "\ntype: Opaque\n",
				"        - secretRef:\n            name: app-config\n",
				"            secretKeyRef:\n              name: app-config\n              key: app.cfg\n",
				"        secret:\n          secretName: app-config\n          defaultMode: 0444\n",
				"          - secret:\n              name: app-config\n",
			},
			notWant: []string{"configMap", dbPassword},
		},
		"a Secret repeating credentials is removed and its users repointed": {
			in: credsSecret + `---
apiVersion: v1
kind: Secret
metadata:
  name: web-copy
stringData:
  PASSWORD: ` + dbPassword + `
  TOKEN: ` + apiToken + `
---
` + deployment(`      - name: web
        envFrom:
        - secretRef:
            name: web-copy
          prefix: APP_
        env:
        - name: P
          valueFrom:
            secretKeyRef:
              name: web-copy
              key: PASSWORD
`, `      volumes:
      - name: copy
        secret:
          secretName: web-copy
`),
			want: []string{
				"        env:\n        - name: APP_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: db-password\n        - name: APP_TOKEN\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: token\n        - name: P\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: db-password\n",
				"        secret:\n          secretName: creds\n          items:\n          - key: db-password\n            path: PASSWORD\n          - key: token\n            path: TOKEN\n",
			},
			notWant: []string{"web-copy", "envFrom"},
		},
		"a Secret with other keys too stays": {
			in: credsSecret + `---
apiVersion: v1
kind: Secret
metadata:
  name: mixed
stringData:
  PASSWORD: ` + dbPassword + `
  USER: rucio
`,
			want: []string{"name: mixed"},
		},
	}
}

func TestRewrites(t *testing.T) {
	for name, tc := range rewriteCases() {
		t.Run(name, func(t *testing.T) {
			f := New(Config{}, catalogFile(t))
			out, err := run(t, f, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing\n%s\nin\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(strings.SplitN(out, "---\napiVersion: apps/v1", 2)[1], w) {
					t.Errorf("the workload still has %q:\n%s", w, out)
				}
			}
			if f.Changed() == 0 && len(tc.notWant) > 0 {
				t.Error("Changed() = 0")
			}
			again, err := run(t, New(Config{}, catalogFile(t)), out)
			if err != nil {
				t.Fatal(err)
			}
			if again != out {
				t.Errorf("second run changed the output:\n%s", again)
			}
		})
	}
}

// A credential in command or args becomes $(DPPS_CRED_X), which the kubelet
// expands from a variable the container gets from the Secret; a variable
// of that name already there is not added twice.
func TestCommandArgsGetAReference(t *testing.T) {
	ref := "        - name: DPPS_CRED_DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: db-password\n"
	for name, tc := range map[string]struct{ container, want string }{
		"a whole arg": {
			container: `        args: ["--password", "` + dbPassword + `"]
`,
			want: "        args: [\"--password\", \"$(DPPS_CRED_DB_PASSWORD)\"]\n        env:\n" + ref,
		},
		"--flag=V in command, after env": {
			container: `        command: ["app", "--password=` + dbPassword + `", "--token=` + apiToken + `"]
        env:
        - name: A
          value: b
`,
			want: "        command: [\"app\", \"--password=$(DPPS_CRED_DB_PASSWORD)\", \"--token=$(DPPS_CRED_API_TOKEN)\"]\n        env:\n        - name: A\n          value: b\n" +
				"        - name: DPPS_CRED_DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: db-password\n" +
				"        - name: DPPS_CRED_API_TOKEN\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: token\n",
		},
		"in an env value and an arg: one variable": {
			container: `        env:
        - name: DSN
          value: postgresql://u:` + dbPassword + `@db/x
        args: ["--dsn", "postgresql://u:` + dbPassword + `@db/x"]
`,
			want: "        env:\n" + ref + "        - name: DSN\n          value: postgresql://u:$(DPPS_CRED_DB_PASSWORD)@db/x\n        args: [\"--dsn\", \"postgresql://u:$(DPPS_CRED_DB_PASSWORD)@db/x\"]\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := credsSecret + "---\n" + deployment("      - name: web\n"+tc.container, "")
			out, err := run(t, New(Config{}, catalogFile(t)), in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", out, tc.want)
			}
			workload := strings.SplitN(out, "kind: Deployment", 2)[1]
			if strings.Contains(workload, dbPassword) || strings.Contains(workload, apiToken) {
				t.Errorf("a credential is left in the workload:\n%s", workload)
			}
			again, err := run(t, New(Config{}, catalogFile(t)), out)
			if err != nil {
				t.Fatal(err)
			}
			if again != out {
				t.Errorf("second run changed the output:\n%s", again)
			}
		})
	}
}

func TestBackends(t *testing.T) {
	site := func(secrets string) string {
		cat, err := os.ReadFile(catalogFile(t))
		if err != nil {
			t.Fatal(err)
		}
		js, err := sigsyaml.YAMLToJSON(cat) // catalog.json is JSON in the chart
		if err != nil {
			t.Fatal(err)
		}
		cm := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel-dpps-catalog\n  labels:\n    dpps.ctao.org/catalog: \"true\"\n")
		if err := cm.LoadMapIntoConfigMapData(map[string]string{"catalog.json": string(js), "site.json": `{"secrets": ` + secrets + `}`}); err != nil {
			t.Fatal(err)
		}
		s, _ := cm.String()
		return s
	}
	uses := "---\n" + deployment(`      - name: web
        env:
        - name: P
          valueFrom:
            secretKeyRef: {name: creds, key: db-password}
`, "")

	// Only the keys workloads read: the token in the same Secret is not
	// asked for, so a store without it still syncs.
	t.Run("external-secrets emits one ExternalSecret per used Secret, with the used keys", func(t *testing.T) {
		out, err := run(t, New(Config{RemoteKeyPrefix: "site/"}, ""), site(`{"backend": "external-secrets", "secretStore": {"name": "vault", "kind": "ClusterSecretStore"}}`)+uses)
		if err != nil {
			t.Fatal(err)
		}
		want := `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: creds
  labels:
    app.kubernetes.io/managed-by: dpps-render
    dpps.ctao.org/generated: secretrefs
spec:
  secretStoreRef:
    name: vault
    kind: ClusterSecretStore
  target:
    name: creds
    creationPolicy: Owner
  data:
  - secretKey: db-password
    remoteRef:
      key: site/db-password
`
		if !strings.HasSuffix(out, want) {
			t.Errorf("got\n%s\nwant it to end with\n%s", out, want)
		}
	})
	t.Run("a store without a kind is a ClusterSecretStore, as the values schema says", func(t *testing.T) {
		out, err := run(t, New(Config{}, ""), site(`{"backend": "external-secrets", "secretStore": {"name": "vault"}}`)+uses)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "  secretStoreRef:\n    name: vault\n    kind: ClusterSecretStore\n") {
			t.Errorf("got\n%s", out)
		}
		out, err = run(t, New(Config{}, ""), site(`{"backend": "external-secrets", "secretStore": {"name": "vault", "kind": "SecretStore"}}`)+uses)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "  secretStoreRef:\n    name: vault\n    kind: SecretStore\n") {
			t.Errorf("got\n%s", out)
		}
	})
	t.Run("external-secrets without a store is an error", func(t *testing.T) {
		if _, err := run(t, New(Config{}, ""), site(`{"backend": "external-secrets"}`)+uses); err == nil || !strings.Contains(err.Error(), "needs global.secrets.secretStore") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("existing adds nothing", func(t *testing.T) {
		in := site(`{"backend": "existing"}`) + uses
		out, err := run(t, New(Config{}, ""), in)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "\nkind: ") != 2 || strings.Contains(out, "ExternalSecret") {
			t.Errorf("objects were added:\n%s", out)
		}
	})
	t.Run("unknown backend", func(t *testing.T) {
		if _, err := run(t, New(Config{}, ""), site(`{"backend": "vault"}`)+uses); err == nil || !strings.Contains(err.Error(), `unknown secrets backend "vault"`) {
			t.Errorf("error %v", err)
		}
	})
}

// A chart nobody here wrote embeds the password in a ConfigMap and has no
// Secret for it: with a detect pattern in the site's catalog, the value is
// found, moved into a generated Secret, and the ConfigMap becomes a Secret.
func TestDetectedValueGetsItsSecret(t *testing.T) {
	cat, err := os.ReadFile(catalogFile(t))
	if err != nil {
		t.Fatal(err)
	}
	withDetect := strings.Replace(string(cat), "owner: db, consumers: [web]}", `owner: db, consumers: [web], detect: ['postgresql://[^:/@]+:([^@]+)@']}`, 1)
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(path, []byte(withDetect), 0o644); err != nil {
		t.Fatal(err)
	}
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  dsn: postgresql://rucio:" + dbPassword + "@db/rucio\n"
	out, err := run(t, New(Config{}, path), in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kind: Secret\nmetadata:\n  name: cfg\n") {
		t.Errorf("the ConfigMap was not converted:\n%s", out)
	}
	if !strings.Contains(out, "  name: creds\n  labels:\n    app.kubernetes.io/managed-by: dpps-render\n    dpps.ctao.org/generated: secretrefs\ntype: Opaque\ndata:\n  db-password: "+b64(dbPassword)+"\n") {
		t.Errorf("no generated Secret for the detected value:\n%s", out)
	}
}

func TestNoCatalogNoChange(t *testing.T) {
	in := deployment("      - name: web\n        env:\n        - {name: P, value: "+dbPassword+"}\n", "")
	nodes, err := kio.FromBytes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := kio.StringAll(nodes)
	f := New(Config{}, "")
	out, err := f.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := kio.StringAll(out)
	if before != after || f.Changed() != 0 {
		t.Errorf("changed without a catalog:\n%s", after)
	}
}

// binaryData joins data in the Secret: fine for volumes, but envFrom would
// then see the binary keys, so that combination is refused.
func TestConfigMapWithBinaryData(t *testing.T) {
	cm := credsSecret + `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  dsn: postgresql://rucio:` + dbPassword + `@db/rucio
binaryData:
  logo.png: iVBORw0K
---
`
	out, err := run(t, New(Config{}, catalogFile(t)), cm+deployment("      - name: web\n", "      volumes:\n      - name: c\n        configMap: {name: app-config}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "  name: app-config\ndata:\n  dsn: "+b64("postgresql://rucio:"+dbPassword+"@db/rucio")+"\n  logo.png: iVBORw0K\ntype: Opaque\n") {
		t.Errorf("binaryData not merged into data:\n%s", out)
	}
	_, err = run(t, New(Config{}, catalogFile(t)), cm+deployment("      - name: web\n        envFrom:\n        - configMapRef: {name: app-config}\n", ""))
	if err == nil || !strings.Contains(err.Error(), "ConfigMap app-config holds a credential and binaryData") {
		t.Errorf("error %v", err)
	}
}

// TestConvertedConfigMapStable is the regression test for what
// transforms.FuzzSecretrefs found: a ConfigMap holding nothing but copies of
// declared credentials became a Secret, which the next run removed as a
// duplicate, so rendering the output again changed it. Now the first run
// removes it and repoints its users, and a second run changes nothing.
func TestConvertedConfigMapStable(t *testing.T) {
	in := credsSecret + `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  TOKEN: ` + apiToken + `
---
` + deployment(`      - name: web
        image: web:1
        env:
        - name: TOKEN
          valueFrom:
            configMapKeyRef: {name: web-config, key: TOKEN}
        envFrom:
        - configMapRef: {name: web-config}
`, `      volumes:
      - name: c
        configMap: {name: web-config}
`)
	first, err := run(t, New(Config{}, catalogFile(t)), in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(first, "web-config") {
		t.Errorf("web-config, a copy of the declared credential, is still there:\n%s", first)
	}
	second, err := run(t, New(Config{}, catalogFile(t)), first)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("a second run changed the output:\n%s\n---- vs ----\n%s", first, second)
	}
}

// A site catalog (--catalog) chooses the backend with its secrets key: with
// existing, the site's own Secret is not generated although the stream
// holds the value; with external-secrets, an ExternalSecret asks the site's
// store for it.
func TestSiteCatalogBackend(t *testing.T) {
	cat, err := os.ReadFile(catalogFile(t))
	if err != nil {
		t.Fatal(err)
	}
	withDetect := strings.Replace(string(cat), "owner: db, consumers: [web]}", `owner: db, consumers: [web], detect: ['postgresql://[^:/@]+:([^@]+)@']}`, 1)
	in := "---\n" + deployment(`      - name: web
        env:
        - name: DSN
          value: postgresql://rucio:`+dbPassword+`@db/rucio
`, "")
	for name, tc := range map[string]struct {
		secrets       string
		want, notWant []string
	}{
		"chart": {
			secrets: "",
			want:    []string{"kind: Secret\nmetadata:\n  name: creds\n", "db-password: " + b64(dbPassword)},
		},
		"existing": {
			secrets: "secrets: {backend: existing}\n",
			want:    []string{"value: postgresql://rucio:$(DPPS_CRED_DB_PASSWORD)@db/rucio"},
			notWant: []string{"kind: Secret", "ExternalSecret", b64(dbPassword)},
		},
		"external-secrets": {
			secrets: "secrets: {backend: external-secrets, secretStore: {name: vault}}\n",
			want:    []string{"kind: ExternalSecret", "    name: vault\n    kind: ClusterSecretStore\n", "remoteRef:\n      key: dpps/db-password\n"},
			notWant: []string{"kind: Secret", b64(dbPassword)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "catalog.yaml")
			if err := os.WriteFile(path, []byte(withDetect+tc.secrets), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, New(Config{}, path), in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, dbPassword) {
				t.Errorf("the password is in plain text:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("%q in\n%s", w, out)
				}
			}
		})
	}
}
