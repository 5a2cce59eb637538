package podsecurity

import (
	"fmt"
	"maps"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// RulePodSecurity is the rule of check's Pod Security findings.
const RulePodSecurity = "pod-security"

// SiteLevel is the level the site declares (global.podSecurity.level),
// DefaultLevel when it declares none or the render has no catalog.
func SiteLevel(info *release.Info) string {
	if info == nil || info.Site.PodSecurity.Level == "" {
		return DefaultLevel
	}
	return info.Site.PodSecurity.Level
}

// Check evaluates every pod template of the stream at level ("" for the
// site's level). A violation is an error, unless the object's component
// declares an exception (components.<name>.podSecurity in the catalog)
// at a level below the one that fails: then it is a note that names the
// reason. A component whose declared level is below the site's is an
// error, as the namespace would refuse its pods; one whose pods meet
// restricted needs no exception, which is a note too.
func Check(nodes []*yaml.RNode, info *release.Info, level string) ([]externals.Finding, error) {
	site := SiteLevel(info)
	if !ValidLevel(site) {
		return nil, fmt.Errorf("global.podSecurity.level %q: want one of %v", site, Levels)
	}
	if level == "" {
		level = site
	}
	var out []externals.Finding
	add := func(sev, object, format string, a ...any) {
		out = append(out, externals.Finding{Severity: sev, Rule: RulePodSecurity, Object: object, Message: fmt.Sprintf(format, a...)})
	}
	var rel *externals.Release
	if info != nil {
		rel = externals.Resolve(info)
	}
	present := map[string]bool{}  // components with a pod template here
	exceeded := map[string]bool{} // components whose pods miss restricted
	for _, n := range nodes {
		t, ok, err := Template(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var exc *catalog.PodSecurity
		comp := ""
		if rel != nil {
			comp, _ = rel.Component(n)
			if c, ok := info.Catalog.Components[comp]; ok && c.PodSecurity != nil {
				exc = c.PodSecurity
			}
		}
		present[comp] = true
		obj := n.GetKind() + "/" + n.GetName()
		for _, v := range Evaluate(&t.ObjectMeta, &t.Spec, level) {
			if v.Level == Levels[len(Levels)-1] {
				exceeded[comp] = true
			}
			if exc != nil && Below(exc.Level, v.Level) {
				add(externals.SeverityNote, obj, "%s; declared %s: %s", v, exc.Level, exc.Reason)
				continue
			}
			add(externals.SeverityError, obj, "%s", v)
		}
	}
	if rel == nil {
		return out, nil
	}
	for _, name := range slices.Sorted(maps.Keys(info.Catalog.Components)) {
		ps := info.Catalog.Components[name].PodSecurity
		if ps == nil || !present[name] {
			continue
		}
		if Below(ps.Level, site) {
			add(externals.SeverityError, "", "component %s meets only %s (%s), below the site's level %s (global.podSecurity.level): the namespace refuses its pods",
				name, ps.Level, ps.Reason, site)
		}
		if level == Levels[len(Levels)-1] && !exceeded[name] {
			add(externals.SeverityNote, "", "component %s declares %s, but its pods meet restricted: drop components.%s.podSecurity", name, ps.Level, name)
		}
	}
	return out, nil
}
