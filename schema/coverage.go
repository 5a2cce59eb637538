package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Coverage is how much of a chart's defaults its values schemas type.
type Coverage struct {
	// Values counts the values in the chart's defaults, coalesced as Helm
	// does (the umbrella's values.yaml and every subchart's): scalars,
	// empty mappings and empty lists, each list element counted.
	Values int
	// Typed counts those whose type the schemas fix: the umbrella's
	// schema and, under a subchart's key, the subchart's own.
	Typed int
	// Untyped are the JSON pointers of the others, in file order.
	Untyped []string
}

// String is "values typed: T of V (P%)".
func (c Coverage) String() string {
	pct := 100.0
	if c.Values > 0 {
		pct = 100 * float64(c.Typed) / float64(c.Values)
	}
	return fmt.Sprintf("values typed: %d of %d (%.1f%%)", c.Typed, c.Values, pct)
}

// MeasureCoverage loads the chart at dir as Helm does and checks every value
// of its defaults against its schemas. It reads the schemas as JSON, apart
// from the code that generates them.
func MeasureCoverage(dir string) (Coverage, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return Coverage{}, err
	}
	vals, err := chartutil.CoalesceValues(chrt, map[string]any{})
	if err != nil {
		return Coverage{}, err
	}
	top, err := schemaDoc(chrt)
	if err != nil {
		return Coverage{}, err
	}
	subs := map[string]map[string]any{}
	for _, dep := range chrt.Dependencies() {
		if subs[dep.Name()], err = schemaDoc(dep); err != nil {
			return Coverage{}, err
		}
	}
	var c Coverage
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		switch t := v.(type) {
		case map[string]any:
			if len(t) > 0 {
				for _, k := range slices.Sorted(maps.Keys(t)) {
					// Helm copies global into each subchart: the copy is
					// counted once, under global.
					if len(path) == 1 && k == "global" && subs[path[0]] != nil {
						continue
					}
					walk(t[k], append(slices.Clone(path), k))
				}
				return
			}
		case []any:
			if len(t) > 0 {
				for i, e := range t {
					walk(e, append(slices.Clone(path), strconv.Itoa(i)))
				}
				return
			}
		}
		c.Values++
		typed := typedAt(top, top, path)
		if sub := subs[path[0]]; sub != nil {
			typed = typed && typedAt(sub, sub, path[1:])
		}
		if typed {
			c.Typed++
		} else {
			c.Untyped = append(c.Untyped, pointer(path))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		walk(vals[k], []string{k})
	}
	return c, nil
}

func schemaDoc(c *chart.Chart) (map[string]any, error) {
	if c.Schema == nil {
		return nil, fmt.Errorf("chart %s has no values.schema.json", c.Name())
	}
	var doc map[string]any
	if err := json.Unmarshal(c.Schema, &doc); err != nil {
		return nil, fmt.Errorf("%s/values.schema.json: %w", c.Name(), err)
	}
	return doc, nil
}

// typedAt reports whether every schema that applies at path (through
// $ref, properties, additionalProperties, items and the branches of
// allOf/anyOf/oneOf) fixes the value's type with type, enum or const.
func typedAt(root, s map[string]any, path []string) bool {
	alts := expand(root, s)
	if len(path) == 0 {
		if len(alts) == 0 {
			return false
		}
		for _, a := range alts {
			if _, ok := a["type"]; ok {
				continue
			}
			if _, ok := a["enum"]; ok {
				continue
			}
			if _, ok := a["const"]; ok {
				continue
			}
			return false
		}
		return true
	}
	key := path[0]
	found := false
	for _, a := range alts {
		if _, ok := a["const"]; ok {
			found = true // the whole value is fixed
			continue
		}
		var next map[string]any
		if props, ok := a["properties"].(map[string]any); ok {
			next, _ = props[key].(map[string]any)
		}
		if next == nil {
			next, _ = a["additionalProperties"].(map[string]any)
		}
		if next == nil {
			if _, err := strconv.Atoi(key); err == nil {
				next, _ = a["items"].(map[string]any)
			}
		}
		if next == nil {
			continue
		}
		found = true
		if !typedAt(root, next, path[1:]) {
			return false
		}
	}
	return found
}

// expand resolves local $refs and flattens allOf/anyOf/oneOf into the
// schemas that apply; the branch that only holds keywords of its parent
// (a $ref with a description) counts once.
func expand(root, s map[string]any) []map[string]any {
	var out []map[string]any
	var visit func(s map[string]any, depth int)
	visit = func(s map[string]any, depth int) {
		if s == nil || depth > 32 {
			return
		}
		branches := false
		if ref, ok := s["$ref"].(string); ok {
			visit(lookupRef(root, ref), depth+1)
			branches = true
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			if list, ok := s[k].([]any); ok {
				for _, b := range list {
					m, _ := b.(map[string]any)
					visit(m, depth+1)
				}
				branches = true
			}
		}
		if !branches || hasAny(s, "type", "enum", "const", "properties", "additionalProperties", "items") {
			out = append(out, s)
		}
	}
	visit(s, 0)
	return out
}

func hasAny(s map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := s[k]; ok {
			return true
		}
	}
	return false
}

func lookupRef(root map[string]any, ref string) map[string]any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}
