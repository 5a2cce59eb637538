package schema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	yamlv3 "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/boundedfile"
)

// Problem is one lint finding: where in which file, the JSON pointer into
// the merged values, and what is wrong. Messages never carry a value that
// could be a credential.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Pointer string `json:"pointer"`
	Message string `json:"message"`
	// Keyword is the failing JSON Schema keyword ("" for a YAML error).
	Keyword string `json:"keyword"`
}

// String is "file:line:col: /json/pointer: message".
func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", p.File, p.Line, p.Column, ptr, p.Message)
}

// LintError is an error that is not a finding about the values: the chart
// or a file cannot be read, or the schema does not compile.
type LintError struct{ Err error }

func (e *LintError) Error() string { return e.Err.Error() }
func (e *LintError) Unwrap() error { return e.Err }

// Lint is LintValues of values files alone.
func Lint(chartDir string, files []string) ([]Problem, error) {
	return LintValues(chartDir, Values{Files: files})
}

// LintValues merges the values files in Helm's -f order, applies the --set
// flags after them with Helm's own parser (strvals), coalesces the result
// with the chart's defaults as Helm does (chartutil, the same code Helm
// runs), and validates it against the chart's values.schema.json and every
// subchart's with the library Helm uses (santhosh-tekuri/jsonschema/v6).
// Each problem points at the line of the file, or the --set assignment,
// that set the value; a missing key points at its parent mapping in the
// user's files, else at the first line of the last -f file. It returns a
// *LintError when nothing could be checked.
func LintValues(chartDir string, in Values) ([]Problem, error) {
	files := in.Files
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, &LintError{fmt.Errorf("loading chart %s: %w", chartDir, err)}
	}
	if chrt.Schema == nil {
		return nil, &LintError{fmt.Errorf("chart %s has no values.schema.json: nothing to lint against (run 'make generate')", chartDir)}
	}
	var srcs []*source
	var problems []Problem
	merged := map[string]any{}
	for _, f := range files {
		data, err := boundedfile.Read(f, 0)
		if err != nil {
			return nil, &LintError{err}
		}
		src, vals, p := parseValues(f, data)
		if p != nil {
			problems = append(problems, *p)
			continue
		}
		srcs = append(srcs, src)
		merged = mergeMaps(merged, vals)
	}
	if len(problems) > 0 {
		return problems, nil
	}
	sets, err := applySets(in.setFlags(), merged)
	if err != nil {
		return nil, err
	}
	// Positions are looked up highest precedence first: the --set flags,
	// the -f files from the last, then the chart's own defaults (a value
	// nothing else sets was set by them).
	for i, j := 0, len(srcs)-1; i < j; i, j = i+1, j-1 {
		srcs[i], srcs[j] = srcs[j], srcs[i]
	}
	srcs = append(append(sets, srcs...), chartSources(chartDir, chrt)...)
	order := append([]string{}, files...)
	for i := len(sets) - 1; i >= 0; i-- {
		if !slices.Contains(order, sets[i].name) {
			order = append(order, sets[i].name)
		}
	}

	// Helm's dependency processing fails, with a message that names no file
	// ("type mismatch on wms: %!t(float64=0)"), when a subchart's values or
	// global are not a mapping: report those where they are set.
	for _, key := range mappingKeys(chrt) {
		if v, ok := merged[key]; ok && v != nil {
			if _, isMap := v.(map[string]any); !isMap {
				file, line, col := locate(srcs, []string{key}, false)
				problems = append(problems, Problem{File: file, Line: line, Column: col, Pointer: pointer([]string{key}),
					Message: fmt.Sprintf("got %s, want object (the values of %s)", jsonType(v), key), Keyword: "type"})
			}
		}
	}
	if len(problems) > 0 {
		sortProblems(problems, order)
		return problems, nil
	}
	fail := func(what string, err error) []Problem {
		file, line, col := locate(srcs, nil, false)
		return []Problem{{File: file, Line: line, Column: col, Pointer: "", Message: what + ": " + err.Error()}}
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, merged); err != nil {
		return fail("Helm cannot process the chart's dependencies with these values", err), nil
	}
	vals, err := chartutil.CoalesceValues(chrt, merged)
	if err != nil {
		return fail("Helm cannot coalesce these values", err), nil
	}
	var vs []violation
	if err := validateChart(chrt, vals.AsMap(), nil, &vs); err != nil {
		return nil, &LintError{err}
	}
	deps := map[string]bool{}
	for _, d := range chrt.Dependencies() {
		deps[d.Name()] = true
	}
	seen := map[Problem]bool{}
	for _, v := range vs {
		// Helm copies global into every subchart, whose schema checks it
		// again: a problem there is the one reported at /global.
		if len(v.tokens) > 1 && deps[v.tokens[0]] && v.tokens[1] == "global" {
			continue
		}
		// The umbrella's schema and the subchart's own both check a
		// subchart's values: report each problem once.
		for _, p := range v.problems(srcs) {
			if !seen[p] {
				seen[p] = true
				problems = append(problems, p)
			}
		}
	}
	sortProblems(problems, order)
	return problems, nil
}

