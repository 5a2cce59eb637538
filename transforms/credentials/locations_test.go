package credentials

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/catalog"
)

func TestURLPassword(t *testing.T) {
	for text, want := range map[string]string{
		"postgresql://rucio:s3cret@db/rucio":                 "s3cret",
		"mysql+pymysql://u:p%40ss%2Fw0rd@db:3306/x":          "p@ss/w0rd",
		"postgresql://rucio:p@ss/w0rd@db/rucio":              "p@ss/w0rd",
		"sqlite:///tmp/x.db then redis://:t0ken@cache:6379/": "t0ken",
		"url = amqp://guest:guest@broker:5672 # comment":     "guest",
		"postgresql://rucio:bad%zz@db/rucio":                 "bad%zz",
	} {
		if got, ok := URLPassword(text); !ok || got != want {
			t.Errorf("URLPassword(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	for _, text := range []string{"", "postgresql://db/rucio", "postgresql://rucio@db/rucio", "no url at all"} {
		if got, ok := URLPassword(text); ok {
			t.Errorf("URLPassword(%q) = %q, want none", text, got)
		}
	}
}

func TestFileField(t *testing.T) {
	ini := "top = 1\n[database]\n; a comment\n# another\ndefault = postgresql://u:p@db/x\npool_size: 10\n[bootstrap]\nuserpass_pwd=  r00t-pw  \n[a.b]\nc.d = dotted\n"
	js := `{"bootstrap": {"userpass_pwd": "r00t-pw", "n": 42}, "a.b": {"c": "dotted"}, "list": [{"x": "first"}]}`
	ym := "database:\n  default: postgresql://u:p@db/x\n  port: 5432\nlist:\n- x: first\na.b:\n  c: dotted\n"
	tests := []struct {
		format, text, field, want string
		ok                        bool
	}{
		{"ini", ini, "database.default", "postgresql://u:p@db/x", true},
		{"ini", ini, "database.pool_size", "10", true},
		{"ini", ini, "DATABASE.Default", "postgresql://u:p@db/x", true},
		{"ini", ini, "bootstrap.userpass_pwd", "r00t-pw", true},
		{"ini", ini, "top", "1", true},
		{"ini", ini, "a.b.c.d", "dotted", true},
		{"ini", ini, "database.missing", "", false},
		{"json", js, "bootstrap.userpass_pwd", "r00t-pw", true},
		{"json", js, "bootstrap.n", "42", true},
		{"json", js, "a.b.c", "dotted", true},
		{"json", js, "list.0.x", "first", true},
		{"json", js, "list.1.x", "", false},
		{"json", js, "bootstrap", "", false},
		{"json", "{not json", "a", "", false},
		{"yaml", ym, "database.default", "postgresql://u:p@db/x", true},
		{"yaml", ym, "database.port", "5432", true},
		{"yaml", ym, "list.0.x", "first", true},
		{"yaml", ym, "a.b.c", "dotted", true},
		{"yaml", ym, "database", "", false},
		{"yaml", "a: [unclosed", "a", "", false},
		{"toml", "a = 1", "a", "", false},
	}
	for _, tt := range tests {
		got, ok := FileField(tt.text, tt.format, tt.field)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FileField(%s, %s) = %q, %v; want %q, %v", tt.format, tt.field, got, ok, tt.want, tt.ok)
		}
	}
}

// locationStream puts each credential in one kind of place.
var locationStream = `apiVersion: apps/v1
kind: Deployment
metadata: {name: rucio-server}
spec:
  template:
    spec:
      initContainers:
      - name: init
        env:
        - {name: ROOT_PW, value: init-root-pw-1}
      containers:
      - name: rucio-server
        env:
        - {name: ROOT_PW, value: server-root-pw-2}
        - {name: RUCIO_CFG_DATABASE_DEFAULT, value: "postgresql://rucio:db%40passw0rd@db/rucio"}
        - {name: FROM_SECRET, valueFrom: {secretKeyRef: {name: s, key: k}}}
        args: ["--password", "flag-spaced-pw", "--token=flag-equals-tok"]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: renew}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: renew
            env:
            - {name: ROOT_PW, value: cron-root-pw-3}
            command: [renew, --password=cron-flag-pw]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: rucio-config}
data:
  rucio.cfg: |
    [database]
    default = postgresql://rucio:ini-db-passw0rd@db/rucio
  plain: cm-plain-value
binaryData:
  bin: ` + base64.StdEncoding.EncodeToString([]byte("cm-binary-value")) + `
---
apiVersion: v1
kind: Secret
metadata: {name: rucio-server.config.common}
stringData:
  common.json: '{"bootstrap": {"userpass_pwd": "json-root-pw"}}'
data:
  values.yaml: ` + base64.StdEncoding.EncodeToString([]byte("auth:\n  token: yaml-tok-1234\n")) + `
`

func TestFindLocations(t *testing.T) {
	cm := &catalog.ObjectRef{Kind: "ConfigMap", Name: "rucio-config"}
	sec := &catalog.ObjectRef{Kind: "Secret", Name: "rucio-server.config.common"}
	tests := []struct {
		name string
		loc  catalog.Location
		want []string
	}{
		{"env in every workload kind", catalog.Location{Env: "ROOT_PW"}, []string{"cron-root-pw-3", "init-root-pw-1", "server-root-pw-2"}},
		{"env in one workload", catalog.Location{Env: "ROOT_PW", Workload: "renew"}, []string{"cron-root-pw-3"}},
		{"env in one container", catalog.Location{Env: "ROOT_PW", Workload: "rucio-server", Container: "init"}, []string{"init-root-pw-1"}},
		{"env absent", catalog.Location{Env: "ROOT_PW", Workload: "switched-off"}, nil},
		{"env from a Secret already", catalog.Location{Env: "FROM_SECRET"}, nil},
		{"env url-password, percent-decoded", catalog.Location{Env: "RUCIO_CFG_DATABASE_DEFAULT", Extract: "url-password"}, []string{"db@passw0rd"}},
		{"flag then value", catalog.Location{Flag: "--password"}, []string{"cron-flag-pw", "flag-spaced-pw"}},
		{"flag=value", catalog.Location{Flag: "--token"}, []string{"flag-equals-tok"}},
		{"flag in one container", catalog.Location{Flag: "--password", Container: "renew"}, []string{"cron-flag-pw"}},
		{"ConfigMap data", catalog.Location{Object: cm, Key: "plain"}, []string{"cm-plain-value"}},
		{"ConfigMap binaryData", catalog.Location{Object: cm, Key: "bin"}, []string{"cm-binary-value"}},
		{"INI in a ConfigMap", catalog.Location{Object: cm, Key: "rucio.cfg", Format: "ini", Field: "database.default", Extract: "url-password"}, []string{"ini-db-passw0rd"}},
		{"JSON in Secret stringData", catalog.Location{Object: sec, Key: "common.json", Format: "json", Field: "bootstrap.userpass_pwd"}, []string{"json-root-pw"}},
		{"YAML in Secret data", catalog.Location{Object: sec, Key: "values.yaml", Format: "yaml", Field: "auth.token"}, []string{"yaml-tok-1234"}},
		{"object of another kind", catalog.Location{Object: &catalog.ObjectRef{Kind: "Secret", Name: "rucio-config"}, Key: "plain"}, nil},
		{"missing key", catalog.Location{Object: cm, Key: "nope"}, nil},
	}
	nodes := parse(t, locationStream)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := &catalog.Catalog{Credentials: map[string]catalog.Credential{
				"c": {SecretName: "s", Key: "k", Locations: []catalog.Location{tt.loc}},
			}}
			set, err := Find(nodes, cat)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(slices.Values(set[0].Values))
			if !slices.Equal(got, tt.want) {
				t.Errorf("values %q, want %q", got, tt.want)
			}
		})
	}
}

