#!/usr/bin/env bash
# Build the node's add-ons that do not come from k8s.io/kubernetes, each from
# its own tools module at the version its go.mod pins, into
# $DPPS_CACHE/node/<name>-<version>, once:
#   kube-router (tools/kube-router): NetworkPolicy enforcement, firewall only;
#   coredns (tools/coredns): cluster DNS, static, for the image images.sh
#   makes from it.
# Prints the directory holding the binaries (as links without the version).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
export GOFLAGS=-buildvcs=false
# shellcheck source=scripts/cache-dir.sh
. "$root/scripts/cache-dir.sh"

out="$DPPS_CACHE/node"
mkdir -p "$out"

# build NAME MODULE-DIR VERSION-OF PACKAGE
build() {
	local name=$1 dir=$2 mod=$3 pkg=$4 version
	version=$(cd "$root/tools/$dir" && "$GO" list -m -f '{{.Version}}' "$mod")
	if [ ! -x "$out/$name-$version" ]; then
		echo "node-build: building $name $version (cold: a few minutes)" >&2
		local start
		start=$(date +%s)
		(cd "$root/tools/$dir" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$out/.$name.tmp" "$pkg")
		mv "$out/.$name.tmp" "$out/$name-$version"
		echo "node-build: $name built in $(( $(date +%s) - start ))s" >&2
	fi
	ln -sfn "$name-$version" "$out/$name"
}

build kube-router kube-router github.com/cloudnativelabs/kube-router/v2 github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
build coredns coredns github.com/coredns/coredns .
echo "$out"
