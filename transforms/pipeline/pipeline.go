package pipeline

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/manifest"
)

// Step is one named transform in a pipeline.
type Step struct {
	Name   string
	Filter kio.Filter
}

// ChangeCounter is implemented by filters that can say how many objects they
// modified in place during their last run.
type ChangeCounter interface {
	Changed() int
}

// Stats says what a run did, for the human summary.
type Stats struct {
	In      int // objects read (List items counted one by one)
	Dropped int // empty or comment-only documents dropped
	Out     int // objects written
	Steps   []StepStats
}

// StepStats is what one transform did.
type StepStats struct {
	Name                    string
	Changed, Added, Removed int
}

// Run reads the stream from in, applies the steps in order and writes the
// result to out. The output is produced only when every step succeeded, so a
// failing run writes nothing.
func Run(in io.Reader, out io.Writer, steps []Step) (Stats, error) {
	return RunLimited(in, out, steps, Limits{})
}

// Limits caps the input of a run: see Reader.MaxBytes and MaxObjects.
type Limits struct {
	MaxBytes   int64
	MaxObjects int
}

// InputBytes is the byte cap in force: MaxBytes, DefaultMaxBytes for 0, no
// cap (the largest int64) for a negative value.
func (l Limits) InputBytes() int64 { return limit(l.MaxBytes, DefaultMaxBytes) }

// ReadBytes is how much of an input to read to tell whether it is over the
// byte cap: one byte past it (with no cap, everything).
func (l Limits) ReadBytes() int64 {
	if n := l.InputBytes(); n < math.MaxInt64 {
		return n + 1
	}
	return math.MaxInt64
}

// RunLimited is Run with caps on the input other than the defaults.
func RunLimited(in io.Reader, out io.Writer, steps []Step, limits Limits) (Stats, error) {
	nodes, stats, err := Transform(in, steps, limits)
	if err != nil {
		return stats, err
	}
	docs, err := encode(nodes)
	if err != nil {
		return stats, err
	}
	if err := writeDocs(out, docs); err != nil {
		return stats, fmt.Errorf("writing output: %w", err)
	}
	return stats, nil
}

// Transform reads the stream from in and applies the steps in order; it
// returns the objects RunLimited would write, in their order.
func Transform(in io.Reader, steps []Step, limits Limits) ([]*yaml.RNode, Stats, error) {
	var stats Stats
	reader := &Reader{Input: in, MaxBytes: limits.MaxBytes, MaxObjects: limits.MaxObjects, RejectDuplicates: true}
	nodes, err := reader.Read()
	if err != nil {
		return nil, stats, err
	}
	stats.In, stats.Dropped = len(nodes), reader.Dropped
	for _, s := range steps {
		before := len(nodes)
		nodes, err = s.Filter.Filter(nodes)
		if err != nil {
			return nil, stats, fmt.Errorf("%s: %w", s.Name, err)
		}
		st := StepStats{Name: s.Name}
		if d := len(nodes) - before; d > 0 {
			st.Added = d
		} else {
			st.Removed = -d
		}
		if c, ok := s.Filter.(ChangeCounter); ok {
			st.Changed = c.Changed()
		}
		stats.Steps = append(stats.Steps, st)
	}
	stats.Out = len(nodes)
	for _, n := range nodes {
		if err := checkAnnotationSize(n); err != nil {
			return nil, stats, err
		}
	}
	return nodes, stats, nil
}

// MaxAnnotationBytes is Kubernetes' limit on an object's annotations, keys
// and values together (TotalAnnotationSizeLimitB).
const MaxAnnotationBytes = 256 << 10

