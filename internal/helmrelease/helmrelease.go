// Package helmrelease reads a deployed Helm release's manifest from the
// cluster, as `helm get manifest` does, without Helm: Helm 3 and Helm 4 keep
// each revision of a release in a Secret sh.helm.release.v1.NAME.vN of type
// helm.sh/release.v1 (labels owner=helm, name, status, version), or a
// ConfigMap with HELM_DRIVER=configmap, whose "release" key holds the
// release as JSON, gzipped and base64-encoded. Only the API server's
// answers are read; nothing is written to the cluster.
package helmrelease

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// SecretType is the type of the Secrets Helm stores releases in.
const SecretType = "helm.sh/release.v1"

// Release is what is read of one revision of a release.
type Release struct {
	Name      string
	Namespace string
	Revision  int
	Status    string
	// Chart is the chart's name-version (dpps-0.1.0).
	Chart string
	// Manifest is the rendered manifest Helm applied, hooks excluded: what
	// `helm get manifest` prints.
	Manifest string
}

// Cluster is a connection to the API server.
type Cluster struct {
	// Namespace is the kubeconfig context's namespace, "default" when it
	// sets none (as kubectl and Helm default).
	Namespace string
	// Server is the API server's URL, for messages.
	Server string
	base   *url.URL
	client *http.Client
}

// Connect loads the kubeconfig as kubectl does (the file kubeconfig when
// set, else $KUBECONFIG's files merged, else ~/.kube/config) and returns a
// client of its context (kubeContext when set, else the current one), with
// its TLS settings and credentials (client certificates, tokens, exec
// plugins) as client-go applies them.
func Connect(kubeconfig, kubeContext string) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %v", kubeconfig, unwrapPath(err))
		}
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("no kubeconfig: set KUBECONFIG or pass --kubeconfig FILE")
		}
		return nil, fmt.Errorf("kubeconfig: %v", oneLine(err.Error()))
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %v", oneLine(err.Error()))
	}
	cfg.Timeout = 30 * time.Second
	cfg.UserAgent = "dpps-render"
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %v", oneLine(err.Error()))
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %v", oneLine(err.Error()))
	}
	return &Cluster{Namespace: ns, Server: cfg.Host, base: base, client: client}, nil
}

// object is what is read of a Secret or ConfigMap of Helm's storage.
type object struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Type string `json:"type"`
	// Data is a Secret's (base64 of the stored bytes) or a ConfigMap's.
	Data map[string]string `json:"data"`
}

// status is the API server's error body (metav1.Status).
type status struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Code    int    `json:"code"`
}

// apiError is an answer of the API server other than 200.
type apiError struct {
	code    int
	message string
}

func (e *apiError) Error() string { return e.message }

// get GETs an API path (query included) into out.
func (c *Cluster) get(ctx context.Context, path string, query url.Values, out any) error {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach the API server %s: %v", c.Server, oneLine(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxList+1))
	if err != nil {
		return fmt.Errorf("reading the API server's answer: %v", err)
	}
	if len(body) > maxList {
		return fmt.Errorf("the API server's answer to GET %s is over %d MiB", path, maxList>>20)
	}
	if resp.StatusCode != http.StatusOK {
		var st status
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Message != "" {
			msg = oneLine(st.Message)
		}
		return &apiError{code: resp.StatusCode, message: msg}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the API server's answer to GET %s is not JSON: %v", path, err)
	}
	return nil
}

// maxList bounds an answer of the API server: a release's revisions, each
// under Kubernetes' 1 MiB bound for a Secret, Helm keeping 10 by default.
const maxList = 256 << 20

