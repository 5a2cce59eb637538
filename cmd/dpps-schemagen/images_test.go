package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/ctao/dpps-deploy/interfaces"
)

// listedImage is one entry of interfaces/images.cue, as the test reads it.
type listedImage struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Purpose    string `json:"purpose"`
	Source     string `json:"source"`
	Checked    string `json:"checked"`
	Evidence   string `json:"evidence"`
	Confirmed  bool   `json:"confirmed"`
}

// imageList reads the image list of interfaces/images.cue from the module
// in the repository.
func imageList(t *testing.T) map[string]listedImage {
	t.Helper()
	files, err := interfaces.ReadDir(filepath.Join(repoRoot, interfaces.Dir))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interfaces.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	var list map[string]listedImage
	if err := m.Root.LookupPath(cue.ParsePath("images")).Decode(&list); err != nil {
		t.Fatalf("interfaces/images.cue: images: %v", err)
	}
	if len(list) == 0 {
		t.Fatal("interfaces/images.cue lists no image")
	}
	return list
}

// ref is a container image reference split into its parts.
type ref struct{ registry, repository, tag, digest string }

func (r ref) String() string {
	s := r.repository + ":" + r.tag
	if r.registry != "" {
		s = r.registry + "/" + s
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// parseRef splits an image reference as container runtimes do: the first
// path component is a registry when it holds a dot or a port or is
// localhost.
func parseRef(s string) (ref, error) {
	var r ref
	if i := strings.Index(s, "@"); i >= 0 {
		s, r.digest = s[:i], s[i+1:]
	}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s, r.tag = s[:i], s[i+1:]
	}
	if first, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.registry, s = first, rest
	}
	r.repository = s
	if r.repository == "" || r.tag == "" {
		return r, fmt.Errorf("image %q: no repository or no tag", s)
	}
	return r, nil
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want ref
		err  bool
	}{
		{"docker.io/library/busybox:1.36.1", ref{"docker.io", "library/busybox", "1.36.1", ""}, false},
		{"localhost/dpps-e2e/busybox:1.35-bookworm", ref{"localhost", "dpps-e2e/busybox", "1.35-bookworm", ""}, false},
		{"registry.example.org:5000/mirror/fts/fts3:v3.14.2", ref{"registry.example.org:5000", "mirror/fts/fts3", "v3.14.2", ""}, false},
		{"bitnamilegacy/mysql:8.0.39-debian-12-r0", ref{"", "bitnamilegacy/mysql", "8.0.39-debian-12-r0", ""}, false},
		{"docker.io/x/y:1@sha256:" + strings.Repeat("a", 64), ref{"docker.io", "x/y", "1", "sha256:" + strings.Repeat("a", 64)}, false},
		{"docker.io/library/busybox", ref{}, true},
	}
	for _, tt := range tests {
		got, err := parseRef(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("parseRef(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestImageList: every entry of interfaces/images.cue carries what a site
// security officer needs, and the Bitnami images come from the repository
// Bitnami still serves versioned tags from.
func TestImageList(t *testing.T) {
	for name, img := range imageList(t) {
		for field, v := range map[string]string{"purpose": img.Purpose, "source": img.Source, "checked": img.Checked, "evidence": img.Evidence} {
			if strings.TrimSpace(v) == "" {
				t.Errorf("images.%s.%s is empty", name, field)
			}
		}
		if strings.HasPrefix(img.Repository, "bitnami/") {
			t.Errorf("images.%s: %s/%s: docker.io/bitnami serves no versioned tag since 2025-08-28 (bitnami/containers#83267)", name, img.Registry, img.Repository)
		}
	}
}

// TestValuesImagesListed: every image in the chart's generated defaults
// (charts/dpps/values.yaml) is an entry of interfaces/images.cue, and every
// entry is used there.
func TestValuesImagesListed(t *testing.T) {
	list := imageList(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "charts", "dpps", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if repo, ok := m["repository"].(string); ok {
			if tag, ok := m["tag"]; ok {
				got := fmt.Sprintf("%v/%s:%v", m["registry"], repo, tag)
				name := ""
				for n, img := range list {
					if img.Registry+"/"+img.Repository+":"+img.Tag == got {
						name = n
					}
				}
				if name == "" {
					t.Errorf("charts/dpps/values.yaml %s: %s is not in interfaces/images.cue", path, got)
				}
				used[name] = true
				return
			}
		}
		for k, c := range m {
			walk(path+"."+k, c)
		}
	}
	walk("", doc)
	for n := range list {
		if !used[n] {
			t.Errorf("images.%s is the default of no values key in charts/dpps/values.yaml", n)
		}
	}
}

// helmBinary is the Helm that renders the examples: DPPS_HELM3, else
// DPPS_HELM4.
func helmBinary(t *testing.T) string {
	t.Helper()
	for _, env := range []string{"DPPS_HELM3", "DPPS_HELM4"} {
		if h := os.Getenv(env); h != "" {
			if _, err := os.Stat(h); err != nil {
				t.Fatalf("%s: %v", env, err)
			}
			return h
		}
	}
	msg := "DPPS_HELM3 or DPPS_HELM4 (a Helm binary) is not set; `make unit` sets them"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// renderedImages renders the chart with Helm and returns every container
// image of every pod template, bare Pod and Job (hooks and tests
// included), as "<kind>/<name> <container>" to image.
func renderedImages(t *testing.T, helm string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(helm, append([]string{"template", "dpps", filepath.Join(repoRoot, "charts", "dpps")}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	out := map[string]string{}
	dec := yamlv3.NewDecoder(&stdout)
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template output: %v", err)
		}
		if obj == nil {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		id := fmt.Sprintf("%v/%v", obj["kind"], meta["name"])
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, key := range []string{"containers", "initContainers", "ephemeralContainers"} {
					cs, _ := v[key].([]any)
					for _, c := range cs {
						if c, ok := c.(map[string]any); ok {
							if img, ok := c["image"].(string); ok {
								out[fmt.Sprintf("%s %v", id, c["name"])] = img
							}
						}
					}
				}
				for _, c := range v {
					walk(c)
				}
			case []any:
				for _, c := range v {
					walk(c)
				}
			}
		}
		walk(obj)
	}
	if len(out) == 0 {
		t.Fatalf("helm template %s rendered no container", strings.Join(args, " "))
	}
	return out
}

// mirrorHost is global.externals.registry.host of the last values file
// that sets it, "" when none does.
func mirrorHost(t *testing.T, files []string) string {
	t.Helper()
	host := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Global struct {
				Externals struct {
					Registry struct {
						Host string `yaml:"host"`
					} `yaml:"registry"`
				} `yaml:"externals"`
			} `yaml:"global"`
		}
		if err := yamlv3.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if h := v.Global.Externals.Registry.Host; h != "" {
			host = strings.TrimSuffix(h, "/")
		}
	}
	return host
}

// unlisted returns, sorted, every rendered image that is not one of list:
// with no mirror, registry, repository and tag must be an entry's; behind
// a mirror, the image must be under the mirror and the rest an entry's
// repository and tag. An image under allowPrefix (the e2e suite's local
// images) is accepted.
func unlisted(images map[string]string, list map[string]listedImage, mirror, allowPrefix string) []string {
	var bad []string
	for where, img := range images {
		if allowPrefix != "" && strings.HasPrefix(img, allowPrefix) {
			continue
		}
		ok := false
		for _, l := range list {
			want := ref{registry: l.Registry, repository: l.Repository, tag: l.Tag}
			if mirror != "" {
				want.registry, want.repository, _ = strings.Cut(mirror+"/"+l.Repository, "/")
			}
			if r, err := parseRef(img); err == nil && r.digest == "" && r == want {
				ok = true
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: %s", where, img))
		}
	}
	sort.Strings(bad)
	return bad
}

// TestExampleImagesListed renders each example with the real Helm and
// checks every container image against interfaces/images.cue: dev, ci and
// staging keep the defaults, so each image is exactly a listed one;
// prod-site and the sites layered on it pull through their registry
// mirror, so each image is the mirror followed by a listed repository and
// its tag; e2e-local replaces images by ones built locally on purpose
// (localhost/dpps-e2e/*), and every other image it renders is a listed one.
// A render with an image outside the list must be caught: the last case
// overrides one and expects exactly that finding.
func TestExampleImagesListed(t *testing.T) {
	helm := helmBinary(t)
	list := imageList(t)
	ex := filepath.Join(repoRoot, "examples")
	cases := map[string]struct {
		files []string
		allow string
	}{
		"dev":       {files: []string{filepath.Join(ex, "dev", "values.yaml")}},
		"ci":        {files: []string{filepath.Join(ex, "ci", "values.yaml")}},
		"staging":   {files: []string{filepath.Join(ex, "staging", "values.yaml")}},
		"prod-site": {files: []string{filepath.Join(ex, "prod-site", "values.yaml")}},
		"e2e-local": {files: []string{filepath.Join(ex, "e2e-local", "values.yaml")}, allow: "localhost/dpps-e2e/"},
	}
	sites, err := filepath.Glob(filepath.Join(ex, "sites", "*.yaml"))
	if err != nil || len(sites) == 0 {
		t.Fatalf("examples/sites: no site file (%v)", err)
	}
	for _, s := range sites {
		cases["site-"+strings.TrimSuffix(filepath.Base(s), ".yaml")] = struct {
			files []string
			allow string
		}{files: []string{filepath.Join(ex, "prod-site", "values.yaml"), s}}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range cases {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			var args []string
			for _, f := range c.files {
				args = append(args, "-f", f)
			}
			mirror := mirrorHost(t, c.files)
			if (name == "prod-site" || strings.HasPrefix(name, "site-")) != (mirror != "") {
				t.Fatalf("registry mirror %q: want one exactly for prod-site and the sites", mirror)
			}
			for _, bad := range unlisted(renderedImages(t, helm, args...), list, mirror, c.allow) {
				t.Errorf("%s is not in interfaces/images.cue (add it there with its evidence, or use a listed image)", bad)
			}
		})
	}
	t.Run("unlisted-image-caught", func(t *testing.T) {
		images := renderedImages(t, helm, "-f", filepath.Join(ex, "dev", "values.yaml"),
			"--set", "iam.image.repository=example/not-listed")
		got := unlisted(images, list, "", "")
		want := []string{"Deployment/dpps-iam iam-login-service: docker.io/example/not-listed:" + list["iam"].Tag}
		if !slices.Equal(got, want) {
			t.Errorf("an image outside the list: findings %q, want %q", got, want)
		}
	})
}

// TestImagesDocumented: docs/site-admin.md's "Images" table has one row
// per entry of interfaces/images.cue with its reference, checked date and
// confirmed flag; docs/chart.md names every listed reference; no doc names
// an image of docker.io/bitnami, which serves no versioned tag.
func TestImagesDocumented(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	admin, chart := read("site-admin.md"), read("chart.md")
	list := imageList(t)
	rows := 0
	for _, line := range strings.Split(admin, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 7 || !strings.HasPrefix(line, "| ") {
			continue
		}
		name := strings.TrimPrefix(cells[0], "| ")
		img, ok := list[name]
		if !ok {
			continue
		}
		rows++
		confirmed := map[bool]string{true: "yes", false: "no"}[img.Confirmed]
		if want := "`" + img.Registry + "/" + img.Repository + ":" + img.Tag + "`"; cells[1] != want || cells[4] != img.Checked || cells[5] != confirmed {
			t.Errorf("docs/site-admin.md row %s: reference %s, checked %s, confirmed %s; interfaces/images.cue: %s, %s, %s",
				name, cells[1], cells[4], cells[5], want, img.Checked, confirmed)
		}
	}
	if rows != len(list) {
		t.Errorf("docs/site-admin.md's Images table has %d rows of listed images, interfaces/images.cue lists %d", rows, len(list))
	}
	for name, img := range list {
		if ref := "`" + img.Registry + "/" + img.Repository + ":" + img.Tag + "`"; !strings.Contains(chart, ref) {
			t.Errorf("docs/chart.md does not name images.%s, %s", name, ref)
		}
	}
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(docs, filepath.Join(repoRoot, "README.md")) {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			// check's finding on an upstream render names one on purpose.
			if strings.Contains(line, "cannot be pulled") {
				continue
			}
			for _, m := range movedBitnami.FindAllString(line, -1) {
				if !strings.HasSuffix(m, ":latest") {
					t.Errorf("%s:%d names %s, an image of docker.io/bitnami/, which serves no versioned tag since 2025-08-28", d, i+1, m)
				}
			}
		}
	}
}

// movedBitnami is a Docker Hub bitnami/ image with a tag.
var movedBitnami = regexp.MustCompile(`docker\.io/bitnami/[a-z0-9._/-]+:[A-Za-z0-9_.-]+`)
