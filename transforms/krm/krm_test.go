package krm_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/krm"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

const list = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
functionConfig:
  apiVersion: dpps.ctao.org/v1alpha1
  kind: RenderConfig
  metadata: {name: fn}
  transforms: [provenance]
  provenance: {partOf: other}
`

func TestIsResourceList(t *testing.T) {
	for in, want := range map[string]bool{
		list: true,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ResourceList}\n":            false,
		"---\n" + list + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n": false,
		"kind: ResourceList\napiVersion: other/v1\n":                                   false,
		"{": false,
	} {
		if got := krm.IsResourceList([]byte(in)); got != want {
			t.Errorf("IsResourceList(%q) = %v, want %v", in, got, want)
		}
	}
}

func run(t *testing.T, text string) (string, error) {
	t.Helper()
	in, err := krm.Read([]byte(text))
	if err != nil {
		return "", err
	}
	cfg, err := krm.Config(in.FunctionConfig)
	if err != nil {
		return "", err
	}
	steps, err := transforms.Steps(cfg)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	_, err = krm.Run(in, &out, steps, pipeline.Limits{})
	return out.String(), err
}

func TestRunKeepsOrderAndAppliesConfig(t *testing.T) {
	out, err := run(t, list)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n") {
		t.Errorf("not a ResourceList:\n%s", out)
	}
	if strings.Index(out, "name: b") > strings.Index(out, "name: a") {
		t.Errorf("items reordered:\n%s", out)
	}
	if strings.Count(out, "app.kubernetes.io/part-of: other") != 2 {
		t.Errorf("functionConfig not applied:\n%s", out)
	}
	again, err := run(t, out)
	if err != nil || again != out {
		t.Errorf("second run changed the list (err %v):\n%s", err, again)
	}
}

func TestConfigMapShape(t *testing.T) {
	text := strings.Replace(list, `  apiVersion: dpps.ctao.org/v1alpha1
  kind: RenderConfig
  metadata: {name: fn}
  transforms: [provenance]
  provenance: {partOf: other}
`, `  apiVersion: v1
  kind: ConfigMap
  metadata: {name: fn}
  data:
    config.yaml: |
      transforms: [provenance]
      provenance: {partOf: other}
`, 1)
	out, err := run(t, text)
	if err != nil || strings.Count(out, "part-of: other") != 2 {
		t.Fatalf("err %v:\n%s", err, out)
	}
}

func TestErrors(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"schema":     {strings.Replace(list, "[provenance]", "[nope]", 1), "/transforms/0: value must be one of"},
		"kind":       {strings.Replace(list, "kind: RenderConfig", "kind: Other", 1), "unsupported functionConfig"},
		"cm key":     {strings.Replace(list, "  transforms: [provenance]\n  provenance: {partOf: other}\n", "", 1) + "", ""},
		"no name":    {strings.Replace(list, "metadata: {name: a}", "metadata: {}", 1), "ResourceList item 2"},
		"duplicate":  {strings.Replace(list, "  metadata: {name: b}", "  metadata: {name: b}\n  kind: Secret", 1), "ResourceList item 1"},
		"not a list": {"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: {a: b}\n", "items is not a list"},
	} {
		out, err := run(t, c.text)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
		if out != "" {
			t.Errorf("%s: output on failure: %q", name, out)
		}
		var ie *krm.ItemError
		if strings.HasPrefix(c.want, "ResourceList item") && !errors.As(err, &ie) {
			t.Errorf("%s: %T is not an ItemError", name, err)
		}
	}
}
