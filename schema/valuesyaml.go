package schema

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"cuelang.org/go/cue"

	"github.com/ctao/dpps-deploy/interfaces"
)

// ValuesFile is the umbrella chart's defaults, relative to the repository
// root.
const ValuesFile = "charts/dpps/values.yaml"

// ValuesYAML writes the defaults of #Values as the umbrella chart's
// values.yaml: every regular field with its default, in the order the CUE
// declares them, each preceded by its description as a comment. Optional
// fields are left out (the schema describes them), so the file is what
// Helm uses when a site sets nothing.
func ValuesYAML(m *interfaces.Model) ([]byte, error) {
	w := &yamlWriter{}
	w.comment(0, GeneratedHeader+". From interfaces/*.cue (#Values): edit the CUE, then run 'make generate'.")
	w.comment(0, "Every key is typed in values.schema.json, which Helm checks on install; "+
		"`dpps-schemagen lint -f site.yaml` checks a site's file with file:line:col. docs/chart.md describes what a site changes.")
	w.buf.WriteString("\n")
	if err := w.fields(m.Values, 0, nil); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

type yamlWriter struct {
	buf bytes.Buffer
}

// maxLine is where comments wrap and beyond which a mapping or list of
// scalars is written in block style rather than on one line.
const maxLine = 80

func (w *yamlWriter) comment(indent int, text string) {
	if text == "" {
		return
	}
	pad := strings.Repeat(" ", indent) + "#"
	line := pad
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > maxLine && line != pad {
			w.buf.WriteString(line + "\n")
			line = pad
		}
		line += " " + word
	}
	w.buf.WriteString(line + "\n")
}

// fields writes the regular fields of a struct at the given indentation.
func (w *yamlWriter) fields(v cue.Value, indent int, path []string) error {
	it, err := v.Fields()
	if err != nil {
		return fmt.Errorf("#Values.%s: %v", strings.Join(path, "."), err)
	}
	first := true
	for it.Next() {
		name := it.Selector().Unquoted()
		fv := it.Value()
		p := append(path[:len(path):len(path)], name)
		d, _ := fv.Default()
		comment := ownDoc(fv)
		// A blank line before each top-level key, and before each
		// described or multi-line key of a subchart, keeps the file
		// readable.
		block := d.IncompleteKind() == cue.StructKind && hasFields(d) && !flat(d)
		if !first && (indent == 0 || indent == 2 && (comment != "" || block)) {
			w.buf.WriteString("\n")
		}
		first = false
		w.comment(indent, comment)
		key := strings.Repeat(" ", indent) + scalar(name) + ":"
		if err := w.value(d, key, indent, p); err != nil {
			return err
		}
	}
	return nil
}

func hasFields(v cue.Value) bool {
	it, err := v.Fields()
	return err == nil && it.Next()
}

// value writes "key: value" for a default: inline when it fits on the line,
// else as a block below the key.
func (w *yamlWriter) value(v cue.Value, key string, indent int, path []string) error {
	if v.IncompleteKind() == cue.StructKind && hasFields(v) && !flat(v) {
		w.buf.WriteString(key + "\n")
		return w.fields(v, indent+2, path)
	}
	x, err := ordered(v)
	if err != nil {
		return fmt.Errorf("#Values.%s: a default must be concrete: %v", strings.Join(path, "."), err)
	}
	if s, ok := inline(x); ok && len(key)+1+len(s) <= maxLine {
		w.buf.WriteString(key + " " + s + "\n")
		return nil
	}
	w.buf.WriteString(key + "\n")
	return w.block(x, indent+2)
}

// flat reports whether a struct default holds only scalars, so it may go on
// one line (when it fits).
func flat(v cue.Value) bool {
	x, err := ordered(v)
	if err != nil {
		return false
	}
	_, ok := inline(x)
	return ok && len(ownDocs(v)) == 0
}

