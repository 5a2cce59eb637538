package netpol

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ctao/dpps-deploy/transforms/release"
)

// replication: the streaming replication flow of each database the site's
// failover topology declares (global.failover), when the release runs it:
// at the primary, ingress to the database's port from the other sites'
// declared address blocks; at a replica, egress from the database to the
// primary's declared blocks on the primary's port. Nothing else: the
// sites' other addresses and the other direction stay closed.
func (g *generator) replication() error {
	f := g.info.Site.Failover
	for _, db := range slices.Sorted(maps.Keys(f.Databases())) {
		role := f.Role(db)
		comp, ok := g.info.Catalog.Components[db]
		if !ok || len(g.present[db]) == 0 {
			continue // run elsewhere (an external database): not ours to police
		}
		i, ok := g.info.Catalog.Interfaces[db]
		if !ok || len(i.Ports) == 0 {
			return fmt.Errorf("%s: the failover topology declares %s, but the catalog has no interface %s with its port", g.info.Origin, db, db)
		}
		peers, err := g.info.Site.Peers(i.Ports[0].Port)
		if err != nil {
			return fmt.Errorf("%s: %w", g.info.Origin, err)
		}
		self, okSelf := release.PeerNamed(peers, f.Site)
		primary, okPrimary := release.PeerNamed(peers, f.Databases()[db].Primary)
		switch {
		case len(peers) == 0:
			return fmt.Errorf("%s: site.json failover declares %s, which this release runs, but externals.%s lists no site: set global.externals.%s.sites", g.info.Origin, db, release.PeersExternal, release.PeersExternal)
		case !okSelf:
			return fmt.Errorf("%s: site.json failover.site %q is not among externals.%s.sites: add this site to global.externals.%s.sites, or fix global.failover.site", g.info.Origin, f.Site, release.PeersExternal, release.PeersExternal)
		case !okPrimary:
			return fmt.Errorf("%s: site.json failover.%s.primary %q is not among externals.%s.sites: add the primary to global.externals.%s.sites, or fix global.failover.%s.primary", g.info.Origin, db, f.Databases()[db].Primary, release.PeersExternal, release.PeersExternal, db)
		}
		rule := "replication/" + db
		sel := Selector{MatchLabels: comp.Selector}
		g.related[db] = true
		if role == release.RolePrimary {
			var from []Peer
			for _, p := range peers {
				if p.Name == self.Name {
					continue
				}
				for _, c := range p.CIDRs {
					from = append(from, Peer{IPBlock: &IPBlock{CIDR: c}})
				}
			}
			if len(from) == 0 {
				continue
			}
			g.add("NetworkPolicy", g.name("replication-"+db+"-ingress"), rule, policySpec{
				PodSelector: sel,
				PolicyTypes: []string{"Ingress"},
				Ingress:     []IngressRule{{From: from, Ports: g.interfacePorts(i)}},
			})
			continue
		}
		var to []Peer
		for _, c := range primary.CIDRs {
			to = append(to, Peer{IPBlock: &IPBlock{CIDR: c}})
		}
		g.add("NetworkPolicy", g.name("replication-"+db+"-egress"), rule, policySpec{
			PodSelector: sel,
			PolicyTypes: []string{"Egress"},
			Egress:      []EgressRule{{To: to, Ports: []Port{{Protocol: "TCP", Port: primary.Port}}}},
		})
	}
	return nil
}
