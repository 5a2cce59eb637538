package externals

import (
	"slices"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/transforms/release"
)

func topo(name, self, primary, peers string) SiteTopology {
	t := SiteTopology{Name: name, Peers: peers, Failover: release.Failover{Site: self}}
	if primary != "" {
		t.Failover.RucioDB = &release.DatabaseTopology{Primary: primary}
	}
	return t
}

// TestCheckSites: one line per problem across sites, none for an agreed
// topology.
func TestCheckSites(t *testing.T) {
	tests := map[string]struct {
		sites []SiteTopology
		want  []string
	}{
		"agreed, with a standalone site beside": {
			sites: []SiteTopology{topo("a", "a", "a", "P"), topo("b", "b", "a", "P"), topo("c", "", "", "")},
		},
		"no topology anywhere": {
			sites: []SiteTopology{topo("a", "", "", ""), topo("b", "", "", "")},
		},
		"two claim": {
			sites: []SiteTopology{topo("a", "a", "a", "P"), topo("b", "b", "b", "P"), topo("c", "c", "a", "P")},
			want:  []string{"rucio-db: 2 sites claim the primary: a and b each declare themselves primary"},
		},
		"disagree without a claim, grouped by primary": {
			sites: []SiteTopology{topo("a", "a", "b", "P"), topo("b", "b", "c", "P"), topo("c", "c", "b", "P")},
			want:  []string{"rucio-db: the sites disagree on the primary: a and c declare b, b declares c"},
		},
		"a render named otherwise": {
			sites: []SiteTopology{topo("a", "a", "a", "P"), topo("b", "a", "a", "P")},
			want:  []string{"b: its render declares global.failover.site a", "rucio-db: 2 sites claim the primary: a and b"},
		},
		"the primary declares nothing": {
			sites: []SiteTopology{topo("a", "", "", ""), topo("b", "b", "a", ""), topo("c", "c", "a", "")},
			want:  []string{"rucio-db: b and c name a the primary, but a's render declares no topology of rucio-db"},
		},
		"different peers": {
			sites: []SiteTopology{topo("a", "a", "a", "P"), topo("b", "b", "a", "Q"), topo("c", "c", "a", "P")},
			want:  []string{"rucio-db: the sites list different peers in global.externals.rucio-database-peers: {a, c} vs {b}"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := CheckSites(tc.sites)
			if len(got) != len(tc.want) {
				t.Fatalf("%d findings %v, want %d", len(got), got, len(tc.want))
			}
			for i, f := range got {
				if f.Severity != SeverityError || f.Rule != RuleFailover || !strings.HasPrefix(f.Message, tc.want[i]) {
					t.Errorf("finding %d: %s, want an error starting %q", i, f, tc.want[i])
				}
			}
		})
	}
}

func TestAnd(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{{nil, ""}, {[]string{"a"}, "a"}, {[]string{"a", "b"}, "a and b"}, {[]string{"a", "b", "c"}, "a, b and c"}} {
		if got := and(slices.Clone(tc.in)); got != tc.want {
			t.Errorf("and(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
