package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Skeleton writes a new site values file, to be named file, from the
// chart's values schema: the yaml-language-server modeline naming
// schemaRef (the schema's path relative to the file), then every key of
// global and the "enabled" switches of the other top-level keys, commented
// out, each after its description, its type and default and, for an
// external interface, what stands in for it while the site leaves it
// unset.
//
// Every line after the header starts with "# ": removing that from a
// block of lines gives valid YAML, comments included. As written the file
// sets nothing, so it is valid values: a key left out keeps the chart's
// default.
func Skeleton(schemaJSON []byte, schemaRef, chartDir, file string) ([]byte, error) {
	root, err := decodeOrdered(schemaJSON)
	if err != nil {
		return nil, fmt.Errorf("values.schema.json: %w", err)
	}
	top, ok := root.(*object)
	if !ok {
		return nil, fmt.Errorf("values.schema.json: not a JSON object")
	}
	sk := &skeleton{root: top}
	fmt.Fprintf(&sk.b, "# yaml-language-server: $schema=%s\n", schemaRef)
	title, _ := top.get("title").(string)
	fmt.Fprintf(&sk.b, "# %s for one site, from %s/values.schema.json\n", title, chartDir)
	sk.b.WriteString(`# (dpps-schemagen init). Every key is commented out: a key left out keeps
# the chart's default. To set a key, remove the first "# " of its lines and
# of its parents' lines; then check the file:
#   dpps-schemagen lint -f ` + file + ` && helm lint ` + chartDir + ` -f ` + file + `
# "<...>" marks a value to fill in; "(required)" a key its parent must have.
`)
	props, _ := top.get("properties").(*object)
	if props == nil {
		return nil, fmt.Errorf("values.schema.json: no properties")
	}
	for _, k := range props.keys {
		if k == "$schema" {
			continue // the modeline names the schema
		}
		sk.b.WriteString("#\n")
		// global is the site's: every key. A subchart's own settings
		// (images, resources, ...) have working defaults: only its
		// switches are spelt out.
		sk.togglesOnly = k != "global"
		sk.property(k, props.vals[k], false, "", 0)
	}
	if sk.err != nil {
		return nil, sk.err
	}
	return sk.b.Bytes(), nil
}

type skeleton struct {
	root *object
	b    bytes.Buffer
	err  error
	// togglesOnly limits objects to their "enabled" switches and the
	// objects that hold some.
	togglesOnly bool
}

// maxDepth bounds the nesting the skeleton spells out.
const maxDepth = 12

