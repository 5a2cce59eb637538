package helmtest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/version"
)

// Helm 3 takes the path of an executable: --post-renderer $DPPS_BIN/dpps-render.
func TestHelm3PostRenderer(t *testing.T) {
	helm, bin := helm3Bin(t), binDir(t)
	env := helmEnv(t, bin)
	chart := testdata(t, "umbrella")
	renderer := filepath.Join(bin, "dpps-render")
	renderedBy := "dpps-render " + version.Version

	plain := mustRun(t, env, helm, "template", releaseName, chart)
	report := filepath.Join(t.TempDir(), "report.txt")
	out := mustRun(t, env, helm, "template", releaseName, chart,
		"--post-renderer", renderer,
		"--post-renderer-args", "--part-of=x",
		"--post-renderer-args", "--report="+report)
	plainObjs, objs := parseStream(t, plain), parseStream(t, out)

	t.Run("every object kept in order with its Source comment", func(t *testing.T) {
		if got, want := names(objs), names(plainObjs); !slices.Equal(got, want) {
			t.Fatalf("objects after dpps-render:\n  %v\nwithout a post-renderer:\n  %v", got, want)
		}
		for i, o := range objs {
			if o.Source == "" || o.Source != plainObjs[i].Source {
				t.Errorf("%s: # Source: %q, want %q", o, o.Source, plainObjs[i].Source)
			}
		}
	})

	t.Run("provenance on every non-hook object", func(t *testing.T) {
		for _, want := range umbrellaObjects {
			checkProvenance(t, objs, want, renderedBy)
		}
		checkChartAnnotationsKept(t, objs)
	})

	// Helm 3 splits hooks off before post-rendering and prints them after the
	// post-renderer's output: the hook Job comes out exactly as the chart
	// rendered it, without provenance.
	t.Run("hook is not post-rendered", func(t *testing.T) {
		job := find(t, objs, "Job", "rel-bootstrap")
		if keys := dppsKeys(job); len(keys) > 0 {
			t.Errorf("Helm 3 passed the hook Job through dpps-render: it has %v", keys)
		}
		if _, ok := job.Labels[partOfLabel]; ok {
			t.Errorf("Helm 3 passed the hook Job through dpps-render: it has the %s label", partOfLabel)
		}
		if plainJob := find(t, plainObjs, "Job", "rel-bootstrap"); job.Raw != plainJob.Raw {
			t.Errorf("hook Job changed:\n%s\nwant, as rendered without a post-renderer:\n%s", job.Raw, plainJob.Raw)
		}
		if last := objs[len(objs)-1]; last.String() != "Job/rel-bootstrap" {
			t.Errorf("last object is %s, want the hook Job, which Helm 3 appends after the post-rendered stream", last)
		}
	})

	t.Run("report counts the objects dpps-render saw", func(t *testing.T) {
		// 5 objects: the hook is not among them.
		got := readFile(t, report)
		for _, want := range []string{"objects in: 5\n", "objects out: 5\n", "provenance   changed 5"} {
			if !strings.Contains(got, want) {
				t.Errorf("report does not contain %q:\n%s", want, got)
			}
		}
	})

	t.Run("no Helm 4 filename annotation", func(t *testing.T) {
		if strings.Contains(out, helm4Filename) {
			t.Errorf("Helm 3 output contains %s", helm4Filename)
		}
	})
}

