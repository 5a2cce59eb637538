package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

func runCmd(args []string, stdin string) (code int, stdout, stderr string) {
	var out, errb strings.Builder
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

const lockStream = `# Source: dpps/templates/server.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
spec:
  template:
    spec:
      initContainers:
      - name: wait
        image: HOST/mirror/busybox:1.36.1
      containers:
      - name: server
        image: HOST/mirror/rucio-server:40.0.0
---
# Source: dpps/templates/tests/answers.yaml
apiVersion: v1
kind: Pod
metadata:
  name: test
  annotations:
    helm.sh/hook: test
spec:
  containers:
  - name: answers
    image: HOST/mirror/busybox:1.36.1
`

// TestImagesLockLoopback runs "images lock", --check and --image-lock
// against a real registry on 127.0.0.1, with images pushed by the test.
func TestImagesLockLoopback(t *testing.T) {
	host := testutil.Registry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of the machine
	stream := strings.ReplaceAll(lockStream, "HOST", host)
	busybox := testutil.PushRandom(t, host+"/mirror/busybox:1.36.1")
	server := testutil.PushRandom(t, host+"/mirror/rucio-server:40.0.0")
	dir := t.TempDir()
	lock := filepath.Join(dir, "images.lock.yaml")

	code, out, errs := runCmd([]string{"images", "lock", "--output", lock}, stream)
	if code != exitOK || errs != "" || out != "locked 2 image(s) in "+lock+"\n" {
		t.Fatalf("images lock: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	data, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"- image: \"" + host + "/mirror/busybox:1.36.1\"\n  digest: " + busybox + "\n",
		"- image: \"" + host + "/mirror/rucio-server:40.0.0\"\n  digest: " + server + "\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("lock lacks %q:\n%s", want, data)
		}
	}

	// Render with the lock: every image carries the digest the registry
	// serves, and provenance records tag and digest.
	code, out, errs = runCmd([]string{"--image-lock", lock, "--transforms", "imagelock,provenance"}, stream)
	if code != exitOK {
		t.Fatalf("render: exit %d, %s", code, errs)
	}
	for _, want := range []string{
		"image: " + host + "/mirror/busybox:1.36.1@" + busybox + "\n",
		"image: " + host + "/mirror/rucio-server:40.0.0@" + server + "\n",
		"dpps.ctao.org/images: " + host + "/mirror/busybox:1.36.1@" + busybox + "," + host + "/mirror/rucio-server:40.0.0@" + server + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("render lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "@sha256:"); n != 6 { // 3 images, and 3 in the annotations
		t.Fatalf("%d digests in the render, want 6:\n%s", n, out)
	}
	pinned := out
	// inventory's digest column shows it.
	code, out, errs = runCmd([]string{"inventory"}, pinned)
	t.Logf("inventory:\n%s", out)
	if code != exitOK || !strings.Contains(out, server) {
		t.Fatalf("inventory: exit %d, %s\n%s", code, errs, out)
	}

	// --check: nothing moved.
	code, out, _ = runCmd([]string{"images", "lock", "--check", lock}, stream)
	if code != exitOK || out != "ok: 2 image(s), each as locked in "+lock+"\n" {
		t.Fatalf("check: exit %d, %q", code, out)
	}
	// The tag moves: --check names it, the lock is not rewritten, and a
	// render with the lock still pins the locked digest.
	moved := testutil.PushRandom(t, host+"/mirror/rucio-server:40.0.0")
	code, out, _ = runCmd([]string{"images", "lock", "--check", lock}, stream)
	wantLine := `error: image "` + host + `/mirror/rucio-server:40.0.0" moved: the lock has ` + server + `, its registry now serves ` + moved
	if code != exitFailed || !strings.Contains(out, wantLine) || strings.Contains(out, "busybox") {
		t.Fatalf("check after the move: exit %d\n%s\nwant %s", code, out, wantLine)
	}
	if again, _ := os.ReadFile(lock); string(again) != string(data) {
		t.Fatal("--check rewrote the lock")
	}

	// An image the lock lacks is refused, naming object, container and image.
	extra := stream + "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: backup\nspec:\n  template:\n    spec:\n      containers:\n      - name: dump\n        image: " + host + "/mirror/postgres:17\n"
	code, out, errs = runCmd([]string{"--image-lock", lock}, extra)
	if code != exitFailed || out != "" || !strings.Contains(errs, `Job backup: container dump spec.template.spec.containers[0].image: image "`+host+`/mirror/postgres:17" is not in the image lock`) {
		t.Fatalf("render with an image the lock lacks: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// A missing image: one line naming it and the registry's answer, and
	// no lock written.
	missing := filepath.Join(dir, "missing.lock.yaml")
	code, out, errs = runCmd([]string{"images", "lock", "--output", missing}, extra)
	if code != exitFailed || out != "" {
		t.Fatalf("lock with a missing image: exit %d, stdout %q", code, out)
	}
	wantErr := `dpps-render images lock: image "` + host + `/mirror/postgres:17": registry ` + host + ` answered: GET http://` + host + `/v2/mirror/postgres/manifests/17: NAME_UNKNOWN`
	if !strings.HasPrefix(errs, wantErr) || strings.Count(errs, "\n") != 2 || !strings.Contains(errs, "1 of 3 image(s) not resolved: no lock written") {
		t.Fatalf("stderr %q\nwant a line starting %q", errs, wantErr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a lock was written: %v", err)
	}
	// A missing tag of an image that exists.
	code, _, errs = runCmd([]string{"images", "lock"}, strings.ReplaceAll(stream, "busybox:1.36.1", "busybox:1.37.0"))
	if code != exitFailed || !strings.Contains(errs, `image "`+host+`/mirror/busybox:1.37.0": registry `+host+` answered: GET http://`+host+`/v2/mirror/busybox/manifests/1.37.0: MANIFEST_UNKNOWN`) {
		t.Fatalf("missing tag: exit %d, %q", code, errs)
	}
}
