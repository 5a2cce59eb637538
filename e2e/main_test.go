package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// The server version tools/kube builds; the tests check the server reports
// it (Helm reads it for .Capabilities.KubeVersion and kubeVersion checks).
const wantServerVersion = "v1.37.2"

// env is what the whole run shares: the cluster, its clients, the tools.
var env struct {
	root    string // the repository
	cluster *cluster
	cfg     *rest.Config
	dyn     dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	helm3   *helmCLI
	helm4   *helmCLI
	render  string // bin/dpps-render
	kubeBin string // kubectl and the cluster's binaries
	// existing: the tests run against DPPS_E2E_KUBECONFIG's cluster.
	existing bool
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	need := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			fmt.Fprintf(os.Stderr, "e2e: %s is not set: run these tests with make e2e (scripts/e2e.sh)\n", name)
			os.Exit(2)
		}
		return v
	}
	kubeBin := need("DPPS_KUBE_BIN")
	helm3, helm4, bin := need("DPPS_HELM3"), need("DPPS_HELM4"), need("DPPS_BIN")
	base := os.Getenv("DPPS_E2E_TMP") // scripts/e2e.sh's directory, removed by its trap
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.root = root
	env.render = filepath.Join(bin, "dpps-render")
	env.kubeBin = kubeBin

	runDir, err := os.MkdirTemp(base, "run")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(runDir)

	var c *cluster
	if existing := os.Getenv("DPPS_E2E_KUBECONFIG"); existing != "" {
		// A cluster the caller runs (kind in a site's CI): nothing to
		// start or stop; its images are loaded already (docs/e2e.md).
		c = &cluster{kubeconfig: existing}
		env.existing = true
		fmt.Printf("e2e: against the existing cluster of %s\n", existing)
	} else if c, err = startLocal(runDir, kubeBin, need); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.cluster = c
	code := 1
	defer func() {
		if code != 0 {
			fmt.Println(c.logTails(30))
		}
		c.stop()
	}()

	if err := setupClients(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if env.helm3, err = newHelm("helm3", helm3, filepath.Join(runDir, "helm3"), bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if env.helm4, err = newHelm("helm4", helm4, filepath.Join(runDir, "helm4"), bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// Helm 4 takes only a plugin as post-renderer: install the repository's,
	// as docs/helm.md says.
	out, err := env.helm4.run("plugin", "install", filepath.Join(root, "helm-plugin"))
	if err != nil || !strings.Contains(out, "Installed plugin: dpps-render") {
		fmt.Fprintf(os.Stderr, "e2e: helm4 plugin install ./helm-plugin: %v\n%s\n", err, out)
		return 1
	}
	// Kinds a bare API server lacks (cert-manager's in staging, the
	// ExternalSecrets dpps-render emits for prod-site) get minimal CRDs
	// from testdata/crds before anything is installed.
	if err := installCRDFixtures(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: CRD fixtures:", err)
		return 1
	}
	code = m.Run()
	if err := c.exited(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: a cluster process died during the tests:", err)
		code = 1
	}
	return code
}

// startLocal starts the suite's own one-node cluster. Three tries: a free
// port found by freePorts can be taken by another process on this shared
// machine before etcd or the API server binds it.
func startLocal(runDir, kubeBin string, need func(string) string) (*cluster, error) {
	etcd := need("DPPS_ETCD")
	node := &nodeTools{kubeBin: kubeBin, nodeBin: need("DPPS_NODE_BIN"), images: need("DPPS_IMAGES")}
	start := time.Now()
	for try := 1; ; try++ {
		c, err := startCluster(runDir, etcd, kubeBin, node)
		if err == nil {
			fmt.Printf("e2e: cluster up at %s in %s (etcd %s, Kubernetes from %s, node %s with kube-router and CoreDNS from %s, images from %s)\n",
				c.server, time.Since(start).Round(100*time.Millisecond), etcd, kubeBin, nodeName, node.nodeBin, node.images)
			fmt.Printf("e2e: node: %s\n", strings.Join(c.timings, ", "))
			return c, nil
		}
		fmt.Fprintf(os.Stderr, "e2e: starting the cluster (try %d of 3): %v\n", try, err)
		if try == 3 {
			return nil, errors.New("the cluster did not start")
		}
	}
}

func setupClients() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.cluster.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	env.cfg = cfg
	if env.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return err
	}
	// An existing cluster runs whatever version its owner chose.
	if !env.existing && v.GitVersion != wantServerVersion {
		return fmt.Errorf("the API server reports %s, want %s (the -X flags of scripts/kube-build.sh)", v.GitVersion, wantServerVersion)
	}
	env.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return nil
}

// helmCLI is one Helm binary with its own HOME, data, config and cache
// directories, the cluster's kubeconfig, and bin/ first on PATH (the Helm 4
// plugin runs the dpps-render found there).
type helmCLI struct {
	name string
	bin  string
	env  []string
}

func newHelm(name, bin, home, binDir string) (*helmCLI, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	return &helmCLI{name: name, bin: bin, env: []string{
		"HOME=" + home,
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"KUBECONFIG=" + env.cluster.kubeconfig,
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
	}}, nil
}

// postRenderer is how this Helm is told to use dpps-render: Helm 3 takes
// the executable, Helm 4 the plugin's name.
func (h *helmCLI) postRenderer() []string {
	if h.name == "helm3" {
		return []string{"--post-renderer", env.render}
	}
	return []string{"--post-renderer", "dpps-render"}
}

// run runs helm in the repository and returns stdout, or on failure an
// error that holds stderr.
func (h *helmCLI) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	cmd.Dir = env.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\nstderr:\n%s", h.name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// parseObjects splits a rendered stream into objects.
func parseObjects(stream string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// resourceFor is the client for obj's kind, in ns when the kind is
// namespaced.
func resourceFor(obj *unstructured.Unstructured, ns string) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := env.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		env.mapper.Reset()
		mapping, err = env.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() != "" {
			ns = obj.GetNamespace()
		}
		return env.dyn.Resource(mapping.Resource).Namespace(ns), nil
	}
	return env.dyn.Resource(mapping.Resource), nil
}

// key names an object in messages and maps.
func key(obj *unstructured.Unstructured) string {
	return obj.GetKind() + "/" + obj.GetName()
}

var gvrNamespace = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
