// Package plaintext finds credentials outside Secrets in a rendered
// stream, for guards to refuse it. It looks in two ways:
//
//   - known values: the values credentials.Find found for the catalog's
//     credentials, wherever they sit outside a Secret or ExternalSecret (any
//     scalar, a mapping key, a YAML comment, which the output keeps), as
//     they are, base64-encoded (a scalar that decodes to text holding one,
//     or a value's base64 inside a longer text) or percent-encoded;
//   - value-independent, with no catalog at all: a password in URL
//     userinfo, a password in an SQL statement, a literal env value or
//     command-line flag ("--password=V", "--password" "V") whose name says
//     it is a secret, and a field named so inside a config file (INI,
//     JSON, YAML, by the data key's extension) held in ConfigMap data or
//     binaryData.
//
// A name says it is a secret (secretNamed) when its last word is PASSWORD,
// PASSWD, PWD, PASS, SECRET, TOKEN or APIKEY, or its last word is KEY and
// an earlier one API or SECRET (API_KEY, SECRET_KEY, SECRET_ACCESS_KEY,
// apiKey). Words split at "_", "-", "." and lower-to-upper case changes.
// So POSTGRES_PASSWORD_FILE, TOKEN_TTL and SECRET_NAME are not: their
// value is a path, a duration, a name. A name ending in SECRET often holds
// the name of a Secret (CA_SECRET, pullSecret): its value is not flagged
// when it looks like an object name (lowercase letters, digits, "-" and
// ".") and is not all hex digits.
//
// A value is literal unless it is empty, a boolean, or nothing but
// references ($(VAR), ${VAR}, $VAR): a reference is what secretrefs writes
// in place of a credential, never one. The catalog's notSecret entries
// exempt a location from the value-independent rules.
package plaintext

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/internal/redact"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// Finding is one credential outside a Secret.
type Finding struct {
	Node *yaml.RNode // the object that holds it
	Path string      // field path in the object
	What string      // what it holds, never the value: "the credential rucio-db-password"
	Fix  string      // what to do about it
}

// What to do, by kind of finding.
const (
	fixName  = "do not use a credential as a key or a name"
	fixNote  = "remove it from the comment in the chart's template (comments are copied to the output)"
	fixFound = "move it into a Secret, or declare this place in the catalog: in credentials.<name>.locations, or in notSecret if it is not a credential"
)

// Scan returns the credentials outside Secrets in nodes, in stream order.
// creds may be empty (no catalog): only the value-independent rules run.
func Scan(nodes []*yaml.RNode, creds credentials.Set, notSecret []catalog.Location) []Finding {
	var out []Finding
	known := newKnown(creds)
	handled := map[*yaml.Node]bool{} // one for the stream: nodes are its keys
	for _, n := range nodes {
		switch manifest.Kind(n) {
		case "Secret", "ExternalSecret":
			continue
		}
		s := &scan{obj: n, known: known, notSecret: notSecret, handled: handled}
		s.env()
		if manifest.Kind(n) == "ConfigMap" {
			s.configMapData()
		}
		// The walks build a path for every node: only objects where a
		// cheap pass sees something take them.
		if s.suspect(n.YNode()) {
			if known != nil {
				s.knownValues(n.YNode(), "")
			}
			s.otherScalars(n.YNode(), "")
		}
		out = append(out, s.result()...)
	}
	return out
}

// scan is the search of one object.
type scan struct {
	obj       *yaml.RNode
	known     *known
	notSecret []catalog.Location
	handled   map[*yaml.Node]bool // scalars the env and data rules looked at
	seen      map[string]bool     // findings so far, by path and what; nil until one
	byKnown   []Finding           // known values
	byRule    []Finding           // value-independent
}

func (s *scan) result() []Finding {
	out := s.byKnown
	known := map[string]bool{}
	for _, f := range out {
		known[f.Path] = true
	}
	// A known value and a rule at the same place are one problem, named
	// by the catalog.
	for _, f := range s.byRule {
		if !known[f.Path] {
			out = append(out, f)
		}
	}
	return out
}

func (s *scan) add(list *[]Finding, path, what, fix string) {
	if s.seen[path+"\x00"+what] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[path+"\x00"+what] = true
	*list = append(*list, Finding{Node: s.obj, Path: path, What: what, Fix: fix})
}

// --- known values ---

