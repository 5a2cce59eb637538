package schema

import (
	"fmt"
	"reflect"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/ctao/dpps-deploy/internal/boundedfile"
)

// Values are the values lint checks, as helm install takes them: the -f
// files in order, then every --set, every --set-string and every
// --set-file, in that order (Helm's: a later one wins).
type Values struct {
	Files     []string
	Set       []string
	SetString []string
	SetFile   []string
}

// setFlag is one --set, --set-string or --set-file argument and the Helm
// parser that applies it.
type setFlag struct {
	flag, arg string
	parse     func(s string, dest map[string]any) error
}

func (in Values) setFlags() []setFlag {
	var out []setFlag
	for _, a := range in.Set {
		out = append(out, setFlag{"--set", a, strvals.ParseInto})
	}
	for _, a := range in.SetString {
		out = append(out, setFlag{"--set-string", a, strvals.ParseIntoString})
	}
	for _, a := range in.SetFile {
		out = append(out, setFlag{"--set-file", a, func(s string, dest map[string]any) error {
			return strvals.ParseIntoFile(s, dest, readSetFile)
		}})
	}
	return out
}

// readSetFile reads the file a --set-file value names, as lint reads -f
// files (local files only).
func readSetFile(rs []rune) (any, error) {
	b, err := boundedfile.Read(string(rs), 0)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// applySets applies the --set flags to vals in Helm's order with Helm's
// parser and returns a source per assignment, for positions: each is named
// "FLAG ARG", and its values sit at line 1, at the column in ARG where the
// assignment starts. In an assignment of a --set or --set-string that sets
// a value that may be a credential, the value shows as "(not shown)".
// The sources come highest precedence first, as locate wants them.
func applySets(flags []setFlag, vals map[string]any) ([]*source, error) {
	var out []*source
	for _, f := range flags {
		if err := f.parse(f.arg, vals); err != nil {
			// Helm's wording; strvals' errors quote keys, not values.
			return nil, &LintError{fmt.Errorf("failed parsing %s data: %w", f.flag, err)}
		}
		segs := splitAssignments(f.arg)
		maps := make([]map[string]any, len(segs))
		whole, acc := map[string]any{}, map[string]any{}
		ok := f.parse(f.arg, whole) == nil
		for i, s := range segs {
			maps[i] = map[string]any{}
			ok = ok && f.parse(s, maps[i]) == nil && f.parse(s, acc) == nil
		}
		// The split is only a guide to columns: when the assignments
		// applied one by one do not give what the whole argument gives,
		// the argument is one assignment at column 1.
		if !ok || !reflect.DeepEqual(whole, acc) {
			segs, maps = []string{f.arg}, []map[string]any{whole}
		}
		var shown strings.Builder
		cols := make([]int, len(segs))
		for i, s := range segs {
			if i > 0 {
				shown.WriteByte(',')
			}
			cols[i] = shown.Len() + 1
			if f.flag != "--set-file" && setsSensitive(maps[i], nil) {
				key, _, _ := cutUnescaped(s, '=')
				s = key + "=(not shown)"
			}
			shown.WriteString(s)
		}
		name := f.flag + " " + shown.String()
		for i := range segs {
			var doc yamlv3.Node
			if err := doc.Encode(maps[i]); err != nil {
				return nil, &LintError{fmt.Errorf("%s: %w", f.flag, err)}
			}
			setPos(&doc, 1, cols[i])
			out = append(out, &source{name: name, root: &doc, set: true})
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// splitAssignments splits a --set argument at the commas that separate its
// assignments: not escaped, not inside a {list}.
func splitAssignments(arg string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(arg); i++ {
		switch arg[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, arg[start:i])
				start = i + 1
			}
		}
	}
	return append(out, arg[start:])
}

// cutUnescaped is strings.Cut at the first c not escaped by a backslash.
func cutUnescaped(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case c:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// setsSensitive reports whether v sets a value under a key that may hold
// a credential.
func setsSensitive(v any, path []string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if setsSensitive(x, append(path, k)) {
				return true
			}
		}
		return false
	case []any:
		for _, x := range v {
			if setsSensitive(x, path) {
				return true
			}
		}
		return false
	}
	return sensitive(path)
}

func setPos(n *yamlv3.Node, line, col int) {
	n.Line, n.Column = line, col
	for _, c := range n.Content {
		setPos(c, line, col)
	}
}
