package e2e

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// The node's fixed networks. The pod range is the controller manager's
// cluster CIDR; its first /24 is the one node's podCIDR, which the CNI bridge
// hands out and kube-router reads.
const (
	nodeName   = "dpps-e2e-node"
	clusterDNS = "10.96.0.10"
	clusterNet = "10.244.0.0/16"
	podNet     = "10.244.0.0/24"
	// The bridge is named after the suite, so the clean-up never touches
	// another one (15 characters at most).
	bridgeName = "dppse2e0"
	// hostPath PersistentVolumes created for the node, the way a site's
	// local-path provisioner would offer them.
	pvCount = 64
)

// nodeTools is where the node's programs and images come from:
// scripts/kube-build.sh (kubelet, kube-proxy, kube-scheduler, kubectl),
// scripts/node-build.sh (kube-router; CoreDNS goes into an image),
// scripts/images.sh (OCI archives).
type nodeTools struct {
	kubeBin string
	nodeBin string
	images  string
}

// hostIP is the address of the interface holding the default route: pods
// reach the API server there. Connecting a UDP socket sends nothing.
func hostIP() (net.IP, error) {
	conn, err := net.Dial("udp4", "192.0.2.255:9")
	if err != nil {
		return nil, fmt.Errorf("finding the host's address (the default route's interface): %w", err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP, nil
}

//go:embed testdata/node/cleanup.sh
var cleanupScript string

//go:embed testdata/node/coredns.yaml
var corednsManifest string

// startNode turns the control plane c into a one-node cluster: containerd
// with the suite's images, CNI bridge networking, kube-scheduler, kubelet,
// kube-proxy (iptables), kube-router (NetworkPolicies only), CoreDNS as
// kube-dns, and hostPath PersistentVolumes. Everything lives under c.dir;
// c.stop runs testdata/node/cleanup.sh, which scripts/e2e.sh's trap also
// runs when the test binary dies.
func (c *cluster) startNode(cfg *rest.Config, cs kubernetes.Interface, t nodeTools, ip net.IP) error {
	if os.Geteuid() != 0 {
		return errors.New("the node (containerd, kubelet, iptables) needs root: run make e2e as root, as CI does")
	}
	dir := filepath.Join(c.dir, "node")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Written first: whatever starts below, the clean-up knows how to undo.
	cleanup := filepath.Join(c.dir, "node-cleanup.sh")
	if err := os.WriteFile(cleanup, []byte(cleanupScript), 0o755); err != nil {
		return err
	}
	c.nodeCleanup = cleanup
	if out, err := exec.Command(cleanup, "save", dir, bridgeName).CombinedOutput(); err != nil {
		return fmt.Errorf("saving the host's network settings: %v\n%s", err, out)
	}

	sock := filepath.Join(dir, "containerd.sock")
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	schedPort, kubeletPort, healthzPort, proxyHealth, routerHealth := ports[0], ports[1], ports[2], ports[3], ports[4]
	kubeconfig := c.kubeconfig

	files := map[string]string{
		"containerd.toml":      containerdConfig,
		"cni/10-dpps.conflist": cniConfig,
		"kubelet.yaml":         kubeletConfig,
		"kube-proxy.yaml":      kubeProxyConfig,
	}
	vars := map[string]any{
		"Dir": dir, "Sock": sock, "Bridge": bridgeName, "PodNet": podNet, "ClusterNet": clusterNet,
		"DNS": clusterDNS, "Kubeconfig": kubeconfig, "Node": nodeName,
		"KubeletPort": kubeletPort, "HealthzPort": healthzPort, "ProxyHealth": proxyHealth,
		"Pause": pauseImage, "CoreDNS": corednsImage, "HostIP": ip.String(),
	}
	for name, text := range files {
		if err := writeTemplate(filepath.Join(dir, name), text, vars); err != nil {
			return err
		}
	}

	if err := c.start("containerd", "containerd", "--config", filepath.Join(dir, "containerd.toml")); err != nil {
		return err
	}
	// The containers go before containerd does: the kubelet is stopped by
	// then and cannot restart them.
	c.procs[len(c.procs)-1].beforeStop = c.undoNode
	if err := c.waitFor("containerd", 30*time.Second, func() error {
		return exec.Command("ctr", "-a", sock, "version").Run()
	}); err != nil {
		return err
	}
	begin := time.Now()
	if err := importImages(sock, t.images); err != nil {
		return err
	}
	c.timings = append(c.timings, fmt.Sprintf("images imported in %s", time.Since(begin).Round(100*time.Millisecond)))
	begin = time.Now()

	if err := c.start("kube-scheduler", filepath.Join(t.kubeBin, "kube-scheduler"),
		"--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--leader-elect=false", "--profiling=false",
	); err != nil {
		return err
	}
	if err := c.start("kubelet", filepath.Join(t.kubeBin, "kubelet"),
		"--config="+filepath.Join(dir, "kubelet.yaml"),
		"--kubeconfig="+kubeconfig,
		"--root-dir="+filepath.Join(dir, "kubelet"),
		"--cert-dir="+filepath.Join(dir, "kubelet-pki"),
		"--hostname-override="+nodeName,
		"--node-ip="+ip.String(),
	); err != nil {
		return err
	}
	ctx := context.Background()
	// Ready needs the runtime and the CNI configuration; kube-router needs
	// the podCIDR the controller manager allocates.
	if err := c.waitFor("the node to be Ready with a podCIDR", 2*time.Minute, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR != podNet {
			return fmt.Errorf("podCIDR %q, want %s", n.Spec.PodCIDR, podNet)
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("Ready=%s: %s", cond.Status, cond.Message)
			}
		}
		return errors.New("no Ready condition yet")
	}); err != nil {
		return err
	}

	c.timings = append(c.timings, fmt.Sprintf("node Ready in %s", time.Since(begin).Round(100*time.Millisecond)))
	begin = time.Now()
	if err := c.start("kube-proxy", filepath.Join(t.kubeBin, "kube-proxy"),
		"--config="+filepath.Join(dir, "kube-proxy.yaml"),
	); err != nil {
		return err
	}
	if err := c.start("kube-router", filepath.Join(t.nodeBin, "kube-router"),
		"--kubeconfig="+kubeconfig,
		"--hostname-override="+nodeName,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
		"--enable-cni=false", "--enable-ipv6=false",
		"--health-port="+strconv.Itoa(routerHealth), "--metrics-port=0",
	); err != nil {
		return err
	}
	if err := c.waitFor("kube-router", time.Minute, func() error {
		return httpOK(httpClient, fmt.Sprintf("http://127.0.0.1:%d/healthz", routerHealth), "")
	}); err != nil {
		return err
	}

	c.timings = append(c.timings, fmt.Sprintf("kube-proxy and kube-router in %s", time.Since(begin).Round(100*time.Millisecond)))
	begin = time.Now()
	if err := createVolumes(ctx, cs, filepath.Join(dir, "volumes")); err != nil {
		return err
	}
	if err := applyManifest(ctx, cfg, expand(corednsManifest, vars)); err != nil {
		return fmt.Errorf("CoreDNS: %w", err)
	}
	defer func() {
		c.timings = append(c.timings, fmt.Sprintf("volumes and CoreDNS in %s", time.Since(begin).Round(100*time.Millisecond)))
	}()
	return c.waitFor("CoreDNS (kube-dns) to be available", 2*time.Minute, func() error {
		d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas < 1 {
			return fmt.Errorf("%d of %d replicas available", d.Status.AvailableReplicas, *d.Spec.Replicas)
		}
		return nil
	})
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// undoNode runs the node's clean-up once (testdata/node/cleanup.sh undo).
func (c *cluster) undoNode() {
	if c.nodeCleanup == "" || c.cleanedUp {
		return
	}
	c.cleanedUp = true
	if out, err := exec.Command(c.nodeCleanup, "undo", filepath.Join(c.dir, "node")).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: node clean-up: %v\n%s\n", err, out)
	}
}

