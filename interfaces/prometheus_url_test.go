package interfaces

import "testing"

// TestPrometheusURL: global.observability.prometheus.url names a Service of
// the cluster (<service>.<namespace>.svc, the cluster domain may follow),
// with a port and a path, and nothing else: no other host, no credential,
// no query.
func TestPrometheusURL(t *testing.T) {
	m, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url   string
		valid bool
	}{
		{"http://prometheus-operated.monitoring.svc:9090", true},
		{"http://prometheus-k8s.monitoring.svc.cluster.local:9090/", true},
		{"https://kube-prometheus-stack-prometheus.monitoring.svc/prometheus", true},
		{"http://prometheus.monitoring.svc", true},

		{"https://prometheus.example.org", false},
		{"http://prometheus-operated:9090", false},
		{"http://prometheus.monitoring:9090", false},
		{"http://10.0.0.1:9090", false},
		{"http://user:secret@prometheus.monitoring.svc:9090", false},
		{"http://prometheus.monitoring.svc:9090/?token=x", false},
		{"ftp://prometheus.monitoring.svc", false},
		{"http://Prometheus.Monitoring.svc:9090", false},
		{"http://prometheus.monitoring.svc:123456", false},
	} {
		yaml := "global: {observability: {prometheus: {namespace: monitoring, podLabels: {app.kubernetes.io/name: prometheus}, url: '" + tt.url + "'}}}"
		if err := validValues(t, m, "values.yaml", []byte(yaml)); (err == nil) != tt.valid {
			t.Errorf("%s: valid = %v, want %v (%v)", tt.url, err == nil, tt.valid, err)
		}
	}
}
