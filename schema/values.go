package schema

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"cuelang.org/go/cue"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/interfaces"
)

// ValuesSchemaFile is the umbrella chart's values schema, relative to the
// repository root.
const ValuesSchemaFile = "charts/dpps/values.schema.json"

// ExternalKeyword marks, in the values schema, the property of every
// external interface (global.externals.<name>): its value is the
// interface's name, direction, protocol, port, auth and fixture. JSON Schema
// validators ignore it; tools find external interfaces by it.
const ExternalKeyword = "x-dpps-external"

// SubchartSchemaFile is the generated values schema of a subchart, relative
// to the repository root.
func SubchartSchemaFile(subchart string) string {
	return path.Join("charts/dpps/charts", subchart, "values.schema.json")
}

// Schemas is the generated values schemas.
type Schemas struct {
	// Umbrella is charts/dpps/values.schema.json.
	Umbrella []byte
	// Subcharts is each subchart's values.schema.json, by subchart name.
	Subcharts map[string][]byte
}

// ValuesSchema converts the model's #Values definition into the umbrella
// chart's values.schema.json (JSON Schema 2020-12, self-contained: every
// referenced CUE definition becomes a $defs entry), and each subchart's
// definition into the subchart's own schema, which Helm checks against the
// subchart's part of the values (global included, helm/helm#10392).
//
// A subchart's generated keys (interfaces, shared, credentials: the
// catalog's facts, see SubchartValues) are typed as const: they are written
// once, in the CUE, and a site that sets them is told so.
//
// The conversion walks the CUE values itself rather than using
// cuelang.org/go/encoding/jsonschema, which at v0.17.1 drops the constraints
// of fields with defaults, turns open structs in definitions into
// `const: {}` and never writes `default`. Supported CUE: structs (closed:
// additionalProperties false; `...`: open; `[string]: T`: additionalProperties
// T), required (`!`) and optional (`?`) fields, regular fields with a
// default, defaults, disjunctions of literals (enum), bounds, =~ and !~,
// strings.MinRunes/MaxRunes, list.MinItems/MaxItems, [...T], and
// references to top-level definitions ($ref). Anything else is an error, so
// the schema never silently drops a constraint.
func ValuesSchema(m *interfaces.Model) (*Schemas, error) {
	g := &walker{closedScope: true, cat: m.Catalog, defs: map[string]*node{}}
	top := g.walk(m.Values, nil)
	if g.err != nil {
		return nil, g.err
	}
	ext := g.defs["Externals"]
	top.Schema = draft
	top.Comment = GeneratedHeader + ". From interfaces/*.cue (#Values): edit the CUE, then run 'make generate'. " +
		"The keyword " + ExternalKeyword + " marks the endpoint of an external interface."
	top.Title = "DPPS umbrella chart values"
	top.Description = "The values of the DPPS umbrella chart and of its subcharts. Every key is typed; keys not listed are refused."
	for _, r := range m.Requirements {
		top.AllOf = append(top.AllOf, requirementNode(r))
	}
	// Mark the external interfaces.
	if ext == nil {
		return nil, fmt.Errorf("%s: #Values.global.externals must be #Externals", interfaces.Dir)
	}
	for _, p := range ext.Props {
		e, ok := m.Catalog.Externals[p.Name]
		if !ok {
			return nil, fmt.Errorf("%s: #Externals.%s is not an external interface", interfaces.Dir, p.Name)
		}
		p.Node.External = externalKeyword(p.Name, e)
	}
	// Each subchart's key is a closed definition of its own, which also
	// becomes the subchart's schema.
	subs := map[string]*node{}
	for _, name := range slices.Sorted(maps.Keys(m.Catalog.Subcharts)) {
		p := top.prop(name)
		if p == nil || !strings.HasPrefix(p.Ref, "#/$defs/") {
			return nil, fmt.Errorf("%s: #Values.%s must be a definition of the subchart's values (e.g. %s: #%s)", interfaces.Dir, name, name, "Subchart")
		}
		def := g.defs[strings.TrimPrefix(p.Ref, "#/$defs/")]
		if !def.Closed {
			return nil, fmt.Errorf("%s: #Values.%s is open: list every key of the subchart's values in its definition, without ...", interfaces.Dir, name)
		}
		facts, err := factsOf(m, name)
		if err != nil {
			return nil, err
		}
		for _, f := range facts {
			if def.prop(f.Name) != nil {
				return nil, fmt.Errorf("%s: #Values.%s.%s: the key is generated from the catalog (%s): remove it from the subchart's definition", interfaces.Dir, name, f.Name, SubchartValuesFile(name))
			}
		}
		def.Props = append(def.Props, facts...)
		subs[name] = def
	}
	g.addDefs(top)
	out := &Schemas{Subcharts: map[string][]byte{}}
	var err error
	if out.Umbrella, err = encode(top); err != nil {
		return nil, err
	}
	for name, def := range subs {
		root := *def
		root.Schema = draft
		root.Comment = GeneratedHeader + ". From interfaces/*.cue (#Values." + name + "): edit the CUE, then run 'make generate'."
		root.Title = "DPPS " + name + " subchart values"
		root.Description = m.Catalog.Subcharts[name].Description
		root.Defs = reachableDefs(def, top.Defs)
		if out.Subcharts[name], err = encode(&root); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const draft = "https://json-schema.org/draft/2020-12/schema"

// factsOf types a subchart's generated keys as const.
func factsOf(m *interfaces.Model, subchart string) ([]prop, error) {
	var generated map[string]any
	if err := yaml.Unmarshal(SubchartValues(m.Catalog, subchart), &generated); err != nil {
		return nil, fmt.Errorf("generated values of %s: %w", subchart, err)
	}
	var out []prop
	for _, key := range slices.Sorted(maps.Keys(generated)) {
		out = append(out, prop{key, &node{
			Description: "Generated from interfaces/*.cue (" + SubchartValuesFile(subchart) + "), not a site setting: change the CUE and run 'make generate'.",
			Const:       generated[key], HasConst: true,
		}})
	}
	return out, nil
}

// reachableDefs are the entries of defs that n refers to, directly or
// through other entries, in the order of defs.
func reachableDefs(n *node, defs []prop) []prop {
	byRef := map[string]*node{}
	for _, d := range defs {
		byRef["#/$defs/"+d.Name] = d.Node
	}
	seen := map[string]bool{}
	var visit func(*node)
	visit = func(n *node) {
		if n == nil {
			return
		}
		if n.Ref != "" && !seen[n.Ref] {
			seen[n.Ref] = true
			visit(byRef[n.Ref])
		}
		for _, c := range n.children() {
			visit(c)
		}
	}
	visit(n)
	var out []prop
	for _, d := range defs {
		if seen["#/$defs/"+d.Name] {
			out = append(out, d)
		}
	}
	return out
}

// convert converts one CUE value, with the top-level definitions it
// references as $defs; cat may be nil.
func convert(v cue.Value, cat *catalog.Catalog) (*node, error) {
	g := &walker{cat: cat, defs: map[string]*node{}}
	top := g.walk(v, nil)
	if g.err != nil {
		return nil, g.err
	}
	g.addDefs(top)
	return top, nil
}

func (g *walker) addDefs(top *node) {
	for _, name := range g.order {
		top.Defs = append(top.Defs, prop{name, g.defs[name]})
	}
}

// externalKeyword is the value of x-dpps-external.
func externalKeyword(name string, e catalog.External) any {
	type fixture struct {
		Components []string `json:"components"`
		Toggle     string   `json:"toggle"`
	}
	out := struct {
		Name      string   `json:"name"`
		Direction string   `json:"direction"`
		Protocol  string   `json:"protocol"`
		Port      int      `json:"port"`
		Auth      string   `json:"auth"`
		Consumers []string `json:"consumers"`
		Fixture   *fixture `json:"fixture,omitempty"`
	}{name, e.Direction, e.Protocol, e.Port, e.Auth, e.Consumers, nil}
	if e.Fixture != nil {
		out.Fixture = &fixture{e.Fixture.Components, e.Fixture.Toggle}
	}
	return out
}

// requirementNode expresses a requirement as if/then: if the key r.When is
// present and equals r.Equals, then the key r.Require must be present.
func requirementNode(r interfaces.Requirement) *node {
	cond := &node{HasConst: true, Const: r.Equals}
	for i := len(r.When) - 1; i >= 0; i-- {
		cond = &node{Props: []prop{{r.When[i], cond}}, Required: []string{r.When[i]}}
	}
	last := len(r.Require) - 1
	then := &node{Required: []string{r.Require[last]}}
	for i := last - 1; i >= 0; i-- {
		then = &node{Props: []prop{{r.Require[i], then}}, Required: []string{r.Require[i]}}
	}
	return &node{Comment: "requirement " + r.Name, Description: r.Description, If: cond, Then: then}
}

type walker struct {
	// closedScope: the value walked is a definition, whose structs CUE
	// closes (#Values, the values schema); convert's values may be open.
	closedScope bool
	cat         *catalog.Catalog
	defs        map[string]*node
	order       []string
	err         error
}

func (g *walker) fail(v cue.Value, path []string, format string, a ...any) *node {
	if g.err == nil {
		pos := v.Pos()
		where := interfaces.Dir
		if pos.IsValid() {
			where = fmt.Sprintf("%s:%d:%d", relPos(pos.Filename()), pos.Line(), pos.Column())
		}
		g.err = fmt.Errorf("%s: #Values.%s: %s", where, strings.Join(path, "."), fmt.Sprintf(format, a...))
	}
	return &node{}
}

func relPos(f string) string {
	if i := strings.LastIndex(f, "/"+interfaces.Dir+"/"); i >= 0 {
		return f[i+1:]
	}
	return f
}

// walk converts a value: a reference to a top-level definition becomes a
// $ref, anything else is converted in place.
func (g *walker) walk(v cue.Value, path []string) *node {
	if name, def, ok := g.definition(v); ok {
		g.define(name, def, path)
		n := &node{Ref: "#/$defs/" + name}
		g.addDefault(n, v)
		return n
	}
	n := g.expr(v, path)
	g.addDefault(n, v)
	return n
}

// definition reports whether v is exactly a reference to a top-level
// definition, other than #Values itself.
func (g *walker) definition(v cue.Value) (string, cue.Value, bool) {
	root, p := v.ReferencePath()
	sels := p.Selectors()
	if len(sels) != 1 || sels[0].LabelType() != cue.DefinitionLabel {
		return "", cue.Value{}, false
	}
	name := strings.TrimPrefix(sels[0].String(), "#")
	if name == "Values" {
		return "", cue.Value{}, false
	}
	return name, root.LookupPath(p), true
}

func (g *walker) define(name string, def cue.Value, path []string) {
	if _, ok := g.defs[name]; ok {
		return
	}
	g.defs[name] = &node{} // placeholder against cycles
	g.order = append(g.order, name)
	n := g.expr(def, []string{"#" + name})
	if n.Description == "" {
		n.Description = doc(def)
	}
	g.defs[name] = n
	slices.Sort(g.order)
}

func (g *walker) addDefault(n *node, v cue.Value) {
	d, ok := v.Default()
	if !ok || !d.IsConcrete() {
		return
	}
	switch d.Kind() {
	case cue.StructKind:
		return
	}
	var x any
	if err := d.Decode(&x); err == nil {
		n.Default, n.HasDefault = x, true
	}
}

// expr converts a value's constraints (its default set aside).
func (g *walker) expr(v cue.Value, path []string) *node {
	op, args := v.Expr()
	switch kindOf(v) {
	case cue.StructKind:
		return g.structNode(v, path)
	case cue.ListKind:
		if op != cue.OrOp {
			return g.listNode(v, path)
		}
	}
	switch op {
	case cue.NoOp:
		if len(args) == 1 {
			a := args[0]
			if op2, args2 := a.Expr(); op2 != cue.NoOp || len(args2) != 1 {
				return g.expr(a, path)
			}
			return g.terminal(a, path)
		}
		return g.terminal(v, path)
	case cue.AndOp:
		var n *node
		for _, a := range args {
			n = merge(n, g.part(a, path))
		}
		return n
	case cue.OrOp:
		var lits []any
		types := []string{}
		for _, a := range args {
			if !a.IsConcrete() || kindOf(a) == cue.StructKind || kindOf(a) == cue.ListKind {
				lits = nil
				break
			}
			var x any
			if err := a.Decode(&x); err != nil {
				return g.fail(v, path, "%v", err)
			}
			lits = append(lits, x)
			if t := interfaces.JSONType(a); t != "" && !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		if lits != nil {
			return &node{Types: types, Enum: lits}
		}
		// A literal default next to the constraint it satisfies
		// (`#Port | *1094`) adds nothing to the schema: keep the
		// constraints, the default is written as `default`.
		var alts []cue.Value
		for _, a := range args {
			if literal(a) && slices.ContainsFunc(args, func(b cue.Value) bool { return !literal(b) && b.Unify(a).Validate(cue.Concrete(true)) == nil }) {
				continue
			}
			alts = append(alts, a)
		}
		if len(alts) == 1 {
			return g.part(alts[0], path)
		}
		n := &node{}
		for _, a := range alts {
			n.AnyOf = append(n.AnyOf, g.walk(a, path))
		}
		return n
	}
	return g.part(v, path)
}

// literal reports whether v is fully concrete (a list or struct only when
// all its elements are).
func literal(v cue.Value) bool {
	return v.Validate(cue.Concrete(true)) == nil
}

// part converts one operand of a conjunction.
func (g *walker) part(v cue.Value, path []string) *node {
	if name, def, ok := g.definition(v); ok {
		g.define(name, def, path)
		return &node{Ref: "#/$defs/" + name}
	}
	op, args := v.Expr()
	number := func() string {
		if len(args) != 1 {
			return ""
		}
		b, err := args[0].MarshalJSON()
		if err != nil {
			return ""
		}
		return string(b)
	}
	str := func() string {
		if len(args) != 1 {
			return ""
		}
		s, _ := args[0].String()
		return s
	}
	switch op {
	case cue.NoOp, cue.AndOp, cue.OrOp:
		if op == cue.NoOp && len(args) == 1 {
			if op2, args2 := args[0].Expr(); op2 == cue.NoOp && len(args2) == 1 {
				return g.terminal(args[0], path)
			}
		}
		return g.expr(v, path)
	case cue.GreaterThanEqualOp:
		return &node{Minimum: number()}
	case cue.GreaterThanOp:
		return &node{ExclMinimum: number()}
	case cue.LessThanEqualOp:
		return &node{Maximum: number()}
	case cue.LessThanOp:
		return &node{ExclMaximum: number()}
	case cue.RegexMatchOp:
		return &node{Types: []string{"string"}, Patterns: []string{str()}}
	case cue.NotRegexMatchOp:
		return &node{Types: []string{"string"}, Not: &node{Patterns: []string{str()}}}
	case cue.NotEqualOp:
		var x any
		if err := args[0].Decode(&x); err != nil {
			return g.fail(v, path, "%v", err)
		}
		return &node{Not: &node{Const: x, HasConst: true}}
	case cue.CallOp:
		return g.call(v, args, path)
	}
	return g.fail(v, path, "unsupported CUE expression %v (operator %v)", v, op)
}

// call converts the validators the schema supports.
func (g *walker) call(v cue.Value, args []cue.Value, path []string) *node {
	fn := fmt.Sprint(args[0])
	if !slices.Contains([]string{"strings.MinRunes", "strings.MaxRunes", "list.MinItems", "list.MaxItems"}, fn) || len(args) != 2 {
		return g.fail(v, path, "unsupported validator %s: the schema cannot express it", fn)
	}
	i, err := args[1].Int64()
	if err != nil {
		return g.fail(v, path, "%s: %v", fn, err)
	}
	n := int(i)
	switch fn {
	case "strings.MinRunes":
		return &node{Types: []string{"string"}, MinLength: &n}
	case "strings.MaxRunes":
		return &node{Types: []string{"string"}, MaxLength: &n}
	case "list.MinItems":
		return &node{Types: []string{"array"}, MinItems: &n}
	case "list.MaxItems":
		return &node{Types: []string{"array"}, MaxItems: &n}
	}
	return g.fail(v, path, "unsupported validator %s", fn)
}

// terminal converts a value with no further structure: a literal or a type.
func (g *walker) terminal(v cue.Value, path []string) *node {
	if v.IsConcrete() && kindOf(v) != cue.StructKind && kindOf(v) != cue.ListKind {
		var x any
		if err := v.Decode(&x); err != nil {
			return g.fail(v, path, "%v", err)
		}
		return &node{Types: typesOf(v), Const: x, HasConst: true}
	}
	switch kindOf(v) {
	case cue.StructKind:
		return g.structNode(v, path)
	case cue.ListKind:
		return g.listNode(v, path)
	case cue.TopKind:
		return &node{}
	}
	return &node{Types: typesOf(v)}
}

func kindOf(v cue.Value) cue.Kind {
	k := v.IncompleteKind()
	if k == cue.BottomKind {
		if op, args := v.Expr(); op == cue.AndOp {
			k = cue.TopKind
			for _, a := range args {
				if ak := a.IncompleteKind(); ak != cue.BottomKind && ak != cue.TopKind {
					k &= ak
				}
			}
		}
	}
	return k
}

func typesOf(v cue.Value) []string {
	k := kindOf(v)
	var out []string
	for _, t := range []struct {
		k    cue.Kind
		name string
	}{{cue.NullKind, "null"}, {cue.BoolKind, "boolean"}, {cue.StringKind, "string"}, {cue.StructKind, "object"}, {cue.ListKind, "array"}} {
		if k&t.k != 0 {
			out = append(out, t.name)
		}
	}
	switch {
	case k&cue.NumberKind == cue.NumberKind:
		out = append(out, "number")
	case k&cue.IntKind != 0:
		out = append(out, "integer")
	case k&cue.FloatKind != 0:
		out = append(out, "number")
	}
	return out
}

func (g *walker) structNode(v cue.Value, path []string) *node {
	n := &node{Types: []string{"object"}, Props: []prop{}}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return g.fail(v, path, "%v", err)
	}
	for it.Next() {
		sel := it.Selector()
		name := sel.Unquoted()
		fv := it.Value()
		p := append(slices.Clone(path), name)
		child := g.walk(fv, p)
		if child.Description == "" || child.Ref != "" {
			child.Description = g.describe(fv, p)
		}
		switch sel.ConstraintType() {
		case cue.RequiredConstraint:
			n.Required = append(n.Required, name)
			child.Default, child.HasDefault = nil, false
		case cue.OptionalConstraint:
			// Absent unless set: CUE's implicit [] of an open list is
			// no default.
			child.Default, child.HasDefault = nil, false
		default:
			if _, ok := fv.Default(); !ok && !literal(fv) && kindOf(fv) != cue.StructKind {
				return g.fail(fv, p, "a regular field needs a default: give it one, or mark it required (!) or optional (?)")
			}
		}
		n.Props = append(n.Props, prop{name, child})
	}
	// Every struct of #Values sits in a definition, so it is closed unless
	// it says otherwise: `[string]: T` (additionalProperties T) or `...`.
	// (Allows reports a struct literal inside a disjunction as open.)
	switch pat := v.LookupPath(cue.MakePath(cue.AnyString)); {
	case !pat.Exists() && !v.Allows(cue.Str("\x00dpps-schemagen-probe")):
		n.Closed = true
	case !pat.Exists() && g.closedScope:
		n.Closed = true
	case pat.Exists() && kindOf(pat) != cue.TopKind:
		n.Additional = g.walk(pat, append(slices.Clone(path), "*"))
	}
	return n
}

func (g *walker) listNode(v cue.Value, path []string) *node {
	n := &node{Types: []string{"array"}}
	parts := []cue.Value{v}
	if op, args := v.Expr(); op == cue.AndOp {
		parts = args
	}
	for _, a := range parts {
		if el := a.LookupPath(cue.MakePath(cue.AnyIndex)); el.Exists() {
			// [_, ...]: at least one element, of any type.
			if it, err := a.List(); err == nil {
				prefix := 0
				for it.Next() {
					prefix++
				}
				if prefix > 0 && (n.MinItems == nil || *n.MinItems < prefix) {
					n.MinItems = intPtr(prefix)
				}
			}
			if kindOf(el) != cue.TopKind {
				n.Items = merge(n.Items, g.walk(el, append(slices.Clone(path), "*")))
			}
			continue
		}
		if op, args := a.Expr(); op == cue.CallOp {
			n = merge(n, g.call(a, args, path))
		}
	}
	return n
}

// describe is a field's description: its doc comment or, for the keys a
// comprehension generates in #Values (subcharts, fixture switches), the
// doc comment of the entry they come from.
func (g *walker) describe(v cue.Value, path []string) string {
	if d := doc(v); d != "" || g.cat == nil {
		return d
	}
	if len(path) == 1 {
		if s, ok := g.cat.Subcharts[path[0]]; ok {
			return "Values of the " + path[0] + " subchart: " + s.Description + " Keys the umbrella does not own are the subchart's."
		}
	}
	if len(path) == 2 {
		if c, ok := g.cat.Components[path[1]]; ok && c.Subchart == path[0] && c.FixtureFor != "" {
			return fmt.Sprintf("The %s component (%s), the test fixture of the external interface %s.", path[1], strings.TrimSuffix(c.Description, "."), c.FixtureFor)
		}
	}
	return ""
}

func doc(v cue.Value) string {
	var parts []string
	for _, c := range v.Doc() {
		parts = append(parts, strings.Join(strings.Fields(c.Text()), " "))
	}
	return strings.Join(parts, " ")
}