// applyManifest server-side applies every object of a YAML stream.
func applyManifest(ctx context.Context, cfg *rest.Config, stream string) error {
	objs, err := parseObjects(stream)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			res = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := res.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("%s: %w", key(o), err)
		}
	}
	return nil
}

// importImages loads every OCI archive of dir into containerd's k8s.io
// namespace, where the kubelet finds them (pods use pullPolicy Never or
// IfNotPresent: nothing is pulled).
func importImages(sock, dir string) error {
	archives, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return err
	}
	if len(archives) == 0 {
		return fmt.Errorf("no image archive in %s (scripts/images.sh builds them)", dir)
	}
	// A few at a time: each is mostly decompressing and writing layers.
	errs := make(chan error, len(archives))
	sem := make(chan struct{}, 3)
	for _, a := range archives {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "images", "import", a).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("ctr images import %s: %v\n%s", a, err, out)
			}
			errs <- err
		}()
	}
	var first error
	for range archives {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// createVolumes offers pvCount hostPath PersistentVolumes without a storage
// class, each a directory under dir that any user may write (as a
// local-path provisioner makes them). A claim without a class binds one; a
// kept claim keeps it across helm uninstall and install.
func createVolumes(ctx context.Context, cs kubernetes.Interface, dir string) error {
	for i := range pvCount {
		path := filepath.Join(dir, fmt.Sprintf("pv%02d", i))
		if err := os.MkdirAll(path, 0o777); err != nil {
			return err
		}
		// MkdirAll's mode is filtered by the umask.
		if err := os.Chmod(path, 0o777); err != nil {
			return err
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dpps-e2e-pv%02d", i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("8Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: path},
				},
			},
		}
		if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func writeTemplate(path, text string, vars map[string]any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(expand(text, vars)), 0o644)
}

