package main

import (
	"math"
	"strings"
	"testing"
)

// header and line build sample `go test -bench` output.
const header = `goos: linux
goarch: amd64
pkg: github.com/ctao/dpps-deploy/transforms
cpu: AMD EPYC 7B13
`

// passing is the shape of a real run: every target met.
const passing = header + `BenchmarkStream/objects=500/kyaml-roundtrip-2         	      10	  62000000 ns/op	   3.87 MB/s	68110728 B/op	  252133 allocs/op
BenchmarkStream/objects=500/dpps-render-2             	      10	  70000000 ns/op	   3.43 MB/s	77157949 B/op	  190120 allocs/op
BenchmarkStream/objects=500/kustomize-2               	      10	 310000000 ns/op	   0.78 MB/s	         1.000 timed-ops	265848288 B/op	 2224864 allocs/op
BenchmarkStream/objects=5000/kyaml-roundtrip-2        	      10	 600000000 ns/op	   4.03 MB/s	       545.1 peak-MB	687720909 B/op	 2520168 allocs/op
BenchmarkStream/objects=5000/dpps-render-2            	      10	 660000000 ns/op	   3.66 MB/s	       480.0 peak-MB	767313461 B/op	 1900151 allocs/op
BenchmarkStream/objects=5000/kustomize-2              	      10	26400000000 ns/op	   0.09 MB/s	         1.000 timed-ops	3005097536 B/op	22049557 allocs/op
BenchmarkStream/corpus=diracx/kyaml-roundtrip-2       	      10	  65857250 ns/op	   8.06 MB/s	36398520 B/op	  161197 allocs/op
BenchmarkStream/corpus=diracx/dpps-render-2           	      10	  65577363 ns/op	   8.10 MB/s	41278701 B/op	  132474 allocs/op
BenchmarkStream/corpus=diracx/kustomize-2             	      10	 194479914 ns/op	   2.73 MB/s	         1.000 timed-ops	160431648 B/op	 1230086 allocs/op
BenchmarkProcess/objects=500-2                        	      10	  30000000 ns/op	        29.50 median-ms
BenchmarkProcess/objects=5000-2                       	      10	 240000000 ns/op	       236.0 median-ms
BenchmarkLarge/objects=100000/dpps-render-2           	      10	25000000000 ns/op	   2.12 MB/s	      3300 peak-MB	        33.00 peak-KB/object	         1.000 timed-ops
BenchmarkHelmTemplate/ci-2                            	      10	 478699494 ns/op	         9.80 added-%	       136.2 helm+cat-ms	       144.5 helm+dpps-render-ms	       131.6 helm-ms	    227988 render-bytes
PASS
ok  	github.com/ctao/dpps-deploy/transforms	80.024s
`

// replace returns passing with one benchmark line's ns/op changed.
func replace(old, new string) string { return strings.Replace(passing, old, new, 1) }

