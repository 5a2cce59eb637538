package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results holds the metrics of every benchmark in a `go test -bench` output,
// by name without the -GOMAXPROCS suffix ("BenchmarkStream/objects=5000/dpps-render")
// and unit ("ns/op", "peak-MB", ...). A benchmark run several times (-count)
// gets the median of its runs.
type Results struct {
	Metrics map[string]map[string]float64
	// Failed lists the failure lines of the output ("--- FAIL: ...", "FAIL ...").
	Failed []string
	// Env holds the header lines: goos, goarch, pkg, cpu.
	Env map[string]string
}

// Get returns a metric and whether it was reported.
func (r *Results) Get(name, unit string) (float64, bool) {
	v, ok := r.Metrics[name][unit]
	return v, ok
}

// resultLine is "<name>[-procs] <iterations> <value> <unit> [<value> <unit>]...".
var resultLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)

var envLine = regexp.MustCompile(`^(goos|goarch|pkg|cpu): (.*)$`)

// Parse reads `go test -bench` output (plain, not -json). Lines that are not
// results are ignored, except failures, which are collected.
func Parse(r io.Reader) (*Results, error) {
	all := map[string]map[string][]float64{}
	res := &Results{Metrics: map[string]map[string]float64{}, Env: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "panic:") {
			res.Failed = append(res.Failed, line)
			continue
		}
		if m := envLine.FindStringSubmatch(line); m != nil {
			res.Env[m[1]] = m[2]
			continue
		}
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("malformed benchmark line: %q", line)
		}
		name := m[1]
		if all[name] == nil {
			all[name] = map[string][]float64{}
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("malformed value %q in benchmark line: %q", fields[i], line)
			}
			all[name][fields[i+1]] = append(all[name][fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for name, units := range all {
		res.Metrics[name] = map[string]float64{}
		for unit, vs := range units {
			res.Metrics[name][unit] = median(vs)
		}
	}
	return res, nil
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
