package upgrade

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// leaf is a flattened value: a scalar, or "{}"/"[]" for an empty map or list.
type leaf struct {
	v     any
	empty string
}

// flatten maps every leaf of v to its field path.
func flatten(v any, path string, out map[string]leaf) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[path] = leaf{empty: "{}"}
			return
		}
		for k, e := range x {
			flatten(e, join(path, k), out)
		}
	case []any:
		if len(x) == 0 {
			out[path] = leaf{empty: "[]"}
			return
		}
		byName := true
		names := map[string]bool{}
		for _, e := range x {
			m, ok := e.(map[string]any)
			n, isStr := m["name"].(string)
			if !ok || !isStr || n == "" || names[n] {
				byName = false
				break
			}
			names[n] = true
		}
		for i, e := range x {
			el := "[" + strconv.Itoa(i) + "]"
			if byName {
				el = "[" + e.(map[string]any)["name"].(string) + "]"
			}
			flatten(e, path+el, out)
		}
	default:
		out[path] = leaf{v: x}
	}
}

// join appends a key to a path; keys with dots or slashes (labels,
// annotations, file names) are bracketed so the path stays readable.
func join(path, key string) string {
	if strings.ContainsAny(key, "./ ") {
		return path + "[" + key + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// secretEnv matches the names of env variables whose values are secret.
var secretEnv = regexp.MustCompile(`(?i)(pass|pwd|secret|token|credential|private|apikey|api_key)`)

// envValue matches a container env value path and captures the name.
var envValue = regexp.MustCompile(`\.env\[([^\]]+)\]\.value$`)

// hidden reports whether a path's values must not be shown.
func (c *comparison) hidden(o *object, path string) bool {
	if o.kind == "Secret" && (strings.HasPrefix(path, "data") || strings.HasPrefix(path, "stringData")) {
		return true
	}
	if o.kind == "ExternalSecret" && strings.HasPrefix(path, "spec.data") {
		return false
	}
	if m := envValue.FindStringSubmatch(path); m != nil && secretEnv.MatchString(m[1]) {
		return true
	}
	return false
}

// holdsCredential reports whether a leaf holds a declared credential's
// value, whole or embedded (a DSN in a config file).
func (c *comparison) holdsCredential(l leaf) bool {
	s, ok := l.v.(string)
	if !ok {
		return false
	}
	_, _, found := c.creds.Match(s)
	return found
}

// diff lists the changed fields of an object in both streams, sorted by path.
func (c *comparison) diff(o, n *object) []Field {
	om, nm := map[string]leaf{}, map[string]leaf{}
	flatten(o.m, "", om)
	flatten(n.m, "", nm)
	var out []Field
	for p, ov := range om {
		nv, ok := nm[p]
		hide := c.hidden(o, p) || c.holdsCredential(ov) || (ok && c.holdsCredential(nv))
		switch {
		case !ok:
			out = append(out, Field{Op: Removed, Path: p, Old: value(ov, hide)})
		case !same(ov, nv):
			f := Field{Op: Changed, Path: p, Old: value(ov, hide), New: value(nv, hide)}
			if hide {
				f.Old, f.New = "", ""
			}
			out = append(out, f)
		}
	}
	for p, nv := range nm {
		if _, ok := om[p]; !ok {
			out = append(out, Field{Op: Added, Path: p, New: value(nv, c.hidden(n, p) || c.holdsCredential(nv))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// value renders a leaf for the report: short scalars quoted, long or
// multi-line text summarised, hidden values empty.
func value(l leaf, hide bool) string {
	if hide {
		return ""
	}
	if l.empty != "" {
		return l.empty
	}
	s, isStr := l.v.(string)
	if !isStr {
		if l.v == nil {
			return "null"
		}
		return fmt.Sprint(l.v)
	}
	if n := strings.Count(strings.TrimSuffix(s, "\n"), "\n"); n > 0 {
		return fmt.Sprintf("(text, %d lines)", n+1)
	}
	if len(s) > 60 {
		return strconv.Quote(s[:57]) + "..."
	}
	return strconv.Quote(s)
}
