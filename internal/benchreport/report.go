package main

import (
	"fmt"
	"io"
	"strings"
)

// The benchmarks the speed targets are stated on (transforms/bench_test.go).
const (
	bench      = "BenchmarkStream/"
	small      = "objects=500"
	large      = "objects=5000"
	corpus     = "corpus=diracx"
	kyamlCase  = "kyaml-roundtrip"
	renderCase = "dpps-render"
	yamlv3Case = "dpps-render-yamlv3" // the fast parser off
	kustCase   = "kustomize"
)

// The process, limits and Helm cases (transforms/bench_limits_test.go).
const (
	processSmall = "BenchmarkProcess/" + small
	processLarge = "BenchmarkProcess/" + large
	largeRender  = "BenchmarkLarge/objects=100000/dpps-render"
	helmCase     = "BenchmarkHelmTemplate/ci"
	helmTarget   = 15.0 // percent of Helm's own render time
)

func name(input, c string) string { return bench + input + "/" + c }

// Ratio is one line of the summary: a ratio of two figures (ns/op unless
// Metric says otherwise) and, for a target, the bound it must respect.
type Ratio struct {
	Label    string
	Num, Den string  // benchmark names
	Metric   string  // the figure compared; "" for ns/op
	Value    float64 // Num/Den; 0 when one is missing
	Missing  string  // the benchmark that is missing, if any
	Max, Min float64 // target bound, 0 when none
	Required bool    // a missing figure is an error, not a skipped line
}

// Met says whether the ratio respects its target (true when it has none).
func (r Ratio) Met() bool {
	switch {
	case r.Missing != "":
		return !r.Required
	case r.Max > 0:
		return r.Value <= r.Max
	case r.Min > 0:
		return r.Value >= r.Min
	}
	return true
}

// Ratios computes the ratios issue 2 ("Speed") asks for.
func Ratios(res *Results) []Ratio {
	rs := []Ratio{
		{Label: "dpps-render / kyaml round trip, 5,000 objects", Num: name(large, renderCase), Den: name(large, kyamlCase), Max: 1.5, Required: true},
		{Label: "dpps-render / kyaml round trip, diracx corpus", Num: name(corpus, renderCase), Den: name(corpus, kyamlCase), Max: 1.5},
		{Label: "kustomize / dpps-render, 5,000 objects", Num: name(large, kustCase), Den: name(large, renderCase), Min: 20, Required: true},
		{Label: "kustomize / dpps-render, diracx corpus", Num: name(corpus, kustCase), Den: name(corpus, renderCase)},
		{Label: "dpps-render 5,000 objects / 500 objects", Num: processLarge, Den: processSmall, Metric: "median-ms", Max: 11, Required: true},
		{Label: "the same in process", Num: name(large, renderCase), Den: name(small, renderCase)},
		{Label: "kyaml round trip 5,000 objects / 500 objects", Num: name(large, kyamlCase), Den: name(small, kyamlCase)},
		{Label: "dpps-render without / with the fast parser, 5,000 objects", Num: name(large, yamlv3Case), Den: name(large, renderCase)},
		{Label: "dpps-render without / with the fast parser, diracx corpus", Num: name(corpus, yamlv3Case), Den: name(corpus, renderCase)},
	}
	for i := range rs {
		r := &rs[i]
		metric := r.Metric
		if metric == "" {
			metric = "ns/op"
		}
		num, ok := res.Get(r.Num, metric)
		if !ok {
			r.Missing = r.Num
			continue
		}
		den, ok := res.Get(r.Den, metric)
		if !ok || den == 0 {
			r.Missing = r.Den
			continue
		}
		r.Value = num / den
	}
	return rs
}

// Summarize prints the ratios and peak memory, and reports whether every
// target is met and every benchmark passed.
func Summarize(w io.Writer, res *Results) bool {
	ok := true
	fmt.Fprintln(w, "dpps-render speed record")
	if cpu := res.Env["cpu"]; cpu != "" {
		fmt.Fprintf(w, "  cpu: %s\n", cpu)
	}
	for _, r := range Ratios(res) {
		var target, verdict string
		switch {
		case r.Max > 0:
			target = fmt.Sprintf("target <= %gx", r.Max)
		case r.Min > 0:
			target = fmt.Sprintf("target >= %gx", r.Min)
		}
		switch {
		case r.Missing != "" && r.Required:
			verdict = "MISSING " + strings.TrimPrefix(r.Missing, bench)
		case r.Missing != "":
			verdict = "not measured (" + strings.TrimPrefix(r.Missing, bench) + " missing)"
		case target == "":
			verdict = "info"
		case r.Met():
			verdict = "ok"
		default:
			verdict = "MISSED"
		}
		value := "     -"
		if r.Missing == "" {
			value = fmt.Sprintf("%6.2fx", r.Value)
		}
		fmt.Fprintf(w, "  %-46s %s  %-15s %s\n", r.Label, value, target, verdict)
		ok = ok && r.Met()
	}
	fmt.Fprintln(w, "  time per run, 5,000 objects:")
	for _, c := range []string{kyamlCase, renderCase, kustCase} {
		if v, found := res.Get(name(large, c), "ns/op"); found {
			fmt.Fprintf(w, "    %-16s %9.3f s\n", c, v/1e9)
		}
	}
	fmt.Fprintln(w, "  peak memory (max RSS of one run in its own process), 5,000 objects:")
	for _, c := range []string{renderCase, kyamlCase} {
		if v, found := res.Get(name(large, c), "peak-MB"); found {
			fmt.Fprintf(w, "    %-16s %6.0f MB\n", c, v)
		} else {
			fmt.Fprintf(w, "    %-16s not measured (DPPS_BIN unset?)\n", c)
		}
	}
	fmt.Fprintln(w, "  limits, 100,000 objects (one run of bin/dpps-render in its own process):")
	if v, found := res.Get(largeRender, "peak-MB"); found {
		t, _ := res.Get(largeRender, "ns/op")
		per, _ := res.Get(largeRender, "peak-KB/object")
		fmt.Fprintf(w, "    %-16s %6.0f MB peak, %.1f KB per object, %.1f s\n", renderCase, v, per, t/1e9)
	} else {
		fmt.Fprintf(w, "    %-16s not measured (DPPS_BIN unset?)\n", renderCase)
	}
	if a, found := res.Get(helmCase, "helm-ms"); found {
		wth, _ := res.Get(helmCase, "helm+dpps-render-ms")
		floor, _ := res.Get(helmCase, "helm+cat-ms")
		added, _ := res.Get(helmCase, "added-%")
		verdict := "ok"
		if added > helmTarget {
			verdict = "MISSED"
			ok = false
		}
		fmt.Fprintf(w, "  %-46s %6.1f%%  target <= %g%%  %s\n", "dpps-render added to helm template, ci example", added, helmTarget, verdict)
		fmt.Fprintf(w, "    helm template %.0f ms; with --post-renderer dpps-render %.0f ms; with --post-renderer cat %.0f ms (the floor, +%.1f%%)\n",
			a, wth, floor, 100*(floor-a)/a)
	} else {
		fmt.Fprintln(w, "  dpps-render added to helm template: not measured (DPPS_HELM3 or DPPS_BIN unset?)")
	}
	if len(res.Failed) > 0 {
		ok = false
		fmt.Fprintln(w, "  benchmarks FAILED:")
		for _, l := range res.Failed {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	return ok
}
