// Package imagelock pins container images by digest from a lock file: the
// file format, the images of a rendered stream, and the transform that
// rewrites each image reference to "registry/repository:tag@sha256:...".
// Nothing here contacts a registry: resolving tags to digests is the
// "dpps-render images lock" command's (internal/imageresolve).
package imagelock

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/boundedfile"
	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// APIVersion and Kind head a lock file.
const (
	APIVersion = "dpps.ctao.org/v1alpha1"
	Kind       = "ImageLock"
)

// Entry is one image of a lock: the reference as the render writes it,
// without a digest, and the digest it resolved to.
type Entry struct {
	Image  string `json:"image"`
	Digest string `json:"digest"`
}

// Lock is a lock file.
type Lock struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Images     []Entry `json:"images"`
}

// digestRE is the digest a lock records: sha256, as registries serve it.
var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Parse reads a lock file; name is how errors refer to it. It refuses
// unknown fields, a wrong header, an image without digest or written
// twice, and a digest that is not sha256.
func Parse(name string, data []byte) (*Lock, error) {
	var l Lock
	if err := yaml.UnmarshalStrict(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if l.APIVersion != APIVersion || l.Kind != Kind {
		return nil, fmt.Errorf("%s: not an image lock: want apiVersion %s and kind %s, as 'dpps-render images lock' writes", name, APIVersion, Kind)
	}
	seen := map[string]bool{}
	for i, e := range l.Images {
		switch {
		case e.Image == "":
			return nil, fmt.Errorf("%s: images[%d] has no image", name, i)
		case strings.Contains(e.Image, "@"):
			return nil, fmt.Errorf("%s: images[%d]: image %q carries a digest: write it without, the digest goes in digest", name, i, e.Image)
		case !digestRE.MatchString(e.Digest):
			return nil, fmt.Errorf("%s: images[%d] (%s): digest %q is not sha256:<64 hex digits>", name, i, e.Image, e.Digest)
		case seen[e.Image]:
			return nil, fmt.Errorf("%s: image %q is locked twice", name, e.Image)
		}
		seen[e.Image] = true
	}
	return &l, nil
}

// Read reads and parses the lock file at path.
func Read(path string) (*Lock, error) {
	data, err := boundedfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("image lock: %w", err)
	}
	return Parse(path, data)
}

// Digests maps each locked image to its digest.
func (l *Lock) Digests() map[string]string {
	m := make(map[string]string, len(l.Images))
	for _, e := range l.Images {
		m[e.Image] = e.Digest
	}
	return m
}

// header opens every lock file written.
const header = `# Image lock written by "dpps-render images lock": the digest each image
# tag resolved to. Render with "dpps-render --image-lock FILE" to pin every
# image by digest; "dpps-render images lock --check FILE" reports tags that
# moved since.
`

// Marshal writes a lock of entries, sorted by image.
func Marshal(entries []Entry) []byte {
	sorted := append([]Entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Image < sorted[j].Image })
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\n", APIVersion, Kind)
	if len(sorted) == 0 {
		b.WriteString("images: []\n")
		return b.Bytes()
	}
	b.WriteString("images:\n")
	for _, e := range sorted {
		// Quoted: a reference is a plain string, but a tag such as 1.10
		// must not read back as a number.
		fmt.Fprintf(&b, "- image: %q\n  digest: %s\n", e.Image, e.Digest)
	}
	return b.Bytes()
}

// Use is one container's image in a rendered stream.
type Use struct {
	// Object names the object: "Deployment x (template)".
	Object string
	// Container is the container's name, Field its image's field path.
	Container, Field string
	// Ref is the reference as written.
	Ref  string
	node *kyaml.Node
	obj  *kyaml.RNode
}

// IsHook says whether the image's object is a Helm hook (helm.sh/hook).
func (u Use) IsHook() bool {
	return u.obj.GetAnnotations()[manifest.HookAnnotation] != ""
}

// lockState is how an image reference stands against a lock.
type lockState int

const (
	pinnedAsLocked lockState = iota // carries the locked digest
	tagOnly                         // locked, written without a digest
	otherDigest                     // written with another digest than the lock's
	notLocked                       // the lock does not know it
)

