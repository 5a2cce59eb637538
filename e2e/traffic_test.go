package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// catalogFile is the interface catalog as the chart ships it; the traffic
// matrix is computed from it here, by this file's own reading, not by
// dpps-render's code.
type catalogFile struct {
	Components map[string]struct {
		Selector      map[string]string `json:"selector"`
		KubernetesAPI bool              `json:"kubernetesAPI"`
	} `json:"components"`
	Interfaces map[string]struct {
		Provider  string   `json:"provider"`
		Service   string   `json:"service"`
		Consumers []string `json:"consumers"`
		Ports     []struct {
			Name     string `json:"name"`
			Port     int    `json:"port"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	} `json:"interfaces"`
}

func loadCatalog(t *testing.T) catalogFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.root, chart, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c catalogFile
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// forRelease fills the release name into a catalog string.
func forRelease(s string) string {
	return strings.ReplaceAll(s, "{{ .Release.Name }}", release)
}

func selectorFor(c catalogFile, component string) map[string]string {
	sel := map[string]string{}
	for k, v := range c.Components[component].Selector {
		sel[k] = forRelease(v)
	}
	return sel
}

// matches: labels carry every label of sel.
func matches(labels, sel map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// presentComponents are the components with a workload in the release: a
// pod template carrying the component's selector. Only these are admitted to
// their providers: the policy for a consumer that is not deployed would
// admit whatever later takes its labels.
func presentComponents(c catalogFile, objs []*unstructured.Unstructured) map[string]bool {
	present := map[string]bool{}
	for _, o := range objs {
		var path []string
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			path = []string{"spec", "template", "metadata", "labels"}
		case "CronJob":
			path = []string{"spec", "jobTemplate", "spec", "template", "metadata", "labels"}
		default:
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(o.Object, path...)
		for name := range c.Components {
			if matches(labels, selectorFor(c, name)) {
				present[name] = true
			}
		}
	}
	return present
}

// probe is a pod of the busybox image that stands in for a component (its
// selector's labels) or for an outsider (no label of the release), to open
// TCP connections from.
type probe struct {
	name   string
	as     string // the component, or "" for the outsider
	labels map[string]string
}

const (
	probeImage  = "localhost/dpps-e2e/busybox:1.35-bookworm"
	probeLabel  = "dpps-e2e/probe"
	decoyPort   = 19999 // a port no interface declares
	probeWait   = 3     // seconds a connection may take before it counts as refused
	probeOwner  = "dpps-e2e-probes"
	outsiderTag = "outsider"
)

// startProbes creates the probe pods in ns and waits until they run. Each
// pod is controlled by one ConfigMap: a controller never adopts a pod that
// already has one, so a probe with a Deployment's labels is not taken over
// and deleted by its ReplicaSet.
func startProbes(t *testing.T, cs kubernetes.Interface, ns string, probes []probe, extra func(*corev1.Pod)) {
	t.Helper()
	ctx := context.Background()
	owner, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, probeOwner, metav1.GetOptions{})
	if err != nil {
		owner, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: probeOwner}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	yes, no := true, false
	for _, p := range probes {
		labels := maps.Clone(p.labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[probeLabel] = p.name
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:   p.name,
				Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
					Controller: &yes, BlockOwnerDeletion: &no,
				}},
			},
			Spec: corev1.PodSpec{
				AutomountServiceAccountToken:  &no,
				TerminationGracePeriodSeconds: new(int64),
				Containers: []corev1.Container{{
					Name: "probe", Image: probeImage, ImagePullPolicy: corev1.PullNever,
					Command: []string{"sleep", "3600"},
				}},
			},
		}
		if extra != nil {
			extra(pod)
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := poll(2*time.Minute, func() error {
		for _, p := range probes {
			pod, err := cs.CoreV1().Pods(ns).Get(ctx, p.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if pod.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("probe %s is %s", p.name, pod.Status.Phase)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// connects reports whether the probe pod opens a TCP connection to
// host:port within probeWait seconds (nc -z of the busybox image).
func connects(ns, pod, host string, port int) (bool, string) {
	out, err := kubectl("exec", "-n", ns, pod, "--", "nc", "-z", "-w", fmt.Sprint(probeWait), host, fmt.Sprint(port))
	return err == nil, out
}

// flow is one cell of the traffic matrix.
type flow struct {
	from, iface, to string
	port            int
	want            bool
	why             string
}

// TrafficMatrix: every probe against every port of every interface whose
// provider runs in ns, through the interface's Service name (so cluster DNS
// and kube-proxy are on the path), want computed from the catalog.
func trafficMatrix(t *testing.T, cs kubernetes.Interface, ns string, c catalogFile, present map[string]bool) []flow {
	t.Helper()
	ctx := context.Background()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	running := func(component string) bool {
		sel := selectorFor(c, component)
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && matches(p.Labels, sel) && podReady(&p) {
				return true
			}
		}
		return false
	}

	// A probe per component that consumes a running provider, present or
	// not, one per present component that consumes none of them, and the
	// outsider.
	var ifaces []string
	wanted := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(c.Interfaces)) {
		i := c.Interfaces[name]
		if !running(i.Provider) {
			continue
		}
		ifaces = append(ifaces, name)
		for _, cn := range i.Consumers {
			wanted[cn] = true
		}
	}
	if len(ifaces) == 0 {
		t.Fatal("no interface's provider runs: nothing to probe")
	}
	for _, name := range slices.Sorted(maps.Keys(present)) {
		if !wanted[name] {
			wanted[name] = true
			break // one bystander is enough
		}
	}
	probes := []probe{{name: "probe-" + outsiderTag}}
	for _, name := range slices.Sorted(maps.Keys(wanted)) {
		probes = append(probes, probe{name: "probe-" + name, as: name, labels: selectorFor(c, name)})
	}
	startProbes(t, cs, ns, probes, nil)

	var flows []flow
	for _, name := range ifaces {
		i := c.Interfaces[name]
		for _, p := range probes {
			allowed := p.as != "" && present[p.as] && slices.Contains(i.Consumers, p.as)
			why := "not a consumer"
			switch {
			case allowed:
				why = "declared consumer, deployed"
			case p.as == "":
				why = "outsider (no label of the release)"
			case slices.Contains(i.Consumers, p.as):
				why = "declared consumer, not deployed in this release"
			}
			for _, port := range i.Ports {
				flows = append(flows, flow{from: p.name, iface: name, to: forRelease(i.Service), port: port.Port, want: allowed, why: why})
			}
		}
	}
	runFlows(t, ns, flows)
	return flows
}

// runFlows probes every flow, a few at a time, and fails for each whose
// outcome differs from want.
func runFlows(t *testing.T, ns string, flows []flow) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	results := make([]string, len(flows))
	for n, f := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			got, out := connects(ns, f.from, f.to, f.port)
			if got != f.want {
				results[n] = fmt.Sprintf("%s -> %s:%d (%s): connected=%v, want %v (%s)\n%s", f.from, f.to, f.port, f.iface, got, f.want, f.why, out)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// testTraffic: the catalog's matrix through Services, cluster DNS from every
// probe, ports no interface declares refused on a provider's pod, and
// egress to an address outside the cluster refused where no policy admits
// it.
func testTraffic(t *testing.T, cs kubernetes.Interface, ns string, objs []*unstructured.Unstructured) {
	// One reading of the catalog and the release for every check below.
	c := loadCatalog(t)
	present := presentComponents(c, objs)
	flows := trafficMatrix(t, cs, ns, c, present)
	var b strings.Builder
	b.WriteString("| from (probe labelled as) | interface | to | port | connects | why |\n|---|---|---|---|---|---|\n")
	for _, f := range flows {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s |\n", strings.TrimPrefix(f.from, "probe-"), f.iface, f.to, f.port, yesNo(f.want), f.why)
	}
	t.Logf("traffic matrix (%d flows; a failed flow is reported above):\n%s", len(flows), b.String())

	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: probeLabel})
	if err != nil {
		t.Fatal(err)
	}
	// Cluster DNS from every probe: a refused flow above is the policy's
	// doing, not a name that did not resolve.
	name := flows[0].to + "." + ns + ".svc.cluster.local"
	for _, p := range pods.Items {
		if out, err := kubectl("exec", "-n", ns, p.Name, "--", "nslookup", name); err != nil {
			t.Errorf("%s: nslookup %s: %v\n%s", p.Name, name, err, out)
		}
	}

	testUndeclaredPorts(t, cs, ns, c, present)

	// Outside the cluster: the API server's address and port. Only the
	// components the catalog marks kubernetesAPI and the release deploys
	// may go there (the site's dpps-render config names it; as for the
	// interfaces, a component switched off gets no policy), and the
	// outsider, which no policy selects: that it connects shows the
	// address is reachable from pods.
	ip, p := apiEndpoint(t)
	var external []flow
	for _, pod := range pods.Items {
		as := pod.Labels["app.kubernetes.io/component"]
		f := flow{from: pod.Name, iface: "(the API server, outside the cluster)", to: ip, port: p,
			want: as == "", why: "no policy selects the outsider"}
		if as != "" {
			f.why = "egress the component does not declare"
			switch {
			case c.Components[as].KubernetesAPI && present[as]:
				f.want, f.why = true, "kubernetesAPI component"
			case c.Components[as].KubernetesAPI:
				f.why = "kubernetesAPI component, not deployed in this release"
			}
		}
		external = append(external, f)
	}
	runFlows(t, ns, external)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// testUndeclaredPorts places, beside each provider that has a deployed
// consumer, a decoy pod with the provider's labels and container ports that
// listens on the interface's first port and on decoyPort. The consumer
// reaches the first (the decoy is admitted like the provider) and not
// decoyPort, which no interface declares.
func testUndeclaredPorts(t *testing.T, cs kubernetes.Interface, ns string, c catalogFile, present map[string]bool) {
	ctx := context.Background()
	all, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var decoys []probe
	var flows []flow
	ports := map[string][]corev1.ContainerPort{}
	for _, name := range slices.Sorted(maps.Keys(c.Interfaces)) {
		i := c.Interfaces[name]
		var consumer string
		for _, cn := range i.Consumers {
			if present[cn] {
				consumer = cn
				break
			}
		}
		var provider *corev1.Pod
		for n := range all.Items {
			p := &all.Items[n]
			if p.Labels[probeLabel] == "" && p.Status.Phase == corev1.PodRunning && matches(p.Labels, selectorFor(c, i.Provider)) {
				provider = p
			}
		}
		if consumer == "" || provider == nil || len(i.Ports) == 0 {
			continue
		}
		d := probe{name: "decoy-" + name, as: i.Provider, labels: selectorFor(c, i.Provider)}
		decoys = append(decoys, d)
		for _, ctr := range provider.Spec.Containers {
			ports[d.name] = append(ports[d.name], ctr.Ports...)
		}
		flows = append(flows,
			flow{from: "probe-" + consumer, iface: name, to: d.name, port: i.Ports[0].Port, want: true, why: "declared port (control)"},
			flow{from: "probe-" + consumer, iface: name, to: d.name, port: decoyPort, want: false, why: "port no interface declares"})
	}
	if len(decoys) == 0 {
		t.Fatal("no provider with a deployed consumer runs: no undeclared port to probe")
	}
	listeners := map[string]int{}
	for _, f := range flows {
		if f.want {
			listeners[f.to] = f.port
		}
	}
	startProbes(t, cs, ns, decoys, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = ports[p.Name]
		p.Spec.Containers[0].Command = []string{"sh", "-c", fmt.Sprintf("nc -lk %d & nc -lk %d & wait", listeners[p.Name], decoyPort)}
	})
	defer func() {
		for _, d := range decoys {
			_ = cs.CoreV1().Pods(ns).Delete(ctx, d.name, metav1.DeleteOptions{})
		}
	}()
	// Probes go to the decoy's address: its Service would also pick the
	// real provider.
	for n, f := range flows {
		pod, err := cs.CoreV1().Pods(ns).Get(ctx, f.to, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The decoy listens: checked from inside it.
		if out, err := kubectl("exec", "-n", ns, f.to, "--", "nc", "-z", "-w", "2", "127.0.0.1", fmt.Sprint(f.port)); err != nil {
			t.Fatalf("%s does not listen on %d: %v\n%s", f.to, f.port, err, out)
		}
		flows[n].to = pod.Status.PodIP
	}
	runFlows(t, ns, flows)
}
