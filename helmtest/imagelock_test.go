package helmtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// TestHelm4ImageLock: Helm 4 post-renders hooks, so a lock pins every
// image of the release, the hook Job's included. The images come from a
// registry on loopback where the test pushes them; the expected digests
// are the pushed images' own.
func TestHelm4ImageLock(t *testing.T) {
	helm, env := helm4WithPlugin(t)
	host := testutil.Registry(t)
	pushed := map[string]string{}
	for _, ref := range []string{host + "/tools/busybox:1.36", host + "/sub/server:2.1.0", host + "/sub/migrate:2.1.0"} {
		pushed[ref] = testutil.PushRandom(t, ref)
	}
	dir := t.TempDir()
	env = append(env, "DOCKER_CONFIG="+dir)
	args := []string{"template", releaseName, testdata(t, "umbrella"),
		"--set", "image=" + host + "/tools/busybox:1.36,sub.image=" + host + "/sub/server:2.1.0,sub.initImage=" + host + "/sub/migrate:2.1.0",
		"--post-renderer", "dpps-render"}
	rendered := filepath.Join(dir, "rendered.yaml")
	if err := os.WriteFile(rendered, []byte(mustRun(t, env, helm, args...)), 0o644); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "images.lock.yaml")
	mustRun(t, env, filepath.Join(binDir(t), "dpps-render"), "images", "lock", "--output", lock, rendered)

	out := mustRun(t, env, helm, append(args, "--post-renderer-args", "--image-lock="+lock)...)
	images := regexp.MustCompile(`(?m)^\s*image: "?([^"\s]+)"?$`).FindAllStringSubmatch(out, -1)
	if len(images) != 3 {
		t.Fatalf("%d container images in the render, want 3 (init container, container, hook Job):\n%s", len(images), out)
	}
	for _, m := range images {
		ref, digest, _ := strings.Cut(m[1], "@")
		if want, ok := pushed[ref]; !ok || digest != want {
			t.Errorf("image %q, want %s@%s", m[1], ref, want)
		}
	}
	hooks := 0
	for _, o := range parseStream(t, out) {
		if o.Annotations["helm.sh/hook"] != "" && strings.Contains(o.Raw, "@sha256:") {
			hooks++
		}
	}
	if hooks == 0 {
		t.Errorf("no hook carries a pinned image:\n%s", out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
