package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// psaLabels make a namespace enforce a Pod Security Standards level (and
// warn at it), as the API server's PodSecurity admission reads them.
func psaLabels(level string) map[string]string {
	return map[string]string{
		"pod-security.kubernetes.io/enforce": level,
		"pod-security.kubernetes.io/warn":    level,
	}
}

// declaredPodSecurity is the level an example declares
// (global.podSecurity.level), or the chart's default, baseline.
func declaredPodSecurity(t *testing.T, example string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.root, "examples", example, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Global struct {
			PodSecurity struct {
				Level string `json:"level"`
			} `json:"podSecurity"`
		} `json:"global"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("examples/%s/values.yaml: %v", example, err)
	}
	if v.Global.PodSecurity.Level == "" {
		return "baseline"
	}
	return v.Global.PodSecurity.Level
}

// checkPodSecurity: in ns, which enforces a Pod Security level, a control
// Deployment that runs privileged is refused (so admission is on), and no
// pod of the release is: no FailedCreate event names PodSecurity.
func checkPodSecurity(t *testing.T, ns string) {
	t.Helper()
	cs := clientset(t)
	ctx := context.Background()
	one := int32(1)
	yes := true
	labels := map[string]string{"app.kubernetes.io/name": "psa-control"}
	control := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "psa-control", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "c", Image: "localhost/dpps-e2e/pause:1.0",
					SecurityContext: &corev1.SecurityContext{Privileged: &yes},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, control, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.AppsV1().Deployments(ns).Delete(ctx, control.Name, metav1.DeleteOptions{})

	refused := func() (control bool, release []string, err error) {
		events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
		if err != nil {
			return false, nil, err
		}
		for _, e := range events.Items {
			if !strings.Contains(e.Message, "violates PodSecurity") {
				continue
			}
			if strings.HasPrefix(e.InvolvedObject.Name, "psa-control-") {
				control = true
				continue
			}
			release = append(release, fmt.Sprintf("%s/%s: %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message))
		}
		return control, release, nil
	}
	// The control's refusal comes after the release's pods were created
	// or refused: their events are in by then.
	deadline := time.Now().Add(90 * time.Second)
	for {
		control, release, err := refused()
		if err != nil {
			t.Fatal(err)
		}
		if control {
			// A few seconds more for a controller that was behind.
			time.Sleep(5 * time.Second)
			if _, release, err = refused(); err != nil {
				t.Fatal(err)
			}
			for _, r := range release {
				t.Errorf("the API server refused a pod of the release: %s", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the privileged control pod was not refused within 90s: is PodSecurity admission on? (release refusals so far: %v)", release)
		}
		time.Sleep(2 * time.Second)
	}
}
