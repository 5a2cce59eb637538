package secretrefs

import (
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/transforms/credentials"
	"github.com/ctao/dpps-deploy/transforms/manifest"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// effectiveEnv computes what each container of the stream sees in its
// environment, as the kubelet builds it: envFrom sources first, then env
// entries in order, each value expanded with Kubernetes' $(VAR) rules
// against the variables defined before it. Keys: "Kind/name/container".
func effectiveEnv(t *testing.T, nodes []*yaml.RNode) map[string]map[string]string {
	t.Helper()
	data := map[string]map[string]string{} // "Kind/name" -> data
	for _, n := range nodes {
		switch n.GetKind() {
		case "Secret":
			data["Secret/"+n.GetName()] = credentials.SecretData(n)
		case "ConfigMap":
			d := map[string]string{}
			if m := manifest.Field(n.YNode(), "data"); m != nil {
				for i := 0; i+1 < len(m.Content); i += 2 {
					d[m.Content[i].Value] = m.Content[i+1].Value
				}
			}
			data["ConfigMap/"+n.GetName()] = d
		}
	}
	lookup := func(kind string, ref *yaml.Node) string {
		return data[kind+"/"+manifest.Field(ref, "name").Value][manifest.Field(ref, "key").Value]
	}
	out := map[string]map[string]string{}
	for _, n := range nodes {
		spec := manifest.PodSpec(n.YNode())
		if spec == nil {
			continue
		}
		for _, c := range manifest.Containers(spec) {
			env := map[string]string{}
			if ef := manifest.Field(c, "envFrom"); ef != nil {
				for _, src := range ef.Content {
					prefix := ""
					if p := manifest.Field(src, "prefix"); p != nil {
						prefix = p.Value
					}
					for kind, key := range map[string]string{"ConfigMap": "configMapRef", "Secret": "secretRef"} {
						if ref := manifest.Field(src, key); ref != nil {
							for k, v := range data[kind+"/"+manifest.Field(ref, "name").Value] {
								env[prefix+k] = v
							}
						}
					}
				}
			}
			if list := manifest.Field(c, "env"); list != nil {
				for _, e := range list.Content {
					name := manifest.Field(e, "name").Value
					switch {
					case manifest.Path(e, "valueFrom", "secretKeyRef") != nil:
						env[name] = lookup("Secret", manifest.Path(e, "valueFrom", "secretKeyRef"))
					case manifest.Path(e, "valueFrom", "configMapKeyRef") != nil:
						env[name] = lookup("ConfigMap", manifest.Path(e, "valueFrom", "configMapKeyRef"))
					case manifest.Field(e, "value") != nil:
						env[name] = expand(manifest.Field(e, "value").Value, env)
					}
				}
			}
			out[n.GetKind()+"/"+n.GetName()+"/"+manifest.Field(c, "name").Value] = env
		}
	}
	return out
}

var reference = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand applies Kubernetes' rules: $(VAR) of a defined variable is
// replaced, $$ is a literal $, anything else stays as written.
func expand(s string, env map[string]string) string {
	return reference.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func read(t *testing.T, stream string) []*yaml.RNode {
	t.Helper()
	nodes, err := (&pipeline.Reader{Input: strings.NewReader(stream)}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func checkSameEnv(t *testing.T, in string, catalog string) {
	t.Helper()
	before := effectiveEnv(t, read(t, in))
	out, err := New(Config{}, catalog).Filter(read(t, in))
	if err != nil {
		t.Fatal(err)
	}
	after := effectiveEnv(t, out)
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// The only difference allowed: the variables dpps-render inserts
		// to carry a credential into a $(VAR) reference.
		got := maps.Clone(after[k])
		maps.DeleteFunc(got, func(name, _ string) bool { return strings.HasPrefix(name, "DPPS_CRED_") })
		if !maps.Equal(before[k], got) {
			t.Errorf("%s: the environment changed", k) // values are credentials: not printed
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d containers before, %d after", len(before), len(after))
	}
}

// The rewrites change where a value comes from, never what a container
// sees.
func TestEffectiveEnvironmentUnchanged(t *testing.T) {
	for name, tc := range rewriteCases() {
		t.Run(name, func(t *testing.T) { checkSameEnv(t, tc.in, catalogFile(t)) })
	}
}

// The dev example deliberately puts the Rucio database DSN, password
// included, into the Rucio config ConfigMap; the workloads' environments
// must be the same after secretrefs moved it into a Secret.
func TestEffectiveEnvironmentOfTheDevExample(t *testing.T) {
	helm := testutil.Tool(t, "DPPS_HELM3")
	root := testutil.RepoRoot(t)
	out, err := exec.Command(helm, "template", "dpps", filepath.Join(root, "charts", "dpps"),
		"-f", filepath.Join(root, "examples", "dev", "values.yaml"), "--skip-tests").Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	checkSameEnv(t, string(out), "")
	rendered, err := New(Config{}, "").Filter(read(t, string(out)))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rendered {
		if n.GetName() == "dpps-rucio-config" && n.GetKind() != "Secret" {
			t.Errorf("dpps-rucio-config is still a %s", n.GetKind())
		}
	}
}
