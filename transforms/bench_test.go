//go:build unix

package transforms_test

// The speed record of dpps-render (issue 2, "Speed"; `make bench`): every
// case runs beside its baselines in one `go test -bench` run, so that the
// ratios in the summary compare figures taken on the same machine under the
// same load.
//
//	BenchmarkStream/<input>/kyaml-roundtrip  bare kio.ByteReader + kio.ByteWriter
//	BenchmarkStream/<input>/dpps-render      pipeline.Run with every transform
//	BenchmarkStream/<input>/dpps-render-yamlv3  the same, the fast parser off
//	BenchmarkStream/<input>/kustomize        krusty with commonAnnotations
//
// <input> is objects=500 and objects=5000 (internal/benchdata) and
// corpus=diracx (the largest file of the shared corpus).
//
// Extra metrics: peak-MB is the maximum resident set size, in 10^6 bytes, of
// a separate process doing one run on the 5,000-object stream (the built
// dpps-render from $DPPS_BIN, and this test binary re-executed for the kyaml
// round trip), the median of 3 such processes (see init for how it is
// measured); dpps-render's is left out when DPPS_BIN is unset. timed-ops says how many operations a kustomize figure
// was measured on (see benchKustomize).

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"

	"github.com/ctao/dpps-deploy/internal/benchdata"
	"github.com/ctao/dpps-deploy/internal/gcpolicy"
	"github.com/ctao/dpps-deploy/internal/testutil"
	"github.com/ctao/dpps-deploy/internal/version"
	"github.com/ctao/dpps-deploy/transforms"
	"github.com/ctao/dpps-deploy/transforms/pipeline"
	"github.com/ctao/dpps-deploy/transforms/provenance"
)

// peakObjects is the stream size peak memory is measured on.
const peakObjects = 5000

// This test binary doubles as a helper process for the peak memory figures.
// benchChildEnv selects a role, in init, before any test or benchmark runs:
//
//   - "kyaml-roundtrip": do one kyaml round trip from stdin to stdout, so the
//     baseline's peak memory is measured in a process of its own, as
//     dpps-render's is;
//   - "peak": run the command in os.Args[1:] with this process's stdin and
//     stdout (and benchChildEnv set to $DPPS_BENCH_GRANDCHILD), then write its
//     maximum RSS, in bytes, to the file $DPPS_BENCH_PEAK_FILE.
//
// Why the "peak" go-between: Go starts a child with vfork (CLONE_VM), and
// Linux counts the parent's high-water RSS into the child's ru_maxrss when
// the child execs; measured from the benchmark process, which holds hundreds
// of MB by then, every child would seem at least as big as the benchmark
// itself. The go-between is a fresh, small process, so the figure it reads
// for its own child is that child's.
const (
	benchChildEnv      = "DPPS_BENCH_CHILD"
	benchGrandchildEnv = "DPPS_BENCH_GRANDCHILD"
	benchPeakFileEnv   = "DPPS_BENCH_PEAK_FILE"
)

func init() {
	switch os.Getenv(benchChildEnv) {
	case "":
		return
	case "kyaml-roundtrip":
		if err := kyamlRoundTrip(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "peak":
		if err := runMeasured(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "%s=%s: unknown role\n", benchChildEnv, os.Getenv(benchChildEnv))
		os.Exit(2)
	}
	os.Exit(0)
}

// runMeasured is the "peak" role: run args, record its maximum RSS.
func runMeasured(args []string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, benchChildEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if role := os.Getenv(benchGrandchildEnv); role != "" {
		cmd.Env = append(cmd.Env, benchChildEnv+"="+role)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return fmt.Errorf("no rusage on %s", runtime.GOOS)
	}
	maxrss := ru.Maxrss * 1024 // kilobytes on Linux and the BSDs
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		maxrss = ru.Maxrss // bytes there
	}
	return os.WriteFile(os.Getenv(benchPeakFileEnv), []byte(strconv.FormatInt(int64(maxrss), 10)), 0o644)
}

