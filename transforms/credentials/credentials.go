// Package credentials finds the values of a release's declared credentials
// in its rendered manifests, so that transforms can replace them by Secret
// references and guards can prove none is left in plain text. A value found
// here is never put into an error message.
package credentials

import (
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/internal/redact"
	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// MinEmbedded is the shortest value searched for inside longer strings.
// Shorter values are only matched whole: a short substring match would
// flag unrelated text.
const MinEmbedded = 8

// Credential is a declared credential with the values found for it.
type Credential struct {
	Name       string
	SecretName string
	Key        string
	// Values are the distinct values found, longest first (so a rewrite
	// replaces a value before any value it contains).
	Values []string
}

// EnvName is the environment variable dpps-render inserts to carry the
// credential into a container: DPPS_CRED_RUCIO_DB_PASSWORD.
func (c Credential) EnvName() string {
	return "DPPS_CRED_" + strings.ToUpper(strings.ReplaceAll(c.Name, "-", "_"))
}

// Set is every declared credential of a release, sorted by name.
type Set []Credential

// Find returns the declared credentials with their values: from each
// credential's own Secret in the stream, from the catalog's detect patterns
// anywhere in the stream, and from its locations.
func Find(nodes []*yaml.RNode, cat *catalog.Catalog) (Set, error) {
	secrets := map[string]map[string]string{}
	for _, n := range nodes {
		if manifest.Kind(n) == "Secret" {
			secrets[n.GetName()] = SecretData(n)
		}
	}
	names := slices.Sorted(maps.Keys(cat.Credentials))
	set := make(Set, 0, len(names))
	for _, name := range names {
		decl := cat.Credentials[name]
		c := Credential{Name: name, SecretName: decl.SecretName, Key: decl.Key}
		values := map[string]bool{}
		if v := secrets[decl.SecretName][decl.Key]; IsValue(v) {
			values[v] = true
		}
		for _, pattern := range decl.Detect {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return nil, err // catalog.Validate compiled it already
			}
			detect(nodes, re, values)
		}
		for i, l := range decl.Locations {
			if err := read(nodes, l, values); err != nil {
				return nil, fmt.Errorf("credentials.%s.locations[%d]: %w", name, i, err)
			}
		}
		for v := range values {
			c.Values = append(c.Values, v)
		}
		sort.Slice(c.Values, func(i, j int) bool {
			if len(c.Values[i]) != len(c.Values[j]) {
				return len(c.Values[i]) > len(c.Values[j])
			}
			return c.Values[i] < c.Values[j]
		})
		// Whatever dpps-render prints from now on hides these values.
		for _, v := range c.Values {
			redact.Process.Add(name, v)
		}
		set = append(set, c)
	}
	return set, nil
}

func detect(nodes []*yaml.RNode, re *regexp.Regexp, into map[string]bool) {
	capture := func(text string) {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if IsValue(m[1]) {
				into[m[1]] = true
			}
		}
	}
	for _, n := range nodes {
		if manifest.Kind(n) == "Secret" {
			for _, v := range SecretData(n) {
				capture(v)
			}
			continue
		}
		manifest.WalkScalars(n.YNode(), "", func(_ string, s *yaml.Node) { capture(s.Value) })
	}
}

// varRef is a Kubernetes dependent environment variable reference, $(VAR),
// as secretrefs writes them and the kubelet expands them in env values,
// command and args.
var varRef = regexp.MustCompile(`\$\([A-Za-z_][A-Za-z0-9_.-]*\)`)

// IsValue reports whether text can be a credential's value: it is not empty
// and not only $(VAR) references. A reference is what secretrefs leaves in
// place of a value; taking it for the value would make every rewrite look
// like a credential in plain text.
func IsValue(text string) bool {
	return strings.TrimSpace(varRef.ReplaceAllString(text, "")) != ""
}

// SecretData returns a Secret's data, base64-decoded, merged with its
// stringData (which wins, as the API server does).
func SecretData(secret *yaml.RNode) map[string]string {
	out := map[string]string{}
	obj := secret.YNode()
	if data := manifest.Field(obj, "data"); data != nil && data.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(data.Content); i += 2 {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data.Content[i+1].Value)); err == nil {
				out[data.Content[i].Value] = string(b)
			}
		}
	}
	if sd := manifest.Field(obj, "stringData"); sd != nil && sd.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(sd.Content); i += 2 {
			out[sd.Content[i].Value] = sd.Content[i+1].Value
		}
	}
	return out
}

// Match says which credential a string holds: whole (the string is the
// value) or embedded (the value is inside it). ok is false for neither.
func (s Set) Match(text string) (c Credential, whole, ok bool) {
	for _, c := range s {
		for _, v := range c.Values {
			if text == v {
				return c, true, true
			}
			if len(v) >= MinEmbedded && strings.Contains(text, v) {
				return c, false, true
			}
		}
	}
	return Credential{}, false, false
}

// Known reports whether any credential has a value to look for.
func (s Set) Known() bool {
	for _, c := range s {
		if len(c.Values) > 0 {
			return true
		}
	}
	return false
}
