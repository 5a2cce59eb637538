package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/ctao/dpps-deploy/catalog"
)

// SubchartValuesFile is the generated values file of a subchart, relative to
// the repository root.
func SubchartValuesFile(subchart string) string {
	return path.Join("charts/dpps/charts", subchart, "values.yaml")
}

// CatalogFile is the interface catalog, relative to the repository root.
const CatalogFile = "charts/dpps/catalog.json"

// SubchartValues writes the generated values of one subchart in the format
// docs/interfaces.md fixes: the interfaces, shared objects and credentials
// its components provide, own or consume, the defaults of the external
// endpoints they consume and their metrics endpoints, keys sorted.
func SubchartValues(c *catalog.Catalog, subchart string) []byte {
	sel := c.ForSubchart(subchart)
	var b bytes.Buffer
	b.WriteString("# " + GeneratedHeader + "\n")
	b.WriteString("# From interfaces/*.cue: edit the CUE, then run 'make generate'.\n")

	section := func(key, comment string, n int) {
		line := key + ":"
		if n == 0 {
			line += " {}"
		}
		fmt.Fprintf(&b, "%-24s # %s\n", line, comment)
	}

	section("interfaces", "internal interfaces, by name", len(sel.Interfaces))
	for _, name := range slices.Sorted(maps.Keys(sel.Interfaces)) {
		i := sel.Interfaces[name]
		fmt.Fprintf(&b, "  %s:\n", scalar(name))
		fmt.Fprintf(&b, "    service: %s\n", quoted(i.Service))
		b.WriteString("    ports:\n")
		for _, p := range i.Ports {
			fmt.Fprintf(&b, "      - {name: %s, port: %d, protocol: %s", scalar(p.Name), p.Port, scalar(p.Protocol))
			if p.AppProtocol != "" {
				fmt.Fprintf(&b, ", appProtocol: %s", scalar(p.AppProtocol))
			}
			b.WriteString("}\n")
		}
		if len(i.Settings) > 0 {
			b.WriteString("    settings:\n")
			for _, k := range slices.Sorted(maps.Keys(i.Settings)) {
				fmt.Fprintf(&b, "      %s: %s\n", scalar(k), scalar(i.Settings[k]))
			}
		}
	}
	section("shared", "ConfigMaps/Secrets one subchart creates, others read", len(sel.Shared))
	for _, name := range slices.Sorted(maps.Keys(sel.Shared)) {
		s := sel.Shared[name]
		fmt.Fprintf(&b, "  %s:\n", scalar(name))
		fmt.Fprintf(&b, "    kind: %s\n", scalar(s.Kind))
		fmt.Fprintf(&b, "    name: %s\n", quoted(s.Name))
	}
	section("credentials", "by reference only: never a value", len(sel.Credentials))
	for _, name := range slices.Sorted(maps.Keys(sel.Credentials)) {
		cr := sel.Credentials[name]
		fmt.Fprintf(&b, "  %s:\n", scalar(name))
		fmt.Fprintf(&b, "    secretName: %s\n", quoted(cr.SecretName))
		fmt.Fprintf(&b, "    key: %s\n", scalar(cr.Key))
	}
	defaults := map[string][]catalog.Field{}
	for name, e := range sel.Externals {
		if fs := withDefaults(e.Fields); len(fs) > 0 {
			defaults[name] = fs
		}
	}
	section("externalDefaults", "defaults of the site's endpoint fields", len(defaults))
	for _, name := range slices.Sorted(maps.Keys(defaults)) {
		fmt.Fprintf(&b, "  %s:\n", scalar(name))
		for _, f := range defaults[name] {
			if f.Items != nil {
				// A list of objects: the defaults of each item.
				fmt.Fprintf(&b, "    %s: {%s}\n", scalar(f.Name), flowDefaults(f.Items))
				continue
			}
			fmt.Fprintf(&b, "    %s: %s\n", scalar(f.Name), defaultValue(f.Default))
		}
	}
	section("metrics", "Prometheus endpoints of its components", len(sel.Metrics))
	for _, name := range slices.Sorted(maps.Keys(sel.Metrics)) {
		m := sel.Metrics[name]
		fmt.Fprintf(&b, "  %s: {port: %d, path: %s}\n", scalar(name), m.Port, scalar(m.Path))
	}
	return b.Bytes()
}

// withDefaults keeps the fields that have a default, and the lists of
// objects whose items have one, in CUE order.
func withDefaults(fields []catalog.Field) []catalog.Field {
	var out []catalog.Field
	for _, f := range fields {
		switch {
		case f.Items != nil:
			if items := withDefaults(f.Items); len(items) > 0 {
				f.Items = items
				out = append(out, f)
			}
		case f.Default != nil:
			out = append(out, f)
		}
	}
	return out
}

func flowDefaults(fields []catalog.Field) string {
	var parts []string
	for _, f := range fields {
		parts = append(parts, scalar(f.Name)+": "+defaultValue(f.Default))
	}
	return strings.Join(parts, ", ")
}

// defaultValue writes a default: a string as scalar does, anything else
// (a number, a boolean) as JSON.
func defaultValue(v any) string {
	if s, ok := v.(string); ok {
		return scalar(s)
	}
	j, _ := json.Marshal(v)
	return string(j)
}

var plainRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._/-]*$`)

// yamlSpecial are plain scalars a YAML 1.1 or 1.2 reader takes for
// something other than a string.
var yamlSpecial = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true, "nan": true, "inf": true,
}

// scalar writes a string plain when every YAML reader reads it back as the
// same string, double-quoted otherwise.
func scalar(s string) string {
	if plainRE.MatchString(s) && !yamlSpecial[strings.ToLower(s)] {
		return s
	}
	return quoted(s)
}

// quoted writes a double-quoted YAML scalar (a JSON string is one).
func quoted(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
