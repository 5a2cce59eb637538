package externals

import (
	"cmp"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
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
	// Site names the render the workload comes from, when the renders are
	// named (inventory SITE=FILE ...).
	Site      string `json:"site,omitempty"`
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

	// mirror is the site's registry mirror ("host[:port][/path]"), when
	// the render declares one: ByImage groups the same image pulled
	// through different sites' mirrors.
	mirror string
}

// InventoryFilter selects the images Inventory lists; a zero field selects
// every image.
type InventoryFilter struct {
	// Image: the reference, as written, contains it.
	Image string
	// Digest: the image is pinned to exactly this digest ("sha256:...").
	Digest string
}

func (f InventoryFilter) match(img Image) bool {
	return strings.Contains(img.Image, f.Image) && (f.Digest == "" || img.Digest == f.Digest)
}

// Inventory lists every workload of a render, in stream order, with its
// images (init containers first), subchart, chart version and interfaces.
// The catalog (the stream's, or the file at catalogPath) supplies the
// interfaces; without one they come from the externals annotations only.
// When the filter selects images, only workloads running one are listed,
// with those images only.
func Inventory(nodes []*yaml.RNode, catalogPath string, filter InventoryFilter) ([]Workload, error) {
	info, err := release.Find(nodes, catalogPath)
	if err != nil {
		return nil, err
	}
	var r *Release
	mirror := ""
	if info != nil {
		r = Resolve(info)
		if m, _, ok := siteMirror(r); ok {
			mirror = m.spec
		}
	}
	out := []Workload{}
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		containers := manifest.Containers(spec)
		if spec == nil || len(containers) == 0 {
			continue
		}
		w := Workload{Kind: n.GetKind(), Name: n.GetName(), Namespace: n.GetNamespace(),
			Images: []Image{}, Externals: []string{}, Provides: []string{}, Consumes: []string{}, mirror: mirror}
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
			img := ParseImage(ref)
			if !filter.match(img) {
				continue
			}
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

// ImageUse is one image and where it runs: the answer to "which sites,
// systems and chart versions run image X".
type ImageUse struct {
	// Image is the repository path and tag with the registry left out
	// ("rucio/rucio-server:release-40.0.0"): the site's mirror when the
	// render declares one and the image is under it, else the reference's
	// own registry (Docker Hub's "library/" made explicit). The same image
	// pulled through six sites' mirrors is one ImageUse.
	Image string `json:"image"`
	// Digest is the pinned digest, when there is one: the same tag with
	// another digest is another ImageUse.
	Digest string `json:"digest,omitempty"`
	// Sites, in the order of the renders; empty for an unnamed render.
	Sites []string `json:"sites"`
	// Systems are "subchart/component" (the subchart alone for a workload
	// of no catalog component; "Kind/name" without either), sorted.
	Systems []string `json:"systems"`
	// Charts are the "<chart>-<version>" of the workloads, sorted; a
	// workload without one (no provenance, no helm.sh/chart) adds none.
	Charts []string `json:"charts"`
	// Uses are the containers running it, in the order of the renders.
	Uses []ImageRef `json:"uses"`

	unknownChart bool
}

// ImageRef is one container running an image.
type ImageRef struct {
	Site      string `json:"site,omitempty"`
	Workload  string `json:"workload"`
	Container string `json:"container"`
	System    string `json:"system"`
	Chart     string `json:"chart,omitempty"`
	// Reference is the image as written.
	Reference string `json:"reference"`
}

// ByImage groups the images of workloads (the inventories of one or
// several renders) by image, sorted by image and digest.
func ByImage(ws []Workload) []ImageUse {
	type key struct{ image, digest string }
	byKey := map[key]*ImageUse{}
	for _, w := range ws {
		system := w.System()
		for _, img := range w.Images {
			k := key{img.Path(w.mirror), img.Digest}
			if img.Tag != "" {
				k.image += ":" + img.Tag
			}
			u := byKey[k]
			if u == nil {
				u = &ImageUse{Image: k.image, Digest: k.digest, Sites: []string{}, Systems: []string{}, Charts: []string{}}
				byKey[k] = u
			}
			if w.Site != "" && !slices.Contains(u.Sites, w.Site) {
				u.Sites = append(u.Sites, w.Site)
			}
			if !slices.Contains(u.Systems, system) {
				u.Systems = append(u.Systems, system)
			}
			if w.Chart == "" {
				u.unknownChart = true
			} else if !slices.Contains(u.Charts, w.Chart) {
				u.Charts = append(u.Charts, w.Chart)
			}
			u.Uses = append(u.Uses, ImageRef{Site: w.Site, Workload: w.Kind + "/" + w.Name,
				Container: img.Container, System: system, Chart: w.Chart, Reference: img.Image})
		}
	}
	out := make([]ImageUse, 0, len(byKey))
	for _, k := range slices.SortedFunc(maps.Keys(byKey), func(a, b key) int {
		return cmp.Or(strings.Compare(a.image, b.image), strings.Compare(a.digest, b.digest))
	}) {
		u := byKey[k]
		sort.Strings(u.Systems)
		sort.Strings(u.Charts)
		out = append(out, *u)
	}
	return out
}

// System is the workload's system: "subchart/component", the subchart
// alone when it is no catalog component's, or "Kind/name" when neither is
// known.
func (w Workload) System() string {
	switch {
	case w.Subchart != "" && w.Component != "":
		return w.Subchart + "/" + w.Component
	case w.Subchart != "":
		return w.Subchart
	case w.Component != "":
		return w.Component
	}
	return w.Kind + "/" + w.Name
}

// Path is the image's repository path without its registry: with mirror
// ("host[:port][/path]", the site's registry) left out when the image is
// under it, else the reference's own registry, Docker Hub's implicit
// "library/" made explicit ("busybox" is "library/busybox"). A reference
// that does not parse is returned as written.
func (img Image) Path(mirror string) string {
	if mirror != "" {
		if p, ok := strings.CutPrefix(img.Repository, strings.TrimSuffix(mirror, "/")+"/"); ok {
			return p
		}
	}
	repo, err := name.NewRepository(img.Repository)
	if err != nil {
		return img.Repository
	}
	return repo.RepositoryStr()
}