// A value inside a longer text shorter than MinEmbedded cannot be replaced
// there safely: an error naming the location, never the value.
func TestFindShortEmbeddedValue(t *testing.T) {
	stream := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    env:\n    - {name: DSN, value: 'postgresql://u:pw12@db/x'}\n    - {name: PW, value: pw34}\n"
	for _, tt := range []struct {
		loc     catalog.Location
		wantErr bool
	}{
		{catalog.Location{Env: "DSN", Extract: "url-password"}, true},
		{catalog.Location{Env: "PW"}, false}, // whole: replaced by a secretKeyRef
	} {
		cat := &catalog.Catalog{Credentials: map[string]catalog.Credential{
			"c": {SecretName: "s", Key: "k", Locations: []catalog.Location{{Env: "NONE"}, tt.loc}},
		}}
		_, err := Find(parse(t, stream), cat)
		if !tt.wantErr {
			if err != nil {
				t.Errorf("%+v: %v", tt.loc, err)
			}
			continue
		}
		want := "credentials.c.locations[1]: the value found there is shorter than 8 characters"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%+v: error %v, want %q", tt.loc, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw12") {
			t.Error("the error prints the value")
		}
	}
}

// Any password, percent-encoded byte by byte into a URL's userinfo, comes
// back whole; and no text makes URLPassword or FileField panic.
func FuzzURLPassword(f *testing.F) {
	f.Add("s3cret", "postgresql://u:p@db/x")
	f.Add("p@ss/w:rd %zz", "a://:@")
	f.Fuzz(func(t *testing.T, password, text string) {
		var enc strings.Builder
		for i := 0; i < len(password); i++ {
			fmt.Fprintf(&enc, "%%%02X", password[i])
		}
		got, ok := URLPassword("mysql://user:" + enc.String() + "@db:3306/x")
		if !ok || got != password {
			t.Errorf("URLPassword of %q encoded = %q, %v", password, got, ok)
		}
		URLPassword(text)
		for _, format := range []string{"ini", "json", "yaml"} {
			FileField(text, format, password)
		}
	})
}

// A value written into an INI file is read back, trimmed, whatever it holds
// on its line.
func FuzzINIField(f *testing.F) {
	f.Add("postgresql://u:p@db/x")
	f.Add(" = ; # [x]")
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n") {
			return
		}
		got, ok := FileField("[database]\ndefault = "+value+"\n", "ini", "database.default")
		if !ok || got != strings.TrimSpace(value) {
			t.Errorf("read %q back as %q, %v", value, got, ok)
		}
	})
}