// known is the catalog's credentials with their base64 forms.
type known struct {
	creds  credentials.Set
	base64 map[string][]string // credential name -> base64 forms of its values
	whole  map[string]bool     // forms matched only as a whole text (short values)
}

func newKnown(set credentials.Set) *known {
	// A detect pattern run over secretrefs' output captures its
	// $(DPPS_CRED_X) references: they are never a credential.
	var creds credentials.Set
	for _, c := range set {
		c.Values = slices.DeleteFunc(slices.Clone(c.Values), func(v string) bool { return !literal(v) })
		creds = append(creds, c)
	}
	if !creds.Known() {
		return nil
	}
	k := &known{creds: creds, base64: map[string][]string{}, whole: map[string]bool{}}
	for _, c := range creds {
		for _, v := range c.Values {
			redact.Process.Add(c.Name, v)
			forms := redact.Base64Forms(v)
			if len(v) < credentials.MinEmbedded {
				forms = forms[:4] // the whole encodings
				for _, f := range forms {
					k.whole[f] = true
				}
			}
			k.base64[c.Name] = append(k.base64[c.Name], forms...)
		}
	}
	return k
}

// find says which credential text holds and how: "the credential X",
// "the base64 of the credential X", "the percent-encoded credential X".
func (k *known) find(text string) (name, what string, ok bool) {
	if c, _, ok := k.creds.Match(text); ok {
		return c.Name, "the credential " + c.Name, true
	}
	if strings.Contains(text, "%") {
		if d := percentDecode(text); d != text {
			if c, _, ok := k.creds.Match(d); ok {
				return c.Name, "the percent-encoded credential " + c.Name, true
			}
		}
	}
	for _, c := range k.creds {
		for _, f := range k.base64[c.Name] {
			if text == f || !k.whole[f] && strings.Contains(text, f) {
				return c.Name, "the base64 of the credential " + c.Name, true
			}
		}
	}
	if d, ok := decodeBase64(text); ok {
		if c, _, ok := k.creds.Match(d); ok {
			return c.Name, "the base64 of the credential " + c.Name, true
		}
	}
	return "", "", false
}

// report adds a known-value finding.
func (s *scan) report(path, text, where, fix string) bool {
	name, what, ok := s.known.find(text)
	if ok {
		if fix == "" {
			fix = "keep it only in its Secret: remove it from the chart's values, or declare this place in credentials." + name + ".locations for secretrefs to move it"
		}
		s.add(&s.byKnown, orRoot(path), what+where, fix)
	}
	return ok
}

// name renders a key or element name for a path, hiding a credential.
func (k *known) name(text string) string {
	if k != nil {
		if c, whole, ok := k.creds.Match(text); ok && whole {
			return "<credential " + c.Name + ">"
		}
	}
	return text
}

// suspect reports whether a scalar, key or comment under n holds a known
// value or text a rule finds, without building paths.
func (s *scan) suspect(n *yaml.Node) bool {
	for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
		if c != "" && (s.knownIn(c, true) || textHits(c)) {
			return true
		}
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			if s.suspect(c) {
				return true
			}
		}
	case yaml.ScalarNode:
		text := n.Value
		if n.Tag == "!!binary" {
			if d, ok := decodeBase64(text); ok {
				text = d
			}
		}
		return s.knownIn(n.Value, false) || textHits(text)
	}
	return false
}

// knownIn reports whether text holds a known value; in a comment, also
// whether one of its words is one.
func (s *scan) knownIn(text string, comment bool) bool {
	if s.known == nil {
		return false
	}
	if _, _, ok := s.known.find(text); ok || !comment {
		return ok
	}
	for _, word := range commentWords(text) {
		if _, _, ok := s.known.find(word); ok {
			return true
		}
	}
	return false
}

func commentWords(c string) []string {
	return strings.FieldsFunc(c, func(r rune) bool { return unicode.IsSpace(r) || r == '#' })
}

// knownValues walks every scalar, key and comment of n.
func (s *scan) knownValues(n *yaml.Node, path string) {
	k := s.known
	s.comments(n, path)
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			s.knownValues(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			at := join(path, k.name(key.Value))
			s.report(path, key.Value, " as a key", fixName)
			s.comments(key, at)
			s.knownValues(n.Content[i+1], at)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.knownValues(c, path+s.element(c, i))
		}
	case yaml.ScalarNode:
		fix := ""
		if path == "name" || strings.HasSuffix(path, ".name") {
			fix = fixName
		}
		s.report(path, n.Value, "", fix)
	}
}