// mappingKeys are the top-level values that must be mappings: global and
// each dependency's name (or alias).
func mappingKeys(chrt *chart.Chart) []string {
	keys := []string{"global"}
	if chrt.Metadata != nil {
		for _, d := range chrt.Metadata.Dependencies {
			if d.Alias != "" {
				keys = append(keys, d.Alias)
			} else {
				keys = append(keys, d.Name)
			}
		}
	}
	return keys
}

// jsonType names a decoded value's JSON type, as lint's messages do.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, int, int64:
		return "number"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// mergeMaps merges b over a as Helm merges -f files: maps merge key by key,
// anything else replaces.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// parseValues reads a values file as Helm does (sigs.k8s.io/yaml) and keeps
// its node tree for positions.
func parseValues(name string, data []byte) (*source, map[string]any, *Problem) {
	vals := map[string]any{}
	if err := yaml.Unmarshal(data, &vals); err != nil {
		line := 1
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		if strings.Contains(err.Error(), "UTF-8") {
			// The parser gives no line for bytes that are not UTF-8.
			if i := firstInvalidUTF8(data); i >= 0 {
				line = bytes.Count(data[:i], []byte("\n")) + 1
			}
		}
		// The parser reports an unexpected end on the line after the last
		// one; point at the last line of the file instead.
		last := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			last++
		}
		line = max(min(line, last), 1)
		return nil, nil, &Problem{File: name, Line: line, Column: 1, Message: "not a YAML mapping of values: " + err.Error()}
	}
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return nil, nil, &Problem{File: name, Line: 1, Column: 1, Message: err.Error()}
	}
	if k, first := duplicateKey(&doc, 0); k != nil {
		return nil, nil, &Problem{File: name, Line: k.Line, Column: k.Column,
			Message: fmt.Sprintf("duplicate key %q (first at line %d): Helm would silently keep the last", k.Value, first.Line)}
	}
	return &source{name: name, root: &doc}, vals, nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// duplicateKey finds a mapping key written twice, and its first occurrence.
// Aliases are not followed: each mapping is checked where it is written.
func duplicateKey(n *yamlv3.Node, depth int) (dup, first *yamlv3.Node) {
	if depth > 1000 {
		return nil, nil
	}
	if n.Kind == yamlv3.MappingNode {
		seen := map[string]*yamlv3.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yamlv3.ScalarNode && k.Value != "<<" {
				if f, ok := seen[k.Value]; ok {
					return k, f
				}
				seen[k.Value] = k
			}
		}
	}
	for _, c := range n.Content {
		if d, f := duplicateKey(c, depth+1); d != nil {
			return d, f
		}
	}
	return nil, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// chartSources are the chart's values.yaml and its subcharts', for values
// no -f file sets.
func chartSources(dir string, chrt *chart.Chart) []*source {
	var out []*source
	add := func(file string, prefix []string) {
		data, err := os.ReadFile(file)
		if err != nil {
			return
		}
		var doc yamlv3.Node
		if yamlv3.Unmarshal(data, &doc) == nil {
			out = append(out, &source{name: file, root: &doc, prefix: prefix, chart: true})
		}
	}
	add(filepath.Join(dir, "values.yaml"), nil)
	for _, dep := range chrt.Dependencies() {
		add(filepath.Join(dir, "charts", dep.Name(), "values.yaml"), []string{dep.Name()})
	}
	return out
}

