# coredns: cluster DNS of the suite's node (e2e/testdata/node/coredns.yaml),
# the static binary scripts/node-build.sh builds from tools/coredns, alone in
# an empty root. It binds port 53, so it runs as root, as kind's does not
# need to (kind grants NET_BIND_SERVICE; this image keeps the Deployment
# simple).
TAG=1.14.7
FROM=scratch
OCIPACK=(-entrypoint '["/coredns"]')

inputs() { ls tools/coredns/main.go tools/coredns/go.mod tools/coredns/go.sum; }

setup() {
	local bin
	bin=$("$root_dir/scripts/node-build.sh" | tail -n1)/coredns
	cp "$(readlink -f "$bin")" "$root/coredns"
	echo "none: tools/coredns $(awk '$1 == "github.com/coredns/coredns" { print $2 }' "$root_dir/tools/coredns/go.mod")" >"$work/packages"
}
