// Package guards checks the final stream of a release with a catalog and
// fails it, rather than let Helm install it, when
//   - a credential sits outside a Secret (package plaintext: a declared
//     credential's value in any encoding, and, even without a catalog, a
//     password in URL userinfo or SQL, or a literal value named like a
//     secret);
//   - a declared credential's value is found nowhere, and nothing declares
//     who creates its Secret;
//   - a reference (secretKeyRef, configMapKeyRef, envFrom, a secret or
//     configMap volume or projection, imagePullSecrets, serviceAccountName)
//     names an object that is neither in the output nor declared as created
//     elsewhere (by the site, the secrets backend, a Job or a hook).
//
// The second catches a bug class DPPS operators hit: a name typed with a
// release prefix that matches for one release name only.
package guards

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/plaintext"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Filter is the guards transform; it never changes the stream.
type Filter struct {
	// CatalogFile is a catalog for charts that render none (--catalog).
	CatalogFile string
}

var _ kio.Filter = (*Filter)(nil)

// maxReported bounds the problems one error lists.
const maxReported = 10

// Filter returns the stream unchanged, or an error listing the problems.
// Without a catalog only the value-independent credential rules run: there
// is nothing declared to check references against.
func (f *Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	info, err := release.Find(nodes, f.CatalogFile)
	if err != nil {
		return nil, err
	}
	var creds credentials.Set
	var notSecret []catalog.Location
	if info != nil {
		if creds, err = credentials.Find(nodes, info.Catalog); err != nil {
			return nil, fmt.Errorf("%s: %w", info.Origin, err)
		}
		notSecret = info.Catalog.NotSecret
	}
	var problems []string
	for _, p := range plaintext.Scan(nodes, creds, notSecret) {
		problems = append(problems, fmt.Sprintf("%s: %s holds %s outside a Secret: %s", manifest.Describe(p.Node), p.Path, p.What, p.Fix))
	}
	if info != nil {
		have := provided(nodes, info)
		problems = append(problems, unaccounted(nodes, creds, info, have)...)
		problems = append(problems, dangling(nodes, have)...)
	}
	if len(problems) == 0 {
		return nodes, nil
	}
	more := ""
	if len(problems) > maxReported {
		more = fmt.Sprintf("; and %d more", len(problems)-maxReported)
		problems = problems[:maxReported]
	}
	return nil, fmt.Errorf("%s%s", strings.Join(problems, "; "), more)
}

// unaccounted lists the declared credentials whose value dpps-render found
// nowhere (no Secret of the output holds it, no location or detect pattern
// matched) and whose Secret nothing declares as created elsewhere (a
// backend other than chart, the catalog's provided objects, an
// ExternalSecret, a Certificate, a Job, the site): such a value may sit in
// plain text where nothing looks for it. A credential of a part the chart's
// values switched off (none of its owner's and consumers' workloads is in
// the output, and no pod spec reads its Secret) is not asked for.
func unaccounted(nodes []*yaml.RNode, creds credentials.Set, info *release.Info, have map[ref]string) []string {
	if info.Site.Backend() != release.BackendChart {
		return nil
	}
	workloads, labels, read := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		if spec == nil {
			continue
		}
		workloads[n.GetName()] = true
		if c := n.GetLabels()["app.kubernetes.io/component"]; c != "" {
			labels[c] = true
		}
		for _, r := range manifest.References(spec, "") {
			if r.Kind == "Secret" {
				read[r.Name] = true
			}
		}
	}
	cat := info.Catalog
	inPlay := func(name string) bool {
		decl := cat.Credentials[name]
		if read[decl.SecretName] {
			return true
		}
		for _, comp := range append([]string{decl.Owner}, decl.Consumers...) {
			if workloads[cat.Components[comp].Name] || labels[comp] {
				return true
			}
		}
		return false
	}
	var out []string
	for _, c := range creds {
		if len(c.Values) > 0 {
			continue
		}
		if by, ok := have[ref{"Secret", c.SecretName}]; ok && by != inOutput {
			continue
		}
		if !inPlay(c.Name) {
			continue
		}
		out = append(out, fmt.Sprintf("credential %s: its value is in no Secret of the output (Secret %s, key %s) and no location or detect pattern finds it: declare where the chart puts it in credentials.%s.locations, or list Secret %s under provided",
			c.Name, c.SecretName, c.Key, c.Name, c.SecretName))
	}
	return out
}

