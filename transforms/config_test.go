package transforms

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := map[string]struct {
		in      string
		wantErr string
	}{
		"empty":             {in: ""},
		"yaml":              {in: "transforms: [provenance]\nprovenance: {partOf: ctao, chart: dpps-1.2.3}\n"},
		"json":              {in: `{"provenance": {"partOf": "ctao"}}`},
		"wrong type":        {in: "provenance: {partOf: 3}\n", wantErr: "c.yaml: /provenance/partOf: got number, want string"},
		"unknown key":       {in: "extra: 1\n", wantErr: "c.yaml: /: additional properties 'extra' not allowed"},
		"unknown transform": {in: "transforms: [nope]\n", wantErr: "c.yaml: /transforms/0: value must be one of 'imagelock', 'provenance'"},
		"bad chart":         {in: "provenance: {chart: dpps}\n", wantErr: "c.yaml: /provenance/chart: 'dpps' does not match pattern"},
		"not yaml":          {in: "a: [\n", wantErr: "c.yaml: line 1: did not find expected node content"},
		"key twice":         {in: "provenance: {partOf: a}\nprovenance: {partOf: b}\n", wantErr: "c.yaml: line 2: key \"provenance\" already set in map"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadConfig("c.yaml", []byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg == nil {
					t.Fatal("nil config")
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}