func ownDocs(v cue.Value) []string {
	var out []string
	it, err := v.Fields()
	if err != nil {
		return nil
	}
	for it.Next() {
		if d := ownDoc(it.Value()); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// block writes a decoded value that does not fit on one line.
func (w *yamlWriter) block(x any, indent int) error {
	pad := strings.Repeat(" ", indent)
	switch t := x.(type) {
	case *omap:
		for i, k := range t.keys {
			key := pad + scalar(k) + ":"
			if s, ok := inline(t.vals[i]); ok && len(key)+1+len(s) <= maxLine {
				w.buf.WriteString(key + " " + s + "\n")
				continue
			}
			w.buf.WriteString(key + "\n")
			if err := w.block(t.vals[i], indent+2); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if s, ok := scalarValue(e); ok {
				w.buf.WriteString(pad + "- " + s + "\n")
				continue
			}
			if s, ok := inline(e); ok && len(pad)+2+len(s) <= maxLine {
				w.buf.WriteString(pad + "- " + s + "\n")
				continue
			}
			var sub yamlWriter
			if err := sub.block(e, indent+2); err != nil {
				return err
			}
			b := sub.buf.Bytes()
			if m, ok := e.(*omap); !ok || len(m.keys) == 0 {
				// A list of lists: the inner list goes below its dash.
				w.buf.WriteString(pad + "-\n" + string(b))
				continue
			}
			w.buf.WriteString(pad + "- " + string(b[indent+2:]))
		}
	default:
		s, _ := inline(x)
		w.buf.WriteString(pad + s + "\n")
	}
	return nil
}

// inline writes a scalar, or a mapping or list of scalars, on one line;
// false for anything nested deeper.
func inline(x any) (string, bool) {
	switch t := x.(type) {
	case *omap:
		parts := make([]string, 0, len(t.keys))
		for i, k := range t.keys {
			s, ok := scalarValue(t.vals[i])
			if !ok {
				return "", false
			}
			parts = append(parts, scalar(k)+": "+s)
		}
		return "{" + strings.Join(parts, ", ") + "}", true
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := scalarValue(e)
			if !ok {
				if m, isMap := e.(*omap); isMap {
					if s, ok = inline(m); ok {
						parts = append(parts, s)
						continue
					}
				}
				return "", false
			}
			parts = append(parts, s)
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	}
	return scalarValue(x)
}

// quantityRE matches strings such as 500m, 1Gi or 8760h, which every YAML
// reader reads back as strings.
var quantityRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?[A-Za-z]+$`)

func scalarValue(x any) (string, bool) {
	switch t := x.(type) {
	case nil:
		return "null", true
	case bool:
		return strconv.FormatBool(t), true
	case string:
		if quantityRE.MatchString(t) && !strings.ContainsAny(t, "eE") {
			return t, true
		}
		return scalar(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatFloat(t, 'f', 1, 64), true
		}
		return strconv.FormatFloat(t, 'g', -1, 64), true
	}
	return "", false
}

// omap is a mapping in the order the CUE declares its fields.
type omap struct {
	keys []string
	vals []any
}

// ordered decodes a concrete value, keeping the order of struct fields.
func ordered(v cue.Value) (any, error) {
	switch v.IncompleteKind() {
	case cue.StructKind:
		m := &omap{}
		it, err := v.Fields()
		if err != nil {
			return nil, err
		}
		for it.Next() {
			x, err := orderedDefault(it.Value())
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, it.Selector().Unquoted())
			m.vals = append(m.vals, x)
		}
		return m, nil
	case cue.ListKind:
		out := []any{}
		it, err := v.List()
		if err != nil {
			return nil, err
		}
		for it.Next() {
			x, err := orderedDefault(it.Value())
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	}
	if !v.IsConcrete() {
		return nil, fmt.Errorf("%v is not concrete", v)
	}
	var x any
	err := v.Decode(&x)
	return x, err
}

func orderedDefault(v cue.Value) (any, error) {
	d, _ := v.Default()
	return ordered(d)
}

// ownDoc is the description of a field as the chart's values file shows it:
// its doc comments from the values model, without those of the Kubernetes
// shapes (kube.cue) and of definitions, which the schema carries.
func ownDoc(v cue.Value) string {
	var parts []string
	for _, c := range v.Doc() {
		if strings.HasSuffix(c.Pos().Filename(), "/kube.cue") {
			continue
		}
		text := strings.Join(strings.Fields(c.Text()), " ")
		if strings.HasPrefix(text, "#") {
			continue
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, " ")
}
