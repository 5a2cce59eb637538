package main

import (
	"slices"
	"testing"
)

func TestParseRenders(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []render
		named   bool
		wantErr string
	}{
		{"stdin", nil, []render{{}}, false, ""},
		{"one file", []string{"r.yaml"}, []render{{file: "r.yaml"}}, false, ""},
		{"dash", []string{"-"}, []render{{file: "-"}}, false, ""},
		{"one named", []string{"dc-a=r.yaml"}, []render{{"dc-a", "r.yaml"}}, true, ""},
		{"argument order", []string{"b=2.yaml", "a=1.yaml", "c=-"}, []render{{"b", "2.yaml"}, {"a", "1.yaml"}, {"c", "-"}}, true, ""},
		{"split at the first =", []string{"a=x=y.yaml"}, []render{{"a", "x=y.yaml"}}, true, ""},
		{"site chars", []string{"DC_1.a-b=r.yaml"}, []render{{"DC_1.a-b", "r.yaml"}}, true, ""},
		{"bare among named", []string{"a=1.yaml", "2.yaml"}, nil, false, `"2.yaml": with several renders, name each one SITE=FILE`},
		{"two bare", []string{"1.yaml", "2.yaml"}, nil, false, `"1.yaml": with several renders, name each one SITE=FILE`},
		{"no site", []string{"=r.yaml"}, nil, false, `"=r.yaml": want SITE=FILE, SITE of letters, digits, '.', '_' and '-', FILE a path or - for stdin`},
		{"no file", []string{"a="}, nil, false, `"a=": want SITE=FILE, SITE of letters, digits, '.', '_' and '-', FILE a path or - for stdin`},
		{"path as site", []string{"./a=b.yaml"}, nil, false, `"./a=b.yaml": want SITE=FILE, SITE of letters, digits, '.', '_' and '-', FILE a path or - for stdin`},
		{"site twice", []string{"a=1.yaml", "b=2.yaml", "a=3.yaml"}, nil, false, `site "a" is named twice: give each site's render once`},
		{"stdin twice", []string{"a=-", "b=-"}, nil, false, `"b=-": stdin (-) is already another site's render: give files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, named, err := parseRenders(tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || named != tt.named {
				t.Errorf("got %v named %v, want %v named %v", got, named, tt.want, tt.named)
			}
		})
	}
}

func TestParseDigest(t *testing.T) {
	for s, ok := range map[string]bool{
		"": true,
		"sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1":  true,
		"sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311":    false,
		"4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1":         false,
		"sha512:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1":  false,
		"@sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1": false,
	} {
		if err := parseDigest(s); (err == nil) != ok {
			t.Errorf("parseDigest(%q) = %v, want ok %v", s, err, ok)
		}
	}
}
