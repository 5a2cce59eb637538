// Package interfaces loads the CUE model of DPPS's interfaces (the .cue
// files beside this one) into a typed model: the interface catalog, the
// #Values definition of the umbrella chart's values and the requirements
// between values. The module is embedded: binaries load it from any
// directory and never touch the network.
package interfaces

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"

	"github.com/ctao/dpps-deploy/catalog"
)

//go:embed *.cue cue.mod/module.cue
var embedded embed.FS

// Dir is the module's directory relative to the repository root; positions
// in errors start with it.
const Dir = "interfaces"

// virtualRoot is where the module's files appear to the CUE loader. Nothing
// is read from it: every file comes through load.Config.Overlay.
const virtualRoot = "/dpps-schemagen/interfaces"

// Files returns the embedded module: path relative to the module root
// ("values.cue", "cue.mod/module.cue") to content.
func Files() map[string][]byte {
	out := map[string][]byte{}
	err := fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		panic(err) // the embedded FS is fixed at build time
	}
	return out
}

// ReadDir reads a module from disk: the *.cue files of dir and
// dir/cue.mod/module.cue.
func ReadDir(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	names, err := filepath.Glob(filepath.Join(dir, "*.cue"))
	if err != nil {
		return nil, err
	}
	names = append(names, filepath.Join(dir, "cue.mod", "module.cue"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, n)
		out[filepath.ToSlash(rel)] = b
	}
	return out, nil
}

// Model is the loaded interface model.
type Model struct {
	// Root is the evaluated module.
	Root cue.Value
	// Values is the #Values definition: the umbrella chart's values.
	Values cue.Value
	// Catalog holds every component, interface, shared object, credential
	// and external interface, names as "{{ .Release.Name }}" templates.
	Catalog *catalog.Catalog
	// Requirements are the conditional requirements between values, sorted
	// by name.
	Requirements []Requirement
}

// Requirement: when the values key When equals Equals, the key Require must
// be set.
type Requirement struct {
	Name        string   `json:"-"`
	Description string   `json:"description"`
	When        []string `json:"when"`
	Equals      any      `json:"equals"`
	Require     []string `json:"require"`
}

// Load evaluates the module made of files (path relative to the module root
// to content; see Files and ReadDir) and builds the model. CUE errors come
// back as an *Error whose lines carry file:line:col.
func Load(files map[string][]byte) (*Model, error) {
	overlay := make(map[string]load.Source, len(files))
	for name, data := range files {
		overlay[path.Join(virtualRoot, name)] = load.FromBytes(data)
	}
	insts := load.Instances([]string{"."}, &load.Config{Dir: virtualRoot, Overlay: overlay})
	if len(insts) != 1 {
		return nil, fmt.Errorf("%s: want one CUE instance, got %d", Dir, len(insts))
	}
	if err := insts[0].Err; err != nil {
		return nil, newError(err)
	}
	root := cuecontext.New().BuildInstance(insts[0])
	if err := root.Validate(cue.Concrete(true)); err != nil {
		if e := nameErrors(err, root, files); e != nil {
			return nil, e
		}
		return nil, newError(err)
	}
	m := &Model{Root: root, Values: root.LookupPath(cue.ParsePath("#Values"))}
	if err := m.Values.Err(); err != nil {
		return nil, newError(err)
	}
	if err := m.Values.Validate(); err != nil {
		return nil, newError(err)
	}
	cat, err := buildCatalog(root)
	if err != nil {
		return nil, err
	}
	m.Catalog = cat
	if m.Requirements, err = requirements(root); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadEmbedded loads the module built into the binary.
func LoadEmbedded() (*Model, error) { return Load(Files()) }

// Error is a CUE load or evaluation error: one Issue per problem.
type Error struct {
	Issues []Issue
}

// Issue is one CUE error at its first position, relative to the repository
// root ("interfaces/values.cue"); Also lists its other positions.
type Issue struct {
	Pos     Position
	Also    []Position
	Message string
}

// Position is a place in a file.
type Position struct {
	File      string
	Line, Col int
}

func (p Position) String() string {
	if p.File == "" {
		return Dir
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error prints one issue per line as "file:line:col: message", each other
// position of the issue on an indented line below it.
func (e *Error) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: %s", is.Pos, is.Message)
		for _, p := range is.Also {
			fmt.Fprintf(&b, "\n\t%s", p)
		}
	}
	return b.String()
}

func newError(err error) *Error {
	var out Error
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if p := e.Path(); len(p) > 0 {
			msg = pathString(p) + ": " + msg
		}
		var ps []Position
		for _, p := range cueerrors.Positions(e) {
			ps = append(ps, position(p))
		}
		is := Issue{Message: msg}
		if len(ps) > 0 {
			is.Pos, is.Also = ps[0], ps[1:]
		}
		out.Issues = append(out.Issues, is)
	}
	if len(out.Issues) == 0 {
		out.Issues = []Issue{{Message: err.Error()}}
	}
	return &out
}

