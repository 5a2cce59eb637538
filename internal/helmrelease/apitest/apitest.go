// Package apitest serves Helm releases, stored by Helm's own storage
// drivers, from a TLS test server that answers the API server's paths
// helmrelease reads, for the tests of helmrelease and of upgrade-check
// --from-release. Tests only: it links Helm's storage and client-go's fake
// clientset.
package apitest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	rspb "helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// DeniedToken is the bearer token the server answers 403 to, with
// Forbidden, the message a real API server gives a user without RBAC
// access to Secrets.
const (
	DeniedToken = "no-rbac-token-5f1e"
	Forbidden   = `secrets is forbidden: User "system:serviceaccount:dpps:viewer" cannot list resource "secrets" in API group "" in the namespace "dpps"`
)

// Release is a Helm release revision of chart dpps-chartVersion, with a
// hook (which helm get manifest leaves out).
func Release(name, ns string, rev int, st rspb.Status, chartVersion, manifest string) *rspb.Release {
	return &rspb.Release{
		Name: name, Namespace: ns, Version: rev, Manifest: manifest,
		Info:  &rspb.Info{Status: st},
		Chart: &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "dpps", Version: chartVersion}},
		Hooks: []*rspb.Hook{{Name: "hook", Manifest: "kind: Job # a hook: not in helm get manifest"}},
	}
}

// Store stores releases in namespace ns of a fake clientset with Helm's
// Secrets and ConfigMaps storage drivers, as helm install and upgrade write
// them.
func Store(ns string, rels ...*rspb.Release) (*fake.Clientset, error) {
	cs := fake.NewClientset()
	return cs, StoreInto(cs, ns, rels...)
}

// StoreInto is Store into an existing fake clientset.
func StoreInto(cs *fake.Clientset, ns string, rels ...*rspb.Release) error {
	secrets := driver.NewSecrets(cs.CoreV1().Secrets(ns))
	cms := driver.NewConfigMaps(cs.CoreV1().ConfigMaps(ns))
	for _, r := range rels {
		key := fmt.Sprintf("sh.helm.release.v1.%s.v%d", r.Name, r.Version)
		if err := secrets.Create(key, r); err != nil {
			return err
		}
		if err := cms.Create(key, r); err != nil {
			return err
		}
	}
	return nil
}

// Server answers, in JSON as the API server does, lists of Secrets and
// ConfigMaps by label selector from cs, and GETs of the given namespaces
// (404 for others). A request with DeniedToken gets a 403. Close it.
func Server(cs *fake.Clientset, namespaces ...string) *httptest.Server {
	status := func(w http.ResponseWriter, code int, reason, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "reason": reason, "code": code})
	}
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+DeniedToken {
			status(w, http.StatusForbidden, "Forbidden", Forbidden)
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/")
		ctx := context.Background()
		opts := metav1.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector")}
		var out any
		var err error
		switch {
		case len(parts) == 1:
			for _, n := range namespaces {
				if n == parts[0] {
					out = map[string]any{"kind": "Namespace", "apiVersion": "v1", "metadata": map[string]any{"name": n}}
				}
			}
			if out == nil {
				status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("namespaces %q not found", parts[0]))
				return
			}
		case len(parts) == 2 && parts[1] == "secrets":
			out, err = cs.CoreV1().Secrets(parts[0]).List(ctx, opts)
		case len(parts) == 2 && parts[1] == "configmaps":
			out, err = cs.CoreV1().ConfigMaps(parts[0]).List(ctx, opts)
		default:
			status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
			return
		}
		if err != nil {
			status(w, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}))
}

// Kubeconfig writes to path a kubeconfig for server (trusting srv's
// certificate when srv is not nil) with a bearer token and a context
// namespace (none when empty).
func Kubeconfig(path string, srv *httptest.Server, server, token, ns string) error {
	ca := ""
	if srv != nil && srv.Certificate() != nil {
		ca = base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	}
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %q}}]
users: [{name: u, user: {token: %q}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: %q}}]
current-context: x
`, server, ca, token, ns)
	return os.WriteFile(path, []byte(data), 0o600)
}