// inOutput says an object is rendered, in provided's map.
const inOutput = "the output"

// ref is an object a workload needs.
type ref struct{ kind, name string }

// provided lists what will exist when the release runs.
func provided(nodes []*yaml.RNode, info *release.Info) map[ref]string {
	have := map[ref]string{
		{"ConfigMap", "kube-root-ca.crt"}: "Kubernetes, in every namespace",
		{"ServiceAccount", "default"}:     "Kubernetes, in every namespace",
	}
	jobs := map[string]bool{}      // Jobs by name
	jobComps := map[string]bool{}  // and by component label: a Job named after a version
	subcharts := map[string]bool{} // subcharts that render something
	for _, n := range nodes {
		kind, obj := manifest.Kind(n), n.YNode()
		have[ref{kind, n.GetName()}] = inOutput
		if sub := manifest.ParseSource(manifest.Source(n)).Subchart; sub != "" {
			subcharts[strings.SplitN(sub, "/", 2)[0]] = true
		}
		switch kind {
		case "Job":
			jobs[n.GetName()] = true
			if c := n.GetLabels()["app.kubernetes.io/component"]; c != "" {
				jobComps[c] = true
			}
		case "Certificate": // cert-manager writes spec.secretName
			if s := manifest.Path(obj, "spec", "secretName"); s != nil {
				have[ref{"Secret", s.Value}] = "a cert-manager Certificate"
			}
		case "ExternalSecret": // external-secrets writes spec.target.name
			name := n.GetName()
			if t := manifest.Path(obj, "spec", "target", "name"); t != nil && t.Value != "" {
				name = t.Value
			}
			have[ref{"Secret", name}] = "an ExternalSecret"
		}
	}
	cat := info.Catalog
	if info.Site.Backend() != release.BackendChart {
		for _, c := range cat.Credentials {
			have[ref{"Secret", c.SecretName}] = "the secrets backend " + info.Site.Backend()
		}
	}
	for _, s := range cat.Shared {
		owner, ok := cat.Components[s.Owner]
		switch {
		case !ok:
		case owner.Workload == "Job" && (jobs[owner.Name] || jobComps[s.Owner]):
			// Written by that Job when it runs.
			have[ref{s.Kind, s.Name}] = "the Job " + owner.Name
		case !subcharts[owner.Subchart]:
			// The owner's subchart is switched off: the site provides
			// what it would have created (its own CA and certificates).
			have[ref{s.Kind, s.Name}] = "the site (subchart " + owner.Subchart + " is off)"
		}
	}
	for _, p := range cat.Provided {
		have[ref{p.Kind, p.Name}] = p.By
	}
	// Secrets a site names in its external interfaces (a registry pull
	// Secret, a CA) are the site's to create.
	for _, ext := range info.Site.Externals {
		siteSecrets(ext, have)
	}
	return have
}

func siteSecrets(v any, have map[ref]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && s != "" && (k == "pullSecret" || k == "secretName") {
				have[ref{"Secret", s}] = "the site (global.externals)"
			}
			siteSecrets(x, have)
		}
	case []any:
		for _, x := range v {
			siteSecrets(x, have)
		}
	}
}

// dangling lists the references of every pod spec that resolve to nothing.
func dangling(nodes []*yaml.RNode, have map[ref]string) []string {
	var out []string
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		if spec == nil {
			continue
		}
		base := manifest.PodSpecPath(n.YNode())
		check := func(kind, name, path string, optional *yaml.Node) {
			if name == "" || (optional != nil && optional.Value == "true") {
				return
			}
			if _, ok := have[ref{kind, name}]; !ok {
				out = append(out, fmt.Sprintf("%s: %s: %s %s is not in the output and the catalog does not declare who creates it", manifest.Describe(n), path, kind, name))
			}
		}
		for _, r := range manifest.References(spec, base) {
			check(r.Kind, r.Name, r.Path, r.Optional)
		}
	}
	return out
}