// Deployed returns the newest revision of release name in namespace ns
// whose status is deployed, read from Helm's storage: driver "secret" (or
// "", Helm's default) or "configmap", as HELM_DRIVER names them. The
// errors are one line and say what to do.
func (c *Cluster) Deployed(ctx context.Context, ns, name, driver string) (*Release, error) {
	var resource, kind string
	switch driver {
	case "", "secret", "secrets":
		resource, kind = "secrets", "Secret"
	case "configmap", "configmaps":
		resource, kind = "configmaps", "ConfigMap"
	default:
		return nil, fmt.Errorf("HELM_DRIVER=%s: --from-release reads releases Helm stores in Secrets (the default) or ConfigMaps; pass 'helm get manifest %s -n %s' saved to a file as OLD instead", driver, name, ns)
	}
	var list struct {
		Items []object `json:"items"`
	}
	path := "/api/v1/namespaces/" + url.PathEscape(ns) + "/" + resource
	if err := c.get(ctx, path, url.Values{"labelSelector": {"owner=helm,name=" + name}}, &list); err != nil {
		return nil, c.explain(err, resource, ns)
	}
	var items []object
	for _, o := range list.Items {
		if kind == "Secret" && o.Type != SecretType {
			continue
		}
		items = append(items, o)
	}
	if len(items) == 0 {
		var nsObj struct{}
		err := c.get(ctx, "/api/v1/namespaces/"+url.PathEscape(ns), nil, &nsObj)
		var ae *apiError
		if errors.As(err, &ae) && ae.code == http.StatusNotFound {
			return nil, fmt.Errorf("namespace %q does not exist on %s: pass the release's namespace with --namespace", ns, c.Server)
		}
		return nil, fmt.Errorf("release %q not found in namespace %q on %s (no %s labelled owner=helm,name=%s): 'helm list -n %s' shows the releases there", name, ns, c.Server, kind, name, ns)
	}
	best, latest, bestRev := -1, -1, -1
	var latestStatus string
	for i, o := range items {
		v, err := strconv.Atoi(o.Metadata.Labels["version"])
		if err != nil {
			return nil, fmt.Errorf("%s %s in namespace %q: label version=%q is not a revision number", kind, o.Metadata.Name, ns, o.Metadata.Labels["version"])
		}
		if v > latest {
			latest, latestStatus = v, o.Metadata.Labels["status"]
		}
		if o.Metadata.Labels["status"] == "deployed" && v > bestRev {
			best, bestRev = i, v
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("release %q in namespace %q has no deployed revision (latest: revision %d, %s): 'helm history %s -n %s' shows why; roll back or fix it before comparing", name, ns, latest, latestStatus, name, ns)
	}
	o := items[best]
	data := []byte(o.Data["release"])
	if kind == "Secret" {
		// A Secret's data travels base64-encoded over the API, around
		// Helm's own base64.
		var err error
		if data, err = base64.StdEncoding.DecodeString(o.Data["release"]); err != nil {
			return nil, fmt.Errorf("Secret %s in namespace %q: data.release is not base64: %v", o.Metadata.Name, ns, err)
		}
	}
	r, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s %s in namespace %q: %v", kind, o.Metadata.Name, ns, err)
	}
	if r.Name != name || (r.Namespace != "" && r.Namespace != ns) || r.Revision != bestRev {
		return nil, fmt.Errorf("%s %s in namespace %q holds release %q revision %d of namespace %q, not what its labels say (%s revision %d)", kind, o.Metadata.Name, ns, r.Name, r.Revision, r.Namespace, name, bestRev)
	}
	if r.Status != "deployed" {
		return nil, fmt.Errorf("%s %s in namespace %q: labelled deployed, its release says %q", kind, o.Metadata.Name, ns, r.Status)
	}
	return r, nil
}

// explain turns an error of listing resource in ns into one line that says
// what to do.
func (c *Cluster) explain(err error, resource, ns string) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.code {
	case http.StatusForbidden:
		return fmt.Errorf("access denied by %s: %s; --from-release needs what 'helm get manifest' needs: list on %s in namespace %q", c.Server, ae.message, resource, ns)
	case http.StatusUnauthorized:
		return fmt.Errorf("the API server %s refused the kubeconfig's credentials (%s): renew them", c.Server, ae.message)
	}
	return fmt.Errorf("listing %s in namespace %q on %s: %d %s", resource, ns, c.Server, ae.code, ae.message)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// gzipMagic starts a gzip stream; Helm gzips every release it stores and
// reads older ones stored plain.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// maxRelease bounds a decompressed release (Kubernetes bounds a Secret to
// 1 MiB; gzip of YAML rarely exceeds 1:20).
const maxRelease = 64 << 20

// Decode decodes the "release" value of Helm's storage: base64 of gzip (or
// plain) JSON.
func Decode(data []byte) (*Release, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("its release is not base64: %v", err)
	}
	if bytes.HasPrefix(raw, gzipMagic) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("its release is not gzip: %v", err)
		}
		raw, err = io.ReadAll(io.LimitReader(zr, maxRelease+1))
		if err != nil {
			return nil, fmt.Errorf("its release is not gzip: %v", err)
		}
		if len(raw) > maxRelease {
			return nil, fmt.Errorf("its release is over %d MiB once decompressed", maxRelease>>20)
		}
	}
	var rel struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Version   int    `json:"version"`
		Manifest  string `json:"manifest"`
		Info      struct {
			Status string `json:"status"`
		} `json:"info"`
		Chart struct {
			Metadata struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"metadata"`
		} `json:"chart"`
	}
	if err := json.Unmarshal(raw, &rel); err != nil {
		return nil, fmt.Errorf("its release is not Helm's JSON: %v", err)
	}
	if rel.Name == "" || rel.Version == 0 {
		return nil, errors.New("its release has no name or revision")
	}
	r := &Release{Name: rel.Name, Namespace: rel.Namespace, Revision: rel.Version, Status: rel.Info.Status, Manifest: rel.Manifest}
	if rel.Chart.Metadata.Name != "" {
		r.Chart = rel.Chart.Metadata.Name + "-" + rel.Chart.Metadata.Version
	}
	return r, nil
}