func TestSummarize(t *testing.T) {
	label := map[string]string{
		"render/kyaml":        "dpps-render / kyaml round trip, 5,000 objects",
		"render/kyaml corpus": "dpps-render / kyaml round trip, diracx corpus",
		"kustomize/render":    "kustomize / dpps-render, 5,000 objects",
		"5000/500":            "dpps-render 5,000 objects / 500 objects",
		"5000/500 in process": "the same in process",
	}
	tests := []struct {
		name   string
		input  string
		ok     bool
		ratios map[string]float64 // by key of label; NaN: missing
		says   []string           // substrings of the summary
	}{
		{
			name:  "all targets met",
			input: passing,
			ok:    true,
			ratios: map[string]float64{
				"render/kyaml": 1.1, "render/kyaml corpus": 65577363.0 / 65857250,
				"kustomize/render": 40, "5000/500": 236.0 / 29.5, "5000/500 in process": 660.0 / 70,
			},
			says: []string{"cpu: AMD EPYC 7B13", "1.10x  target <= 1.5x", "40.00x  target >= 20x", "dpps-render         480 MB", "kyaml-roundtrip     545 MB", "26.400 s",
				"3300 MB peak, 33.0 KB per object, 25.0 s", "9.8%  target <= 15%  ok", "with --post-renderer cat 136 ms (the floor, +3.5%)"},
		},
		{
			name:  "dpps-render adds more than 15% to helm template",
			input: replace("  9.80 added-%", " 53.46 added-%"),
			says:  []string{"53.5%  target <= 15%  MISSED"},
		},
		{
			name:   "dpps-render too slow against kyaml",
			input:  replace(" 660000000 ns/op", " 960000000 ns/op"),
			ratios: map[string]float64{"render/kyaml": 1.6, "kustomize/render": 27.5},
			says:   []string{"1.60x  target <= 1.5x  MISSED"},
		},
		{
			name:   "kustomize not 20 times slower",
			input:  replace("26400000000 ns/op", "9900000000 ns/op"),
			ratios: map[string]float64{"kustomize/render": 15},
			says:   []string{"MISSED"},
		},
		{
			name:   "not linear from 500 to 5,000",
			input:  replace(" 236.0 median-ms", " 354.0 median-ms"),
			ratios: map[string]float64{"5000/500": 12},
			says:   []string{"12.00x  target <= 11x   MISSED"},
		},
		{
			name:   "in process, the ratio is information only",
			input:  replace("  70000000 ns/op", "  55000000 ns/op"),
			ok:     true,
			ratios: map[string]float64{"5000/500 in process": 12},
			says:   []string{"12.00x                  info"},
		},
		{
			name: "no -GOMAXPROCS suffix (GOMAXPROCS=1) and -count=3 gives medians",
			input: strings.ReplaceAll(passing, "-2 ", " ") +
				strings.ReplaceAll(strings.ReplaceAll(passing, " 660000000 ns/op", " 700000000 ns/op"), "-2 ", " ") +
				strings.ReplaceAll(strings.ReplaceAll(passing, " 660000000 ns/op", " 9000000000 ns/op"), "-2 ", " "),
			ok:     true,
			ratios: map[string]float64{"render/kyaml": 700.0 / 600},
		},
		{
			name:   "corpus skipped: not measured, not an error",
			input:  strings.Join(filterLines(passing, "corpus=diracx"), "\n") + "\n--- SKIP: BenchmarkStream/corpus=diracx\n    bench_test.go:99: corpus file not found\n",
			ok:     true,
			ratios: map[string]float64{"render/kyaml corpus": math.NaN(), "render/kyaml": 1.1},
			says:   []string{"not measured (corpus=diracx/dpps-render missing)"},
		},
		{
			name:   "kustomize filtered out: a required figure is missing",
			input:  strings.Join(filterLines(passing, "objects=5000/kustomize"), "\n"),
			ratios: map[string]float64{"kustomize/render": math.NaN()},
			says:   []string{"MISSING objects=5000/kustomize"},
		},
		{
			name:  "no peak memory without DPPS_BIN",
			input: strings.ReplaceAll(passing, "480.0 peak-MB", ""),
			ok:    true,
			says:  []string{"dpps-render      not measured (DPPS_BIN unset?)"},
		},
		{
			name: "a failed benchmark fails the report",
			input: replace("PASS\n", "--- FAIL: BenchmarkStream/objects=5000/dpps-render\n    bench_test.go:140: output holds 4999 objects, want 5000\nFAIL\n") +
				"FAIL\tgithub.com/ctao/dpps-deploy/transforms\t80.024s\n",
			says: []string{"benchmarks FAILED:", "--- FAIL: BenchmarkStream/objects=5000/dpps-render"},
		},
		{
			name:  "build failure: nothing measured",
			input: "# github.com/ctao/dpps-deploy/transforms_test\ntransforms/bench_test.go:12:2: undefined: x\nFAIL\tgithub.com/ctao/dpps-deploy/transforms [build failed]\n",
			says:  []string{"MISSING objects=5000/dpps-render", "[build failed]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if got := Summarize(&out, res); got != tt.ok {
				t.Errorf("Summarize = %v, want %v\n%s", got, tt.ok, out.String())
			}
			byLabel := map[string]Ratio{}
			for _, r := range Ratios(res) {
				byLabel[r.Label] = r
			}
			for key, want := range tt.ratios {
				r, ok := byLabel[label[key]]
				if !ok {
					t.Fatalf("no ratio %q", label[key])
				}
				switch {
				case math.IsNaN(want) && r.Missing == "":
					t.Errorf("%s = %.3f, want missing", key, r.Value)
				case !math.IsNaN(want) && (r.Missing != "" || math.Abs(r.Value-want) > 1e-9):
					t.Errorf("%s = %.3f (missing %q), want %.3f", key, r.Value, r.Missing, want)
				}
			}
			for _, s := range tt.says {
				if !strings.Contains(out.String(), s) {
					t.Errorf("summary does not say %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func filterLines(s, drop string) []string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, drop) {
			keep = append(keep, l)
		}
	}
	return keep
}

func TestParse(t *testing.T) {
	res, err := Parse(strings.NewReader(passing))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Metrics) != 13 {
		t.Errorf("parsed %d benchmarks, want 13", len(res.Metrics))
	}
	want := map[string]float64{"ns/op": 26400000000, "MB/s": 0.09, "timed-ops": 1, "B/op": 3005097536, "allocs/op": 22049557}
	got := res.Metrics["BenchmarkStream/objects=5000/kustomize"]
	for unit, v := range want {
		if got[unit] != v {
			t.Errorf("kustomize %s = %v, want %v", unit, got[unit], v)
		}
	}
	if res.Env["pkg"] != "github.com/ctao/dpps-deploy/transforms" {
		t.Errorf("pkg = %q", res.Env["pkg"])
	}
	for _, bad := range []string{
		"BenchmarkX-2   10   12 ns/op  7\n",
		"BenchmarkX-2   10   twelve ns/op\n",
	} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}
