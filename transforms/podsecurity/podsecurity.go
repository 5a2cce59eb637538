// Package podsecurity evaluates the pod templates of a render against the
// Pod Security Standards with the API server's own implementation
// (k8s.io/pod-security-admission), so that a namespace labelled
// pod-security.kubernetes.io/enforce refuses nothing at install that check
// did not report. It is a check, not a transform: it changes no object.
package podsecurity

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// Levels are the Pod Security Standards levels, least restrictive first.
var Levels = []string{string(api.LevelPrivileged), string(api.LevelBaseline), string(api.LevelRestricted)}

// DefaultLevel is the level of a site that declares none
// (global.podSecurity.level's default).
const DefaultLevel = string(api.LevelBaseline)

// ValidLevel reports whether l is one of Levels.
func ValidLevel(l string) bool { return slices.Contains(Levels, l) }

// Below reports whether level a is less restrictive than level b.
func Below(a, b string) bool { return slices.Index(Levels, a) < slices.Index(Levels, b) }

// Violation is one failed Pod Security check of one pod template.
type Violation struct {
	// Container is the container the check fails for, "" for the pod
	// itself (host namespaces, volumes, sysctls, ...).
	Container string
	// Level is the level whose check fails.
	Level string
	// Reason and Detail are the check's ForbiddenReason and ForbiddenDetail,
	// as the API server words them.
	Reason, Detail string
}

func (v Violation) String() string {
	s := "pod"
	if v.Container != "" {
		s = "container " + v.Container
	}
	s += ": " + v.Level + ": " + v.Reason
	if v.Detail != "" {
		s += " (" + v.Detail + ")"
	}
	return s
}

var evaluator = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err) // the library's own checks
	}
	return e
}()

// Evaluate returns the violations of a pod at level: those of baseline
// tagged baseline, and those restricted adds tagged restricted. The API
// server evaluates a pod as a whole and names the containers in a check's
// detail; here each container is evaluated alone in its pod (keeping the
// pod-level settings it inherits), and the pod without its containers for
// the checks of the pod itself, so that each line names one container.
func Evaluate(meta *metav1.ObjectMeta, spec *corev1.PodSpec, level string) []Violation {
	if !ValidLevel(level) {
		panic(fmt.Sprintf("podsecurity: unknown level %q", level)) // callers validate
	}
	var out []Violation
	seen := map[Violation]bool{}
	for _, l := range Levels[1 : slices.Index(Levels, level)+1] {
		for _, v := range evaluate(meta, spec, l) {
			key := v
			key.Level = ""
			if !seen[key] {
				seen[key] = true
				out = append(out, v)
			}
		}
	}
	return out
}

func evaluate(meta *metav1.ObjectMeta, spec *corev1.PodSpec, level string) []Violation {
	lv := api.LevelVersion{Level: api.Level(level), Version: api.LatestVersion()}
	var out []Violation
	collect := func(container string, s *corev1.PodSpec, skip map[string]bool) map[string]bool {
		failed := map[string]bool{}
		for _, r := range evaluator.EvaluatePod(lv, meta, s) {
			if r.Allowed || skip[r.ForbiddenReason] {
				continue
			}
			failed[r.ForbiddenReason] = true
			out = append(out, Violation{Container: container, Level: level, Reason: r.ForbiddenReason, Detail: r.ForbiddenDetail})
		}
		return failed
	}
	bare := spec.DeepCopy()
	bare.InitContainers, bare.Containers, bare.EphemeralContainers = nil, nil, nil
	podLevel := collect("", bare, nil)
	one := func(name string, set func(*corev1.PodSpec)) {
		s := bare.DeepCopy()
		set(s)
		collect(name, s, podLevel)
	}
	for _, c := range spec.InitContainers {
		one(c.Name, func(s *corev1.PodSpec) { s.InitContainers = []corev1.Container{c} })
	}
	for _, c := range spec.Containers {
		one(c.Name, func(s *corev1.PodSpec) { s.Containers = []corev1.Container{c} })
	}
	for _, c := range spec.EphemeralContainers {
		one(c.Name, func(s *corev1.PodSpec) { s.EphemeralContainers = []corev1.EphemeralContainer{c} })
	}
	return out
}

// templatePaths are where each kind of workload holds its pod template.
var templatePaths = map[string][]string{
	"Pod":         nil,
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// Template returns the pod template of a workload object (the Pod itself
// for a Pod), and false for an object without one.
func Template(obj *yaml.RNode) (*corev1.PodTemplateSpec, bool, error) {
	path, ok := templatePaths[obj.GetKind()]
	if !ok || !strings.HasPrefix(obj.GetApiVersion(), apiGroup(obj.GetKind())) {
		return nil, false, nil
	}
	node := obj
	if len(path) > 0 {
		var err error
		if node, err = obj.Pipe(yaml.Lookup(path...)); err != nil {
			return nil, false, err
		}
		if node == nil {
			return nil, false, nil
		}
	}
	s, err := node.MarshalJSON()
	if err != nil {
		return nil, false, err
	}
	var t corev1.PodTemplateSpec
	if err := sigsyaml.Unmarshal(s, &t); err != nil {
		return nil, false, fmt.Errorf("%s/%s: pod template: %w", obj.GetKind(), obj.GetName(), err)
	}
	return &t, true, nil
}

func apiGroup(kind string) string {
	switch kind {
	case "Pod":
		return "v1"
	case "Job", "CronJob":
		return "batch/"
	}
	return "apps/"
}
