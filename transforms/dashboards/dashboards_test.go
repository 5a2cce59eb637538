package dashboards

import (
	"strings"
	"testing"
)

func TestUID(t *testing.T) {
	cases := []struct{ release, subchart, want string }{
		{"dpps", "", "dpps-dpps"},
		{"dpps", "bdms", "dpps-dpps-bdms"},
		{"dpps", "cert-generator-grid", "dpps-dpps-cert-generator-grid"},
		// Within 40 characters: kept whole.
		{"a-release-of-twenty-nine-chars", "bdms", "dpps-a-release-of-twenty-nine-chars-bdms"},
	}
	for _, c := range cases {
		if got := UID(c.release, c.subchart); got != c.want {
			t.Errorf("UID(%q, %q) = %q, want %q", c.release, c.subchart, got, c.want)
		}
	}
	// Longer: 40 characters, distinct per subchart, the same every time.
	long := strings.Repeat("r", 53)
	seen := map[string]bool{}
	for _, s := range []string{"", "bdms", "wms", "fts", "cert-generator-grid"} {
		u := UID(long, s)
		if len(u) > 40 || seen[u] || u != UID(long, s) {
			t.Errorf("UID(%q, %q) = %q: longer than 40, not unique or not stable", long, s, u)
		}
		seen[u] = true
	}
}

func TestConfigMapName(t *testing.T) {
	if got := ConfigMapName("dpps", ""); got != "dpps-dpps-dashboard" {
		t.Errorf("overview: %q", got)
	}
	if got := ConfigMapName("dpps", "bdms"); got != "dpps-dpps-dashboard-bdms" {
		t.Errorf("bdms: %q", got)
	}
}
