package podsecurity

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// restrictedContainer is a container securityContext that meets restricted.
const restrictedContainer = `
    securityContext:
      runAsNonRoot: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}`

// pod wraps a pod spec (indented by two) in a Pod.
func pod(spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + spec
}

// TestEvaluate pins each Pod Security check check relies on, worded as the
// API server words it, on hand-written pods: per container, the pod's own
// checks once, baseline violations tagged baseline.
func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name, level, pod string
		want             []string
	}{
		{name: "restricted pod passes restricted", level: "restricted",
			pod: pod("  containers:\n  - name: app" + restrictedContainer + "\n")},
		{name: "empty securityContext passes baseline", level: "baseline",
			pod: pod("  containers:\n  - name: app\n")},
		{name: "empty securityContext at restricted", level: "restricted",
			pod: pod("  containers:\n  - name: app\n"),
			want: []string{
				`container app: restricted: allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)`,
				`container app: restricted: unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"])`,
				`container app: restricted: runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)`,
				`container app: restricted: seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
			}},
		{name: "pod-level runAsNonRoot and seccomp cover the containers", level: "restricted",
			pod: pod("  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  containers:\n  - name: app\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n")},
		{name: "SETUID and SETGID added, NET_BIND_SERVICE allowed", level: "restricted",
			pod:  pod("  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  containers:\n  - name: httpd\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [SETUID, SETGID, NET_BIND_SERVICE]}}\n"),
			want: []string{`container httpd: restricted: unrestricted capabilities (container "httpd" must not include "SETGID", "SETUID" in securityContext.capabilities.add)`}},
		{name: "privileged", level: "baseline",
			pod:  pod("  containers:\n  - name: app\n    securityContext: {privileged: true}\n"),
			want: []string{`container app: baseline: privileged (container "app" must not set securityContext.privileged=true)`}},
		{name: "capability beyond the default set", level: "baseline",
			pod:  pod("  containers:\n  - name: app\n    securityContext: {capabilities: {add: [NET_ADMIN]}}\n"),
			want: []string{`container app: baseline: non-default capabilities (container "app" must not include "NET_ADMIN" in securityContext.capabilities.add)`}},
		{name: "host network and hostPath belong to the pod", level: "baseline",
			pod: pod("  hostNetwork: true\n  volumes:\n  - name: cvmfs\n    hostPath: {path: /cvmfs}\n  containers:\n  - name: a\n  - name: b\n"),
			want: []string{
				`pod: baseline: host namespaces (hostNetwork=true)`,
				`pod: baseline: hostPath volumes (volume "cvmfs")`,
			}},
		{name: "hostPath at restricted fails both levels", level: "restricted",
			pod: pod("  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  volumes:\n  - name: cvmfs\n    hostPath: {path: /cvmfs}\n  containers:\n  - name: app\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n"),
			want: []string{
				`pod: baseline: hostPath volumes (volume "cvmfs")`,
				`pod: restricted: restricted volume types (volume "cvmfs" uses restricted volume type "hostPath")`,
			}},
		{name: "a PVC passes restricted", level: "restricted",
			pod: pod("  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  volumes:\n  - name: cvmfs\n    persistentVolumeClaim: {claimName: cvmfs, readOnly: true}\n  containers:\n  - name: app\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n")},
		{name: "each container named alone, init containers too", level: "restricted",
			pod:  pod("  securityContext: {seccompProfile: {type: RuntimeDefault}}\n  initContainers:\n  - name: wait" + restrictedContainer + "\n  containers:\n  - name: root\n    securityContext: {runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n  - name: fine" + restrictedContainer + "\n"),
			want: []string{`container root: restricted: runAsNonRoot != true (container "root" must not set securityContext.runAsNonRoot=false)`}},
		{name: "runAsUser 0", level: "restricted",
			pod:  pod("  containers:\n  - name: app\n    securityContext: {runAsUser: 0, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}\n"),
			want: []string{`container app: restricted: runAsUser=0 (container "app" must not set runAsUser=0)`}},
		{name: "host port", level: "baseline",
			pod:  pod("  containers:\n  - name: app\n    ports: [{containerPort: 443, hostPort: 443}]\n"),
			want: []string{`container app: baseline: hostPort (container "app" uses hostPort 443)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := yaml.Parse(tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			tpl, ok, err := Template(n)
			if err != nil || !ok {
				t.Fatalf("Template: %v %v", ok, err)
			}
			var got []string
			for _, v := range Evaluate(&tpl.ObjectMeta, &tpl.Spec, tc.level) {
				got = append(got, v.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestTemplate: the pod template of every workload kind, none for other
// kinds or other API groups.
func TestTemplate(t *testing.T) {
	spec := "containers: [{name: c, image: i}]"
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {" + spec + "}", true},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {" + spec + "}}}", true},
		{"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {template: {spec: {" + spec + "}}}", true},
		{"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec: {template: {spec: {" + spec + "}}}", true},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {template: {spec: {" + spec + "}}}", true},
		{"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {spec: {" + spec + "}}}}}", true},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {spec: x}", false},
		{"apiVersion: example.org/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {" + spec + "}}}", false},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}", false},
	} {
		n, err := yaml.Parse(tc.doc)
		if err != nil {
			t.Fatal(err)
		}
		tpl, ok, err := Template(n)
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		if ok != tc.want {
			t.Errorf("%s: ok %v, want %v", tc.doc, ok, tc.want)
		}
		if ok && (len(tpl.Spec.Containers) != 1 || tpl.Spec.Containers[0].Name != "c") {
			t.Errorf("%s: containers %+v", tc.doc, tpl.Spec.Containers)
		}
	}
}
