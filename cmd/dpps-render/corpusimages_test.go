package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// imageLine is a container's image as the upstream charts write it, with
// the reference in group 1.
var imageLine = regexp.MustCompile(`(?m)^\s*(?:- )?image: "?([^"\s]+)"?\s*$`)

// TestCheckFindsMovedBitnamiImages runs check over every upstream render of
// the corpus: each container image under docker.io/bitnami/ with a tag other
// than latest (counted here from the text, one per image line) is one
// "image" error, in every profile, and nothing else is.
func TestCheckFindsMovedBitnamiImages(t *testing.T) {
	root := testutil.RepoRoot(t)
	corpus := testutil.CorpusDir(t)
	files, err := filepath.Glob(filepath.Join(corpus, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus renders in %s (%v)", corpus, err)
	}
	flagged := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{}
			for _, m := range imageLine.FindAllSubmatch(data, -1) {
				ref := strings.TrimPrefix(string(m[1]), "docker.io/")
				if strings.HasPrefix(ref, "bitnami/") && !strings.HasSuffix(ref, ":latest") {
					want[string(m[1])]++
				}
			}
			for _, profile := range []string{"dev", "prod"} {
				var stdout, stderr bytes.Buffer
				code := check([]string{"--profile", profile, "--catalog", filepath.Join(root, "docs", "site-catalogs", "rucio.yaml"), "--output", "json", file}, nil, &stdout, &stderr)
				if code != exitOK && code != exitFailed {
					t.Fatalf("check --profile %s: exit %d: %s", profile, code, stderr.Bytes())
				}
				var rep struct {
					Findings []struct{ Rule, Message string }
				}
				if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
					t.Fatal(err)
				}
				got := map[string]int{}
				for _, f := range rep.Findings {
					if f.Rule != "image" || !strings.Contains(f.Message, "cannot be pulled") {
						continue
					}
					ref := strings.SplitN(f.Message, `"`, 3)
					if len(ref) < 3 {
						t.Fatalf("no quoted image in %q", f.Message)
					}
					got[ref[1]]++
					if !strings.Contains(f.Message, "docker.io/bitnamilegacy/") {
						t.Errorf("%q does not say where the image went", f.Message)
					}
				}
				if !maps.Equal(got, want) {
					t.Errorf("check --profile %s: moved Bitnami images reported %v, the render has %v", profile, got, want)
				}
				if profile == "dev" {
					for _, n := range want {
						flagged += n
					}
				}
			}
		})
	}
	if flagged == 0 {
		t.Error("no corpus render holds a docker.io/bitnami image: the test checks nothing")
	}
}
