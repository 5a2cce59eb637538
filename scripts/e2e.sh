#!/usr/bin/env bash
# make e2e: the real-cluster acceptance tests (docs/e2e.md).
#
# Installs what the node needs from Debian (etcd-server, containerd, runc,
# containernetworking-plugins, iptables, ipset; only what is missing), builds
# the Kubernetes binaries (scripts/kube-build.sh), kube-router and CoreDNS
# (scripts/node-build.sh) and the images (scripts/images.sh), each once into
# $DPPS_CACHE, then runs the tests of the e2e/ module. The tests start the
# cluster and its node themselves (e2e/cluster_test.go, e2e/node_test.go) in
# a temporary directory made here, and stop them at the end. The trap below
# is the backstop when the test binary itself is killed: it stops whatever
# cluster process is still running, undoes the node (containers, mounts,
# iptables, bridge: e2e/testdata/node/cleanup.sh) and removes the directory.
#
# Runs as root (the image builds chroot; containerd, the kubelet and iptables
# need it), as CI does.
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

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: needs root: the image builds chroot, and the node runs containerd, the kubelet and iptables" >&2
	exit 2
fi

# The images from Debian packages build (mostly downloads and dpkg) while
# the Go builds take the CPU; kubectl's and CoreDNS's images need those
# builds and come after.
images_log=$(mktemp)
"$root/scripts/images.sh" pause busybox openssl postgresql mysql mariadb xrootd activemq >/dev/null 2>"$images_log" &
images_pid=$!
DPPS_KUBE_BIN=$("$root/scripts/kube-build.sh" | tail -n1)
export DPPS_KUBE_BIN
if [ -n "${DPPS_E2E_KUBECONFIG:-}" ]; then
	: # An existing cluster (docs/e2e.md): nothing to install or start.
else
	"$root/scripts/debian-install.sh" etcd:etcd-server containerd:containerd runc:runc \
		/usr/lib/cni/bridge:containernetworking-plugins iptables:iptables ipset:ipset
	DPPS_ETCD=$(command -v etcd)
	DPPS_NODE_BIN=$("$root/scripts/node-build.sh" | tail -n1)
	export DPPS_ETCD DPPS_NODE_BIN
fi
images_ok=0
wait "$images_pid" || images_ok=$?
cat "$images_log" >&2
rm -f "$images_log"
[ "$images_ok" -eq 0 ] || { echo "e2e: scripts/images.sh failed" >&2; exit 1; }
DPPS_IMAGES=$("$root/scripts/images.sh" | tail -n1)
export DPPS_IMAGES
if [ -n "${DPPS_E2E_KUBECONFIG:-}" ]; then
	echo "e2e: against $DPPS_E2E_KUBECONFIG, which must hold the images of $DPPS_IMAGES already (kind load image-archive)" >&2
fi

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
	while IFS= read -r f; do
		echo "e2e: undoing the node of $(dirname "$f")" >&2
		"$f" undo "$(dirname "$f")/node"
	done < <(find "$DPPS_E2E_TMP" -name node-cleanup.sh 2>/dev/null)
	rm -rf "$DPPS_E2E_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$root/e2e"
# The Prometheus Operator's CRDs, at the version of the types dpps-render
# builds its monitors and rules with: every example renders them.
DPPS_PROM_CRDS=$(GO="$GO" "$root/scripts/prometheus-operator-crds.sh" "$DPPS_E2E_TMP/prometheus-operator-crds" | tail -n1)
export DPPS_PROM_CRDS
"$GO" test -count=1 -timeout=${E2E_TIMEOUT:-45m} ${E2E_RUN:+-run "$E2E_RUN"} ${E2E_VERBOSE:+-v} ./...