// pathString writes an error's path as the model's files spell it:
// interfaces.rucio-db.consumers[1].
func pathString(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if _, err := strconv.Atoi(s); err == nil {
			fmt.Fprintf(&b, "[%s]", s)
			continue
		}
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// nameRefs are the definitions in schema.cue that a name must match: a
// disjunction of every key of a section.
var nameRefs = map[string]struct{ section, what string }{
	"#SubchartName":   {"subcharts", "a subchart"},
	"#ComponentName":  {"components", "a component"},
	"#ExternalName":   {"externals", "an external interface"},
	"#CredentialName": {"credentials", "a credential"},
	"#InterfaceName":  {"interfaces", "an interface"},
}

var nameDefRE = regexp.MustCompile(`(?m)^(#[A-Za-z]+Name):`)

// nameErrors turns CUE's errors for a name that is not one of a
// section's keys (a typo such as "rucio-sever"), which list one
// "conflicting values" error per key the name could have been and more
// that follow from it, into one issue per misspelt name at the name:
// "file:line:col: path: "x" is not a component (one of: ...)". It returns
// nil when no error is of that kind.
func nameErrors(err error, root cue.Value, files map[string][]byte) *Error {
	// The line of schema.cue where each name definition is written: an
	// error caused by one carries a position on that line.
	defs := map[int]string{}
	src := files["schema.cue"]
	for _, m := range nameDefRE.FindAllSubmatchIndex(src, -1) {
		name := string(src[m[2]:m[3]])
		if _, ok := nameRefs[name]; ok {
			defs[bytes.Count(src[:m[0]], []byte("\n"))+1] = name
		}
	}
	schemaFile := path.Join(virtualRoot, "schema.cue")
	var out Error
	seen := map[Position]bool{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		if format != "conflicting values %s and %s" || len(args) != 2 {
			continue
		}
		var def, name string
		var lit Position
		for _, p := range cueerrors.Positions(e) {
			if p.Filename() == schemaFile {
				if d, ok := defs[p.Line()]; ok {
					def = d
				}
				continue
			}
			// The misspelt name is the argument written at this position.
			for _, a := range args {
				if s := fmt.Sprint(a); writtenAt(files, p, s) {
					lit, name = position(p), s
				}
			}
		}
		if def == "" || name == "" || seen[lit] {
			continue
		}
		seen[lit] = true
		ref := nameRefs[def]
		names, _, _ := entries(root.LookupPath(cue.MakePath(cue.Str(ref.section))))
		sort.Strings(names)
		out.Issues = append(out.Issues, Issue{Pos: lit, Message: fmt.Sprintf("%s: %s is not %s (one of: %s)",
			pathString(e.Path()), name, ref.what, strings.Join(names, ", "))})
	}
	if len(out.Issues) == 0 {
		return nil
	}
	return &out
}

// writtenAt reports whether text is written in the module's files at p.
func writtenAt(files map[string][]byte, p token.Pos, text string) bool {
	rel, ok := strings.CutPrefix(p.Filename(), virtualRoot+"/")
	if !ok || p.Line() < 1 || p.Column() < 1 {
		return false
	}
	lines := bytes.Split(files[rel], []byte("\n"))
	if p.Line() > len(lines) || p.Column() > len(lines[p.Line()-1]) {
		return false
	}
	return bytes.HasPrefix(lines[p.Line()-1][p.Column()-1:], []byte(text))
}

func position(p token.Pos) Position {
	f := p.Filename()
	if rel, ok := strings.CutPrefix(f, virtualRoot+"/"); ok {
		f = path.Join(Dir, rel)
	}
	return Position{File: f, Line: p.Line(), Col: p.Column()}
}

// posOf is where a value is written, for errors the Go side finds: the
// position of its first conjunct outside schema.cue (which holds the shapes
// every entry unifies with), else of its first conjunct.
func posOf(v cue.Value) Position {
	first := position(v.Pos())
	cands := []cue.Value{v}
	if op, args := v.Expr(); op == cue.AndOp {
		cands = append(cands, args...)
	}
	for _, c := range cands {
		if p := position(c.Pos()); p.File != "" && p.File != path.Join(Dir, "schema.cue") {
			return p
		}
	}
	return first
}

// issuef is a model error found by the Go side, at v's position.
func issuef(v cue.Value, format string, a ...any) *Error {
	return &Error{Issues: []Issue{{Pos: posOf(v), Message: fmt.Sprintf(format, a...)}}}
}

// doc is a value's doc comment, joined into one paragraph.
func doc(v cue.Value) string {
	var parts []string
	for _, c := range v.Doc() {
		parts = append(parts, strings.Join(strings.Fields(c.Text()), " "))
	}
	return strings.Join(parts, " ")
}

// description is the explicit `description` field of an entry or, without
// one, its doc comment.
func description(v cue.Value) string {
	if d := v.LookupPath(cue.ParsePath("description")); d.Exists() {
		if s, err := d.String(); err == nil {
			return s
		}
	}
	return doc(v)
}

// entries iterates a struct's regular fields in CUE order.
func entries(v cue.Value) ([]string, []cue.Value, error) {
	it, err := v.Fields()
	if err != nil {
		return nil, nil, newError(err)
	}
	var names []string
	var vals []cue.Value
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
		vals = append(vals, it.Value())
	}
	return names, vals, nil
}

