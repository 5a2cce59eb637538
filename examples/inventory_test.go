package examples

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// heldBack is a seventh render: dc-it1 with the Rucio server held on an
// older release by one more values file, so that the answer has two rows.
const heldBack = "dc-it1-held"

// TestInventoryAcrossSites renders the six sites with the real Helm through
// dpps-render and asks `dpps-render inventory --by image` which sites run
// the Rucio server image: the answer is checked against the values files,
// read here (chart defaults, prod-site, the site file, last one wins), not
// through the chart or dpps-render.
func TestInventoryAcrossSites(t *testing.T) {
	helm, render := tools(t)
	dir := t.TempDir()
	held := filepath.Join(dir, "held.yaml")
	if err := os.WriteFile(held, []byte("bdms:\n  rucio-server:\n    image:\n      tag: release-39.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := append(slices.Clone(sites), heldBack)
	files := map[string][]string{heldBack: append(siteValues("dc-it1"), held)}
	for _, s := range sites {
		files[s] = siteValues(s)
	}

	// What the values say each site runs: repository, tag, digest and
	// registry mirror, and the reference the server's container must name.
	chartValues := readValues(t, filepath.Join(chart, "values.yaml"))
	bdmsChart := readValues(t, filepath.Join(chart, "charts", "bdms", "Chart.yaml"))
	wantChart := str(bdmsChart["name"]) + "-" + str(bdmsChart["version"])
	type image struct{ repo, tag, digest, mirror string }
	want := map[string]image{}
	for _, s := range names {
		layers := []map[string]any{chartValues}
		for _, f := range files[s] {
			layers = append(layers, readValues(t, f))
		}
		var img image
		for _, m := range layers {
			set := func(dst *string, path ...string) {
				if v := dig(m, path...); v != nil {
					*dst = str(v)
				}
			}
			set(&img.repo, "bdms", "rucio-server", "image", "repository")
			set(&img.tag, "bdms", "rucio-server", "image", "tag")
			set(&img.digest, "bdms", "rucio-server", "image", "digest")
			set(&img.mirror, "global", "externals", "registry", "host")
		}
		if img.repo == "" || img.tag == "" || img.mirror == "" {
			t.Fatalf("%s: the values give no repository, tag or mirror for the Rucio server: %+v", s, img)
		}
		img.mirror = strings.TrimSuffix(img.mirror, "/")
		want[s] = img
	}

	var args []string
	for _, s := range names {
		fargs := []string{"template", release, chart, "--skip-tests"}
		for _, f := range files[s] {
			fargs = append(fargs, "-f", f)
		}
		out := filepath.Join(dir, s+".yaml")
		if err := os.WriteFile(out, run(t, helm, append(fargs, "--post-renderer", render)...), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, s+"="+out)
	}

	var got struct {
		Images []struct {
			Image, Digest          string
			Sites, Systems, Charts []string
			Uses                   []struct{ Site, Workload, Container, System, Chart, Reference string }
		}
	}
	out := run(t, render, append([]string{"inventory", "--by", "image", "--output", "json", "--image", "/rucio/rucio-server:"}, args...)...)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rowOf := map[string]int{}
	for i, u := range got.Images {
		// Sites in argument order.
		if !slices.IsSortedFunc(u.Sites, func(a, b string) int { return slices.Index(names, a) - slices.Index(names, b) }) {
			t.Errorf("%s: sites %v not in argument order", u.Image, u.Sites)
		}
		for _, s := range u.Sites {
			if j, ok := rowOf[s]; ok {
				t.Errorf("%s runs two Rucio server images: %s and %s", s, got.Images[j].Image, u.Image)
			}
			rowOf[s] = i
			w := want[s]
			if u.Image != w.repo+":"+w.tag || u.Digest != w.digest {
				t.Errorf("%s is listed under %s@%s, its values say %s:%s@%s", s, u.Image, u.Digest, w.repo, w.tag, w.digest)
			}
		}
		if !slices.Equal(u.Charts, []string{wantChart}) {
			t.Errorf("%s: charts %v, want [%s]", u.Image, u.Charts, wantChart)
		}
		servers := map[string]bool{}
		for _, use := range u.Uses {
			w := want[use.Site]
			ref := w.mirror + "/" + w.repo + ":" + w.tag
			if w.digest != "" {
				ref += "@" + w.digest
			}
			if use.Reference != ref {
				t.Errorf("%s %s %s: reference %s, the values say %s", use.Site, use.Workload, use.Container, use.Reference, ref)
			}
			if use.Workload == "Deployment/dpps-rucio-server" && use.Container == "rucio-server" && use.System == "bdms/rucio-server" {
				servers[use.Site] = true
			}
		}
		for _, s := range u.Sites {
			if !servers[s] {
				t.Errorf("%s: %s's Deployment/dpps-rucio-server (bdms/rucio-server) is not among the uses", u.Image, s)
			}
		}
	}
	for _, s := range names {
		if _, ok := rowOf[s]; !ok {
			t.Errorf("%s runs no Rucio server image, its values say %s:%s", s, want[s].repo, want[s].tag)
		}
	}
	// One row per image the values name, whatever mirror each site pulls
	// it through (the held-back site makes at least two).
	distinct := map[string]bool{}
	for _, w := range want {
		distinct[w.repo+":"+w.tag+"@"+w.digest] = true
	}
	if len(got.Images) != len(distinct) || len(distinct) < 2 {
		t.Errorf("%d rows, the values name %d images\n%s", len(got.Images), len(distinct), out)
	}
}
