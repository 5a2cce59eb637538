package examples

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// TestImageLock: every example, and every site, renders with digests when
// given a lock. Each render pulls through a registry mirror on loopback (a
// real OCI registry, go-containerregistry's), where the test pushes a
// random image under every name the render uses; "dpps-render images
// lock" resolves them, and the render with --image-lock must pin each
// container, hooks and test pods included, to the digest of the image the
// test pushed.
func TestImageLock(t *testing.T) {
	helm, render := tools(t)
	mirror := testutil.Registry(t) + "/mirror"
	// The machine's docker credentials are not the test's business.
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	cases := map[string][]string{}
	for _, env := range environments(t) {
		cases[env] = []string{filepath.Join(env, "values.yaml")}
	}
	for _, s := range sites {
		cases["site-"+s] = siteValues(s)
	}
	pushed := map[string]string{} // reference -> digest of the pushed image
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", release, chart}
			for _, f := range files {
				args = append(args, "-f", f)
			}
			args = append(args, "--set", "global.externals.registry.host="+mirror)
			// Helm 3 passes no hook through a post-renderer: dpps-render
			// reads the whole render, hooks and test pods included, as a
			// site running Helm 3 checks it (README, "Hooks: use Helm 4").
			unpinned := run(t, helm, args...)
			refs := containerImages(parse(t, unpinned))
			if len(refs) == 0 {
				t.Fatal("the render has no container images")
			}
			for _, c := range refs {
				if !strings.HasPrefix(c.image, mirror+"/") || strings.Contains(c.image, "@") {
					t.Fatalf("%s: image %q is not a tag under the mirror %s", c.where, c.image, mirror)
				}
				if _, ok := pushed[c.image]; !ok {
					pushed[c.image] = testutil.PushRandom(t, c.image)
				}
			}

			lock := filepath.Join(t.TempDir(), "images.lock.yaml")
			stdinRun(t, unpinned, render, "images", "lock", "--output", lock)
			pinned := parse(t, stdinRun(t, unpinned, render, "--image-lock", lock))
			got := containerImages(pinned)
			if len(got) != len(refs) {
				t.Fatalf("%d containers with the lock, %d without", len(got), len(refs))
			}
			for i, c := range got {
				want := refs[i].image + "@" + pushed[refs[i].image]
				if c.where != refs[i].where || c.image != want {
					t.Errorf("%s: image %q, want %q", c.where, c.image, want)
				}
			}
			// Through Helm 3's --post-renderer, the lock pins every object
			// Helm passes it: all but hooks.
			if name == "ci" {
				post := parse(t, run(t, helm, append(args, "--post-renderer", render, "--post-renderer-args", "--image-lock="+lock)...))
				n := 0
				for _, o := range post {
					if o.ann[annHook] != "" || podSpecOf(o) == nil {
						continue
					}
					for _, c := range containerImages([]object{o}) {
						n++
						if _, digest, _ := strings.Cut(c.image, "@"); digest != pushed[strings.TrimSuffix(c.image, "@"+digest)] {
							t.Errorf("post-renderer: %s: image %q is not pinned to the pushed image", c.where, c.image)
						}
					}
				}
				if n == 0 {
					t.Error("post-renderer: no container outside hooks")
				}
			}
			// Provenance records tag and digest of every image.
			for _, o := range pinned {
				if a := o.ann["dpps.ctao.org/images"]; a != "" {
					for _, ref := range strings.Split(a, ",") {
						if _, ok := pushed[strings.SplitN(ref, "@", 2)[0]]; !ok || !strings.Contains(ref, ":") || !strings.Contains(ref, "@sha256:") {
							t.Errorf("%s: dpps.ctao.org/images has %q, want a locked tag@digest", o, ref)
						}
					}
				}
			}
		})
	}
}

// stdinRun runs a command with stdin and returns its stdout.
func stdinRun(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(string(stdin))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return []byte(stdout.String())
}

type containerImage struct{ where, image string }

// containerImages lists every container's image of every pod template,
// in stream order.
func containerImages(objs []object) []containerImage {
	var out []containerImage
	for _, o := range objs {
		spec := podSpecOf(o)
		if spec == nil {
			continue
		}
		for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
			for _, c := range list(spec[key]) {
				out = append(out, containerImage{o.String() + " " + key + "[" + str(dig(c, "name")) + "]", str(dig(c, "image"))})
			}
		}
	}
	return out
}
