package helmrelease

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	rspb "helm.sh/helm/v3/pkg/release"

	"github.com/ctao/dpps-deploy/internal/helmrelease/apitest"
)

func kubeconfig(t *testing.T, srv *httptest.Server, server, token, ns string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := apitest.Kubeconfig(p, srv, server, token, ns); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeployed(t *testing.T) {
	cs, err := apitest.Store("dpps",
		apitest.Release("dpps", "dpps", 1, rspb.StatusSuperseded, "0.1.0", "# revision 1\n"),
		apitest.Release("dpps", "dpps", 2, rspb.StatusDeployed, "0.2.0", "# revision 2\nkind: ConfigMap\n"),
		apitest.Release("dpps", "dpps", 3, rspb.StatusFailed, "0.3.0", "# revision 3\n"),
		apitest.Release("dpps-other", "dpps", 7, rspb.StatusDeployed, "0.1.0", "# other\n"),
		apitest.Release("broken", "dpps", 1, rspb.StatusFailed, "0.1.0", "# broken\n"),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := apitest.Server(cs, "dpps", "empty")
	defer srv.Close()
	tests := map[string]struct {
		token, ns, name, driver string
		want                    string // the manifest, or the error
		wantErr                 bool
	}{
		"the newest deployed revision, not the failed one after it": {ns: "dpps", name: "dpps", want: "# revision 2\nkind: ConfigMap\n"},
		"the context's namespace":                                   {name: "dpps", want: "# revision 2\nkind: ConfigMap\n"},
		"HELM_DRIVER=configmap":                                     {ns: "dpps", name: "dpps", driver: "configmap", want: "# revision 2\nkind: ConfigMap\n"},
		"another release of the namespace":                          {ns: "dpps", name: "dpps-other", want: "# other\n"},
		"no deployed revision": {ns: "dpps", name: "broken", wantErr: true,
			want: `release "broken" in namespace "dpps" has no deployed revision (latest: revision 1, failed): 'helm history broken -n dpps' shows why; roll back or fix it before comparing`},
		"no such release": {ns: "empty", name: "dpps", wantErr: true,
			want: `release "dpps" not found in namespace "empty" on SERVER (no Secret labelled owner=helm,name=dpps): 'helm list -n empty' shows the releases there`},
		"no such namespace": {ns: "nope", name: "dpps", wantErr: true,
			want: `namespace "nope" does not exist on SERVER: pass the release's namespace with --namespace`},
		"access denied": {token: apitest.DeniedToken, ns: "dpps", name: "dpps", wantErr: true,
			want: `access denied by SERVER: ` + apitest.Forbidden + `; --from-release needs what 'helm get manifest' needs: list on secrets in namespace "dpps"`},
		"a storage driver it cannot read": {ns: "dpps", name: "dpps", driver: "sql", wantErr: true,
			want: `HELM_DRIVER=sql: --from-release reads releases Helm stores in Secrets (the default) or ConfigMaps; pass 'helm get manifest dpps -n dpps' saved to a file as OLD instead`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = "secret-token-value"
			}
			c, err := Connect(kubeconfig(t, srv, srv.URL, token, "dpps"), "")
			if err != nil {
				t.Fatal(err)
			}
			ns := tc.ns
			if ns == "" {
				ns = c.Namespace
			}
			r, err := c.Deployed(context.Background(), ns, tc.name, tc.driver)
			want := strings.ReplaceAll(tc.want, "SERVER", srv.URL)
			if tc.wantErr {
				if err == nil || err.Error() != want {
					t.Fatalf("error:\n%v\nwant:\n%s", err, want)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Manifest != want || r.Status != "deployed" || r.Name != tc.name {
				t.Errorf("got %+v, want manifest %q", r, want)
			}
		})
	}
	t.Run("revision and chart", func(t *testing.T) {
		c, err := Connect(kubeconfig(t, srv, srv.URL, "t", "dpps"), "")
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Deployed(context.Background(), "dpps", "dpps", "")
		if err != nil || r.Revision != 2 || r.Chart != "dpps-0.2.0" || r.Namespace != "dpps" {
			t.Fatalf("got %+v, %v; want revision 2 of chart dpps-0.2.0", r, err)
		}
	})
}

func TestConnectErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := Connect(missing, ""); err == nil || err.Error() != "--kubeconfig "+missing+": no such file or directory" {
		t.Errorf("missing kubeconfig: %v", err)
	}
	t.Setenv("KUBECONFIG", missing)
	t.Setenv("HOME", t.TempDir())
	if _, err := Connect("", ""); err == nil || err.Error() != "no kubeconfig: set KUBECONFIG or pass --kubeconfig FILE" {
		t.Errorf("no kubeconfig at all: %v", err)
	}
	p := kubeconfig(t, nil, "https://127.0.0.1:1", "t", "")
	if _, err := Connect(p, "elsewhere"); err == nil || !strings.Contains(err.Error(), `kubeconfig: context "elsewhere" does not exist`) {
		t.Errorf("unknown context: %v", err)
	}
	c, err := Connect(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace != "default" {
		t.Errorf("a context without a namespace: %q, want default", c.Namespace)
	}
	if _, err := c.Deployed(context.Background(), "dpps", "dpps", ""); err == nil || !strings.HasPrefix(err.Error(), "cannot reach the API server https://127.0.0.1:1: ") {
		t.Errorf("no API server: %v", err)
	}
}

func TestDecode(t *testing.T) {
	for name, in := range map[string]string{
		"not base64":  "!!!",
		"not JSON":    "bm90IGpzb24=",
		"no name":     "e30=",
		"gzip broken": "H4sIAAAAAAAA",
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Helm reads releases stored before it gzipped them: plain JSON.
	r, err := Decode([]byte("eyJuYW1lIjoiYSIsInZlcnNpb24iOjEsIm1hbmlmZXN0IjoibSIsImluZm8iOnsic3RhdHVzIjoiZGVwbG95ZWQifX0="))
	if err != nil || r.Name != "a" || r.Manifest != "m" || r.Status != "deployed" {
		t.Errorf("plain JSON: %+v, %v", r, err)
	}
}
