package testutil

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Documents splits a YAML stream at its "---" lines, as Helm and
// dpps-render write them; the documents keep their comments.
func Documents(stream []byte) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(string(stream), "\n") {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

// KustomizeStyle writes a YAML stream the way kustomize writes a build
// (krusty's ResMap.AsYaml, what `kustomize build` and Flux's
// kustomize-controller print): every object through JSON and back with
// sigs.k8s.io/yaml, which drops comments, sorts keys and picks its own
// scalar and list style, "---" between objects, empty documents dropped.
// It reads the stream with sigs.k8s.io/yaml, not with kustomize's reader, so
// kustomize's output equal to this, byte for byte, means kustomize changed
// nothing but the serialisation.
func KustomizeStyle(t testing.TB, stream []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	n := 0
	for i, doc := range Documents(stream) {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		if string(j) == "null" {
			continue
		}
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		if n > 0 {
			out.WriteString("---\n")
		}
		n++
		out.Write(y)
	}
	return out.Bytes()
}

// FirstDiff describes where two streams first differ, by line, for a test
// failure message.
func FirstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if i >= len(g) || i >= len(w) || gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got " + quoteLine(gl, i < len(g)) + "\nwant " + quoteLine(wl, i < len(w))
		}
	}
	return "no difference"
}

func quoteLine(s string, ok bool) string {
	if !ok {
		return "(end of stream)"
	}
	return "|" + s
}
