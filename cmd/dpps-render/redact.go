package main

import (
	"bufio"
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/redact"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
	"github.com/ctao/dpps-deploy/transforms/plaintext"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// learnCredentials registers with the redactor every credential value of
// nodes that dpps-render can know, so that no message prints one: the
// values of every Secret, the catalog's credentials (credentials.Find
// registers them) and what the plaintext detector finds (it registers
// them). catalogFile is --catalog, or "" for the stream's own catalog.
func learnCredentials(nodes []*yaml.RNode, catalogFile string) {
	// The catalog first: a value is shown by the first name it is
	// registered under, and the catalog's is the one a user knows.
	var creds credentials.Set
	if info, err := release.Find(nodes, catalogFile); err == nil && info != nil {
		creds, _ = credentials.Find(nodes, info.Catalog)
	}
	for _, n := range nodes {
		if manifest.Kind(n) != "Secret" {
			continue
		}
		data := credentials.SecretData(n)
		for _, key := range slices.Sorted(maps.Keys(data)) {
			if v := data[key]; secretLike(v) {
				redact.Process.Add(n.GetName()+"/"+key, v)
			}
		}
	}
	plaintext.Scan(nodes, creds, nil)
}

// secretLike leaves out the Secret values that are not worth hiding and
// would only make messages unreadable: very short ones, numbers, booleans.
func secretLike(v string) bool {
	if len(v) < 4 || v == "true" || v == "false" {
		return false
	}
	_, err := strconv.ParseFloat(v, 64)
	return err != nil
}

// learnFromInput is learnCredentials for an input the pipeline refused:
// the Secrets and the catalog ConfigMap among the documents that parse on
// their own are looked at, so that a message about a broken document does
// not print a value they hold. Each is read by the pipeline's own reader,
// alone, so its caps and node budget hold here too; the rest of the input,
// which holds no value to learn, is not parsed again.
func learnFromInput(data []byte, catalogFile string) {
	var nodes []*yaml.RNode
	for _, doc := range splitDocuments(data) {
		if !strings.Contains(doc, "Secret") && !strings.Contains(doc, release.CatalogLabel) {
			continue
		}
		objs, err := (&pipeline.Reader{Input: strings.NewReader(doc)}).Read()
		if err != nil {
			continue
		}
		for _, n := range objs {
			if k := manifest.Kind(n); k == "Secret" || n.GetLabels()[release.CatalogLabel] == "true" {
				nodes = append(nodes, n)
			}
		}
	}
	learnCredentials(nodes, catalogFile)
}

// splitDocuments cuts a stream at its "---" lines.
func splitDocuments(data []byte) []string {
	var docs []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	return append(docs, cur.String())
}
