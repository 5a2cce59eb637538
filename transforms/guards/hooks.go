package guards

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/plaintext"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// useHelm4 is what every hook finding tells the site admin to do.
const useHelm4 = "render with Helm 4 and the dpps-render plugin (helm plugin install ./helm-plugin)"

// Hooks reads a whole `helm template` output, hooks included, and reports
// what a Helm 3 post-render would miss, one line per finding:
//   - a hook object that holds a credential outside a Secret (Helm 3 creates
//     it as it was rendered);
//   - an object Helm 3 post-renders that references an object only a hook
//     creates (guards, which never sees hooks under Helm 3, would call the
//     reference dangling).
//
// catalogFile is a site catalog; without one (nor a catalog ConfigMap in the
// stream), only the credentials found without a catalog are reported.
func Hooks(nodes []*yaml.RNode, catalogFile string) (findings []string, hooks int, err error) {
	info, err := release.Find(nodes, catalogFile)
	if err != nil {
		return nil, 0, err
	}
	var creds credentials.Set
	if info != nil {
		if creds, err = credentials.Find(nodes, info.Catalog); err != nil {
			return nil, 0, err
		}
	}
	onlyHooks := map[ref]*yaml.RNode{} // objects only a hook creates
	rendered := map[ref]bool{}
	var hookNodes []*yaml.RNode
	for _, n := range nodes {
		r := ref{manifest.Kind(n), n.GetName()}
		if n.GetAnnotations()[manifest.HookAnnotation] == "" {
			rendered[r] = true
			continue
		}
		hookNodes = append(hookNodes, n)
		onlyHooks[r] = n
	}
	for r := range rendered {
		delete(onlyHooks, r)
	}
	if info != nil {
		for _, p := range info.Catalog.Provided {
			delete(onlyHooks, ref{p.Kind, p.Name})
		}
	}
	var notSecret []catalog.Location
	if info != nil {
		notSecret = info.Catalog.NotSecret
	}
	for _, p := range plaintext.Scan(hookNodes, creds, notSecret) {
		findings = append(findings, fmt.Sprintf("%s: hook %s: %s holds %s outside a Secret, and Helm 3 does not post-render hooks: %s",
			manifest.Describe(p.Node), p.Node.GetAnnotations()[manifest.HookAnnotation], p.Path, p.What, useHelm4))
	}
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		if spec == nil || n.GetAnnotations()[manifest.HookAnnotation] != "" {
			continue
		}
		for _, r := range manifest.References(spec, manifest.PodSpecPath(n.YNode())) {
			hook, ok := onlyHooks[ref{r.Kind, r.Name}]
			if !ok || (r.Optional != nil && r.Optional.Value == "true") {
				continue
			}
			findings = append(findings, fmt.Sprintf("%s: %s: %s %s is created only by a hook (%s), which Helm 3 does not post-render: %s, or list it under provided in the catalog",
				manifest.Describe(n), r.Path, r.Kind, r.Name, hook.GetAnnotations()[manifest.HookAnnotation], useHelm4))
		}
	}
	return findings, len(hookNodes), nil
}
