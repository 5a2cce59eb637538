package externals

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// RuleFailover: the render, or the renders of several sites, would run a
// database of a failover topology with two primaries (or none), or write
// to a replica.
const RuleFailover = "failover"

// The Bitnami PostgreSQL image's settings that make rucio-db a primary or
// a replica (charts/dpps/charts/bdms/templates/_failover.tpl).
const (
	envReplicationMode = "POSTGRESQL_REPLICATION_MODE"
	envMasterHost      = "POSTGRESQL_MASTER_HOST"
)

// writersExternal is the external interface whose consumers write to the
// Rucio database: the Rucio server, daemons and Jobs (not the backup Job,
// which only reads).
const writersExternal = "rucio-database"

// CheckFailover checks one render against the failover topology it
// declares (site.json failover): for each database, the rendered database
// runs in the role the topology gives this site (a replica streams from
// the primary's declared host, the primary is not a replica), and at a
// replica site nothing writes (no workload of the database's writers has
// a pod). nil without a topology.
func CheckFailover(nodes []*yaml.RNode, info *release.Info) []Finding {
	if info == nil {
		return nil
	}
	f := info.Site.Failover
	var out []Finding
	add := func(obj *yaml.RNode, format string, a ...any) {
		fd := Finding{Severity: SeverityError, Rule: RuleFailover, Message: fmt.Sprintf(format, a...)}
		if obj != nil {
			fd.Object = describe(obj)
		}
		out = append(out, fd)
	}
	dbs := f.Databases()
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		primary := dbs[db].Primary
		role := f.Role(db)
		port := 0
		if i, ok := info.Catalog.Interfaces[db]; ok && len(i.Ports) > 0 {
			port = i.Ports[0].Port
		}
		peers, err := info.Site.Peers(port)
		if err != nil {
			add(nil, "%s: %v: fix global.externals.%s", db, err, release.PeersExternal)
			continue
		}
		if peers != nil {
			for _, name := range []string{f.Site, primary} {
				if _, ok := release.PeerNamed(peers, name); !ok {
					add(nil, "%s: site %s of global.failover is not among global.externals.%s.sites: list every site of the topology there, the same list at every site", db, name, release.PeersExternal)
				}
			}
		}
		comp, ok := info.Catalog.Components[db]
		if !ok {
			continue
		}
		for _, n := range nodes {
			spec := manifest.PodSpec(n.YNode())
			if spec == nil || !selects(comp.Selector, templateLabels(n)) {
				continue
			}
			mode, master := envValue(spec, envReplicationMode), envValue(spec, envMasterHost)
			switch {
			case role == release.RoleReplica && mode != "slave":
				how := "unset: standalone"
				if mode != "" {
					how = mode
				}
				add(n, "two primaries of %s: this site (%s) is a replica of %s in the topology, but its %s runs writable (%s %s); render it with the chart and global.failover as declared, or make %s the primary at every site (docs/gitops.md)", db, f.Site, primary, db, envReplicationMode, how, f.Site)
			case role == release.RoleReplica:
				if p, ok := release.PeerNamed(peers, primary); ok && master != p.Host {
					add(n, "%s replicates from %q (%s), not from the primary %s at %s: render it with the chart and global.failover as declared", db, master, envMasterHost, primary, p.Host)
				}
			case role == release.RolePrimary && mode == "slave":
				add(n, "no primary of %s: this site (%s) is the primary in the topology, but its %s runs as a replica of %q; render it with the chart and global.failover as declared", db, f.Site, db, master)
			}
		}
		if role != release.RoleReplica || db != "rucio-db" {
			continue
		}
		x, ok := info.Catalog.Externals[writersExternal]
		if !ok {
			continue
		}
		for _, n := range nodes {
			spec := manifest.PodSpec(n.YNode())
			if spec == nil {
				continue
			}
			writer := ""
			for _, cn := range x.Consumers {
				if c, ok := info.Catalog.Components[cn]; ok && selects(c.Selector, templateLabels(n)) {
					writer = cn
				}
			}
			if writer == "" || podless(n) || helmTest(n) {
				continue
			}
			add(n, "writes to %s, a replica at this site (%s; the primary is %s): %s must run no pod here until a promotion; render with the chart (replicas 0, no Rucio Jobs) or promote %s at every site (docs/gitops.md)", db, f.Site, primary, writer, f.Site)
		}
	}
	return out
}

// podless reports whether a workload runs no pod: a Deployment or
// StatefulSet scaled to 0, or a suspended Job or CronJob.
func podless(n *yaml.RNode) bool {
	switch n.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		r := manifest.Path(n.YNode(), "spec", "replicas")
		return r != nil && r.Value == "0"
	case "Job", "CronJob":
		s := manifest.Path(n.YNode(), "spec", "suspend")
		return s != nil && s.Value == "true"
	}
	return false
}

// helmTest reports whether n is a Helm test hook: a pod `helm test` runs
// on demand to probe a connection, which writes nothing.
func helmTest(n *yaml.RNode) bool {
	return slices.Contains(strings.Split(n.GetAnnotations()[manifest.HookAnnotation], ","), "test")
}

