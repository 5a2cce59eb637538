package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/np-guard/netpol-analyzer/pkg/netpol/connlist"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// The observability Helm test as the site sets it: prod-site's values with
// a Prometheus URL.
const (
	obsPodName = "dpps-test-observability"
	obsURL     = "http://prometheus-k8s.monitoring.svc:9090"
	obsRelease = "dpps"
	obsNS      = "dpps"
)

// TestObservabilityHelmTest renders the observability Helm test
// (charts/dpps/templates/tests/observability.yaml) with the real Helm 4
// and the dpps-render plugin, then runs its script against a real
// Prometheus on loopback: Prometheus scrapes small HTTP servers of the test
// as the targets of three components, its relabelings set dpps_component,
// dpps_release and namespace as the generated monitors do, and it loads a
// rule file. The lists the hook mounts (the ConfigMap
// <release>-dpps-observability) are written here by hand. The script runs
// under /bin/sh with the machine's wget, and under busybox's sh with only
// busybox's applets on PATH, as in the image. The expected lines are
// written out below, not computed by the script's logic.
func TestObservabilityHelmTest(t *testing.T) {
	helm4 := testutil.Tool(t, "DPPS_HELM4")
	prometheus := testutil.Tool(t, "DPPS_PROMETHEUS")
	bin := testutil.Tool(t, "DPPS_BIN")
	shells := []struct{ name, sh, path string }{{"sh", "/bin/sh", os.Getenv("PATH")}}
	if _, err := exec.LookPath("wget"); err != nil {
		testutil.Missing(t, "wget is not on PATH: make unit installs Debian's wget")
	}
	if bb := os.Getenv("DPPS_BUSYBOX"); bb == "" {
		testutil.Missing(t, "DPPS_BUSYBOX is not set: run the tests through 'make unit' (it installs Debian's busybox-static)")
	} else {
		dir := busyboxDir(t, bb)
		shells = append(shells, struct{ name, sh, path string }{"busybox", filepath.Join(dir, "sh"), dir})
	}

	_, script, env := renderObservabilityTest(t, helm4, bin)

	// The scrape targets: two pods of conveyor-submitter, one of
	// judge-evaluator, and fts of another release in the same namespace.
	submitter1, submitter2, judge, otherFTS := metricsServer(t), metricsServer(t), metricsServer(t), metricsServer(t)
	p := startPrometheus(t, prometheus, []scrapeJob{
		{"conveyor-submitter", obsRelease, []string{host(submitter1), host(submitter2)}},
		{"judge-evaluator", obsRelease, []string{host(judge)}},
		{"fts", "other", []string{host(otherFTS)}},
	})
	p.waitFor(t, `count(up == 1)`, "4")
	p.waitForRules(t, 3)

	targets := "conveyor-submitter\njudge-evaluator\n"
	alerts := "DppsTargetDown\nDppsJobFailed\n"
	type outcome struct {
		code  int
		lines []string // stdout, line by line
	}
	check := func(t *testing.T, promURL string, lists map[string]string, want outcome) {
		t.Helper()
		dir := t.TempDir()
		for name, text := range lists {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, sh := range shells {
			code, stdout, stderr := runObsScript(t, sh.sh, sh.path, script, env, map[string]string{
				"PROMETHEUS_URL": promURL, "LISTS": dir, "WAIT_SECONDS": "0"})
			t.Logf("%s: exit %d\n%s", sh.name, code, stdout)
			got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if code != want.code || !slices.Equal(got, want.lines) || stderr != "" {
				t.Errorf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s",
					sh.name, code, stdout, stderr, want.code, strings.Join(want.lines, "\n"))
			}
		}
	}
	lists := func(targets, alerts string) map[string]string {
		return map[string]string{"targets": targets, "alerts": alerts}
	}
	missing := func(c string) string {
		return `target ` + c + `: Prometheus has no up{dpps_component="` + c + `",dpps_release="dpps",namespace="dpps"}: check that it selects the ` +
			c + ` monitor (global.observability.prometheus.monitorLabels) and may reach its metrics port`
	}
	notLoaded := func(a string) string {
		return "alert " + a + ": not loaded in Prometheus: check that it selects the PrometheusRule dpps-dpps-alerts (global.observability.prometheus.ruleLabels) and that the rule is valid"
	}

	t.Run("all up and loaded", func(t *testing.T) {
		check(t, p.url, lists(targets, alerts), outcome{0, []string{
			"Prometheus at " + p.url + ": all 2 targets of ConfigMap dpps-dpps-observability up, all 2 alerts loaded"}})
	})
	t.Run("blank lines, spaces and CRLF", func(t *testing.T) {
		check(t, p.url+"/", lists("\n  conveyor-submitter \r\n\njudge-evaluator", "DppsTargetDown\r\n\n\tDppsJobFailed\n\n"), outcome{0, []string{
			"Prometheus at " + p.url + ": all 2 targets of ConfigMap dpps-dpps-observability up, all 2 alerts loaded"}})
	})
	t.Run("nothing listed", func(t *testing.T) {
		check(t, p.url, lists("", ""), outcome{0, []string{
			"Prometheus at " + p.url + ": all 0 targets of ConfigMap dpps-dpps-observability up, all 0 alerts loaded"}})
	})
	t.Run("a target missing", func(t *testing.T) {
		// fts is up, but in the release "other": not this release's.
		check(t, p.url, lists(targets+"fts\nrucio-server\n", alerts), outcome{1, []string{missing("fts"), missing("rucio-server")}})
	})
	t.Run("an alert not loaded", func(t *testing.T) {
		// DppsRecorded is a recording rule, not an alert.
		check(t, p.url, lists(targets, alerts+"DppsBackupTooOld\nDppsRecorded\n"), outcome{1, []string{notLoaded("DppsBackupTooOld"), notLoaded("DppsRecorded")}})
	})
	t.Run("names that are not names", func(t *testing.T) {
		check(t, p.url, lists(targets+`x"}`+"\n", alerts+"Dpps Down\n"), outcome{1, []string{
			`target "x"}": not a component name: fix the ConfigMap dpps-dpps-observability`,
			`alert "Dpps Down": not an alert name: fix the ConfigMap dpps-dpps-observability`}})
	})
	t.Run("lists absent", func(t *testing.T) {
		want := outcome{1, []string{"ConfigMap dpps-dpps-observability: missing, or without the keys targets and alerts: dpps-render generates it; install the release through the dpps-render post-renderer"}}
		check(t, p.url, nil, want)
		check(t, p.url, map[string]string{"targets": targets}, want)
	})
	t.Run("Prometheus unreachable", func(t *testing.T) {
		closed := closedPortURL(t)
		dir := t.TempDir()
		for name, text := range lists(targets, alerts) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		prefix := "Prometheus at " + closed + ": cannot reach it or it is not ready ("
		suffix := "): check global.observability.prometheus.url, that it is up, and that its namespace admits this pod"
		for _, sh := range shells {
			code, stdout, stderr := runObsScript(t, sh.sh, sh.path, script, env, map[string]string{
				"PROMETHEUS_URL": closed, "LISTS": dir, "WAIT_SECONDS": "0"})
			line := strings.TrimSuffix(stdout, "\n")
			if code != 1 || strings.Contains(line, "\n") || !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, suffix) || stderr != "" {
				t.Errorf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 1 and one line %s...%s", sh.name, code, stdout, stderr, prefix, suffix)
			}
			t.Logf("%s: %s", sh.name, line)
		}
	})
	t.Run("a target down", func(t *testing.T) {
		submitter2.Close()
		p.waitFor(t, `up{dpps_component="conveyor-submitter",instance="`+host(submitter2)+`"}`, "0")
		check(t, p.url, lists(targets, alerts), outcome{1, []string{
			"target conveyor-submitter: 1 of 2 scrape targets down (up == 0): check the conveyor-submitter pods and their metrics port"}})
	})
	t.Run("retries until WAIT_SECONDS, then reports", func(t *testing.T) {
		dir := t.TempDir()
		for name, text := range lists("fts\n", "") {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		code, stdout, _ := runObsScript(t, shells[0].sh, shells[0].path, script, env, map[string]string{
			"PROMETHEUS_URL": p.url, "LISTS": dir, "WAIT_SECONDS": "3"})
		want := "1 failures, checking again in 10s\n" + missing("fts") + "\n"
		if code != 1 || stdout != want || time.Since(start) < 10*time.Second {
			t.Errorf("exit %d after %v, stdout:\n%s\nwant exit 1 after 10s or more, stdout:\n%s", code, time.Since(start), stdout, want)
		}
	})
}

