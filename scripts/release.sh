#!/usr/bin/env bash
# make release: package charts/dpps at its version into releases/ (README,
# "Releases"; docs/upgrades.md).
#
#   releases/dpps-VERSION.tgz             helm package of charts/dpps
#   releases/dpps-VERSION/examples/...    the examples' values files as they
#                                         are at this release
#
# VERSION is release.version of interfaces/release.cue, which
# `dpps-schemagen generate` writes into every Chart.yaml. The values files
# are kept because an upgrade installs the old package with the old values:
# the umbrella's schema is closed, so a key the working tree adds would not
# validate against the old chart.
#
# Releases are immutable: when releases/dpps-VERSION.tgz exists, the new
# package is compared with it file by file (helm package stamps each file's
# time, so the archives never match byte for byte) and so are the values
# files; the same contents leave everything as it is, different ones are
# refused. The chart, the CUE and the examples must be committed: a release
# is a commit's chart, not a working tree's.
#
# Expects HELM (a Helm 4) and SCHEMAGEN (dpps-schemagen), as the Makefile
# sets them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
: "${HELM:?set HELM to a Helm 4 binary (make release does)}"
: "${SCHEMAGEN:?set SCHEMAGEN to dpps-schemagen (make release does)}"
cd "$root"

fail() { echo "release: $*" >&2; exit 1; }

"$SCHEMAGEN" generate --check >/dev/null 2>&1 ||
	fail "generated files are stale (Chart.yaml versions among them): run 'make generate' and commit the result"
if [ -n "$(git status --porcelain -- charts/dpps interfaces examples 2>/dev/null)" ]; then
	fail "charts/dpps, interfaces or examples have uncommitted changes: commit them, then run 'make release'"
fi
version=$(sed -n 's/^version:[[:space:]]*//p' charts/dpps/Chart.yaml)
[ -n "$version" ] || fail "charts/dpps/Chart.yaml has no version"
name=dpps-$version

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$HELM" lint charts/dpps -f examples/ci/values.yaml >"$tmp/lint.txt" 2>&1 ||
	{ cat "$tmp/lint.txt" >&2; fail "helm lint charts/dpps failed"; }
"$HELM" package charts/dpps -d "$tmp/pkg" >/dev/null
[ -f "$tmp/pkg/$name.tgz" ] || fail "helm package wrote $(ls "$tmp/pkg"), want $name.tgz"
mkdir -p "$tmp/$name/examples"
for f in examples/*/values.yaml examples/sites/*.yaml; do
	mkdir -p "$tmp/$name/$(dirname "$f")"
	cp "$f" "$tmp/$name/$f"
done

if [ -e "releases/$name.tgz" ] || [ -e "releases/$name" ]; then
	mkdir "$tmp/old" "$tmp/new"
	tar -xzf "releases/$name.tgz" -C "$tmp/old" 2>/dev/null || fail "releases/$name.tgz exists and cannot be read: restore it from git"
	tar -xzf "$tmp/pkg/$name.tgz" -C "$tmp/new"
	if ! diff -r "$tmp/old" "$tmp/new" >"$tmp/diff.txt" || ! diff -r "releases/$name" "$tmp/$name" >>"$tmp/diff.txt"; then
		sed 's/^/  /' "$tmp/diff.txt" | head -n 20 >&2
		fail "releases/$name.tgz exists and differs from charts/dpps and examples at version $version; releases are immutable: raise release.version in interfaces/release.cue, run 'make generate', commit, then 'make release'"
	fi
	echo "releases/$name.tgz and releases/$name/ exist with the same contents: nothing to do"
	exit 0
fi
mkdir -p releases
cp -r "$tmp/$name" "releases/$name"
cp "$tmp/pkg/$name.tgz" "releases/$name.tgz"
echo "released chart $version: releases/$name.tgz, values in releases/$name/examples/ (commit both)"
