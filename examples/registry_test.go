package examples

import (
	"path/filepath"
	"strings"
	"testing"
)

// backupMirror is the mirror of the render with the fixtures' backup Jobs,
// which no production site renders (its databases are the site's).
const backupMirror = "registry.example.org:5000/mirror"

// TestRegistryMirror: with a registry mirror declared, every container of
// every pod (init containers, Jobs, backup Jobs and test pods included)
// pulls from it. The mirror is read from the values files, not from the
// chart.
func TestRegistryMirror(t *testing.T) {
	helm, render := tools(t)
	cases := map[string][]string{"prod-site": {prodSite}, "dev-backups": {"dev/values.yaml"}}
	for _, s := range sites {
		cases[s] = siteValues(s)
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			mirror := ""
			for _, f := range files {
				if h := mirrorOf(t, f); h != "" {
					mirror = h
				}
			}
			args := []string{"template", release, chart}
			for _, f := range files {
				args = append(args, "-f", f)
			}
			if name == "dev-backups" {
				mirror = backupMirror
				args = append(args, "--set", "global.externals.registry.host="+mirror+
					",bdms.rucio-db.backup.enabled=true,fts.fts-db.backup.enabled=true,wms.dirac-db.backup.enabled=true")
			}
			if mirror == "" {
				t.Fatalf("%v declare no global.externals.registry.host", files)
			}
			objs := parse(t, run(t, helm, append(args, "--post-renderer", render)...))
			images := 0
			for _, o := range objs {
				spec := podSpecOf(o)
				if spec == nil {
					continue
				}
				for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
					for i, c := range list(spec[key]) {
						img := str(dig(c, "image"))
						images++
						if !strings.HasPrefix(img, mirror+"/") {
							t.Errorf("%s %s[%d] (%s): image %q is not under the mirror %s", o, key, i, str(dig(c, "name")), img, mirror)
						}
					}
				}
			}
			// Hooks and test pods are part of the render; a render
			// without them would not test what this test says.
			var jobs, backups, tests int
			for _, o := range objs {
				if strings.Contains(o.ann["helm.sh/hook"], "test") {
					tests++
				}
				if o.kind == "Job" {
					jobs++
					if strings.HasSuffix(o.name, "-backup") || strings.Contains(o.name, "-backup-") {
						backups++
					}
				}
			}
			// dc-es1 is a replica site of rucio-db: its render holds no
			// Rucio Job (failover_test.go), the only Jobs of a site.
			wantJobs := name != "dc-es1"
			if images == 0 || wantJobs && jobs == 0 || tests == 0 {
				t.Fatalf("render has %d images, %d Jobs, %d test objects: want some of each", images, jobs, tests)
			}
			if name == "dev-backups" && backups != 3 {
				t.Fatalf("render has %d backup Jobs, want 3", backups)
			}
		})
	}
}

// podSpecOf is the pod spec of a workload or a bare Pod, nil otherwise.
func podSpecOf(o object) map[string]any {
	if o.kind == "Pod" {
		s, _ := dig(o.m, "spec").(map[string]any)
		return s
	}
	s, _ := dig(podTemplate(o), "spec").(map[string]any)
	return s
}

// mirrorOf is global.externals.registry.host of a values file, "" unset.
func mirrorOf(t *testing.T, file string) string {
	t.Helper()
	return strings.TrimSuffix(str(dig(readValues(t, filepath.Clean(file)), "global", "externals", "registry", "host")), "/")
}
