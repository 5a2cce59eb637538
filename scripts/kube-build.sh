#!/usr/bin/env bash
# Build kube-apiserver and kube-controller-manager from the tools module
# tools/kube (k8s.io/kubernetes at the version its go.mod pins) into
# .cache/kube/<version>/, once: a second run finds them there and does not
# rebuild. Prints the directory holding the binaries.
#
# The -X flags are the ones Kubernetes' own build sets, so the server reports
# its real version (Helm's kubeVersion checks read it), not v0.0.0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
export GOFLAGS=-buildvcs=false

version=$(cd "$root/tools/kube" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
out="$root/.cache/kube/$version"
bins=(kube-apiserver kube-controller-manager)

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
ldflags="-X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=$version"
ldflags+=" -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

mkdir -p "$out"
for b in "${missing[@]}"; do
	echo "kube-build: building $b $version into $out (cold: several minutes)" >&2
	start=$(date +%s)
	(cd "$root/tools/kube" && "$GO" build -ldflags "$ldflags" -o "$out/.$b.tmp" "./$b")
	mv "$out/.$b.tmp" "$out/$b"
	echo "kube-build: $b built in $(( $(date +%s) - start ))s" >&2
done
echo "$out"