// templateLabels are the labels of n's pods.
func templateLabels(n *yaml.RNode) map[string]string {
	var meta *yaml.Node
	switch n.GetKind() {
	case "Pod":
		meta = manifest.Field(n.YNode(), "metadata")
	case "CronJob":
		meta = manifest.Path(n.YNode(), "spec", "jobTemplate", "spec", "template", "metadata")
	default:
		meta = manifest.Path(n.YNode(), "spec", "template", "metadata")
	}
	out := map[string]string{}
	if l := manifest.Field(meta, "labels"); l != nil && l.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(l.Content); i += 2 {
			out[l.Content[i].Value] = l.Content[i+1].Value
		}
	}
	return out
}

func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// envValue is the literal value of env var name in the pod spec's
// containers, "" when no container sets it.
func envValue(spec *yaml.Node, name string) string {
	for _, c := range manifest.Containers(spec) {
		env := manifest.Field(c, "env")
		if env == nil || env.Kind != yaml.SequenceNode {
			continue
		}
		for _, e := range env.Content {
			if v := manifest.Field(e, "name"); v != nil && v.Value == name {
				if val := manifest.Field(e, "value"); val != nil {
					return val.Value
				}
			}
		}
	}
	return ""
}

// SiteTopology is what one site's render declares of the failover
// topology, for CheckSites.
type SiteTopology struct {
	// Name is the site's name as the check was given it (SITE=FILE).
	Name string
	// Failover is the render's global.failover.
	Failover release.Failover
	// Peers is the render's global.externals.rucio-database-peers, as
	// JSON, "" when unset.
	Peers string
}

// NewSiteTopology reads a site's topology from its release info.
func NewSiteTopology(name string, info *release.Info) SiteTopology {
	t := SiteTopology{Name: name}
	if info == nil {
		return t
	}
	t.Failover = info.Site.Failover
	if raw, ok := info.Site.Externals[release.PeersExternal]; ok && raw != nil {
		b, _ := json.Marshal(raw)
		t.Peers = string(b)
	}
	return t
}

// CheckSites checks the topology across the renders of several sites: a
// render's global.failover.site is the site's name; per database, at most
// one site claims the primary, every site that declares the database
// names the same primary, the primary declares it too, and the sites list
// the same peers. One finding per problem, naming the sites, the database
// and what to do.
func CheckSites(sites []SiteTopology) []Finding {
	var out []Finding
	add := func(format string, a ...any) {
		out = append(out, Finding{Severity: SeverityError, Rule: RuleFailover, Message: fmt.Sprintf(format, a...)})
	}
	for _, s := range sites {
		if s.Failover.Site != "" && s.Failover.Site != s.Name {
			add("%s: its render declares global.failover.site %s: set global.failover.site to %s in %s's values", s.Name, s.Failover.Site, s.Name, s.Name)
		}
	}
	dbs := map[string]bool{}
	for _, s := range sites {
		for db := range s.Failover.Databases() {
			dbs[db] = true
		}
	}
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		var claim, declare []string
		byPrimary := map[string][]string{} // primary -> sites that name it
		var primaries []string             // in site order
		for _, s := range sites {
			t, ok := s.Failover.Databases()[db]
			if !ok {
				continue
			}
			declare = append(declare, s.Name)
			if s.Failover.Role(db) == release.RolePrimary {
				claim = append(claim, s.Name)
			}
			if byPrimary[t.Primary] == nil {
				primaries = append(primaries, t.Primary)
			}
			byPrimary[t.Primary] = append(byPrimary[t.Primary], s.Name)
		}
		switch {
		case len(claim) > 1:
			add("%s: %d sites claim the primary: %s each declare themselves primary; keep one primary in global.failover.%s.primary at every site, demoting the others first (docs/gitops.md)", db, len(claim), and(claim), db)
		case len(primaries) > 1:
			var parts []string
			for _, p := range primaries {
				verb := "declares"
				if len(byPrimary[p]) > 1 {
					verb = "declare"
				}
				parts = append(parts, and(byPrimary[p])+" "+verb+" "+p)
			}
			add("%s: the sites disagree on the primary: %s; set the same global.failover.%s.primary at every site (mid-promotion: finish it, docs/gitops.md)", db, strings.Join(parts, ", "), db)
		}
		if len(primaries) == 1 {
			p := primaries[0]
			for _, s := range sites {
				if s.Name == p {
					if _, ok := s.Failover.Databases()[db]; !ok {
						verb := "names"
						if len(declare) > 1 {
							verb = "name"
						}
						add("%s: %s %s %s the primary, but %s's render declares no topology of %s (standalone, no replication role): set global.failover at %s too", db, and(declare), verb, p, p, db, p)
					}
				}
			}
		}
		groups := map[string][]string{}
		var order []string
		for _, s := range sites {
			if _, ok := s.Failover.Databases()[db]; !ok || s.Peers == "" {
				continue
			}
			if groups[s.Peers] == nil {
				order = append(order, s.Peers)
			}
			groups[s.Peers] = append(groups[s.Peers], s.Name)
		}
		if len(order) > 1 {
			var parts []string
			for _, k := range order {
				parts = append(parts, "{"+strings.Join(groups[k], ", ")+"}")
			}
			add("%s: the sites list different peers in global.externals.%s: %s; copy one list to every site", db, release.PeersExternal, strings.Join(parts, " vs "))
		}
	}
	return out
}

// and joins names: "a", "a and b", "a, b and c".
func and(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
