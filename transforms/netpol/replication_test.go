package netpol_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/transforms/netpol"
)

// withRucioDB adds the component rucio-db, which provides the interface
// rucio-db (postgresql 5432) to a.
func withRucioDB(c map[string]any) {
	c["components"].(map[string]any)["rucio-db"] = map[string]any{"description": "db", "subchart": "s", "workload": "Deployment", "name": "rel-rucio-db",
		"selector": map[string]string{"app.kubernetes.io/instance": "rel", "app.kubernetes.io/component": "rucio-db"}}
	c["subcharts"].(map[string]any)["s"].(map[string]any)["components"] = []string{"a", "b", "c", "rucio-db"}
	c["interfaces"].(map[string]any)["rucio-db"] = map[string]any{"description": "db", "provider": "rucio-db", "service": "rel-rucio-db",
		"ports": []any{map[string]any{"name": "postgresql", "port": 5432, "protocol": "TCP"}}, "consumers": []string{"a"}}
}

const pgPort = "        ports:\n        - name: postgresql\n          containerPort: 5432\n"

// peersJSON are three sites: x (two blocks), y and z.
const peersJSON = `"rucio-database-peers": {"sites": [
  {"name": "x", "host": "db.x.example.org", "port": 5432, "cidrs": ["192.0.2.0/28", "2001:db8:1::/48"]},
  {"name": "y", "host": "db.y.example.org", "port": 6432, "cidrs": ["192.0.2.16/28"]},
  {"name": "z", "host": "db.z.example.org", "cidrs": ["192.0.2.32/28"]}]}`

// TestReplication: the replication flow of each role, and the topologies
// dpps-render refuses to write policies for.
func TestReplication(t *testing.T) {
	site := func(self, primary, peers string) string {
		ext := "{}"
		if peers != "" {
			ext = "{" + peers + "}"
		}
		return `{"externals": ` + ext + `, "failover": {"site": "` + self + `", "rucio-db": {"primary": "` + primary + `"}}}`
	}
	in := func(site string) string {
		return stream(catalogCM(catalogDoc(withRucioDB), site), deployment("a", httpPort), deployment("rucio-db", pgPort))
	}
	tests := map[string]struct {
		in        string
		wantNames []string
		wantFlows []string // the replication flows only
		wantErr   string
	}{
		"primary: the other sites' blocks to the database's port, nothing out": {
			in:        in(site("x", "x", peersJSON)),
			wantNames: []string{"NetworkPolicy/rel-dpps-replication-rucio-db-ingress"},
			wantFlows: []string{"192.0.2.16/28 -> rucio-db TCP/5432 (postgresql) egress: outside the stream; ingress: replication/rucio-db",
				"192.0.2.32/28 -> rucio-db TCP/5432 (postgresql) egress: outside the stream; ingress: replication/rucio-db"},
		},
		"replica: to the primary's blocks on the primary's port, nothing in": {
			in:        in(site("z", "x", peersJSON)),
			wantNames: []string{"NetworkPolicy/rel-dpps-replication-rucio-db-egress"},
			wantFlows: []string{"rucio-db -> 192.0.2.0/28 TCP/5432 egress: replication/rucio-db; ingress: outside the stream",
				"rucio-db -> 2001:db8:1::/48 TCP/5432 egress: replication/rucio-db; ingress: outside the stream"},
		},
		"replica of a primary on another port": {
			in:        in(site("x", "y", peersJSON)),
			wantNames: []string{"NetworkPolicy/rel-dpps-replication-rucio-db-egress"},
			wantFlows: []string{"rucio-db -> 192.0.2.16/28 TCP/6432 egress: replication/rucio-db; ingress: outside the stream"},
		},
		"standalone: no replication rule": {
			in: stream(catalogCM(catalogDoc(withRucioDB), `{"externals": {`+peersJSON+`}}`), deployment("a", httpPort), deployment("rucio-db", pgPort)),
		},
		"the database runs elsewhere: nothing to police here": {
			in: stream(catalogCM(catalogDoc(withRucioDB), site("z", "x", "")), deployment("a", httpPort)),
		},
		"no peers": {
			in:      in(site("z", "x", "")),
			wantErr: "site.json failover declares rucio-db, which this release runs, but externals.rucio-database-peers lists no site: set global.externals.rucio-database-peers.sites",
		},
		"this site is not a peer": {
			in:      in(site("w", "x", peersJSON)),
			wantErr: `site.json failover.site "w" is not among externals.rucio-database-peers.sites: add this site to global.externals.rucio-database-peers.sites, or fix global.failover.site`,
		},
		"the primary is not a peer": {
			in:      in(site("x", "w", peersJSON)),
			wantErr: `site.json failover.rucio-db.primary "w" is not among externals.rucio-database-peers.sites: add the primary to global.externals.rucio-database-peers.sites, or fix global.failover.rucio-db.primary`,
		},
		"a peer's block is not a CIDR": {
			in:      in(site("x", "x", `"rucio-database-peers": {"sites": [{"name": "x", "host": "h", "cidrs": ["192.0.2.0/28"]}, {"name": "y", "host": "h", "cidrs": ["192.0.2.300/28"]}]}`)),
			wantErr: `site.json externals.rucio-database-peers.sites[1].cidrs: "192.0.2.300/28" is not a CIDR`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, netpol.Config{}, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotNames []string
			for _, n := range names(t, out) {
				if strings.Contains(n, "-replication-") {
					gotNames = append(gotNames, n)
				}
			}
			if !slices.Equal(gotNames, tc.wantNames) {
				t.Errorf("replication policies %q, want %q", gotNames, tc.wantNames)
			}
			var gotFlows []string
			for _, f := range explain(t, out) {
				if strings.Contains(f, "replication/") {
					gotFlows = append(gotFlows, f)
				}
			}
			if !slices.Equal(gotFlows, tc.wantFlows) {
				t.Errorf("replication flows\n%s\nwant\n%s", strings.Join(gotFlows, "\n"), strings.Join(tc.wantFlows, "\n"))
			}
		})
	}
}
