package credentials

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/catalog"
	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// read adds the values a location holds in the stream to into. A location
// whose object, workload or env var is not in the stream adds nothing: a
// chart's values switch parts of it off. A value inside a longer text (a
// DSN, a config file, "--flag=V") must be long enough to be replaced there
// without touching unrelated text; a shorter one is an error, not a value
// left in plain text.
func read(nodes []*yaml.RNode, l catalog.Location, into map[string]bool) error {
	short := false
	add := func(raw string, inside bool) {
		v, ok := extract(raw, l.Extract)
		if !ok || !IsValue(v) {
			return
		}
		if (inside || l.Extract != "") && len(v) < MinEmbedded {
			short = true
			return
		}
		into[v] = true
	}
	switch {
	case l.Env != "" || l.Flag != "":
		for _, n := range nodes {
			if l.Workload != "" && n.GetName() != l.Workload {
				continue
			}
			spec := manifest.PodSpec(n.YNode())
			if spec == nil {
				continue
			}
			for _, c := range manifest.Containers(spec) {
				if l.Container != "" && str(manifest.Field(c, "name")) != l.Container {
					continue
				}
				if l.Env != "" {
					envValues(c, l.Env, add)
				} else {
					flagValues(c, l.Flag, add)
				}
			}
		}
	case l.Object != nil:
		for _, n := range nodes {
			if manifest.Kind(n) != l.Object.Kind || n.GetName() != l.Object.Name {
				continue
			}
			text, ok := dataValue(n, l.Key)
			if !ok {
				continue
			}
			if l.Format == "" {
				add(text, false)
				continue
			}
			if v, ok := FileField(text, l.Format, l.Field); ok {
				add(v, true)
			}
		}
	}
	if short {
		return fmt.Errorf("the value found there is shorter than %d characters, too short to replace inside the text that holds it without touching other text: use a longer credential", MinEmbedded)
	}
	return nil
}

func str(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// envValues calls add with the literal value of every env entry named name.
func envValues(container *yaml.Node, name string, add func(string, bool)) {
	env := manifest.Field(container, "env")
	if env == nil || env.Kind != yaml.SequenceNode {
		return
	}
	for _, e := range env.Content {
		if str(manifest.Field(e, "name")) == name {
			if v := manifest.Field(e, "value"); v != nil && v.Kind == yaml.ScalarNode {
				add(v.Value, false)
			}
		}
	}
}

// flagValues calls add with the value of every "--flag=V" and "--flag" "V"
// in command and args (args follow command, so a flag at the end of
// command takes the first arg).
func flagValues(container *yaml.Node, flag string, add func(string, bool)) {
	var words []string
	for _, key := range []string{"command", "args"} {
		if list := manifest.Field(container, key); list != nil && list.Kind == yaml.SequenceNode {
			for _, w := range list.Content {
				words = append(words, str(w))
			}
		}
	}
	for i, w := range words {
		switch {
		case w == flag && i+1 < len(words):
			add(words[i+1], false)
		case strings.HasPrefix(w, flag+"="):
			add(w[len(flag)+1:], true)
		}
	}
}

// dataValue returns a data key of a ConfigMap (data, binaryData decoded) or
// a Secret (data decoded, stringData).
func dataValue(obj *yaml.RNode, key string) (string, bool) {
	if manifest.Kind(obj) == "Secret" {
		v, ok := SecretData(obj)[key]
		return v, ok
	}
	if v := manifest.Field(manifest.Field(obj.YNode(), "data"), key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value, true
	}
	if v := manifest.Field(manifest.Field(obj.YNode(), "binaryData"), key); v != nil && v.Kind == yaml.ScalarNode {
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v.Value)); err == nil {
			return string(b), true
		}
	}
	return "", false
}

// extract takes the part of a value a location names: all of it, or the
// password of a URL's userinfo, percent-decoded.
func extract(value, how string) (string, bool) {
	if how != catalog.ExtractURLPassword {
		return value, true
	}
	return URLPassword(value)
}