func (s *scan) comments(n *yaml.Node, path string) {
	for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
		if c == "" || s.report(path, c, " in a YAML comment", fixNote) {
			continue
		}
		// A short value is only matched whole: try each word.
		for _, word := range commentWords(c) {
			if s.report(path, word, " in a YAML comment", fixNote) {
				break
			}
		}
	}
}

// element renders a sequence element in a path, as manifest.ElementName
// does, by index when its name is a credential.
func (s *scan) element(elem *yaml.Node, i int) string {
	p := manifest.ElementName(elem, i)
	if s.known != nil && s.known.name(strings.Trim(p, "[]")) != strings.Trim(p, "[]") {
		return fmt.Sprintf("[%d]", i)
	}
	return p
}

// --- value-independent rules ---

// place is where a value-independent finding sits, for notSecret.
type place struct {
	env, flag  string // env var or command-line flag
	container  string // of env or flag
	key, field string // ConfigMap data key; field in its config file
	format     string
}

func (s *scan) exempt(p place) bool {
	for _, l := range s.notSecret {
		switch {
		case l.Env != "" && p.env != "" || l.Flag != "" && p.flag != "":
			if l.Env == p.env && l.Flag == p.flag && (l.Workload == "" || l.Workload == s.obj.GetName()) && (l.Container == "" || l.Container == p.container) {
				return true
			}
		case l.Object != nil && p.key != "":
			if l.Object.Kind == manifest.Kind(s.obj) && l.Object.Name == s.obj.GetName() && l.Key == p.key &&
				(l.Field == "" || l.Field == p.field && (l.Format == "" || l.Format == p.format)) {
				return true
			}
		}
	}
	return false
}

func (s *scan) rule(p place, path, what string) {
	if !s.exempt(p) {
		s.add(&s.byRule, path, what, fixFound)
	}
}

// env checks the literal env values and command-line flags of every
// container.
func (s *scan) env() {
	obj := s.obj.YNode()
	spec := manifest.PodSpec(obj)
	if spec == nil {
		return
	}
	base := manifest.PodSpecPath(obj)
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		seq := manifest.Field(spec, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range seq.Content {
			env := manifest.Field(c, "env")
			container := ""
			if n := manifest.Field(c, "name"); n != nil {
				container = n.Value
			}
			cpath := base + "." + list + s.element(c, i)
			s.flags(c, container, cpath)
			if env == nil || env.Kind != yaml.SequenceNode {
				continue
			}
			cpath += ".env"
			for j, e := range env.Content {
				name, value := manifest.Field(e, "name"), manifest.Field(e, "value")
				if name == nil || value == nil || value.Kind != yaml.ScalarNode {
					continue
				}
				s.handled[value] = true
				named := secretNamed(name.Value) && literal(value.Value) && !secretName(name.Value, value.Value)
				if !named && !textHits(value.Value) {
					continue
				}
				p := place{env: name.Value, container: container}
				path := cpath + s.element(e, j) + ".value"
				if named {
					s.rule(p, path, "a literal value in an env var named like a secret")
					register(name.Value, value.Value)
				}
				s.text(p, path, "", value.Value)
			}
		}
	}
}

// flags checks a container's command and args for "--NAME=VALUE" and
// "--NAME" "VALUE" where NAME says it is a secret.
func (s *scan) flags(c *yaml.Node, container, cpath string) {
	for _, field := range []string{"command", "args"} {
		list := manifest.Field(c, field)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, item := range list.Content {
			if item.Kind != yaml.ScalarNode || !strings.HasPrefix(item.Value, "-") {
				continue
			}
			flag, value, inline := strings.Cut(item.Value, "=")
			at := i
			if !inline {
				if i+1 >= len(list.Content) || list.Content[i+1].Kind != yaml.ScalarNode || strings.HasPrefix(list.Content[i+1].Value, "-") {
					continue
				}
				at, value = i+1, list.Content[i+1].Value
			}
			name := strings.TrimLeft(flag, "-")
			if secretNamed(name) && literal(value) && !secretName(name, value) {
				s.rule(place{flag: flag, container: container}, fmt.Sprintf("%s.%s[%d]", cpath, field, at), "a literal value of a command-line flag named like a secret")
				register(flag, value)
			}
		}
	}
}