// decodeSection decodes every entry of a top-level struct into T and fills
// its description; an entry without one is an error.
func decodeSection[T any](root cue.Value, section string, setDesc func(*T, string)) (map[string]T, error) {
	v := root.LookupPath(cue.ParsePath(section))
	names, vals, err := entries(v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(names))
	for i, n := range names {
		var t T
		if err := vals[i].Decode(&t); err != nil {
			return nil, newError(err)
		}
		d := description(vals[i])
		if d == "" {
			return nil, issuef(vals[i], "%s.%s: no description: add a doc comment", section, n)
		}
		setDesc(&t, d)
		out[n] = t
	}
	return out, nil
}

type rawExternal struct {
	Direction   string   `json:"direction"`
	Protocol    string   `json:"protocol"`
	Port        int      `json:"port"`
	Auth        string   `json:"auth"`
	Credentials []string `json:"credentials"`
	Consumers   []string `json:"consumers"`
	Fixture     *struct {
		Components []string `json:"components"`
		Toggle     []string `json:"toggle"`
	} `json:"fixture"`
	description string
}

func buildCatalog(root cue.Value) (*catalog.Catalog, error) {
	c := &catalog.Catalog{APIVersion: catalog.APIVersion, Kind: catalog.Kind, Release: catalog.ReleaseName}
	var err error
	if c.Subcharts, err = decodeSection(root, "subcharts", func(s *catalog.Subchart, d string) { s.Description = d }); err != nil {
		return nil, err
	}
	if c.Components, err = decodeSection(root, "components", func(s *catalog.Component, d string) { s.Description = d }); err != nil {
		return nil, err
	}
	if c.Interfaces, err = decodeSection(root, "interfaces", func(s *catalog.Interface, d string) { s.Description = d }); err != nil {
		return nil, err
	}
	if c.Shared, err = decodeSection(root, "shared", func(s *catalog.Shared, d string) { s.Description = d }); err != nil {
		return nil, err
	}
	if c.Credentials, err = decodeSection(root, "credentials", func(s *catalog.Credential, d string) { s.Description = d }); err != nil {
		return nil, err
	}
	raw, err := decodeSection(root, "externals", func(s *rawExternal, d string) { s.description = d })
	if err != nil {
		return nil, err
	}
	for n, s := range c.Subcharts {
		s.Toggle = n + ".enabled"
		s.Components = []string{}
		for cn, comp := range c.Components {
			if comp.Subchart == n {
				s.Components = append(s.Components, cn)
			}
		}
		sort.Strings(s.Components)
		c.Subcharts[n] = s
	}
	for n, comp := range c.Components {
		comp.Name = catalog.ReleaseName + "-" + n
		c.Components[n] = comp
	}
	for n, i := range c.Interfaces {
		i.Consumers = sorted(i.Consumers)
		c.Interfaces[n] = i
	}
	for n, s := range c.Shared {
		s.Consumers = sorted(s.Consumers)
		c.Shared[n] = s
	}
	for n, cr := range c.Credentials {
		cr.Consumers = sorted(cr.Consumers)
		c.Credentials[n] = cr
	}
	if err := buildInbound(root, c); err != nil {
		return nil, err
	}
	externals := root.LookupPath(cue.ParsePath("#Externals"))
	endpoints, err := optionalFields(externals)
	if err != nil {
		return nil, err
	}
	c.Externals = map[string]catalog.External{}
	for n, r := range raw {
		ep, ok := endpoints[n]
		if !ok {
			return nil, issuef(externals, "#Externals: no endpoint for the external interface %q: add %q?: #...Endpoint", n, n)
		}
		fields, err := endpointFields(ep)
		if err != nil {
			return nil, err
		}
		e := catalog.External{
			Description: r.description,
			Direction:   r.Direction,
			Protocol:    r.Protocol,
			Port:        r.Port,
			Auth:        r.Auth,
			Credentials: sorted(r.Credentials),
			Consumers:   sorted(r.Consumers),
			ValuesKey:   "global.externals." + n,
			Fields:      fields,
		}
		if r.Fixture != nil {
			e.Fixture = &catalog.Fixture{Components: sorted(r.Fixture.Components), Toggle: strings.Join(r.Fixture.Toggle, ".")}
		}
		c.Externals[n] = e
	}
	for n, ep := range endpoints {
		if _, ok := raw[n]; !ok {
			return nil, issuef(ep, "#Externals.%s: no external interface %q in externals", n, n)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Dir, err)
	}
	return c, nil
}

