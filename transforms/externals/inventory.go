package externals

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/provenance"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Image is one container's image.
type Image struct {
	Container string `json:"container"`
	// Init is true for an init container.
	Init bool `json:"init,omitempty"`
	// Image is the reference as written.
	Image string `json:"image"`
	// Repository is the reference without tag and digest.
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	// Digest is set when the image is pinned ("sha256:...").
	Digest string `json:"digest,omitempty"`
}

// Workload is one object that runs pods.
type Workload struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// Component is the catalog component, when the object is one's workload.
	Component string `json:"component,omitempty"`
	// Subchart is the subchart path ("bdms"), or the chart for its own
	// templates.
	Subchart string `json:"subchart"`
	// Chart is "<chart>-<version>".
	Chart  string  `json:"chart"`
	Images []Image `json:"images"`
	// Externals are the external interfaces it uses.
	Externals []string `json:"externals"`
	// Provides and Consumes are the internal interfaces (Services) of the
	// catalog it serves and connects to.
	Provides []string `json:"provides"`
	Consumes []string `json:"consumes"`
}

// Inventory lists every workload of a render, in stream order, with its
// images (init containers first), subchart, chart version and interfaces.
// The catalog (the stream's, or the file at catalogPath) supplies the
// interfaces; without one they come from the externals annotations only.
// When image is not empty, only workloads running an image whose reference
// contains it are listed, with those images only.
func Inventory(nodes []*yaml.RNode, catalogPath, image string) ([]Workload, error) {
	info, err := release.Find(nodes, catalogPath)
	if err != nil {
		return nil, err
	}
	var r *Release
	if info != nil {
		r = Resolve(info)
	}
	out := []Workload{}
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		containers := manifest.Containers(spec)
		if spec == nil || len(containers) == 0 {
			continue
		}
		w := Workload{Kind: n.GetKind(), Name: n.GetName(), Namespace: n.GetNamespace(),
			Images: []Image{}, Externals: []string{}, Provides: []string{}, Consumes: []string{}}
		ann := n.GetAnnotations()
		w.Subchart = ann[provenance.ComponentAnnotation]
		if w.Subchart == "" {
			if src := manifest.Source(n); src != "" {
				w.Subchart = manifest.ParseSource(src).Component()
			}
		}
		w.Chart = ann[provenance.ChartAnnotation]
		if w.Chart == "" {
			w.Chart = n.GetLabels()["helm.sh/chart"]
		}
		inits := map[*yaml.Node]bool{}
		if l := manifest.Field(spec, "initContainers"); l != nil {
			for _, c := range l.Content {
				inits[c] = true
			}
		}
		for _, c := range containers {
			ref := ""
			if f := manifest.Field(c, "image"); f != nil {
				ref = f.Value
			}
			if image != "" && !strings.Contains(ref, image) {
				continue
			}
			img := ParseImage(ref)
			if f := manifest.Field(c, "name"); f != nil {
				img.Container = f.Value
			}
			img.Init = inits[c]
			w.Images = append(w.Images, img)
		}
		if len(w.Images) == 0 {
			continue
		}
		if s := ann[ExternalsAnnotation]; s != "" {
			w.Externals = strings.Split(s, ",")
		}
		if r != nil {
			if len(w.Externals) == 0 {
				for _, u := range r.Uses(n) {
					w.Externals = append(w.Externals, u.Name)
				}
			}
			if comp, ok := r.Component(n); ok {
				w.Component = comp
				for _, name := range slices.Sorted(maps.Keys(info.Catalog.Interfaces)) {
					i := info.Catalog.Interfaces[name]
					if ext, ok := r.Interface(info.Catalog.Components[i.Provider].FixtureFor); ok && ext.Status == StatusConfigured {
						continue // the site's endpoint replaces this fixture's Service
					}
					if i.Provider == comp {
						w.Provides = append(w.Provides, name)
					}
					for _, c := range i.Consumers {
						if c == comp {
							w.Consumes = append(w.Consumes, name)
						}
					}
				}
			}
		}
		sort.Strings(w.Externals)
		out = append(out, w)
	}
	return out, nil
}

// ParseImage splits an image reference into repository, tag and digest.
func ParseImage(ref string) Image {
	img := Image{Image: ref}
	rest := ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		img.Digest = rest[i+1:]
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		img.Tag = rest[i+1:]
		rest = rest[:i]
	}
	img.Repository = rest
	return img
}