// URLPassword returns the password of the first URL in text with one in its
// userinfo ("scheme://user:password@host"), percent-decoded. The password
// may hold unescaped '@' and '/': the userinfo ends at the last '@' before
// the next blank.
func URLPassword(text string) (string, bool) {
	for {
		i := strings.Index(text, "://")
		if i < 0 {
			return "", false
		}
		rest := text[i+3:]
		if end := strings.IndexAny(rest, " \t\r\n\"'"); end >= 0 {
			rest = rest[:end]
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pass, ok := strings.Cut(rest[:at], ":"); ok {
				if dec, err := url.PathUnescape(pass); err == nil {
					return dec, true
				}
				return pass, true
			}
		}
		text = text[i+3:]
	}
}

// FileField returns the value of a dotted field of a config file: INI
// ("section.key"; a key before any section is "key"), JSON or YAML (a path
// of mapping keys and sequence indexes). A key may hold dots itself. ok is
// false when the file does not parse or has no such scalar field.
func FileField(text, format, field string) (string, bool) {
	switch format {
	case catalog.FormatINI:
		return iniField(text, field)
	case catalog.FormatJSON:
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
		return jsonField(v, field)
	case catalog.FormatYAML:
		doc, err := yaml.Parse(text)
		if err != nil {
			return "", false
		}
		return yamlField(doc.YNode(), field)
	}
	return "", false
}

// iniField reads "section.key" as Python's configparser does for Rucio's
// rucio.cfg and alembic.ini: "key = value" or "key: value", ';' and '#'
// comment lines, keys compared without case. The last assignment wins.
func iniField(text, field string) (string, bool) {
	section, value, found := "", "", false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, len(text)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == ';' || line[0] == '#':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
		default:
			i := strings.IndexAny(line, "=:")
			if i < 0 {
				continue
			}
			key := strings.TrimSpace(line[:i])
			name := key
			if section != "" {
				name = section + "." + key
			}
			if strings.EqualFold(name, field) {
				value, found = strings.TrimSpace(line[i+1:]), true
			}
		}
	}
	return value, found
}

func jsonField(v any, field string) (string, bool) {
	if field == "" {
		switch v := v.(type) {
		case string:
			return v, true
		case json.Number:
			return v.String(), true
		}
		return "", false
	}
	switch v := v.(type) {
	case map[string]any:
		// The longest key first: a key with dots wins over a nested path.
		for i := len(field); i > 0; i-- {
			if i < len(field) && field[i] != '.' {
				continue
			}
			if x, ok := v[field[:i]]; ok {
				if s, ok := jsonField(x, rest(field, i)); ok {
					return s, true
				}
			}
		}
	case []any:
		head, tail, _ := strings.Cut(field, ".")
		if i, err := strconv.Atoi(head); err == nil && i >= 0 && i < len(v) {
			return jsonField(v[i], tail)
		}
	}
	return "", false
}

func yamlField(n *yaml.Node, field string) (string, bool) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if field == "" {
		if n.Kind == yaml.ScalarNode {
			return n.Value, true
		}
		return "", false
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := len(field); i > 0; i-- {
			if i < len(field) && field[i] != '.' {
				continue
			}
			if x := manifest.Field(n, field[:i]); x != nil {
				if s, ok := yamlField(x, rest(field, i)); ok {
					return s, true
				}
			}
		}
	case yaml.SequenceNode:
		head, tail, _ := strings.Cut(field, ".")
		if i, err := strconv.Atoi(head); err == nil && i >= 0 && i < len(n.Content) {
			return yamlField(n.Content[i], tail)
		}
	}
	return "", false
}

// rest is what follows field[:i] and its dot.
func rest(field string, i int) string {
	if i >= len(field) {
		return ""
	}
	return field[i+1:]
}
