package netpol

import (
	"bytes"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/transforms/pipeline"
)

// TestToNodeWritesAsMarshal: an object written from toNode's node gives
// the bytes it gave when it went through sigs.k8s.io/yaml and a parse
// (keys without digits: Marshal orders digit runs by their number, toNode
// in byte order).
func TestToNodeWritesAsMarshal(t *testing.T) {
	tests := map[string]any{
		"policy": object{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
			Metadata: meta{Name: "rel-dpps-x", Labels: map[string]string{"b": "true", "a": "80", "k8s-app": "", "y": "a: b", "z": "*x", "x": "on", "w": "1:20", "v": "no", "u": "Off", "t": "yes", "s": "~", "r": "1.5", "q": ".inf", "p": "-1", "o": "0x1F", "n": "nope"}},
			Spec: map[string]any{"podSelector": map[string]any{}, "policyTypes": []string{"Ingress", "Egress"},
				"egress": []any{map[string]any{"ports": []any{map[string]any{"port": 53, "protocol": "UDP"}}, "to": []any{}}},
				"ratio":  1.5, "on": true, "yes": "y", "none": nil, "long": "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p"}},
	}
	for name, obj := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := toNode(obj)
			if err != nil {
				t.Fatal(err)
			}
			data, err := sigsyaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			want, err := yaml.Parse(string(data))
			if err != nil {
				t.Fatal(err)
			}
			var g, w bytes.Buffer
			if err := pipeline.Write(&g, []*yaml.RNode{got}); err != nil {
				t.Fatal(err)
			}
			if err := pipeline.Write(&w, []*yaml.RNode{want}); err != nil {
				t.Fatal(err)
			}
			if g.String() != w.String() {
				t.Errorf("toNode writes\n%s\nMarshal and parse write\n%s", g.String(), w.String())
			}
		})
	}
}
