package pipeline

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// dpps-render reads YAML with yaml.v3 (YAML 1.2's core schema); Kubernetes
// and Helm read manifests with sigs.k8s.io/yaml, whose yaml.v2 keeps YAML
// 1.1's booleans: a plain `yes`, `on` or `n` is the string "yes" to the
// first and true to the second. A transform or a guard must see what
// Kubernetes will apply, so such a plain scalar is refused when read
// (yaml11Boolean), and every string dpps-render writes is quoted when a
// YAML 1.1 reader would take it for anything else (quoteYAML11).

// yaml11Boolean reports whether a plain scalar is one of the words yaml.v2
// reads as a boolean and yaml.v3 as a string.
func yaml11Boolean(v string) bool {
	switch v {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

// checkScalar refuses a scalar that Kubernetes and yaml.v3 read
// differently. Its value is not quoted in the message: it may be a
// credential.
func checkScalar(n *yaml.Node, isKey bool) error {
	if n.Style&yaml.TaggedStyle != 0 {
		if err := checkTag(n); err != nil {
			return err
		}
	}
	if n.Tag == "!!float" && infinityOrNaN(n.Value) {
		return &InputError{Line: n.Line, Msg: "a float that JSON cannot hold (.inf, .nan), which Kubernetes refuses: quote it if it is text"}
	}
	if isKey && n.Tag == "!!null" {
		return &InputError{Line: n.Line, Msg: "a null mapping key, which Kubernetes refuses"}
	}
	if isKey && n.Tag != "!!str" {
		if name := kubernetesKey(n); name != n.Value {
			return &InputError{Line: n.Line, Msg: fmt.Sprintf("mapping key %q is %s to Kubernetes, which names it %q: quote it", n.Value, typeName(n.Tag), name)}
		}
	}
	if n.Style != 0 || n.Tag != "!!str" || !yaml11Boolean(n.Value) {
		return nil
	}
	what := "a plain value"
	if isKey {
		what = "a plain mapping key"
	}
	return &InputError{Line: n.Line, Msg: what + " that Kubernetes reads as a boolean (YAML 1.1: y, yes, on, n, no, off) and YAML 1.2 as a string: quote it, or write true or false"}
}

// typeName names a scalar's type in a message.
func typeName(tag string) string {
	switch tag {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!timestamp":
		return "a timestamp"
	}
	return "a " + strings.TrimPrefix(tag, "!!")
}

// checkTag refuses an explicitly tagged scalar that Kubernetes reads
// otherwise than dpps-render's checks do: !!binary, which Kubernetes
// decodes where the checks would see base64 text, and a standard tag on a
// text that is not of that type (!!bool yes is true to Kubernetes, and
// !!int x an error).
func checkTag(n *yaml.Node) error {
	switch n.Tag {
	case "!!binary":
		return &InputError{Line: n.Line, Msg: "a !!binary scalar, which Kubernetes decodes while dpps-render's checks would read its base64 text: write the text itself"}
	case "!!bool", "!!int", "!!float", "!!null", "!!timestamp":
		implicit := (&yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}).ShortTag()
		if implicit != n.Tag && (n.Tag != "!!float" || implicit != "!!int") {
			return &InputError{Line: n.Line, Msg: fmt.Sprintf("a scalar tagged %s whose text is not of that type, which Kubernetes would read otherwise or refuse: drop the tag or fix the value", n.Tag)}
		}
	}
	return nil
}

// kubernetesKey is the name sigs.k8s.io/yaml gives a mapping key that is
// not a string: the number or boolean written back in its own way (0x1F
// is "31", 000 is "0", True is "true"), so two keys that differ to
// dpps-render may be one key to Kubernetes.
func kubernetesKey(n *yaml.Node) string {
	var v any
	if err := n.Decode(&v); err != nil {
		return ""
	}
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 32)
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// infinityOrNaN reports whether a float's text is one of YAML's
// infinities or not-a-number.
func infinityOrNaN(v string) bool {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(v, "+"), "-")) {
	case ".inf", ".nan":
		return true
	}
	return false
}