// checkAnnotationSize refuses an object the API server would refuse for
// its annotations' size; it runs after the transforms, which add their
// own (provenance).
func checkAnnotationSize(n *yaml.RNode) error {
	a := manifest.Path(n.YNode(), "metadata", "annotations")
	if a == nil || a.Kind != yaml.MappingNode {
		return nil
	}
	total := 0
	for _, c := range a.Content {
		total += len(c.Value)
	}
	if total <= MaxAnnotationBytes {
		return nil
	}
	return fmt.Errorf("%s: annotations take %d bytes (keys and values), over Kubernetes' limit of %d: the API server would refuse the object; move the large values into a ConfigMap", manifest.Describe(n), total, MaxAnnotationBytes)
}

// NoObjects is what Write emits for a stream without objects.
const NoObjects = "# dpps-render: no objects\n"

// Write encodes the objects as one YAML stream, each document opened by
// `---` as Helm writes it, with the kyaml style (two-space indent, compact
// sequences). Every object is encoded before anything is written, so an
// object that cannot be encoded leaves w untouched.
func Write(w io.Writer, nodes []*yaml.RNode) error {
	docs, err := encode(nodes)
	if err != nil {
		return err
	}
	return writeDocs(w, docs)
}

// Encoded is a stream encoded and not yet written, so that a caller can
// finish everything else that may fail (dpps-render's --report) before
// anything reaches its output.
type Encoded [][]byte

// Encode encodes the objects as Write does, without writing them.
func Encode(nodes []*yaml.RNode) (Encoded, error) { return encode(nodes) }

// WriteStream writes the stream.
func (e Encoded) WriteStream(w io.Writer) error { return writeDocs(w, e) }

// encode encodes each object into a document of its own, in parallel, with
// the direct writer (emit.go) where it applies and yaml.v3 elsewhere. Each
// document gets its own yaml.v3 encoder: it keeps every event it has
// emitted, so one encoder for a large stream would hold the whole stream's
// events in memory.
func encode(nodes []*yaml.RNode) ([][]byte, error) {
	docs := make([][]byte, len(nodes))
	errs := make([]error, len(nodes))
	parallel(len(nodes), func(i int) {
		doc := nodes[i].Document()
		if doc.Kind != yaml.DocumentNode {
			doc = &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}
		}
		prepareForWriting(doc)
		if out, ok := fastEncode(doc); ok {
			docs[i] = out
			return
		}
		docs[i], errs[i] = encodeYAMLv3(doc)
		if errs[i] != nil {
			errs[i] = fmt.Errorf("encoding object %d: %w", i+1, errs[i])
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err // the first in stream order
		}
	}
	return docs, nil
}

// prepareForWriting settles, before either writer runs, what they would
// otherwise write differently: an object is written as a block mapping
// even when it was a flow one (a List's item), and strings YAML 1.1 would
// misread are quoted (quoteYAML11).
func prepareForWriting(doc *yaml.Node) {
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode && len(doc.Content[0].Content) > 0 {
		doc.Content[0].Style &^= yaml.FlowStyle
	}
	quoteYAML11(doc, false)
}

// encodeYAMLv3 encodes a document with yaml.v3 in the kyaml style.
func encodeYAMLv3(doc *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeDocs writes encoded documents as a stream.
func writeDocs(w io.Writer, docs [][]byte) error {
	if len(docs) == 0 {
		// Helm 4 refuses an empty post-render; a comment-only stream is
		// accepted by both Helm versions and read back as nothing.
		_, err := io.WriteString(w, NoObjects)
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, d := range docs {
		bw.WriteString("---\n")
		bw.Write(d)
	}
	return bw.Flush()
}

// Summary is a short human account of the run.
func (s Stats) Summary() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "objects in: %d", s.In)
	if s.Dropped > 0 {
		fmt.Fprintf(&b, " (%d empty documents dropped)", s.Dropped)
	}
	fmt.Fprintf(&b, "\nobjects out: %d\n", s.Out)
	for _, st := range s.Steps {
		fmt.Fprintf(&b, "  %-12s changed %d, added %d, removed %d\n", st.Name, st.Changed, st.Added, st.Removed)
	}
	return b.String()
}