func BenchmarkStream(b *testing.B) {
	inputs := []struct {
		name    string
		objects int    // synthetic stream of this many objects, or
		corpus  string // this file of the shared corpus
		cfg     transforms.Config
	}{
		{name: "objects=500", objects: 500},
		{name: "objects=5000", objects: 5000},
		// The demo's S3 key sits in a ConfigMap, which guards refuses, as
		// it should: this input runs every transform but guards.
		{name: "corpus=diracx", corpus: "diracx.demo.yaml", cfg: transforms.Config{Transforms: withoutGuards()}},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			var data []byte
			if in.corpus != "" {
				data = corpusFile(b, in.corpus)
			} else {
				data = benchdata.StreamWithCatalog(in.objects) // with a catalog, so that netpol has work
			}
			objects := countObjects(data)
			peak := in.objects == peakObjects
			b.Run("kyaml-roundtrip", func(b *testing.B) { benchKyaml(b, data, objects, peak) })
			b.Run("dpps-render", func(b *testing.B) { benchRender(b, &in.cfg, data, objects, peak) })
			b.Run("dpps-render-yamlv3", func(b *testing.B) {
				pipeline.FastParser = false
				defer func() { pipeline.FastParser = true }()
				benchRender(b, &in.cfg, data, objects, false)
			})
			b.Run("kustomize", func(b *testing.B) { benchKustomize(b, data, objects) })
		})
	}
}

func withoutGuards() []string {
	var names []string
	for _, n := range transforms.Names() {
		if n != "guards" {
			names = append(names, n)
		}
	}
	return names
}

// corpusFile reads a file of the shared corpus; absent, the benchmark is
// skipped on a developer's machine and fails in CI.
func corpusFile(b *testing.B, name string) []byte {
	path := filepath.Join(testutil.CorpusDir(b), name)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		testutil.Missing(b, "corpus file %s not found: the corpus=%s benchmarks need the shared corpus (../shared/corpus beside the repository, or $DPPS_CORPUS)", path, name)
	}
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchKyaml is the baseline: a bare kyaml parse and write of the stream,
// with nothing in between.
func benchKyaml(b *testing.B, data []byte, objects int, peak bool) {
	var out bytes.Buffer
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		if err := kyamlRoundTrip(bytes.NewReader(data), &out); err != nil {
			b.Fatal(err)
		}
	}
	checkOutput(b, out.Bytes(), objects)
	if peak {
		self, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		reportPeak(b, data, "kyaml-roundtrip", self)
	}
}

// kyamlRoundTrip parses a stream with kyaml and writes it back, the least
// any kyaml-based post-renderer does. Reader annotations (index, sequence
// indent) are omitted: a bare round trip neither needs nor writes them.
func kyamlRoundTrip(in io.Reader, out io.Writer) error {
	nodes, err := (&kio.ByteReader{Reader: in, OmitReaderAnnotations: true}).Read()
	if err != nil {
		return err
	}
	return kio.ByteWriter{Writer: out}.Write(nodes)
}

// benchRender is dpps-render's own work: pipeline.Run with the transforms of
// cfg (every registered transform unless it says otherwise), exactly what
// the binary runs for each Helm invocation, and with the garbage collector as the binary sets it for that input
// (gcpolicy), from an empty heap as a new process has. Without that, the
// collector's state left by the cases before decides whether a small input
// is collected at all.
func benchRender(b *testing.B, cfg *transforms.Config, data []byte, objects int, peak bool) {
	var out bytes.Buffer
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		restore := gcpolicy.ForInput(len(data))
		b.StartTimer()
		steps, err := transforms.Steps(cfg)
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		if _, err := pipeline.Run(bytes.NewReader(data), &out, steps); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		restore()
		b.StartTimer()
	}
	// Objects a transform generates (labelled dpps.ctao.org/generated) come on top.
	checkOutput(b, out.Bytes(), objects+bytes.Count(out.Bytes(), []byte("\n    dpps.ctao.org/generated: ")))
	if peak {
		dir := os.Getenv("DPPS_BIN")
		if dir == "" {
			b.Log("DPPS_BIN is not set: peak-MB not measured (run through 'make bench')")
			return
		}
		reportPeak(b, data, "", filepath.Join(dir, "dpps-render"))
	}
}