// renderObservabilityTest renders prod-site with the Prometheus URL through
// Helm 4 and the dpps-render plugin, checks the hook's Pod and
// NetworkPolicy, and returns the objects, the Pod's script and its
// environment.
func renderObservabilityTest(t *testing.T, helm4, bin string) (objs []object, script string, env map[string]string) {
	t.Helper()
	home := t.TempDir()
	helmEnv := []string{
		"HOME=" + home,
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"),
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	helm := func(args ...string) []byte {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(helm4, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = helmEnv, &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.Bytes()
	}
	helm("plugin", "install", "../helm-plugin")
	objs = parse(t, helm("template", obsRelease, chart, "--namespace", obsNS, "-f", "prod-site/values.yaml",
		"--set", "global.observability.prometheus.url="+obsURL, "--post-renderer", "dpps-render"))

	var pod, policy *object
	for i, o := range objs {
		switch {
		case o.kind == "Pod" && o.name == obsPodName:
			pod = &objs[i]
		case o.kind == "NetworkPolicy" && o.name == obsPodName:
			policy = &objs[i]
		}
	}
	if pod == nil || policy == nil {
		t.Fatalf("the render has no Pod and NetworkPolicy %s", obsPodName)
	}
	if pod.ann[annHook] != "test" || policy.ann[annHook] != "test" || policy.ann["helm.sh/hook-weight"] != "-1" {
		t.Errorf("Pod %s (hook %q) and its NetworkPolicy (hook %q, weight %q) must be test hooks, the policy first",
			obsPodName, pod.ann[annHook], policy.ann[annHook], policy.ann["helm.sh/hook-weight"])
	}
	// The policy selects the pod and lets it reach prod-site's Prometheus
	// pods (namespace monitoring, app.kubernetes.io/name=prometheus) on the
	// URL's port, and nothing else.
	for k, v := range dig(policy.m, "spec", "podSelector", "matchLabels").(map[string]any) {
		if pod.labels[k] != v {
			t.Errorf("NetworkPolicy %s selects %s=%v; the pod has %q", obsPodName, k, v, pod.labels[k])
		}
	}
	wantEgress := `[{"ports":[{"port":9090,"protocol":"TCP"}],"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}},"podSelector":{"matchLabels":{"app.kubernetes.io/name":"prometheus"}}}]}]`
	if got, _ := json.Marshal(dig(policy.m, "spec", "egress")); string(got) != wantEgress {
		t.Errorf("NetworkPolicy %s egress:\n%s\nwant\n%s", obsPodName, got, wantEgress)
	}
	if got, _ := json.Marshal(dig(policy.m, "spec", "policyTypes")); string(got) != `["Egress"]` {
		t.Errorf("NetworkPolicy %s policyTypes %s, want [\"Egress\"]", obsPodName, got)
	}
	vols := list(dig(pod.m, "spec", "volumes"))
	if len(vols) != 1 || str(dig(vols[0], "configMap", "name")) != "dpps-dpps-observability" || dig(vols[0], "configMap", "optional") != true {
		t.Errorf("Pod %s volumes %v, want the ConfigMap dpps-dpps-observability, optional", obsPodName, vols)
	}
	containers := list(dig(pod.m, "spec", "containers"))
	if len(containers) != 1 {
		t.Fatalf("Pod %s has %d containers, want 1", obsPodName, len(containers))
	}
	c := containers[0]
	if !strings.Contains(str(dig(c, "image")), "library/busybox:") {
		t.Errorf("Pod %s image %q, want the chart's busybox", obsPodName, dig(c, "image"))
	}
	cmd := list(dig(c, "command"))
	if len(cmd) != 3 || cmd[0] != "/bin/sh" || cmd[1] != "-c" {
		t.Fatalf("Pod %s command %v, want /bin/sh -c SCRIPT", obsPodName, cmd)
	}
	env = map[string]string{}
	for _, e := range list(dig(c, "env")) {
		if dig(e, "valueFrom") != nil {
			t.Errorf("Pod %s env %v: the test reads no Secret or field", obsPodName, e)
		}
		env[str(dig(e, "name"))] = str(dig(e, "value"))
	}
	want := map[string]string{"PROMETHEUS_URL": obsURL, "RELEASE": obsRelease, "NAMESPACE": obsNS, "WAIT_SECONDS": "150"}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("Pod %s env %v, want %v", obsPodName, env, want)
	}
	return objs, str(cmd[2]), env
}

// TestObservabilityHelmTestReach asks np-guard's netpol-analyzer (written
// by nobody here) where the observability test pod may connect, in the
// Helm 4 render (dpps-render's policies and the test's hooks) beside the
// cluster's DNS and prod-site's Prometheus namespace, which holds a
// Prometheus pod and another one: to DNS and to Prometheus on 9090, and
// nowhere else.
func TestObservabilityHelmTestReach(t *testing.T) {
	objs, _, _ := renderObservabilityTest(t, testutil.Tool(t, "DPPS_HELM4"), testutil.Tool(t, "DPPS_BIN"))
	var release bytes.Buffer
	for _, o := range objs {
		release.WriteString("---\n" + o.text)
	}
	cluster := `---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system, labels: {kubernetes.io/metadata.name: kube-system}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  containers:
  - {name: coredns, image: coredns/coredns:1.11.1, ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring, labels: {kubernetes.io/metadata.name: monitoring}}
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus}}
spec:
  containers:
  - {name: prometheus, image: quay.io/prometheus/prometheus:v3.16.0, ports: [{containerPort: 9090}, {containerPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: grafana, namespace: monitoring, labels: {app.kubernetes.io/name: grafana}}
spec:
  containers:
  - {name: grafana, image: grafana/grafana:12.0.0, ports: [{containerPort: 3000}, {containerPort: 9090}]}
`
	dir := t.TempDir()
	for name, text := range map[string]string{"release.yaml": release.String(), "cluster.yaml": cluster} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ca := connlist.NewConnlistAnalyzer(connlist.WithMuteErrsAndWarns())
	conns, _, err := ca.ConnlistFromDirPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ca.Errors() {
		t.Errorf("analyzer: %v", e.Error())
	}
	src := "default/" + obsPodName + "[Pod]"
	var got []string
	for _, c := range conns {
		if c.Src().String() != src {
			continue
		}
		if c.AllProtocolsAndPorts() {
			got = append(got, c.Dst().String()+" all")
			continue
		}
		for proto, ranges := range c.ProtocolsAndPorts() {
			for _, r := range ranges {
				if d, ok := r.(interface{ InSet() bool }); ok && !d.InSet() {
					continue
				}
				got = append(got, fmt.Sprintf("%s %s/%d-%d", c.Dst(), proto, r.Start(), r.End()))
			}
		}
	}
	slices.Sort(got)
	want := []string{
		"kube-system/coredns[Pod] TCP/53-53",
		"kube-system/coredns[Pod] UDP/53-53",
		"monitoring/prometheus[Pod] TCP/9090-9090",
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s may connect to:\n  %s\nwant:\n  %s", src, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// runObsScript runs the script with sh, PATH and exactly the pod's
// environment with set's values over it; it returns the exit code and
// the output.
func runObsScript(t *testing.T, sh, path, script string, env, set map[string]string) (code int, stdout, stderr string) {
	t.Helper()
	vars := map[string]string{"HOME": t.TempDir(), "PATH": path}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range set {
		vars[k] = v
	}
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, sh, "-c", script)
	cmd.Env, cmd.Stdout, cmd.Stderr = environ, &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatalf("%s -c SCRIPT: %v", sh, err)
	}
	return 0, out.String(), errOut.String()
}

// busyboxDir is a directory of links to busybox for the applets the script
// may use, so that with it alone on PATH nothing else is found.
func busyboxDir(t *testing.T, busybox string) string {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("DPPS_BUSYBOX=%s: %v", busybox, err)
	}
	dir := t.TempDir()
	for _, applet := range []string{"sh", "wget", "timeout", "sed", "tr", "tail", "date", "sleep"} {
		if err := os.Symlink(busybox, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// metricsServer serves /metrics in Prometheus' text format until the test
// ends or it is closed.
func metricsServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, "# TYPE dpps_test_info gauge\ndpps_test_info 1\n")
	}))
	t.Cleanup(s.Close)
	return s
}

