package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is a real control plane: etcd, kube-apiserver and
// kube-controller-manager on free ports, all state in dir; startNode adds a
// node on which pods run.
type cluster struct {
	dir        string
	kubeconfig string
	server     string
	procs      []*proc
	// nodeCleanup is testdata/node/cleanup.sh, written when a node is
	// started; stop runs it once, before containerd stops.
	nodeCleanup string
	cleanedUp   bool
	// timings of the node's start, for the log.
	timings []string
}

// proc is one process of the cluster, its output in log.
type proc struct {
	name    string
	cmd     *exec.Cmd
	log     string
	pidFile string
	done    chan struct{}
	err     error
	// beforeStop runs before the process is signalled.
	beforeStop func()
}

// freePorts returns n distinct free loopback TCP ports. Holding all the
// listeners until every port is known keeps them distinct; the default ports
// (2379, 2380, 6443) are never picked, so a system etcd or another cluster on
// this machine does not matter.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		p := l.Addr().(*net.TCPAddr).Port
		if p == 2379 || p == 2380 || p == 6443 {
			continue
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// start runs bin with args, its output in <dir>/<name>.log and its pid in
// <dir>/<name>.pid (scripts/e2e.sh kills what is still listed there if the
// test binary dies without stopping the cluster). The process is killed
// when the test binary's thread that started it exits, too.
func (c *cluster) start(name, bin string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, pidFile: filepath.Join(c.dir, name+".pid"), done: make(chan struct{})}
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		return err
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return nil
}

// waitFor polls check until it returns nil, a process of the cluster exits,
// or the timeout passes.
func (c *cluster) waitFor(what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		for _, p := range c.procs {
			select {
			case <-p.done:
				return fmt.Errorf("waiting for %s: %s exited: %v", what, p.name, p.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not ready after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func httpOK(client *http.Client, url, token string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// startCluster starts etcd, kube-apiserver and kube-controller-manager in a
// new directory under base and returns once the API server is ready and the
// controller manager has created the default ServiceAccount. On error, what
// was started is stopped again.
//
// With a node, the API server also listens on node (the host's address,
// where pods reach it through the kubernetes Service) and the controller
// manager allocates each node a podCIDR; then startNode runs.
func startCluster(base, etcdBin, kubeBin string, node *nodeTools) (c *cluster, err error) {
	dir, err := os.MkdirTemp(base, "cluster")
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, c.logTails(40))
			c.stop()
			c = nil
		}
	}()
	var ip net.IP
	if node != nil {
		if ip, err = hostIP(); err != nil {
			return c, err
		}
	}
	pk, err := newPKI(dir, ip)
	if err != nil {
		return c, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return c, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	apiPort, kcmPort := ports[2], ports[3]
	c.server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)

	if err := c.start("etcd", etcdBin,
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=e2e="+etcdPeer,
		"--log-level=warn",
	); err != nil {
		return c, err
	}
	if err := c.waitFor("etcd", 30*time.Second, func() error {
		return httpOK(http.DefaultClient, etcdClient+"/health", "")
	}); err != nil {
		return c, err
	}

	// Without a node, only loopback and no endpoints for the kubernetes
	// Service (nothing could use them).
	apiAddr := []string{"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"}
	if node != nil {
		// The node's name does not resolve: logs and exec go to its address.
		apiAddr = []string{"--bind-address=0.0.0.0", "--advertise-address=" + ip.String(),
			"--kubelet-preferred-address-types=InternalIP"}
	}
	if err := c.start("kube-apiserver", filepath.Join(kubeBin, "kube-apiserver"), append(apiAddr,
		"--etcd-servers="+etcdClient,
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+pk.serverCert, "--tls-private-key-file="+pk.serverKey,
		"--client-ca-file="+pk.caCert,
		"--token-auth-file="+pk.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pk.saPub,
		"--service-account-signing-key-file="+pk.saKey,
		"--service-cluster-ip-range="+serviceRange,
		"--allow-privileged=true",
		"--profiling=false",
	)...); err != nil {
		return c, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pk.caPEM)
	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.waitFor("kube-apiserver", 90*time.Second, func() error {
		return httpOK(tlsClient, c.server+"/readyz", pk.token)
	}); err != nil {
		return c, err
	}

	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, pk.kubeconfig(c.server), 0o600); err != nil {
		return c, err
	}
	if err := c.start("kube-controller-manager", filepath.Join(kubeBin, "kube-controller-manager"),
		"--kubeconfig="+c.kubeconfig,
		"--authentication-kubeconfig="+c.kubeconfig,
		"--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(dir, "kcm-certs"),
		"--leader-elect=false",
		"--service-account-private-key-file="+pk.saKey,
		"--root-ca-file="+pk.caCert,
		"--service-cluster-ip-range="+serviceRange,
		"--allocate-node-cidrs=true", "--cluster-cidr="+clusterNet, "--node-cidr-mask-size=24",
		"--profiling=false",
	); err != nil {
		return c, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return c, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return c, err
	}
	if err := c.waitFor("kube-controller-manager (the default ServiceAccount)", 90*time.Second, func() error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return c, err
	}
	if node != nil {
		err = c.startNode(cfg, cs, *node, ip)
	}
	return c, err
}

// stop stops every process, last started first (SIGTERM, then SIGKILL after
// 15 s), and removes the cluster's directory.
func (c *cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		if p.beforeStop != nil {
			p.beforeStop()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		os.Remove(p.pidFile)
	}
	c.procs = nil
	c.undoNode()
	if c.dir != "" { // an existing cluster has none
		os.RemoveAll(c.dir)
	}
}

// logTails is the last n lines of every process's log.
func (c *cluster) logTails(n int) string {
	var b strings.Builder
	for _, p := range c.procs {
		data, err := os.ReadFile(p.log)
		if err != nil {
			continue
		}
		lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- last %d lines of %s:\n%s\n", len(lines), p.name, bytes.Join(lines, []byte("\n")))
	}
	return b.String()
}

// exited reports a process of the cluster that is no longer running.
func (c *cluster) exited() error {
	for _, p := range c.procs {
		select {
		case <-p.done:
			return errors.New(p.name + " exited: " + fmt.Sprint(p.err))
		default:
		}
	}
	return nil
}
