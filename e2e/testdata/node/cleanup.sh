#!/usr/bin/env bash
# The suite's node, undone. Written next to the cluster by e2e/node_test.go
# and run twice at most: by the test binary when it stops the cluster, and by
# scripts/e2e.sh's trap if the test binary died. Every step is idempotent.
#
#   cleanup.sh save DIR BRIDGE    before the node starts: keep the host's
#                                 iptables rules, the sysctls the node sets
#                                 and the name of its bridge
#   cleanup.sh undo DIR           after its processes are stopped (or died)
set -uo pipefail

what=$1 dir=$2
sysctls=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)

if [ "$what" = save ]; then
	set -e
	echo "$3" >"$dir/bridge"
	iptables-save >"$dir/iptables.before"
	ip6tables-save >"$dir/ip6tables.before"
	for s in "${sysctls[@]}"; do
		echo "$s=$(sysctl -n "$s")"
	done >"$dir/sysctl.before"
	sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
	exit 0
fi

sock="$dir/containerd.sock"
# Containers outlive containerd and its shims: first ask containerd to kill
# them, then kill what runs in the kubelet's pod cgroups, then the shims
# serving this containerd.
if [ -S "$sock" ]; then
	for t in $(timeout 10 ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
		timeout 10 ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
	done
fi
for procs in $(find /sys/fs/cgroup/pids/kubepods -name cgroup.procs 2>/dev/null); do
	xargs -r kill -KILL <"$procs" 2>/dev/null
done
pkill -KILL -f -- "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null
cpid="$dir/../containerd.pid"
if [ -f "$cpid" ] && [ "$(readlink "/proc/$(cat "$cpid")/exe" 2>/dev/null)" = "$(command -v containerd)" ]; then
	kill -KILL "$(cat "$cpid")" 2>/dev/null
fi
sleep 1
# Empty pod cgroups, deepest first.
find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null

# Mounts under the node's directory (kubelet's bind mount of its root,
# volumes, sandboxes' shm, overlay rootfs), deepest first, lazily.
awk -v d="$dir/" 'index($2, d) == 1 || $2 == substr(d, 1, length(d)-1) {print $2}' /proc/self/mounts |
	sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done

# The host's iptables as they were; chains the node added in tables that
# were not loaded then are flushed and removed.
restore() {
	local save=$1 restore=$2 before=$3 t
	[ -f "$before" ] || return 0
	$restore <"$before"
	for t in filter nat mangle raw; do
		grep -q "^\*$t" "$before" && continue
		${save%-save} -t "$t" -F 2>/dev/null
		${save%-save} -t "$t" -X 2>/dev/null
	done
}
restore iptables-save iptables-restore "$dir/iptables.before"
restore ip6tables-save ip6tables-restore "$dir/ip6tables.before"
# kube-router's and kube-proxy's ipsets.
for s in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)'); do
	ipset destroy "$s" 2>/dev/null
done
[ -f "$dir/bridge" ] && ip link del "$(cat "$dir/bridge")" 2>/dev/null
# containerd names pod network namespaces cni-<id> in /var/run/netns and
# leaves them behind with their pods; one that no process uses any more is
# ours or another's long gone (a running pod's holds its pause process).
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do
	[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && ip netns delete "$ns" 2>/dev/null
done
if [ -f "$dir/sysctl.before" ]; then
	while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null; done <"$dir/sysctl.before"
fi
exit 0
