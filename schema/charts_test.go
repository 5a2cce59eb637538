package schema

import (
	"os"
	"path/filepath"
	"testing"
)

func TestChartOutputs(t *testing.T) {
	umbrella := "apiVersion: v2\nname: dpps\n# kept\nversion: 0.0.1\nappVersion: \"0.0.1\"\ndependencies:\n  - name: bdms\n    version: 0.0.1\n    condition: bdms.enabled\n  - version: \"0.0.1\"\n    name: iam\n"
	bdms := "apiVersion: v2\nname: bdms\nversion: 0.0.1\nappVersion: \"39.0.0\"\n"
	noApp := "apiVersion: v2\nname: iam\nversion: 0.0.1\n"
	iam := "apiVersion: v2\nname: iam\nversion: 0.0.1\nappVersion: v1\n"
	tests := map[string]struct {
		files   map[string]string
		apps    map[string]string
		want    map[string]string
		wantErr string
	}{
		"every version and appVersion set, the rest kept": {
			files: map[string]string{"Chart.yaml": umbrella, "charts/bdms/Chart.yaml": bdms, "charts/iam/Chart.yaml": iam},
			apps:  map[string]string{"dpps": "1.2.3", "bdms": "40.0.0", "iam": "v1.10.2"},
			want: map[string]string{
				"charts/dpps/Chart.yaml":             "apiVersion: v2\nname: dpps\n# kept\nversion: 1.2.3\nappVersion: \"1.2.3\"\ndependencies:\n  - name: bdms\n    version: 1.2.3\n    condition: bdms.enabled\n  - version: 1.2.3\n    name: iam\n",
				"charts/dpps/charts/bdms/Chart.yaml": "apiVersion: v2\nname: bdms\nversion: 1.2.3\nappVersion: \"40.0.0\"\n",
				"charts/dpps/charts/iam/Chart.yaml":  "apiVersion: v2\nname: iam\nversion: 1.2.3\nappVersion: \"v1.10.2\"\n",
			},
		},
		"a subchart without an appVersion in the CUE": {
			files:   map[string]string{"Chart.yaml": umbrella, "charts/bdms/Chart.yaml": bdms},
			apps:    map[string]string{"dpps": "1.2.3"},
			wantErr: `charts/dpps/charts/bdms/Chart.yaml: chart bdms has no appVersion in interfaces/release.cue: add release.appVersions."bdms"`,
		},
		"an appVersion for no chart": {
			files:   map[string]string{"Chart.yaml": umbrella},
			apps:    map[string]string{"dpps": "1.2.3", "wms": "v9"},
			wantErr: "interfaces/release.cue: release.appVersions.wms: no chart wms under charts/dpps",
		},
		"a Chart.yaml without appVersion line": {
			files:   map[string]string{"Chart.yaml": umbrella, "charts/iam/Chart.yaml": noApp},
			apps:    map[string]string{"dpps": "1.2.3", "iam": "v1"},
			wantErr: "charts/dpps/charts/iam/Chart.yaml: want a top-level version: and appVersion: line for dpps-schemagen to set",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range tc.files {
				full := filepath.Join(root, ChartDir, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			outs, err := ChartOutputs(root, Release{Version: "1.2.3", AppVersions: tc.apps})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, o := range outs {
				got[o.Path] = string(o.Data)
			}
			if len(got) != len(tc.want) {
				t.Errorf("outputs %v, want %d", len(got), len(tc.want))
			}
			for p, want := range tc.want {
				if got[p] != want {
					t.Errorf("%s:\n%s\nwant:\n%s", p, got[p], want)
				}
			}
		})
	}
	t.Run("outside the repository", func(t *testing.T) {
		outs, err := ChartOutputs(t.TempDir(), Release{Version: "1.2.3"})
		if err != nil || len(outs) != 0 {
			t.Fatalf("got %+v, %v; want no outputs", outs, err)
		}
	})
}