type rawInbound struct {
	Interface   string   `json:"interface"`
	Auth        []string `json:"auth"`
	Exposures   []string `json:"exposures"`
	description string
}

// buildInbound fills the catalog's inbound interfaces: each names an
// internal interface, whose provider and ports it exposes, and has an
// entry in #InboundSources.
func buildInbound(root cue.Value, c *catalog.Catalog) error {
	raw, err := decodeSection(root, "inbound", func(s *rawInbound, d string) { s.description = d })
	if err != nil {
		return err
	}
	sources := root.LookupPath(cue.ParsePath("#InboundSources"))
	fields, err := optionalFields(sources)
	if err != nil {
		return err
	}
	c.Inbound = map[string]catalog.Inbound{}
	for n, r := range raw {
		if _, ok := fields[n]; !ok {
			return issuef(sources, "#InboundSources: no entry for the inbound interface %q: add %q?: #InboundSource", n, n)
		}
		i := c.Interfaces[r.Interface]
		c.Inbound[n] = catalog.Inbound{
			Description: r.description, Interface: r.Interface, Component: i.Provider, Ports: i.Ports,
			Auth: sorted(r.Auth), Exposures: sorted(r.Exposures), ValuesKey: "global.inbound." + n,
		}
	}
	for n, f := range fields {
		if _, ok := raw[n]; !ok {
			return issuef(f, "#InboundSources.%s: no inbound interface %q in inbound", n, n)
		}
	}
	return nil
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// optionalFields returns a struct's fields, optional ones included, by name.
func optionalFields(v cue.Value) (map[string]cue.Value, error) {
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil, newError(err)
	}
	out := map[string]cue.Value{}
	for it.Next() {
		out[it.Selector().Unquoted()] = it.Value()
	}
	return out, nil
}