// configMapData checks each data and binaryData value of a ConfigMap: as a
// config file when it is one, else as text.
func (s *scan) configMapData() {
	obj := s.obj.YNode()
	for _, field := range []string{"data", "binaryData"} {
		data := manifest.Field(obj, field)
		if data == nil || data.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(data.Content); i += 2 {
			key, v := data.Content[i].Value, data.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				continue
			}
			s.handled[v] = true
			text := v.Value
			if field == "binaryData" {
				d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
				if err != nil || !utf8.Valid(d) {
					continue
				}
				text = string(d)
			}
			path := join(field, s.knownName(key))
			format, fields := configFile(key, text)
			if format == "" {
				s.text(place{key: key}, path, "", text)
				continue
			}
			for _, f := range fields {
				p := place{key: key, field: f.path, format: format}
				in := fmt.Sprintf(" (%s field %s)", strings.ToUpper(format), f.path)
				if secretNamed(f.name) && literal(f.value) && !secretName(f.name, f.value) {
					s.rule(p, path, "a literal value in a field named like a secret"+in)
					register(f.name, f.value)
				}
				s.text(p, path, in, f.value)
			}
		}
	}
}

func (s *scan) knownName(key string) string {
	if s.known == nil {
		return key
	}
	return s.known.name(key)
}

// otherScalars applies the text rules to every scalar the env and data
// rules did not look at, and to comments.
func (s *scan) otherScalars(n *yaml.Node, path string) {
	for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
		if c != "" {
			s.text(place{}, orRoot(path), " in a YAML comment", c)
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			s.otherScalars(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			at := join(path, s.knownName(n.Content[i].Value))
			for _, c := range []string{n.Content[i].HeadComment, n.Content[i].LineComment, n.Content[i].FootComment} {
				if c != "" {
					s.text(place{}, at, " in a YAML comment", c)
				}
			}
			s.otherScalars(n.Content[i+1], at)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.otherScalars(c, path+s.element(c, i))
		}
	case yaml.ScalarNode:
		if s.handled[n] {
			return
		}
		text := n.Value
		if n.Tag == "!!binary" {
			if d, ok := decodeBase64(text); ok {
				text = d
			}
		}
		s.text(place{}, orRoot(path), "", text)
	}
}

// urlUserinfo matches scheme://user:password@ and captures the password.
var urlUserinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@"'<>\\]*:([^\s/?#@"'<>\\]*)@[A-Za-z0-9\[]`)

// sqlPassword matches PASSWORD '...' (PostgreSQL CREATE/ALTER ROLE, MySQL
// SET PASSWORD) and IDENTIFIED BY '...' (MySQL), and captures the literal.
var sqlPassword = regexp.MustCompile(`(?i)\b(?:PASSWORD(?:\s*=)?|IDENTIFIED\s+BY)\s+'([^']*)'`)

// textHits reports whether text applies finds something.
func textHits(text string) bool {
	if strings.Contains(text, "://") {
		for _, m := range urlUserinfo.FindAllStringSubmatch(text, -1) {
			if literal(m[1]) {
				return true
			}
		}
	}
	if strings.Contains(text, "'") {
		for _, m := range sqlPassword.FindAllStringSubmatch(text, -1) {
			if literal(m[1]) {
				return true
			}
		}
	}
	return false
}

// text applies the rules that look inside any text: URL userinfo and SQL.
func (s *scan) text(p place, path, in, text string) {
	if strings.Contains(text, "://") {
		for _, m := range urlUserinfo.FindAllStringSubmatch(text, -1) {
			if literal(m[1]) {
				s.rule(p, path, "a password in URL userinfo"+in)
				register("URL password", percentDecode(m[1]))
				register("URL password", m[1])
			}
		}
	}
	if strings.Contains(text, "'") {
		for _, m := range sqlPassword.FindAllStringSubmatch(text, -1) {
			if literal(m[1]) {
				s.rule(p, path, "a password in an SQL statement"+in)
				register("SQL password", m[1])
			}
		}
	}
}

// register hands a value found by a rule to the redactor: a message that
// happens to hold it must not print it.
func register(name, value string) {
	if len(value) >= 4 {
		redact.Process.Add(name, value)
	}
}

