// Package upgrade compares two rendered streams of a release, the one
// running and the candidate, and reports what a `helm upgrade` from one to
// the other would break: changes Kubernetes refuses (immutable fields), data
// it would lose, consumers it would cut off, and a readable summary of
// everything else that changes. Credential values are never reported.
package upgrade

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// Category is the kind of a finding.
type Category string

// The categories of findings; every one fails the check.
const (
	// Refused: the API server rejects the update (an immutable field).
	Refused Category = "refused"
	// DataLoss: the upgrade deletes or orphans data.
	DataLoss Category = "data-loss"
	// ConsumerBreak: a consumer still points at what the candidate renamed.
	ConsumerBreak Category = "consumer-break"
)

// KeepPolicy is the annotation that makes Helm leave an object behind.
const KeepPolicy = "helm.sh/resource-policy"

// Finding is one problem of the upgrade.
type Finding struct {
	Category Category `json:"category"`
	Rule     string   `json:"rule"`
	// Object is "Kind name" (namespace/name when namespaced).
	Object  string `json:"object"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s: %s", strings.ToUpper(string(f.Category)), f.Object, f.Rule)
	if f.Path != "" {
		s += " " + f.Path
	}
	return s + ": " + f.Message
}

// Op says how a field or object changed.
type Op string

// The operations of a change.
const (
	Added   Op = "added"
	Removed Op = "removed"
	Changed Op = "changed"
)

// Field is one changed field path of an object. Old and New are the
// values shown, empty when redacted or not applicable.
type Field struct {
	Op   Op     `json:"op"`
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Change is what changed of one object.
type Change struct {
	Op     Op      `json:"op"`
	Object string  `json:"object"`
	Fields []Field `json:"fields,omitempty"`
}

// Report is the result of Compare.
type Report struct {
	Old      int       `json:"oldObjects"`
	New      int       `json:"newObjects"`
	Catalog  string    `json:"catalog,omitempty"`
	Findings []Finding `json:"findings"`
	Changes  []Change  `json:"changes"`
	// Unchanged counts objects equal in both.
	Unchanged int  `json:"unchanged"`
	OK        bool `json:"ok"`
}

// Count returns the number of findings of a category.
func (r *Report) Count(c Category) int {
	n := 0
	for _, f := range r.Findings {
		if f.Category == c {
			n++
		}
	}
	return n
}

// object is one object of a stream.
type object struct {
	node *yaml.RNode
	kind string
	ns   string
	name string
	m    map[string]any
}

func (o *object) key() string { return o.kind + "/" + o.ns + "/" + o.name }

func (o *object) String() string {
	if o.ns != "" {
		return o.kind + " " + o.ns + "/" + o.name
	}
	return o.kind + " " + o.name
}

type stream struct {
	list  []*object
	byKey map[string]*object
	info  *release.Info
	nodes []*yaml.RNode
}

func load(nodes []*yaml.RNode, which string) (*stream, error) {
	s := &stream{byKey: map[string]*object{}, nodes: nodes}
	for _, n := range nodes {
		m, err := n.Map()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", which, manifest.Describe(n), err)
		}
		o := &object{node: n, kind: n.GetKind(), ns: n.GetNamespace(), name: n.GetName(), m: m}
		if _, dup := s.byKey[o.key()]; dup {
			return nil, fmt.Errorf("%s: %s appears twice", which, o)
		}
		s.byKey[o.key()] = o
		s.list = append(s.list, o)
	}
	info, err := release.Find(nodes, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", which, err)
	}
	s.info = info
	return s, nil
}

func (s *stream) catalog() *catalog.Catalog {
	if s.info == nil {
		return nil
	}
	return s.info.Catalog
}

// Compare compares the stream of the running release (old) with the
// candidate's (new). The catalog of the candidate's stream (or the file
// catalogPath) names the interfaces, shared objects and credentials.
func Compare(oldNodes, newNodes []*yaml.RNode, catalogPath string) (*Report, error) {
	olds, err := load(oldNodes, "OLD")
	if err != nil {
		return nil, err
	}
	news, err := load(newNodes, "NEW")
	if err != nil {
		return nil, err
	}
	if catalogPath != "" {
		info, err := release.FromFile(catalogPath)
		if err != nil {
			return nil, err
		}
		news.info = info
		if olds.info == nil {
			olds.info = info
		}
	}
	c := &comparison{old: olds, new: news, rep: &Report{Old: len(olds.list), New: len(news.list)}}
	for _, s := range []*stream{olds, news} {
		if cat := s.catalog(); cat != nil {
			found, err := credentials.Find(s.nodes, cat)
			if err != nil {
				return nil, err
			}
			c.creds = append(c.creds, found...)
		}
	}
	if news.info != nil {
		c.rep.Catalog = news.info.Origin
	}
	c.run()
	sortFindings(c.rep.Findings)
	c.rep.OK = len(c.rep.Findings) == 0
	if c.rep.Findings == nil {
		c.rep.Findings = []Finding{}
	}
	if c.rep.Changes == nil {
		c.rep.Changes = []Change{}
	}
	return c.rep, nil
}

type comparison struct {
	old, new *stream
	rep      *Report
	// credKeys are the Secret keys that hold credentials, by Secret name,
	// from both catalogs.
	credKeys map[string]map[string]bool
	// renamed are credential Secrets already reported by credentials.
	renamed map[string]bool
	// creds are the declared credentials with the values found in either
	// stream: a field holding one is never shown.
	creds credentials.Set
}

func (c *comparison) add(cat Category, rule string, o *object, path, format string, args ...any) {
	c.rep.Findings = append(c.rep.Findings, Finding{Category: cat, Rule: rule, Object: o.String(), Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *comparison) run() {
	c.credKeys = map[string]map[string]bool{}
	c.renamed = map[string]bool{}
	for _, s := range []*stream{c.old, c.new} {
		if cat := s.catalog(); cat != nil {
			for _, cr := range cat.Credentials {
				if c.credKeys[cr.SecretName] == nil {
					c.credKeys[cr.SecretName] = map[string]bool{}
				}
				c.credKeys[cr.SecretName][cr.Key] = true
			}
		}
	}
	c.credentials()
	for _, o := range c.old.list {
		n := c.new.byKey[o.key()]
		if n == nil {
			c.removed(o)
			c.rep.Changes = append(c.rep.Changes, Change{Op: Removed, Object: o.String()})
			continue
		}
		c.immutable(o, n)
		c.lost(o, n)
		fields := c.diff(o, n)
		if len(fields) == 0 {
			c.rep.Unchanged++
			continue
		}
		c.rep.Changes = append(c.rep.Changes, Change{Op: Changed, Object: o.String(), Fields: fields})
	}
	for _, n := range c.new.list {
		if c.old.byKey[n.key()] == nil {
			c.rep.Changes = append(c.rep.Changes, Change{Op: Added, Object: n.String()})
		}
	}
	c.consumers()
	c.interfaces()
}

func sortFindings(fs []Finding) {
	order := map[Category]int{Refused: 0, DataLoss: 1, ConsumerBreak: 2}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Category != fs[j].Category {
			return order[fs[i].Category] < order[fs[j].Category]
		}
		if fs[i].Object != fs[j].Object {
			return fs[i].Object < fs[j].Object
		}
		return fs[i].Path < fs[j].Path
	})
}
