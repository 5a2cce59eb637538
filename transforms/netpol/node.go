package netpol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// toNode turns a generated object into a YAML node through its JSON form,
// mapping keys in byte order, without a YAML emitter and parser in between
// (sigs.k8s.io/yaml's Marshal and a parse cost more than all the rest of
// the transform). Scalars keep the default style, so the writer quotes
// what YAML 1.2 would read as another type; strings that only YAML 1.1
// reads as another type ("on", "no", "1:20"), as kubectl's parser does,
// are double-quoted as Marshal quotes them.
func toNode(obj any) (*yaml.RNode, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	n, err := jsonNode(v)
	if err != nil {
		return nil, err
	}
	return yaml.NewRNode(n), nil
}

func jsonNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			val, err := jsonNode(v[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, stringNode(k), val)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
		for _, item := range v {
			val, err := jsonNode(item)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, val)
		}
		return n, nil
	case string:
		return stringNode(v), nil
	case json.Number:
		tag := yaml.NodeTagInt
		if strings.ContainsAny(v.String(), ".eE") {
			tag = yaml.NodeTagFloat
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: fmt.Sprint(v)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

// base60Float is YAML 1.1's sexagesimal number ("1:20"), which Marshal
// quotes too.
var base60Float = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)

// stringNode is a string scalar, double-quoted where YAML 1.1 reads it as
// another type.
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}
	if yaml11NonString(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// yaml11Words are the words YAML 1.1 reads as booleans or null.
var yaml11Words = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true, "~": true,
}

// yaml11NonString reports whether YAML 1.1 reads s as something other than
// a string. Only a word of yaml11Words, or a value starting with a sign, a
// digit or '.' (numbers, sexagesimals, .inf), can be; those are left to a
// YAML 1.1 parser.
func yaml11NonString(s string) bool {
	if s == "" {
		return false
	}
	if yaml11Words[s] {
		return true
	}
	if c := s[0]; c != '+' && c != '-' && c != '.' && (c < '0' || c > '9') {
		return false
	}
	return yaml.IsValueNonString(s) || base60Float.MatchString(s)
}