func host(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// closedPortURL is the URL of a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// scrapeJob is one component's targets, labelled as a generated monitor
// labels them.
type scrapeJob struct {
	component, release string
	targets            []string
}

type prometheusServer struct{ url string }

// startPrometheus runs Prometheus on a loopback port, scraping every second,
// with three rules: the alerts DppsTargetDown and DppsJobFailed and the
// recording rule DppsRecorded. It returns once Prometheus is ready.
func startPrometheus(t *testing.T, binary string, jobs []scrapeJob) *prometheusServer {
	t.Helper()
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\nscrape_configs:\n")
	for _, j := range jobs {
		fmt.Fprintf(&cfg, "  - job_name: %s-%s\n    static_configs:\n      - targets: [%s]\n    relabel_configs:\n", j.release, j.component, strings.Join(j.targets, ", "))
		for _, l := range [][2]string{{"dpps_component", j.component}, {"dpps_release", j.release}, {"namespace", obsNS}} {
			fmt.Fprintf(&cfg, "      - {target_label: %s, replacement: %s}\n", l[0], l[1])
		}
	}
	rules := `groups:
  - name: dpps-dpps-alerts
    rules:
      - alert: DppsTargetDown
        expr: up{dpps_release="dpps"} == 0
        for: 10m
      - alert: DppsJobFailed
        expr: vector(1) == 0
      - record: DppsRecorded
        expr: sum(up)
`
	for name, text := range map[string]string{"prometheus.yml": cfg.String(), "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := strings.TrimPrefix(closedPortURL(t), "http://")
	var logs bytes.Buffer
	cmd := exec.Command(binary, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	p := &prometheusServer{url: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s after 60s", p.url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get decodes the data of an API answer.
func (p *prometheusServer) get(path string, data any) error {
	resp, err := http.Get(p.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return err
	}
	if answer.Status != "success" {
		return fmt.Errorf("%s: %s", answer.Status, answer.Error)
	}
	return json.Unmarshal(answer.Data, data)
}

// waitFor polls until the instant query has exactly one sample whose value
// is want, for at most 60 s.
func (p *prometheusServer) waitFor(t *testing.T, query, want string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		}
		if err := p.get("/api/v1/query?query="+url.QueryEscape(query), &data); err != nil {
			last = err.Error()
			continue
		}
		last = fmt.Sprint(data.Result)
		if len(data.Result) == 1 && data.Result[0].Value[1] == want {
			return
		}
	}
	t.Fatalf("prometheus: %s is not %s after 60s; last answer %s", query, want, last)
}

// waitForRules polls until Prometheus has loaded n rules.
func (p *prometheusServer) waitForRules(t *testing.T, n int) {
	t.Helper()
	var last int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var data struct {
			Groups []struct {
				Rules []json.RawMessage `json:"rules"`
			} `json:"groups"`
		}
		if err := p.get("/api/v1/rules", &data); err != nil {
			continue
		}
		last = 0
		for _, g := range data.Groups {
			last += len(g.Rules)
		}
		if last == n {
			return
		}
	}
	t.Fatalf("prometheus has %d rules after 60s, want %d", last, n)
}