// against compares the use's reference with the lock's digests: the
// reference without its digest, the digest written (or ""), the locked one
// (or ""), and the verdict.
func (u Use) against(digests map[string]string) (image, written, want string, st lockState) {
	image, written = Split(u.Ref)
	want, ok := digests[image]
	switch {
	case !ok:
		st = notLocked
	case written == "":
		st = tagOnly
	case written != want:
		st = otherDigest
	}
	return image, written, want, st
}

// where names the use's object, container and field.
func (u Use) where() string {
	return fmt.Sprintf("%s: container %s %s", u.Object, u.Container, u.Field)
}

// Split splits a reference into the part a lock keys on (the reference
// without its digest) and its digest ("" when it has none).
func Split(ref string) (image, digest string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// Uses lists every container image of the stream, in stream order: the
// init containers, containers and ephemeral containers of every pod
// template (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
// CronJob, PodTemplate), hooks and test pods included.
func Uses(nodes []*kyaml.RNode) []Use {
	var out []Use
	for _, n := range nodes {
		for _, c := range manifest.ContainerImages(n.YNode()) {
			if c.Node.Value == "" {
				continue
			}
			out = append(out, Use{Object: manifest.Describe(n), Container: c.Container, Field: c.Field, Ref: c.Node.Value, node: c.Node, obj: n})
		}
	}
	return out
}

// Filter is the imagelock transform: with a lock, every image reference
// is rewritten to its locked digest; an image the lock does not know, or
// one whose digest differs from the lock's, fails the run. Without a lock
// it changes nothing.
type Filter struct {
	// LockFile is the lock's path ("": no lock).
	LockFile string
	changed  int
}

var _ kio.Filter = (*Filter)(nil)

// New returns the transform for the lock file at path.
func New(path string) *Filter { return &Filter{LockFile: path} }

// Changed is the number of objects the last run modified.
func (f *Filter) Changed() int { return f.changed }

// Filter rewrites the images of the stream in place.
func (f *Filter) Filter(nodes []*kyaml.RNode) ([]*kyaml.RNode, error) {
	f.changed = 0
	if f.LockFile == "" {
		return nodes, nil
	}
	lock, err := Read(f.LockFile)
	if err != nil {
		return nil, err
	}
	digests := lock.Digests()
	changed := map[*kyaml.RNode]bool{}
	var problems []string
	for _, u := range Uses(nodes) {
		image, written, want, st := u.against(digests)
		switch st {
		case notLocked:
			problems = append(problems, fmt.Sprintf("%s: image %q is not in the image lock %s: the chart or the values changed since the lock, or its tag was never resolved; re-run 'dpps-render images lock' on this render", u.where(), u.Ref, f.LockFile))
			continue
		case otherDigest:
			problems = append(problems, fmt.Sprintf("%s: image %q carries digest %s, the image lock %s has %s for %s: fix the values or re-run 'dpps-render images lock' on this render", u.where(), u.Ref, written, f.LockFile, want, image))
			continue
		}
		if pinned := image + "@" + want; u.node.Value != pinned {
			u.node.Value = pinned
			u.node.Style = 0
			u.node.Tag = "!!str"
			changed[u.obj] = true
		}
	}
	if len(problems) > 0 {
		more := ""
		if len(problems) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(problems)-1)
		}
		return nil, fmt.Errorf("%s%s", problems[0], more)
	}
	f.changed = len(changed)
	return nodes, nil
}

// Unpinned lists, one line each, the container images of uses that do not
// carry their locked digest: for the objects that are not post-rendered
// (Helm 3's hooks), which run the image as written. lockFile names the lock
// in the lines.
func Unpinned(uses []Use, lock *Lock, lockFile string) []string {
	digests := lock.Digests()
	var out []string
	for _, u := range uses {
		image, written, want, st := u.against(digests)
		where := fmt.Sprintf("%s: image %q", u.where(), u.Ref)
		switch st {
		case notLocked:
			out = append(out, fmt.Sprintf("%s is not in the image lock %s and is not post-rendered: re-run 'dpps-render images lock' on the whole render, hooks included, and set the image to %s@<digest> in the values", where, lockFile, image))
		case tagOnly:
			out = append(out, fmt.Sprintf("%s is not post-rendered, so the lock cannot pin it: set the image to %s@%s in the values", where, image, want))
		case otherDigest:
			out = append(out, fmt.Sprintf("%s carries digest %s, the image lock %s has %s: fix the values or re-run 'dpps-render images lock'", where, written, lockFile, want))
		}
	}
	return out
}
