#!/usr/bin/env bash
# make e2e: the real-cluster acceptance tests (docs/e2e.md).
#
# Gets etcd (Debian's etcd-server, installed only when etcd is not on PATH),
# builds kube-apiserver and kube-controller-manager once into .cache/kube/
# (scripts/kube-build.sh), then runs the tests of the e2e/ module. The tests
# start the cluster themselves (e2e/cluster_test.go: certificates, tokens,
# etcd, kube-apiserver, kube-controller-manager on free loopback ports, a
# kubeconfig) in a temporary directory made here, and stop it at the end. The
# trap below is the backstop when the test binary itself is killed: it stops
# whatever cluster process is still running and removes the directory.
#
# Expects DPPS_HELM3, DPPS_HELM4 and DPPS_BIN (bin/, with dpps-render), as
# the Makefile sets them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
export GOFLAGS=-buildvcs=false

: "${DPPS_HELM3:?set DPPS_HELM3 to a Helm 3 binary (make e2e does)}"
: "${DPPS_HELM4:?set DPPS_HELM4 to a Helm 4 binary (make e2e does)}"
: "${DPPS_BIN:?set DPPS_BIN to the directory holding dpps-render (make e2e does)}"

if ! command -v etcd >/dev/null 2>&1; then
	echo "e2e: etcd not on PATH: installing Debian's etcd-server" >&2
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	# The package may start its own service on 2379/2380; the tests use
	# other ports and their own data directory, so that does not matter.
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq etcd-server >/dev/null
fi
DPPS_ETCD=$(command -v etcd)
export DPPS_ETCD

DPPS_KUBE_BIN=$("$root/scripts/kube-build.sh" | tail -n1)
export DPPS_KUBE_BIN

DPPS_E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dpps-e2e.XXXXXX")
export DPPS_E2E_TMP
cleanup() {
	# The tests write one pid file per process they start and remove it once
	# that process is stopped; anything left here outlived the test binary.
	local f pid name
	while IFS= read -r f; do
		pid=$(cat "$f")
		name=$(basename "$f" .pid)
		# Only a process still running that binary: its pid may be reused.
		case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
		*/"$name") ;;
		*) continue ;;
		esac
		echo "e2e: stopping leftover process $pid ($name)" >&2
		kill -TERM "$pid" 2>/dev/null || true
		sleep 1
		kill -KILL "$pid" 2>/dev/null || true
	done < <(find "$DPPS_E2E_TMP" -name '*.pid' 2>/dev/null)
	rm -rf "$DPPS_E2E_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$root/e2e"
"$GO" test -count=1 -timeout=${E2E_TIMEOUT:-30m} ${E2E_RUN:+-run "$E2E_RUN"} ${E2E_VERBOSE:+-v} ./...