// validateChart validates values against the chart's schema and each
// dependency's values against its own, as Helm's ValidateAgainstSchema does.
func validateChart(chrt *chart.Chart, values map[string]any, prefix []string, out *[]violation) error {
	if chrt.Schema != nil {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(chrt.Schema))
		if err != nil {
			return fmt.Errorf("%s: values.schema.json: %w", chrt.Name(), err)
		}
		c := jsonschema.NewCompiler()
		const url = "file:///values.schema.json"
		if err := c.AddResource(url, doc); err != nil {
			return fmt.Errorf("%s: values.schema.json: %w", chrt.Name(), err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			return fmt.Errorf("%s: values.schema.json: %w", chrt.Name(), err)
		}
		if err := sch.Validate(values); err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				return err
			}
			collect(ve, prefix, doc, out)
		}
	}
	for _, dep := range chrt.Dependencies() {
		sub, ok := values[dep.Name()].(map[string]any)
		if !ok {
			continue
		}
		if err := validateChart(dep, sub, append(append([]string{}, prefix...), dep.Name()), out); err != nil {
			return err
		}
	}
	return nil
}

// violation is one leaf cause of a validation error.
type violation struct {
	tokens []string
	kind   jsonschema.ErrorKind
	// why explains a conditional requirement (the description of the
	// allOf entry whose then failed).
	why string
}

func collect(e *jsonschema.ValidationError, prefix []string, schemaDoc any, out *[]violation) {
	if len(e.Causes) == 0 {
		*out = append(*out, violation{
			tokens: append(append([]string{}, prefix...), e.InstanceLocation...),
			kind:   e.ErrorKind,
			why:    requirementWhy(e.SchemaURL, schemaDoc),
		})
		return
	}
	for _, c := range e.Causes {
		collect(c, prefix, schemaDoc, out)
	}
}

var allOfThenRE = regexp.MustCompile(`#/allOf/(\d+)/then(/|$)`)

func requirementWhy(schemaURL string, doc any) string {
	m := allOfThenRE.FindStringSubmatch(schemaURL)
	if m == nil {
		return ""
	}
	root, _ := doc.(map[string]any)
	all, _ := root["allOf"].([]any)
	i, _ := strconv.Atoi(m[1])
	if i >= len(all) {
		return ""
	}
	entry, _ := all[i].(map[string]any)
	d, _ := entry["description"].(string)
	return d
}

// sensitiveRE matches pointer tokens under which a value may be a credential.
var sensitiveRE = regexp.MustCompile(`(?i)secret|passw|credential|token|private|key|cert`)

func sensitive(tokens []string) bool {
	for _, t := range tokens {
		if sensitiveRE.MatchString(t) {
			return true
		}
	}
	return false
}

func (v violation) problems(srcs []*source) []Problem {
	keyword := strings.Join(v.kind.KeywordPath(), "/")
	if ap, ok := v.kind.(*kind.AdditionalProperties); ok {
		// One problem per unknown key, at the key.
		var out []Problem
		for _, p := range ap.Properties {
			tokens := append(append([]string{}, v.tokens...), p)
			file, line, col := locate(srcs, tokens, true)
			msg := (&kind.AdditionalProperties{Properties: []string{p}}).LocalizedString(printer)
			out = append(out, Problem{File: file, Line: line, Column: col, Pointer: pointer(tokens), Message: msg, Keyword: keyword})
		}
		return out
	}
	var file string
	var line, col int
	if _, ok := v.kind.(*kind.Required); ok {
		file, line, col = locateMissing(srcs, v.tokens)
	} else {
		file, line, col = locate(srcs, v.tokens, false)
	}
	msg := v.kind.LocalizedString(printer)
	if sensitive(v.tokens) {
		msg = redacted(v.kind)
	}
	if v.why != "" {
		msg += " (" + v.why + ")"
	}
	return []Problem{{File: file, Line: line, Column: col, Pointer: pointer(v.tokens), Message: msg, Keyword: keyword}}
}

// redacted describes a failure without the offending value: what was
// expected, never what was given.
func redacted(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type, *kind.Required, *kind.Const, *kind.MinItems, *kind.MaxItems,
		*kind.MinProperties, *kind.MaxProperties, *kind.DependentRequired, *kind.Dependency:
		return k.LocalizedString(printer)
	case *kind.Enum:
		if len(k.Want) == 1 {
			return printer.Sprintf("value must be %v", k.Want[0])
		}
		return printer.Sprintf("value must be one of %v", k.Want)
	case *kind.Pattern:
		return printer.Sprintf("value (not shown) does not match pattern %s", strconv.Quote(k.Want))
	case *kind.MinLength:
		return printer.Sprintf("value (not shown) is shorter than %d characters", k.Want)
	case *kind.MaxLength:
		return printer.Sprintf("value (not shown) is longer than %d characters", k.Want)
	case *kind.Minimum:
		return printer.Sprintf("value (not shown) must be >= %v", k.Want)
	case *kind.Maximum:
		return printer.Sprintf("value (not shown) must be <= %v", k.Want)
	case *kind.ExclusiveMinimum:
		return printer.Sprintf("value (not shown) must be > %v", k.Want)
	case *kind.ExclusiveMaximum:
		return printer.Sprintf("value (not shown) must be < %v", k.Want)
	case *kind.Format:
		return printer.Sprintf("value (not shown) is not a valid %s", k.Want)
	}
	return "value (not shown) fails " + strings.Join(k.KeywordPath(), "/")
}