// quoteYAML11 gives double quotes to every plain string in doc that some
// YAML 1.1 reader would read as something else, before either writer
// writes it: a label value "yes" from --part-of, an image named "no". It
// also spells out an empty null inside a flow collection, which yaml.v3's
// writer would quote as the empty string.
func quoteYAML11(n *yaml.Node, inFlow bool) {
	if n.Kind == yaml.ScalarNode {
		switch {
		case n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		case n.Value == "" && inFlow && !isString(n):
			n.Value = "null"
		case yaml11NotString(n.Value) && isString(n):
			n.Style = yaml.DoubleQuotedStyle
		}
		return
	}
	inFlow = inFlow || n.Style&yaml.FlowStyle != 0
	for _, c := range n.Content {
		quoteYAML11(c, inFlow)
	}
}

// isString reports whether a scalar is a string to yaml.v3: tagged so, or
// untagged and resolving so.
func isString(n *yaml.Node) bool {
	switch n.Tag {
	case "!!str":
		return true
	case "":
		tag, ok := resolveTag(n.Value)
		return ok && tag == "!!str"
	}
	return false
}

// yaml11NotString reports whether a YAML 1.1 reader (yaml.v2, PyYAML,
// SnakeYAML) may read the plain scalar v as anything but the string v:
// booleans and nulls in any case, integers in base 2, 8, 16 and 60, with
// underscores or a sign, floats in any of their forms, timestamps, the
// merge and value keys. It errs on the side of quoting: a string quoted
// needlessly reads the same everywhere.
func yaml11NotString(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case 'y', 'Y', 'n', 'N', 'o', 'O', 't', 'T', 'f', 'F', '~':
		switch strings.ToLower(v) {
		case "y", "yes", "n", "no", "on", "off", "true", "false", "null", "~":
			return true
		}
		return false
	case '<', '=':
		return v == "<<" || v == "="
	case '.', '+', '-':
		switch strings.ToLower(v) {
		case ".inf", "+.inf", "-.inf", ".nan":
			return true
		}
	default:
		if v[0] < '0' || v[0] > '9' {
			return false
		}
	}
	return yaml11Number.MatchString(v) || yaml11Timestamp.MatchString(v)
}

var (
	// Integers and floats as YAML 1.1 writes them, and as Go's strconv
	// (which yaml.v2 uses) reads them, prefixes in either case.
	yaml11Number = regexp.MustCompile(`^[-+]?(` +
		`0[bB][0-1_]+|0[oO]?[0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*` + // integers
		`|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?` + // sexagesimal
		`|([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+` + // floats
		`)$`)
	yaml11Timestamp = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt \t]|$)`)
)

// nonSpecificTag refuses a node written with the non-specific tag "!"
// (`key: ! 1`): yaml.v3 drops the tag and resolves the text (the integer
// 1), where YAML and Kubernetes' reader make it a string ("1"), and leaves
// no trace of it in the tree but the node's position, which points at
// the tag (or at the anchor before it).
func nonSpecificTag(text []byte, root *yaml.Node) error {
	if bytes.IndexByte(text, '!') < 0 {
		return nil
	}
	starts := []int{0}
	for i, c := range text {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n.Kind != yaml.DocumentNode && n.Kind != yaml.AliasNode && n.Style&yaml.TaggedStyle == 0 && n.Line >= 1 && n.Line <= len(starts) {
			at := starts[n.Line-1]
			for col := 1; col < n.Column && at < len(text); col++ {
				_, size := utf8.DecodeRune(text[at:])
				at += size
			}
			if at < len(text) && text[at] == '&' {
				for at < len(text) && !isBlankOrEnd(text[at]) {
					at++
				}
				for at < len(text) && text[at] == ' ' {
					at++
				}
			}
			if at < len(text) && text[at] == '!' && (at+1 == len(text) || isBlankOrEnd(text[at+1]) || strings.IndexByte(",]}", text[at+1]) >= 0) {
				return &InputError{Line: n.Line, Msg: "a node with the non-specific tag !, which yaml.v3 resolves as untagged and Kubernetes reads as a string: drop the tag, or quote the value"}
			}
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

func isBlankOrEnd(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }
