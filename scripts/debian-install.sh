#!/usr/bin/env bash
# debian-install.sh COMMAND:PACKAGE ...: installs, with apt-get, each Debian
# package whose command (a name on PATH, or an absolute path) is missing; one
# apt-get run for all of them, nothing when all are there. Needs root.
set -euo pipefail

missing=()
for pair in "$@"; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if [[ $cmd == /* ]]; then
		[ -e "$cmd" ] && continue
	elif command -v "$cmd" >/dev/null 2>&1; then
		continue
	fi
	missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "debian-install: installing ${missing[*]}" >&2
apt-get update -qq
# etcd-server may start its own service on 2379/2380: the tests use other
# ports and their own data directories.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