// endpointFields lists the top-level fields of an external's endpoint.
func endpointFields(ep cue.Value) ([]catalog.Field, error) {
	it, err := ep.Fields(cue.Optional(true))
	if err != nil {
		return nil, newError(err)
	}
	var out []catalog.Field
	for it.Next() {
		v := it.Value()
		f := catalog.Field{
			Name:        it.Selector().Unquoted(),
			Type:        JSONType(v),
			Required:    it.Selector().ConstraintType() == cue.RequiredConstraint,
			Description: doc(v),
		}
		if d, ok := v.Default(); ok && d.IsConcrete() {
			var x any
			if err := d.Decode(&x); err == nil {
				f.Default = x
			}
		}
		if f.Description == "" {
			return nil, issuef(v, "%s: no description: add a doc comment", v.Path())
		}
		if f.Type == "array" {
			// A list of objects: its items' fields, with their defaults.
			if item, ok := listItem(v); ok {
				if f.Items, err = endpointFields(item); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// listItem is the item type of a list of objects. A list with a validator
// call (list.MinItems) has no item type of its own: take its operands'.
func listItem(v cue.Value) (cue.Value, bool) {
	cands := []cue.Value{v}
	if op, args := v.Expr(); op == cue.AndOp {
		cands = append(cands, args...)
	}
	for _, c := range cands {
		if item := c.LookupPath(cue.MakePath(cue.AnyIndex)); item.Exists() && item.IncompleteKind() == cue.StructKind {
			return item, true
		}
	}
	return cue.Value{}, false
}

// JSONType is the JSON Schema type of a CUE value's kind ("" when it admits
// several).
func JSONType(v cue.Value) string {
	k := v.IncompleteKind()
	if k == cue.BottomKind {
		// A conjunction with a validator call (list.MinItems) reports no
		// kind: take the kinds of its operands.
		if op, args := v.Expr(); op == cue.AndOp {
			k = cue.TopKind
			for _, a := range args {
				if ak := a.IncompleteKind(); ak != cue.BottomKind && ak != cue.TopKind {
					k &= ak
				}
			}
		}
	}
	switch k &^ cue.NullKind {
	case cue.StringKind:
		return "string"
	case cue.IntKind:
		return "integer"
	case cue.FloatKind, cue.NumberKind:
		return "number"
	case cue.BoolKind:
		return "boolean"
	case cue.ListKind:
		return "array"
	case cue.StructKind:
		return "object"
	}
	return ""
}

func requirements(root cue.Value) ([]Requirement, error) {
	names, vals, err := entries(root.LookupPath(cue.ParsePath("requirements")))
	if err != nil {
		return nil, err
	}
	var out []Requirement
	for i, n := range names {
		var r Requirement
		if err := vals[i].Decode(&r); err != nil {
			return nil, newError(err)
		}
		r.Name = n
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// IsError reports whether err is a CUE model error.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