// expand fills a configuration template; the templates are the suite's own,
// so a mistake in one is a bug that panics.
func expand(text string, vars map[string]any) string {
	var b bytes.Buffer
	template.Must(template.New("").Option("missingkey=error").Parse(text)).Execute(&b, vars)
	return b.String()
}

// Images scripts/images.sh builds: the sandbox (tools/pause) and cluster
// DNS (tools/coredns).
const (
	pauseImage   = "localhost/dpps-e2e/pause:1.0"
	corednsImage = "localhost/dpps-e2e/coredns:1.14.7"
)

// containerd 1.6 with every path under the node's directory.
// restrict_oom_score_adj: root here may not lower oom_score_adj, which
// containerd otherwise asks for every sandbox (runc then fails with "can't
// get final child's PID from pipe").
const containerdConfig = `version = 2
root = "{{.Dir}}/containerd/root"
state = "{{.Dir}}/containerd/state"
[grpc]
  address = "{{.Sock}}"
[ttrpc]
  address = "{{.Sock}}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.Pause}}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{{.Dir}}/cni"
`

// One bridge, the node's podCIDR from host-local (its state under the
// node's directory), masquerading out, hairpin so a pod reaches itself
// through its Service.
const cniConfig = `{
  "cniVersion": "1.0.0",
  "name": "dpps-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "{{.Bridge}}",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "{{.Dir}}/cni-ipam",
        "ranges": [[{"subnet": "{{.PodNet}}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`

// failCgroupV1: this machine kind has cgroup v1. Image garbage collection
// and disk-pressure eviction are off: the suite's images cannot be pulled
// again. The kubelet's API is open to anyone who reaches its port, which
// only the API server does here.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {{.HostIP}}
port: {{.KubeletPort}}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {{.HealthzPort}}
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://{{.Sock}}
clusterDNS: [{{.DNS}}]
clusterDomain: cluster.local
resolvConf: ""
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
serializeImagePulls: false
maxPods: 250
`

// iptables mode (the kernel has no IPVS). Conntrack settings left as the
// host has them.
const kubeProxyConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {{.Kubeconfig}}
mode: iptables
clusterCIDR: {{.ClusterNet}}
hostnameOverride: {{.Node}}
healthzBindAddress: 127.0.0.1:{{.ProxyHealth}}
metricsBindAddress: ""
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`