// reference is one $(VAR), ${VAR} or $VAR.
var reference = regexp.MustCompile(`\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// literal reports whether a value could be a credential: not empty, not a
// boolean, not only references.
func literal(v string) bool {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "", "true", "false", "null", "~":
		return false
	}
	return strings.TrimSpace(reference.ReplaceAllString(v, "")) != ""
}

// secretNamed reports whether a name says it holds a secret (see the
// package comment).
func secretNamed(name string) bool {
	words := splitWords(name)
	if len(words) == 0 {
		return false
	}
	switch words[len(words)-1] {
	case "PASSWORD", "PASSWD", "PWD", "PASS", "SECRET", "TOKEN", "APIKEY":
		return true
	case "KEY":
		return slices.Contains(words, "API") || slices.Contains(words, "SECRET")
	}
	return false
}

// objectName is a Kubernetes object name (DNS-1123 subdomain).
var objectName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// hexDigits is what "openssl rand -hex" and most generated keys look like.
var hexDigits = regexp.MustCompile(`^[0-9a-f]+$`)

// secretName reports whether a value under a name whose last word is
// SECRET is the name of a Secret (CA_SECRET, pullSecret) rather than a
// secret: it looks like an object name and not like hex digits.
func secretName(name, value string) bool {
	words := splitWords(name)
	return words[len(words)-1] == "SECRET" && objectName.MatchString(value) && !hexDigits.MatchString(value)
}

func splitWords(name string) []string {
	var words []string
	var cur []rune
	prev := rune(0)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToUpper(string(cur)))
			cur = cur[:0]
		}
	}
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return words
}

// --- config files in ConfigMap data ---

// configField is one scalar of a config file.
type configField struct {
	path  string // dotted; INI: section.key
	name  string // its last key
	value string
}

// configFile parses text as the config file its key's extension says, or,
// without one, as JSON when it looks like JSON. format is "" when text is
// not a config file.
func configFile(key, text string) (format string, fields []configField) {
	ext := strings.ToLower(key[strings.LastIndex(key, ".")+1:])
	trimmed := strings.TrimSpace(text)
	switch {
	case ext == "json" || !strings.Contains(key, ".") && strings.HasPrefix(trimmed, "{"):
		var v any
		if json.Unmarshal([]byte(text), &v) != nil {
			return "", nil
		}
		collect(v, "", "", &fields)
		return "json", fields
	case ext == "yaml" || ext == "yml":
		var v any
		if yaml.Unmarshal([]byte(text), &v) != nil {
			return "", nil
		}
		collect(v, "", "", &fields)
		return "yaml", fields
	case ext == "ini" || ext == "cfg" || ext == "conf" || ext == "cnf" || ext == "properties" || ext == "env":
		return "ini", ini(text)
	}
	return "", nil
}

// collect lists the scalars of a decoded JSON or YAML document.
func collect(v any, path, name string, out *[]configField) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			collect(v[k], join(path, k), k, out)
		}
	case []any:
		for i, x := range v {
			collect(x, fmt.Sprintf("%s[%d]", path, i), name, out)
		}
	case string:
		*out = append(*out, configField{path, name, v})
	case float64, int, int64, uint64:
		*out = append(*out, configField{path, name, fmt.Sprint(v)})
	}
}

// ini reads "key = value" and "key: value" lines under [section] headers,
// as Python's configparser (Rucio, alembic) and most INI readers do.
func ini(text string) []configField {
	var out []configField
	section := ""
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
		default:
			i := strings.IndexAny(line, "=:")
			if i <= 0 {
				continue
			}
			name := strings.TrimSpace(line[:i])
			value := strings.Trim(strings.TrimSpace(line[i+1:]), `"'`)
			out = append(out, configField{join(section, name), name, value})
		}
	}
	return out
}

// --- helpers ---

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// orRoot names the object itself when path is empty (a document comment).
func orRoot(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

// decodeBase64 decodes text that is entirely base64 (line breaks allowed)
// into valid UTF-8 text.
func decodeBase64(text string) (string, bool) {
	if len(text) < 8 {
		return "", false
	}
	spaces := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '-', c == '_', c == '=':
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			spaces = true
		default:
			return "", false // most text: no allocation
		}
	}
	t := text
	if spaces {
		t = strings.Join(strings.Fields(text), "")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(t); err == nil && utf8.Valid(d) {
			return string(d), true
		}
	}
	return "", false
}

// percentDecode decodes every valid %XX; other bytes stay.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