// benchKustomize runs kustomize's engine in process, on an in-memory
// filesystem, adding the annotations provenance adds with commonAnnotations,
// and writes the result as `kustomize build` does.
//
// At 5,000 objects one run takes 25 s or more (kustomize grows
// quadratically), so this case times exactly one operation, whatever b.N the
// -benchtime asks for, and reports that operation's time, throughput and
// allocations in place of the harness's per-b.N averages (timed-ops = 1 says
// so). With -benchtime=Nx (N > 1) the harness invokes a benchmark function
// twice, first with b.N = 1 as a probe whose result it discards, then with
// b.N = N: the probe returns at once, so kustomize runs once in all.
func benchKustomize(b *testing.B, data []byte, objects int) {
	if b.N == 1 && fixedIterations() > 1 {
		return // the harness's probe: the invocation with b.N = N follows
	}
	fs := filesys.MakeFsInMemory()
	if err := fs.WriteFile("/app/stream.yaml", data); err != nil {
		b.Fatal(err)
	}
	if err := fs.WriteFile("/app/kustomization.yaml", kustomization(b)); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/app")
	if err != nil {
		b.Fatalf("kustomize: %v", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		b.Fatalf("kustomize: %v", err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)

	b.ReportMetric(float64(elapsed.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(len(data))/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc), "B/op")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs), "allocs/op")
	b.ReportMetric(1, "timed-ops")
	checkOutput(b, out, objects)
}

// fixedIterations is N when -test.benchtime is Nx, else 0.
func fixedIterations() int {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return 0
	}
	v := f.Value.String()
	n, err := strconv.Atoi(strings.TrimSuffix(v, "x"))
	if err != nil || !strings.HasSuffix(v, "x") {
		return 0
	}
	return n
}

// kustomization adds, with commonAnnotations, the annotations provenance
// stamps on a Deployment of the synthetic stream.
func kustomization(b *testing.B) []byte {
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{"stream.yaml"},
		"commonAnnotations": map[string]string{
			provenance.SourceAnnotation:     "dpps/charts/bdms/templates/deployment.yaml",
			provenance.ComponentAnnotation:  "bdms",
			provenance.ChartAnnotation:      "bdms-0.4.2",
			provenance.RenderedByAnnotation: "dpps-render " + version.Version,
			provenance.ImagesAnnotation:     "dpps/rucio-server:0.4.2,dpps/proxy:1.2.0",
		},
	}
	out, err := yaml.Marshal(k)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// peakRuns is how many processes peak memory is measured on; the median is
// reported.
const peakRuns = 3

// reportPeak runs command (with benchChildEnv set to role, if any) peakRuns
// times, each with the stream on stdin, through the "peak" go-between, and
// reports the median of their maximum resident set sizes as peak-MB.
func reportPeak(b *testing.B, data []byte, role string, command ...string) {
	b.StopTimer()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	in, out, peakFile := filepath.Join(dir, "in.yaml"), filepath.Join(dir, "out.yaml"), filepath.Join(dir, "peak")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		b.Fatal(err)
	}
	var peaks []float64
	for range peakRuns {
		cmd := exec.Command(self, command...)
		cmd.Env = append(os.Environ(), benchChildEnv+"=peak", benchGrandchildEnv+"="+role, benchPeakFileEnv+"="+peakFile)
		runWithFiles(b, cmd, in, out, len(data))
		raw, err := os.ReadFile(peakFile)
		if err != nil {
			b.Fatal(err)
		}
		peak, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			b.Fatal(err)
		}
		peaks = append(peaks, peak)
	}
	slices.Sort(peaks)
	b.ReportMetric(peaks[len(peaks)/2]/1e6, "peak-MB")
}

// runWithFiles runs cmd with file in on stdin and file out as stdout, and
// checks that it wrote about as much as it read.
func runWithFiles(b *testing.B, cmd *exec.Cmd, in, out string, inSize int) {
	stdin, err := os.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer stdout.Close()
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.Bytes())
	}
	if fi, err := stdout.Stat(); err != nil || fi.Size() < int64(inSize)/2 {
		b.Fatalf("%v wrote too little (%v, %v)", cmd.Args, fi, err)
	}
}

// countObjects counts the objects of a stream the cheap way: top-level
// `kind:` lines. It is only a sanity check of the benchmarks' outputs.
func countObjects(data []byte) int {
	n := bytes.Count(data, []byte("\nkind: "))
	if bytes.HasPrefix(data, []byte("kind: ")) {
		n++
	}
	return n
}

func checkOutput(b *testing.B, out []byte, objects int) {
	b.Helper()
	if got := countObjects(out); got != objects {
		b.Fatalf("output holds %d objects, want %d", got, objects)
	}
}
