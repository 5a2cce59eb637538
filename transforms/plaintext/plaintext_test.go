package plaintext

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const pw = "Fx-Pass/w0rd+9" // has characters that base64 and percent-encoding change

var creds = credentials.Set{{Name: "db-password", SecretName: "creds", Key: "db", Values: []string{pw}}}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func pod(env string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n" + env
}

func configMap(data string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n" + data
}

// findings renders Scan's answer as "path: what" lines.
func findings(t *testing.T, in string, creds credentials.Set, notSecret []catalog.Location) []string {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(in)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range Scan(nodes, creds, notSecret) {
		out = append(out, manifest.Kind(f.Node)+" "+f.Node.GetName()+": "+f.Path+": "+f.What)
		if f.Fix == "" {
			t.Errorf("%s: no fix", f.Path)
		}
		for _, v := range append([]string{pw, "hunter2-secret", "root-Pw-77"}, base64.StdEncoding.EncodeToString([]byte(pw))) {
			if strings.Contains(f.Path+f.What+f.Fix, v) {
				t.Errorf("a finding holds a value: %+v", f)
			}
		}
	}
	return out
}

func TestKnownValues(t *testing.T) {
	tests := map[string]struct {
		in   string
		want []string
	}{
		"in a Secret": {
			in: "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {db: " + pw + "}\n",
		},
		"in an ExternalSecret": {
			in: "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: es}\nspec: {note: " + pw + "}\n",
		},
		"an annotation, plain": {
			in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations: {note: 'pw is " + pw + "'}\n",
			want: []string{"Service s: metadata.annotations.note: the credential db-password"},
		},
		"a label, percent-encoded": {
			in:   "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels: {x: 'u:Fx-Pass%2Fw0rd%2B9'}\n",
			want: []string{"Service s: metadata.labels.x: the percent-encoded credential db-password"},
		},
		"URL userinfo, percent-encoded": {
			in:   pod("        - {name: DB, value: 'postgresql://u:Fx-Pass%2fw0rd%2b9@db/x'}\n"),
			want: []string{"Deployment web: spec.template.spec.containers[app].env[DB].value: the percent-encoded credential db-password"},
		},
		"ConfigMap data, base64 of the value": {
			in:   configMap("data: {k: " + b64(pw) + "}\n"),
			want: []string{"ConfigMap cm: data.k: the base64 of the credential db-password"},
		},
		"ConfigMap data, base64 of a file that holds it": {
			in:   configMap("data: {k: " + b64("[db]\npassword = "+pw+"\n") + "}\n"),
			want: []string{"ConfigMap cm: data.k: the base64 of the credential db-password"},
		},
		"base64 inside a longer text": {
			in:   configMap("data: {k: 'Authorization: Basic " + b64("user:"+pw) + "'}\n"),
			want: []string{"ConfigMap cm: data.k: the base64 of the credential db-password"},
		},
		"ConfigMap binaryData": {
			in:   configMap("binaryData: {k: " + b64("x="+pw) + "}\n"),
			want: []string{"ConfigMap cm: binaryData.k: the base64 of the credential db-password"},
		},
		"a mapping key": {
			in:   configMap("data:\n  " + pw + ": x\n"),
			want: []string{"ConfigMap cm: data: the credential db-password as a key"},
		},
		"a container name": {
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: " + pw + ", image: x}\n",
			want: []string{"Pod p: spec.containers[0].name: the credential db-password"},
		},
		"a line comment and a head comment": {
			in: configMap("data:\n  a: x # " + pw + "\n  # was: " + pw + "\n  b: z\n"),
			want: []string{
				"ConfigMap cm: data.a: the credential db-password in a YAML comment",
				"ConfigMap cm: data.b: the credential db-password in a YAML comment",
			},
		},
		"a document comment": {
			in:   "# " + pw + "\n" + configMap("data: {a: b}\n"),
			want: []string{"ConfigMap cm: apiVersion: the credential db-password in a YAML comment"},
		},
		"a reference, not the value": {
			in: pod("        - {name: DB, value: 'postgresql://u:$(DPPS_CRED_DB_PASSWORD)@db/x'}\n        - name: DPPS_CRED_DB_PASSWORD\n          valueFrom: {secretKeyRef: {name: creds, key: db}}\n"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := findings(t, tc.in, creds, nil); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// dpps-render's reader refuses a !!binary scalar (bad-binary-tag.txtar);
// objects parsed elsewhere can still carry one, and Scan decodes it.
func TestBinaryTag(t *testing.T) {
	n, err := yaml.Parse("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations: {x: !!binary " + b64(pw) + "}\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Scan([]*yaml.RNode{n}, creds, nil) {
		got = append(got, f.Path+": "+f.What)
	}
	if want := []string{"metadata.annotations.x: the base64 of the credential db-password"}; !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestValueIndependent(t *testing.T) {
	tests := map[string]struct {
		in        string
		notSecret []catalog.Location
		want      []string
	}{
		"URL userinfo in env": {
			in:   pod("        - {name: DSN, value: 'postgresql://rucio:hunter2-secret@db:5432/rucio'}\n"),
			want: []string{"Deployment web: spec.template.spec.containers[app].env[DSN].value: a password in URL userinfo"},
		},
		"URL userinfo in args, empty user": {
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    args: [--redis, 'redis://:hunter2-secret@redis:6379/0']\n",
			want: []string{"Pod p: spec.containers[c].args[1]: a password in URL userinfo"},
		},
		"URL without a password, or a reference": {
			in: pod("        - {name: A, value: 'https://user@host/x'}\n        - {name: B, value: 'mysql://u:$(PW)@h/db'}\n        - {name: C, value: 'mysql://u:${PW}@h/db'}\n        - {name: D, value: 'http://host:8080/x'}\n"),
		},
		"env names": {
			in: pod("        - {name: RUCIO_CFG_BOOTSTRAP_USERPASS_PWD, value: root-Pw-77}\n" +
				"        - {name: DB_PASSWORD, value: '12345'}\n" +
				"        - {name: GITHUB_TOKEN, value: ghp-x}\n" +
				"        - {name: AWS_SECRET_ACCESS_KEY, value: AKx}\n" +
				"        - {name: OPENAI_API_KEY, value: sk-x}\n" +
				"        - {name: CLIENT_SECRET, value: 9f86d081884c7d65}\n" +
				"        - {name: apiKey, value: Ab}\n" +
				"        - {name: MYSQL_PASS, value: x}\n"),
			want: []string{
				"Deployment web: spec.template.spec.containers[app].env[RUCIO_CFG_BOOTSTRAP_USERPASS_PWD].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[DB_PASSWORD].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[GITHUB_TOKEN].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[AWS_SECRET_ACCESS_KEY].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[OPENAI_API_KEY].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[CLIENT_SECRET].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[apiKey].value: a literal value in an env var named like a secret",
				"Deployment web: spec.template.spec.containers[app].env[MYSQL_PASS].value: a literal value in an env var named like a secret",
			},
		},
		"env names that are not credentials": {
			in: pod("        - {name: POSTGRES_PASSWORD_FILE, value: /secrets/pw}\n" +
				"        - {name: TOKEN_TTL, value: 1h}\n" +
				"        - {name: SECRET_NAME, value: creds}\n" +
				"        - {name: CA_SECRET, value: dpps-server-cafile}\n" +
				"        - {name: PASSWORD_MIN_LENGTH, value: '12'}\n" +
				"        - {name: USE_TOKEN, value: 'true'}\n" +
				"        - {name: DB_PASSWORD, value: ''}\n" +
				"        - {name: DB_PASSWORD, value: $(DPPS_CRED_DB)}\n" +
				"        - name: API_TOKEN\n          valueFrom: {secretKeyRef: {name: creds, key: t}}\n"),
		},
		"flags": {
			in: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n" +
				"        command: [tool, --password=hunter2-secret, --token-ttl=5m]\n" +
				"        args: [--api-key, root-Pw-77, --secret, ca-secret, --password, $(PW), --db-password=, --verbose]\n",
			want: []string{
				"Job j: spec.template.spec.containers[c].command[1]: a literal value of a command-line flag named like a secret",
				"Job j: spec.template.spec.containers[c].args[1]: a literal value of a command-line flag named like a secret",
			},
		},
		"notSecret flag": {
			in:        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    args: [--token, abc-def]\n",
			notSecret: []catalog.Location{{Flag: "--token", Workload: "p", Container: "c"}},
		},
		"SQL in a ConfigMap": {
			in: configMap("data:\n  init.sql: |\n    CREATE USER r WITH PASSWORD 'hunter2-secret';\n    GRANT ALL TO 'x'@'%';\n  my.sql: \"CREATE USER 'a'@'%' IDENTIFIED BY 'root-Pw-77';\"\n"),
			want: []string{
				"ConfigMap cm: data.init.sql: a password in an SQL statement",
				"ConfigMap cm: data.my.sql: a password in an SQL statement",
			},
		},
		"config files in ConfigMap data": {
			in: configMap("data:\n" +
				"  rucio.cfg: |\n    [database]\n    default = postgresql://u:hunter2-secret@db/r\n    [bootstrap]\n    userpass_pwd = root-Pw-77\n    token_ttl = 3600\n" +
				"  common.json: '{\"bootstrap\": {\"userpass_pwd\": \"root-Pw-77\", \"userpass_identity\": \"root\"}, \"passwordFile\": \"/x\"}'\n" +
				"  app.yaml: |\n    auth:\n      clientSecret: Xy-z\n      secretName: creds\n" +
				"  empty.ini: |\n    [a]\n    password =\n"),
			want: []string{
				"ConfigMap cm: data.rucio.cfg: a password in URL userinfo (INI field database.default)",
				"ConfigMap cm: data.rucio.cfg: a literal value in a field named like a secret (INI field bootstrap.userpass_pwd)",
				"ConfigMap cm: data.common.json: a literal value in a field named like a secret (JSON field bootstrap.userpass_pwd)",
				"ConfigMap cm: data.app.yaml: a literal value in a field named like a secret (YAML field auth.clientSecret)",
			},
		},
		"a config file in binaryData": {
			in:   configMap("binaryData:\n  app.ini: " + b64("[s3]\nsecret_key = Xy-z\n") + "\n"),
			want: []string{"ConfigMap cm: binaryData.app.ini: a literal value in a field named like a secret (INI field s3.secret_key)"},
		},
		"notSecret": {
			in: pod("        - {name: DB_PASSWORD, value: x1}\n        - {name: API_TOKEN, value: x2}\n        - {name: DSN, value: 'mysql://u:p@h/d'}\n") + "---\n" +
				configMap("data:\n  a.ini: |\n    [auth]\n    token = 5m\n    password = x\n  b.sql: \"PASSWORD 'x'\"\n"),
			notSecret: []catalog.Location{
				{Env: "DB_PASSWORD", Workload: "web", Container: "app", Reason: "test"},
				{Env: "API_TOKEN", Workload: "other"},
				{Env: "DSN"},
				{Object: &catalog.ObjectRef{Kind: "ConfigMap", Name: "cm"}, Key: "a.ini", Format: "ini", Field: "auth.token"},
				{Object: &catalog.ObjectRef{Kind: "ConfigMap", Name: "cm"}, Key: "b.sql"},
			},
			want: []string{
				"Deployment web: spec.template.spec.containers[app].env[API_TOKEN].value: a literal value in an env var named like a secret",
				"ConfigMap cm: data.a.ini: a literal value in a field named like a secret (INI field auth.password)",
			},
		},
		"a comment": {
			in:   configMap("data:\n  # e.g. mysql://admin:hunter2-secret@db/x\n  a: b\n"),
			want: []string{"ConfigMap cm: data.a: a password in URL userinfo in a YAML comment"},
		},
		"a Secret": {
			in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {DB_PASSWORD: x, url: 'mysql://u:p@h/d'}\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := findings(t, tc.in, nil, tc.notSecret); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestReferenceIsNoValue: a detect pattern run over secretrefs' output
// captures its reference; that is never a credential (issue #16, item 1).
func TestReferenceIsNoValue(t *testing.T) {
	set := credentials.Set{{Name: "rucio-db-password", Values: []string{"$(DPPS_CRED_RUCIO_DB_PASSWORD)"}}}
	in := pod("        - {name: RUCIO_CFG_DATABASE_DEFAULT, value: 'postgresql://rucio:$(DPPS_CRED_RUCIO_DB_PASSWORD)@db/rucio'}\n")
	if got := findings(t, in, set, nil); len(got) > 0 {
		t.Errorf("a reference is reported: %q", got)
	}
}

// TestKnownAndRuleAtOnePlace: a known value that a rule also finds is one
// finding, named by the catalog.
func TestKnownAndRuleAtOnePlace(t *testing.T) {
	in := pod("        - {name: DB_PASSWORD, value: '" + pw + "'}\n")
	want := []string{"Deployment web: spec.template.spec.containers[app].env[DB_PASSWORD].value: the credential db-password"}
	if got := findings(t, in, creds, nil); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestCorpus runs the value-independent rules on every upstream render of
// the shared corpus, with no catalog. The expected list is written from the
// corpus README ("Where each credential sits"), not computed: every
// credential it names outside a Secret is found, and nothing else but the
// demo S3 key of diracx.demo.yaml, which is one.
func TestCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Skip("no corpus at " + dir)
	}
	const env = "spec.template.spec.containers[%s].env[%s].value"
	cron := "spec.jobTemplate." + env
	want := map[string][]string{
		"diracx.demo.yaml": {
			"ConfigMap seaweedfs-s3-config: data.seaweedfs-s3.json: a literal value in a field named like a secret (JSON field identities[0].credentials[0].secretKey)",
		},
		"diracx.external-mysql.yaml": {
			"ConfigMap wms-init-secrets: data.init-secrets: a password in URL userinfo",
		},
		"postgresql.initdb.yaml": {
			"ConfigMap bdms-db-postgresql-init-scripts: data.01-bdms-roles.sql: a password in an SQL statement",
			"StatefulSet bdms-db-postgresql: " + fmt.Sprintf(env, "postgresql", "POSTGRES_INITSCRIPTS_PASSWORD") + ": a literal value in an env var named like a secret",
		},
		"rucio-daemons.env-creds.yaml": {
			"Deployment bdms-rucio-daemons-conveyor-submitter: " + fmt.Sprintf(env, "rucio-daemons", "RUCIO_CFG_DATABASE_DEFAULT") + ": a password in URL userinfo",
			"Deployment bdms-rucio-daemons-hermes: " + fmt.Sprintf(env, "rucio-daemons", "RUCIO_CFG_DATABASE_DEFAULT") + ": a password in URL userinfo",
			"Deployment bdms-rucio-daemons-hermes: " + fmt.Sprintf(env, "rucio-daemons", "RUCIO_CFG_MESSAGING_HERMES_PASSWORD") + ": a literal value in an env var named like a secret",
			"Deployment bdms-rucio-daemons-judge-evaluator: " + fmt.Sprintf(env, "rucio-daemons", "RUCIO_CFG_DATABASE_DEFAULT") + ": a password in URL userinfo",
		},
		"rucio-server.env-creds.yaml": {
			"Deployment bdms-rucio-server: " + fmt.Sprintf(env, "rucio-server", "RUCIO_CFG_BOOTSTRAP_USERPASS_PWD") + ": a literal value in an env var named like a secret",
			"Deployment bdms-rucio-server: " + fmt.Sprintf(env, "rucio-server", "RUCIO_CFG_DATABASE_DEFAULT") + ": a password in URL userinfo",
			"CronJob bdms-renew-fts-proxy: " + fmt.Sprintf(cron, "renew-fts-cron", "RUCIO_CFG_BOOTSTRAP_USERPASS_PWD") + ": a literal value in an env var named like a secret",
			"CronJob bdms-renew-fts-proxy: " + fmt.Sprintf(cron, "renew-fts-cron", "RUCIO_CFG_DATABASE_DEFAULT") + ": a password in URL userinfo",
			"Job bdms-renew-fts-proxy-on-helm-install: " + fmt.Sprintf(env, "renew-fts-cron", "RUCIO_CFG_BOOTSTRAP_USERPASS_PWD") + ": a literal value in an env var named like a secret",
			"Job bdms-renew-fts-proxy-on-helm-install: " + fmt.Sprintf(env, "renew-fts-cron", "RUCIO_CFG_DATABASE_DEFAULT") + ": a password in URL userinfo",
		},
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := findings(t, string(data), nil, nil)
		if w := want[filepath.Base(f)]; !slices.Equal(got, w) {
			t.Errorf("%s:\ngot  %q\nwant %q", filepath.Base(f), got, w)
		}
	}
}

func TestSecretNamed(t *testing.T) {
	for name, want := range map[string]bool{
		"PASSWORD": true, "db_passwd": true, "RUCIO_CFG_BOOTSTRAP_USERPASS_PWD": true, "clientSecret": true,
		"X_TOKEN": true, "API_KEY": true, "apiKey": true, "SECRET_KEY": true, "aws_secret_access_key": true,
		"PASSWORD_FILE": false, "TOKEN_TTL": false, "KEY": false, "SSH_KEY_PATH": false, "secretName": false,
		"USERPASS_IDENTITY": false, "bypass": false, "": false,
	} {
		if got := secretNamed(name); got != want {
			t.Errorf("secretNamed(%q) = %v, want %v", name, got, want)
		}
	}
}
