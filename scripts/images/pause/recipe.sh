# pause: the pod sandbox image, a static Go program (tools/pause) alone in
# an empty root. kubelet's --pod-infra-container-image / containerd's
# sandbox_image point at it.
TAG=1.0
FROM=scratch
OCIPACK=(-user 65535:65535 -entrypoint '["/pause"]')

inputs() { ls tools/pause/main.go; }

setup() {
	(cd "$root_dir" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$root/pause" ./tools/pause)
	echo "pause=tools/pause ($("$GO" env GOVERSION))" >"$work/packages.extra"
}