// What Helm 3 does with crds/ and --output-dir, which docs/helm.md tells users.
func TestHelm3CRDsAndOutputDir(t *testing.T) {
	helm, bin := helm3Bin(t), binDir(t)
	env := helmEnv(t, bin)
	chart := testdata(t, "umbrella")
	renderer := filepath.Join(bin, "dpps-render")

	// `helm template --include-crds` writes crds/ into the stream before
	// post-rendering, so the CRD is stamped like any object. (helm install
	// and upgrade create crds/ on their own, never post-rendered; a plain
	// `helm template` leaves them out.)
	t.Run("template --include-crds post-renders crds/", func(t *testing.T) {
		out := mustRun(t, env, helm, "template", releaseName, chart, "--include-crds", "--post-renderer", renderer)
		crd := find(t, parseStream(t, out), "CustomResourceDefinition", "widgets.example.org")
		if got, want := crd.Annotations[annSource], "umbrella/crds/widgets.yaml"; got != want {
			t.Errorf("CRD %s = %q, want %q: Helm 3 template --include-crds post-renders crds/", annSource, got, want)
		}
	})

	t.Run("template without --include-crds leaves crds/ out", func(t *testing.T) {
		out := mustRun(t, env, helm, "template", releaseName, chart, "--post-renderer", renderer)
		if strings.Contains(out, "CustomResourceDefinition") {
			t.Errorf("CRD in the output of helm template without --include-crds")
		}
	})

	// --output-dir writes each template's file before post-rendering; Helm 3
	// then runs the post-renderer on an empty stream and discards its output.
	t.Run("template --output-dir is not post-rendered", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		report := filepath.Join(t.TempDir(), "report.txt")
		mustRun(t, env, helm, "template", releaseName, chart, "--output-dir", dir,
			"--post-renderer", renderer, "--post-renderer-args", "--report="+report)
		files := 0
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			if text := readFile(t, path); strings.Contains(text, dppsPrefix) {
				t.Errorf("%s was post-rendered", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files != 5 {
			t.Errorf("--output-dir wrote %d files, want 5 (one per template)", files)
		}
		if got := readFile(t, report); !strings.HasPrefix(got, "objects in: 0\nobjects out: 0\n") {
			t.Errorf("report:\n%s\nwant 0 objects: Helm 3 runs the post-renderer on an empty stream with --output-dir", got)
		}
	})
}

// A rendered stream dpps-render refuses makes helm template fail with
// dpps-render's one-line error, which Helm 3 shows.
func TestHelm3RejectedOutput(t *testing.T) {
	helm, bin := helm3Bin(t), binDir(t)
	env := helmEnv(t, bin)
	renderer := filepath.Join(bin, "dpps-render")
	// Helm 3 wraps the post-renderer's stderr between these two.
	helmWrap := regexp.MustCompile(`(?s)error while running post render on files: error while running command ` +
		regexp.QuoteMeta(renderer) + `\. error output:\n(.*)\n: exit status 1`)
	dppsError := regexp.MustCompile(`^dpps-render: document (\d+) \(([^)]+)\), line (\d+): (.+)$`)

	for _, tc := range []struct {
		chart string
		want  string // dpps-render's line
		line  string // the stream's line the error points at
	}{
		{
			chart: "noname",
			// The Secret comes first in Helm's install order; line 5 is its
			// metadata, which has no name.
			want: "dpps-render: document 1 (noname/templates/nameless.yaml), line 5: object has no metadata.name",
			line: "metadata:",
		},
		{
			chart: "dupkey",
			want:  `dpps-render: document 1 (dupkey/templates/configmap.yaml), line 9: duplicate key "mode" (first at line 8)`,
			line:  "  mode: safe",
		},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			chart := testdata(t, tc.chart)
			r := mustFail(t, env, helm, "template", releaseName, chart, "--post-renderer", renderer)
			if r.stdout != "" {
				t.Errorf("helm template wrote on stdout despite the failure:\n%s", r.stdout)
			}
			m := helmWrap.FindStringSubmatch(r.stderr)
			if m == nil {
				t.Fatalf("Helm's error does not carry dpps-render's output:\n%s", r.stderr)
			}
			if got := m[1]; got != tc.want {
				t.Errorf("dpps-render's error:\n  %s\nwant:\n  %s", got, tc.want)
			}
			if strings.Contains(r.stderr, "not-a-real-secret") {
				t.Errorf("the error quotes the Secret's data:\n%s", r.stderr)
			}

			// The document, template and line name the right place in the
			// stream Helm 3 passed, which is what helm template prints
			// without a post-renderer.
			d := dppsError.FindStringSubmatch(m[1])
			if d == nil {
				t.Fatalf("not a located dpps-render error: %s", m[1])
			}
			docIndex, _ := strconv.Atoi(d[1])
			line, _ := strconv.Atoi(d[3])
			stream := mustRun(t, env, helm, "template", releaseName, chart)
			docs := splitDocuments(stream)
			if docIndex < 1 || docIndex > len(docs) {
				t.Fatalf("document %d: the stream has %d", docIndex, len(docs))
			}
			doc := docs[docIndex-1]
			if doc.Source != d[2] {
				t.Errorf("document %d comes from %s, the error says %s", docIndex, doc.Source, d[2])
			}
			if line < doc.FirstLine || line > doc.LastLine {
				t.Errorf("line %d is outside document %d (lines %d-%d)", line, docIndex, doc.FirstLine, doc.LastLine)
			}
			if got := lineAt(stream, line); got != tc.line {
				t.Errorf("line %d of the stream is %q, want %q", line, got, tc.line)
			}
		})
	}
}