// resolve follows local $refs; the referring node's keywords (its
// description, its default) win over the definition's.
func (sk *skeleton) resolve(n *object) (*object, string) {
	for i := 0; i < 10; i++ {
		ref, ok := n.get("$ref").(string)
		if !ok {
			break
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := sk.root.get("$defs").(*object)
		var def *object
		if ok && defs != nil {
			def, _ = defs.get(name).(*object)
		}
		if def == nil {
			sk.err = fmt.Errorf("values.schema.json: cannot resolve $ref %q", ref)
			break
		}
		merged := &object{vals: map[string]any{}}
		for _, o := range []*object{def, n} {
			for _, k := range o.keys {
				if k == "$ref" && o == n {
					continue
				}
				if _, dup := merged.vals[k]; !dup {
					merged.keys = append(merged.keys, k)
				}
				merged.vals[k] = o.vals[k]
			}
		}
		n = merged
	}
	desc, _ := n.get("description").(string)
	return n, desc
}

// property writes key and its value's skeleton at indent; item starts a
// sequence item ("- ").
func (sk *skeleton) property(key string, v any, required bool, indent string, depth int) {
	n, ok := v.(*object)
	if !ok {
		return
	}
	n, desc := sk.resolve(n)
	var notes []string
	if required {
		notes = append(notes, "(required)")
	}
	if ext, ok := n.get(ExternalKeyword).(*object); ok {
		notes = append(notes, externalNote(ext))
	}
	sk.comment(indent, desc, notes...)
	typ := schemaType(n)
	props, _ := n.get("properties").(*object)
	switch {
	case typ == "object" && props != nil && len(props.keys) > 0 && depth < maxDepth:
		fmt.Fprintf(&sk.b, "# %s%s:\n", indent, yamlKey(key))
		sk.properties(n, indent+"  ", depth+1)
	case typ == "array":
		items, _ := n.get("items").(*object)
		var item *object
		if items != nil {
			item, _ = sk.resolve(items)
		}
		if ip, _ := item.get("properties").(*object); item != nil && schemaType(item) == "object" && ip != nil && depth < maxDepth {
			fmt.Fprintf(&sk.b, "# %s%s:\n", indent, yamlKey(key))
			fmt.Fprintf(&sk.b, "# %s  -\n", indent)
			sk.properties(item, indent+"    ", depth+1)
			return
		}
		what := "[]"
		if item != nil {
			what = "[" + placeholder(item) + "]"
		}
		fmt.Fprintf(&sk.b, "# %s%s: %s\n", indent, yamlKey(key), what)
	default:
		fmt.Fprintf(&sk.b, "# %s%s: %s\n", indent, yamlKey(key), valueOf(n))
	}
}

func (sk *skeleton) properties(n *object, indent string, depth int) {
	props, _ := n.get("properties").(*object)
	req := map[string]bool{}
	if r, ok := n.get("required").([]any); ok {
		for _, x := range r {
			if s, ok := x.(string); ok {
				req[s] = true
			}
		}
	}
	var more []string
	for _, k := range props.keys {
		if sk.togglesOnly && !sk.hasToggle(k, props.vals[k], depth) {
			if k != "global" { // a subchart's copy of the top-level global
				more = append(more, k)
			}
			continue
		}
		sk.property(k, props.vals[k], req[k], indent, depth)
	}
	if len(more) > 0 {
		list := strings.Join(more, ", ")
		if len(more) > 6 {
			list = strings.Join(more[:6], ", ") + fmt.Sprintf(" and %d more", len(more)-6)
		}
		sk.comment(indent, "Also: "+list+" (their defaults work; an editor completes them).")
	}
}

// hasToggle reports whether the property is an "enabled" switch or an
// object that holds one.
func (sk *skeleton) hasToggle(key string, v any, depth int) bool {
	n, ok := v.(*object)
	if !ok || depth >= maxDepth {
		return false
	}
	n, _ = sk.resolve(n)
	if key == "enabled" && schemaType(n) == "boolean" {
		return true
	}
	props, _ := n.get("properties").(*object)
	if props == nil {
		return false
	}
	for _, k := range props.keys {
		if sk.hasToggle(k, props.vals[k], depth+1) {
			return true
		}
	}
	return false
}

// comment writes a description, wrapped, as YAML comments at indent.
func (sk *skeleton) comment(indent, desc string, notes ...string) {
	text := strings.Join(append([]string{desc}, notes...), " ")
	words := strings.Fields(text)
	if len(words) == 0 {
		return
	}
	prefix := "# " + indent + "# "
	line := prefix
	for _, w := range words {
		if len(line) > len(prefix) && len(line)+1+len(w) > 78 {
			sk.b.WriteString(line + "\n")
			line = prefix
		}
		if len(line) > len(prefix) {
			line += " "
		}
		line += w
	}
	sk.b.WriteString(line + "\n")
}

// externalNote says what an external interface is and what stands in for
// it while the site leaves it unset.
func externalNote(ext *object) string {
	var b strings.Builder
	dir, _ := ext.get("direction").(string)
	proto, _ := ext.get("protocol").(string)
	auth, _ := ext.get("auth").(string)
	fmt.Fprintf(&b, "External interface: %s %s, port %v, auth %s.", dir, proto, ext.get("port"), auth)
	if fx, ok := ext.get("fixture").(*object); ok {
		toggle, _ := fx.get("toggle").(string)
		var comps []string
		if cs, ok := fx.get("components").([]any); ok {
			for _, c := range cs {
				comps = append(comps, fmt.Sprint(c))
			}
		}
		fmt.Fprintf(&b, " Until the site sets it, the test fixture %s stands in; with %s: false the site must set it.",
			strings.Join(comps, ", "), toggle)
	}
	return b.String()
}

// schemaType is a node's JSON type; a node with a pattern or length bound
// and no type is a string.
func schemaType(n *object) string {
	if n == nil {
		return ""
	}
	if t, ok := n.get("type").(string); ok {
		return t
	}
	for _, k := range []string{"pattern", "minLength", "maxLength"} {
		if n.get(k) != nil {
			return "string"
		}
	}
	if n.get("properties") != nil || n.get("additionalProperties") != nil {
		return "object"
	}
	return ""
}

// valueOf is a scalar's default, written as YAML, else a placeholder.
func valueOf(n *object) string {
	if d, ok := n.has("default"); ok {
		if t, err := jsonText(plain(d)); err == nil {
			return t
		}
	}
	if schemaType(n) == "object" {
		return "{}"
	}
	return placeholder(n)
}

// placeholder marks a value to fill in, quoted: "<type>" or
// "<one of: a|b>".
func placeholder(n *object) string {
	p := "<value>"
	if e, ok := n.get("enum").([]any); ok {
		var s []string
		for _, x := range e {
			s = append(s, fmt.Sprint(x))
		}
		p = "<one of: " + strings.Join(s, "|") + ">"
	} else if t := schemaType(n); t != "" {
		p = "<" + t + ">"
	}
	t, _ := jsonText(p)
	return t
}

// jsonText is v as JSON, which YAML reads back as v; <, > and & stay as
// they are.
func jsonText(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// yamlKey quotes a key YAML would not read back as itself.
func yamlKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			t, _ := jsonText(k)
			return t
		}
	}
	return k
}

// plain turns *object back into map[string]any, for json.Marshal.
func plain(v any) any {
	switch v := v.(type) {
	case *object:
		m := make(map[string]any, len(v.keys))
		for _, k := range v.keys {
			m[k] = plain(v.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plain(x)
		}
		return out
	}
	return v
}

// object is a JSON object with its keys in document order.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) any {
	v, _ := o.has(k)
	return v
}

func (o *object) has(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[k]
	return v, ok
}

// decodeOrdered decodes JSON, objects as *object.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		o := &object{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = v
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		var a []any
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return t, nil
}
