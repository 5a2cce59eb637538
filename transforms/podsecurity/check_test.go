package podsecurity

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// deployment is a Deployment of component c in release dpps, with the
// container securityContext sc.
func deployment(c, sc string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: dpps-` + c + `
  labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: ` + c + `}
spec:
  template:
    spec:
      securityContext: {seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: ` + c + `
        securityContext: ` + sc + "\n"
}

const (
	rootSC       = "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}"
	restrictedSC = "{runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}"
	privSC       = "{privileged: true}"
)

func info(site string, exceptions map[string]*catalog.PodSecurity) *release.Info {
	cat := &catalog.Catalog{Components: map[string]catalog.Component{}}
	for _, c := range []string{"server", "worker", "web"} {
		cat.Components[c] = catalog.Component{Workload: "Deployment", Name: catalog.ReleaseName + "-" + c, PodSecurity: exceptions[c]}
	}
	return &release.Info{Catalog: cat, Site: release.Site{PodSecurity: release.PodSecurity{Level: site}}}
}

var serverBaseline = map[string]*catalog.PodSecurity{"server": {Level: "baseline", Reason: "httpd starts as root"}}

// TestCheck: a declared exception is a note above its level and an error at
// or below it; an undeclared violation is an error; a declaration below the
// site's level is an error; an unneeded one a note; the level defaults to
// the site's, baseline when unset; objects without a component get no
// exception.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		info  *release.Info
		level string
		docs  []string
		want  []string
	}{
		{name: "declared exception at restricted is a note",
			info: info("baseline", serverBaseline), level: "restricted",
			docs: []string{deployment("server", rootSC), deployment("worker", restrictedSC)},
			want: []string{`note: pod-security: Deployment/dpps-server: container server: restricted: runAsNonRoot != true (pod or container "server" must set securityContext.runAsNonRoot=true); declared baseline: httpd starts as root`}},
		{name: "undeclared violation at restricted is an error",
			info: info("baseline", nil), level: "restricted",
			docs: []string{deployment("worker", rootSC)},
			want: []string{`error: pod-security: Deployment/dpps-worker: container worker: restricted: runAsNonRoot != true (pod or container "worker" must set securityContext.runAsNonRoot=true)`}},
		{name: "the declared level itself is not excused",
			info: info("baseline", serverBaseline), level: "restricted",
			docs: []string{deployment("server", privSC)},
			want: []string{
				`error: pod-security: Deployment/dpps-server: container server: baseline: privileged (container "server" must not set securityContext.privileged=true)`,
				`note: pod-security: Deployment/dpps-server: container server: restricted: allowPrivilegeEscalation != false (container "server" must set securityContext.allowPrivilegeEscalation=false); declared baseline: httpd starts as root`,
				`note: pod-security: Deployment/dpps-server: container server: restricted: unrestricted capabilities (container "server" must set securityContext.capabilities.drop=["ALL"]); declared baseline: httpd starts as root`,
				`note: pod-security: Deployment/dpps-server: container server: restricted: runAsNonRoot != true (pod or container "server" must set securityContext.runAsNonRoot=true); declared baseline: httpd starts as root`,
			}},
		{name: "site level by default: baseline passes",
			info: info("", serverBaseline), level: "",
			docs: []string{deployment("server", rootSC), deployment("worker", rootSC)}},
		{name: "site level by default: restricted",
			info: info("restricted", nil), level: "",
			docs: []string{deployment("worker", rootSC)},
			want: []string{`error: pod-security: Deployment/dpps-worker: container worker: restricted: runAsNonRoot != true (pod or container "worker" must set securityContext.runAsNonRoot=true)`}},
		{name: "declared below the site's level",
			info: info("restricted", serverBaseline), level: "",
			docs: []string{deployment("server", rootSC)},
			want: []string{
				`note: pod-security: Deployment/dpps-server: container server: restricted: runAsNonRoot != true (pod or container "server" must set securityContext.runAsNonRoot=true); declared baseline: httpd starts as root`,
				`error: pod-security: component server meets only baseline (httpd starts as root), below the site's level restricted (global.podSecurity.level): the namespace refuses its pods`,
			}},
		{name: "declared below the site's level, not rendered",
			info: info("restricted", serverBaseline), level: "",
			docs: []string{deployment("worker", restrictedSC)}},
		{name: "unneeded exception",
			info: info("baseline", serverBaseline), level: "restricted",
			docs: []string{deployment("server", restrictedSC)},
			want: []string{`note: pod-security: component server declares baseline, but its pods meet restricted: drop components.server.podSecurity`}},
		{name: "a Helm test pod has no component",
			info: info("baseline", serverBaseline), level: "baseline",
			docs: []string{"apiVersion: v1\nkind: Pod\nmetadata:\n  name: dpps-server-test\n  labels: {app.kubernetes.io/instance: dpps, app.kubernetes.io/component: server}\n  annotations: {helm.sh/hook: test}\nspec:\n  hostPID: true\n  containers: [{name: t}]\n"},
			want: []string{`error: pod-security: Pod/dpps-server-test: pod: baseline: host namespaces (hostPID=true)`}},
		{name: "no catalog: baseline, no exceptions",
			info: nil, level: "",
			docs: []string{deployment("server", privSC)},
			want: []string{`error: pod-security: Deployment/dpps-server: container server: baseline: privileged (container "server" must not set securityContext.privileged=true)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []*yaml.RNode
			for _, d := range tc.docs {
				n, err := yaml.Parse(d)
				if err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, n)
			}
			fs, err := Check(nodes, tc.info, tc.level)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestCheckRefusesUnknownSiteLevel(t *testing.T) {
	if _, err := Check(nil, info("strict", nil), ""); err == nil || !strings.Contains(err.Error(), `"strict"`) {
		t.Errorf("err %v", err)
	}
}
