#!/usr/bin/env bash
# Build the Kubernetes binaries the acceptance suite runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) from
# the tools module tools/kube (k8s.io/kubernetes at the version its go.mod
# pins, listed there as tool directives), in one go build, into
# $DPPS_CACHE/kube/<version>/. The cache is outside the clone, so a fresh
# clone (CI) reuses it; a second run finds every binary there and builds
# nothing. Prints the directory holding the binaries.
#
# The -X flags are the ones Kubernetes' own build sets, so the server reports
# its real version (Helm's kubeVersion checks read it), not v0.0.0; -s -w
# strips the debug information as Kubernetes' release build does (a third
# less to link and store: kube-apiserver 119 MB instead of 171 MB).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
export GOFLAGS=-buildvcs=false
# shellcheck source=scripts/cache-dir.sh
. "$root/scripts/cache-dir.sh"

version=$(cd "$root/tools/kube" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
out="$DPPS_CACHE/kube/$version"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

missing=()
for b in "${bins[@]}"; do
	[ -x "$out/$b" ] || missing+=("$b")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "$out"
	exit 0
fi

minor=${version#v*.}
minor=${minor%%.*}
major=${version#v}
major=${major%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=$version"
ldflags+=" -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "kube-build: building ${missing[*]} $version into $out (cold: 10-20 minutes on 2 cores)" >&2
start=$(date +%s)
tmp="$out/.build.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
pkgs=()
for b in "${missing[@]}"; do
	pkgs+=("k8s.io/kubernetes/cmd/$b")
done
(cd "$root/tools/kube" && "$GO" build -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
for b in "${missing[@]}"; do
	mv "$tmp/$b" "$out/$b"
done
echo "kube-build: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
