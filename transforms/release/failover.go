package release

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
)

// PeersExternal is the external interface that lists the sites of the
// rucio-db failover topology.
const PeersExternal = "rucio-database-peers"

// Failover is global.failover: this site's name and, per database, the
// site that holds the primary (interfaces/failover.cue). Every site of a
// topology carries the same databases and its own Site.
type Failover struct {
	// Site is this site's name in the topology; "" when unset.
	Site string `json:"site,omitempty"`
	// RucioDB is the topology of rucio-db; nil when standalone.
	RucioDB *DatabaseTopology `json:"rucio-db,omitempty"`
}

// DatabaseTopology is the role of one database across the sites.
type DatabaseTopology struct {
	// Primary is the site whose database is the primary.
	Primary string `json:"primary"`
}

// Roles of a database at a site.
const (
	RoleStandalone = "standalone"
	RolePrimary    = "primary"
	RoleReplica    = "replica"
)

// Databases are the topologies of the site, by database name, for the
// databases it declares.
func (f Failover) Databases() map[string]DatabaseTopology {
	out := map[string]DatabaseTopology{}
	if f.RucioDB != nil {
		out["rucio-db"] = *f.RucioDB
	}
	return out
}

// Role is this site's role for database db: standalone when the site
// declares no topology for it, primary when it names this site, else
// replica.
func (f Failover) Role(db string) string {
	t, ok := f.Databases()[db]
	switch {
	case !ok:
		return RoleStandalone
	case t.Primary == f.Site:
		return RolePrimary
	}
	return RoleReplica
}

// Peer is one site of a topology, as global.externals.rucio-database-peers
// lists it.
type Peer struct {
	Name  string   `json:"name"`
	Host  string   `json:"host"`
	Port  int      `json:"port,omitempty"`
	CIDRs []string `json:"cidrs"`
}

// Peers reads the sites of global.externals.rucio-database-peers, in the
// site's order; nil when unset. Port is defaultPort when the site set none.
func (s Site) Peers(defaultPort int) ([]Peer, error) {
	raw, ok := s.Externals[PeersExternal]
	if !ok || raw == nil {
		return nil, nil
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var v struct {
		Sites []Peer `json:"sites"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("site.json externals.%s: %v", PeersExternal, err)
	}
	var names []string
	for i, p := range v.Sites {
		if p.Name == "" || p.Host == "" {
			return nil, fmt.Errorf("site.json externals.%s.sites[%d]: a site needs a name and a host", PeersExternal, i)
		}
		if slices.Contains(names, p.Name) {
			return nil, fmt.Errorf("site.json externals.%s.sites: site %q is listed twice", PeersExternal, p.Name)
		}
		names = append(names, p.Name)
		if p.Port == 0 {
			v.Sites[i].Port = defaultPort
		}
		for _, c := range p.CIDRs {
			if _, _, err := net.ParseCIDR(c); err != nil {
				return nil, fmt.Errorf("site.json externals.%s.sites[%d].cidrs: %q is not a CIDR", PeersExternal, i, c)
			}
		}
	}
	return v.Sites, nil
}

// PeerNamed returns the peer called name.
func PeerNamed(peers []Peer, name string) (Peer, bool) {
	for _, p := range peers {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}