// source is one values file's node tree; prefix is where its root sits in
// the merged values (a subchart's own values.yaml sits under its name).
// chart marks the chart's own values files, set a --set assignment.
type source struct {
	name   string
	root   *yamlv3.Node
	prefix []string
	chart  bool
	set    bool
}

// locateMissing is where a missing key is reported: its parent mapping (or
// the nearest ancestor) in the user's values, not the chart's: a site
// fixes its own file. When the user's values hold no ancestor, it is the
// first line of the last -f file.
func locateMissing(srcs []*source, tokens []string) (string, int, int) {
	var user []*source
	last := ""
	for _, s := range srcs {
		if !s.chart {
			user = append(user, s)
			if last == "" && !s.set {
				last = s.name
			}
		}
	}
	if len(tokens) >= 2 && tokens[1] == "global" {
		tokens = tokens[1:]
	}
	for depth := len(tokens); depth >= 1; depth-- {
		for _, s := range user {
			if key, val := find(s.root, tokens[:depth]); val != nil && key != nil {
				return s.name, key.Line, key.Column
			}
		}
	}
	if last == "" && len(user) > 0 {
		last = user[0].name
	}
	if last == "" {
		return locate(srcs, tokens, false)
	}
	return last, 1, 1
}

// locate finds the file, line and column that set the value at tokens: the
// highest-precedence source that has it; failing that, its parent, and so
// on up to the root. atKey points at a mapping key rather than its value.
// A value Helm copied into a subchart (<subchart>/global/...) is looked up
// where it was set, under /global.
func locate(srcs []*source, tokens []string, atKey bool) (string, int, int) {
	if len(tokens) >= 2 && tokens[1] == "global" {
		tokens = tokens[1:]
	}
	for depth := len(tokens); depth >= 0; depth-- {
		for _, s := range srcs {
			if len(s.prefix) > depth || !hasPrefix(tokens[:depth], s.prefix) {
				continue
			}
			if key, val := find(s.root, tokens[len(s.prefix):depth]); val != nil {
				n := val
				if key != nil && (atKey || depth < len(tokens) || val.Kind == yamlv3.MappingNode || val.Kind == yamlv3.SequenceNode && val.Style&yamlv3.FlowStyle == 0) {
					n = key
				}
				return s.name, n.Line, n.Column
			}
		}
	}
	if len(srcs) > 0 {
		return srcs[0].name, 1, 1
	}
	return "values", 1, 1
}

func hasPrefix(tokens, prefix []string) bool {
	for i, p := range prefix {
		if tokens[i] != p {
			return false
		}
	}
	return true
}

// find walks a node tree along the tokens; it returns the mapping key node
// (nil for a sequence item or the root) and the value node, or nil.
func find(n *yamlv3.Node, tokens []string) (key, val *yamlv3.Node) {
	if n.Kind == yamlv3.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	for _, t := range tokens {
		for n.Kind == yamlv3.AliasNode {
			n = n.Alias
		}
		switch n.Kind {
		case yamlv3.MappingNode:
			var next *yamlv3.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == t {
					key, next = n.Content[i], n.Content[i+1]
				}
			}
			if next == nil {
				return nil, nil
			}
			n = next
		case yamlv3.SequenceNode:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil, nil
			}
			key, n = nil, n.Content[i]
		default:
			return nil, nil
		}
	}
	return key, n
}

// sortProblems orders problems by file (the -f files and --set flags in
// order, then the chart's), line, column and pointer.
func sortProblems(ps []Problem, files []string) {
	rank := func(f string) int {
		for i, x := range files {
			if x == f {
				return i
			}
		}
		return len(files)
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if ra, rb := rank(a.File), rank(b.File); ra != rb {
			return ra < rb
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Pointer < b.Pointer
	})
}
