#!/usr/bin/env bash
# Build the OCI images of the real-node acceptance suite from Debian packages
# (no image registry is reachable here) and write one archive per image into
# $DPPS_CACHE/images/oci/<name>.tar, for `ctr -n k8s.io images import`. Each
# is named localhost/dpps-e2e/<name>:<tag>. Prints that directory.
#
#   scripts/images.sh            every image of scripts/images/ (ORDER below)
#   scripts/images.sh NAME...    only these
#
# An image is the recipe scripts/images/<name>/recipe.sh (with the files
# beside it): TAG, FROM (base or scratch), PACKAGES, OCIPACK (the config
# flags of tools/ocipack) and an optional setup function run on the host
# with $root the image's root filesystem. It is rebuilt only when the hash
# of its recipe directory, its extra inputs, tools/ocipack, the base and
# DRIVER_VERSION changes; a run with nothing to do takes well under a
# second. docs/e2e.md, "Images built here", lists the images and contracts.
#
# The base is `debootstrap --variant=minbase bookworm` into
# $DPPS_CACHE/images/base.tmp, renamed base-bookworm when it succeeded.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
export GOFLAGS=-buildvcs=false
# shellcheck source=scripts/cache-dir.sh
. "$root_dir/scripts/cache-dir.sh"

# Bump to rebuild every image after a change of this driver's build steps.
DRIVER_VERSION=2
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ORDER=(pause busybox coredns openssl kubectl postgresql mysql mariadb xrootd activemq)

recipes="$root_dir/scripts/images"
cache="$DPPS_CACHE/images"
out="$cache/oci"
base="$cache/base-$SUITE"
mkdir -p "$out"

# debootstrap on the host; everything else comes inside the images.
"$root_dir/scripts/debian-install.sh" debootstrap:debootstrap

exec 9>"$cache/.lock"
flock -n 9 || { echo "images: another scripts/images.sh holds $cache/.lock; waiting" >&2; flock 9; }

log() { echo "images: $*" >&2; }

# The base root filesystem, once. A debootstrap that another process runs
# into base.tmp is waited for; a dead one's leftovers are removed.
ensure_base() {
	[ -d "$base" ] && return 0
	local tmp="$cache/base.tmp"
	if [ -d "$tmp" ] && [ -e "$tmp/debootstrap" ]; then
		while pgrep -f "debootstrap.*$tmp" >/dev/null; do
			log "a debootstrap into $tmp is running; waiting"
			sleep 10
		done
	fi
	if [ ! -d "$tmp" ] || [ -e "$tmp/debootstrap" ] || [ ! -x "$tmp/usr/bin/apt-get" ]; then
		rm -rf "$tmp"
		log "debootstrap --variant=minbase $SUITE into $tmp (about 3 minutes)"
		local start=$SECONDS
		debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$cache/debootstrap.log" 2>&1 ||
			{ tail -20 "$cache/debootstrap.log" >&2; exit 1; }
		log "debootstrap took $((SECONDS - start))s"
	fi
	# The identity of the base, part of every image's hash.
	printf '%s %s %s\n' "$SUITE" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(chroot "$tmp" dpkg-query -W -f '${Package}=${Version} ' | sha256sum | cut -c1-16)" >"$tmp/.dpps-base"
	mv "$tmp" "$base"
}

# recipe_hash: what the image is built from (run where the recipe is sourced).
recipe_hash() {
	(
		echo "driver $DRIVER_VERSION"
		[ "$FROM" = scratch ] || cat "$base/.dpps-base"
		cd "$root_dir"
		find "scripts/images/$name" tools/ocipack -type f ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum
		# Inputs over 1 MB (the kubectl binary) by size and mtime: hashing
		# them on every run would cost more than the rest together.
		if declare -F inputs >/dev/null; then
			inputs | while read -r f; do
				if [ "$(stat -c %s "$f")" -gt 1048576 ]; then stat -c '%n %s %Y' "$f"; else sha256sum "$f"; fi
			done
		fi
	) | sha256sum | cut -d' ' -f1
}

# Mounts of a chroot, undone by unmount_all (also on failure).
mounts=()
unmount_all() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" || true
	done
	mounts=()
}
trap unmount_all EXIT

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

apt_install() {
	mount -t proc proc "$root/proc"
	mounts+=("$root/proc")
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	in_root apt-get -q update >/dev/null
	# shellcheck disable=SC2086
	in_root apt-get -q -y install --no-install-recommends $PACKAGES >"$work/apt.log" 2>&1 ||
		{ tail -30 "$work/apt.log" >&2; return 1; }
}

# What no image needs and what would differ between two builds.
clean_root() {
	if [ -x "$root/usr/bin/apt-get" ]; then
		in_root apt-get clean
	fi
	unmount_all
	rm -f "$root/usr/sbin/policy-rc.d"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* \
		"$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/usr/share/doc/* \
		"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/dev/* "$root"/tmp/* \
		"$root"/root/.bash_history
	# Translations and the build host's name go; kubelet writes /etc/hosts
	# and /etc/hostname over these.
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
	rm -f "$root/etc/hostname"
	[ -d "$root/etc" ] && printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	[ -d "$root/etc" ] && : >"$root/etc/resolv.conf"
	[ -e "$root/etc/machine-id" ] && : >"$root/etc/machine-id"
	[ -d "$root/var/cache/ldconfig" ] && rm -f "$root/var/cache/ldconfig/aux-cache"
	return 0
}

# The versions of the packages a recipe names (and what setup added): the
# label; every installed package is in the manifest's annotation.
main_packages() {
	local p out=()
	for p in $PACKAGES; do
		out+=("$(grep -m1 "^$p=" "$work/packages" || echo "$p=?")")
	done
	[ ! -f "$work/packages.extra" ] || mapfile -t -O "${#out[@]}" out <"$work/packages.extra"
	echo "${out[*]}"
}

ocipack=""
build_ocipack() {
	[ -n "$ocipack" ] && return 0
	ocipack="$cache/bin/ocipack"
	mkdir -p "$cache/bin"
	(cd "$root_dir" && "$GO" build -trimpath -o "$ocipack" ./tools/ocipack)
}

# build NAME, in a subshell: the recipe's variables and functions stay there.
build() (
	name=$1
	dir="$recipes/$1"
	[ -f "$dir/recipe.sh" ] || { log "no recipe $dir/recipe.sh"; exit 2; }
	TAG="" FROM=base PACKAGES="" OCIPACK=()
	# shellcheck disable=SC1091
	. "$dir/recipe.sh"
	if declare -F ready >/dev/null && ! ready; then
		log "$name: skipped, its inputs are missing (see its recipe)"
		exit 0
	fi
	[ "$FROM" = scratch ] || ensure_base
	key=$(recipe_hash)
	if [ -f "$out/$name.tar" ] && [ "$(cat "$out/$name.key" 2>/dev/null)" = "$key" ]; then
		exit 0
	fi
	trap unmount_all EXIT
	build_ocipack
	log "$name: building (recipe $key)"
	start=$SECONDS
	work="$cache/work/$name"
	root="$work/root"
	rm -rf "$work"
	mkdir -p "$work"
	if [ "$FROM" = base ]; then
		cp -a "$base" "$root"
		rm -f "$root/.dpps-base"
		[ -z "$PACKAGES" ] || apt_install
	else
		mkdir -p "$root"
	fi
	if declare -F setup >/dev/null; then
		setup
	fi
	if [ -x "$root/usr/bin/dpkg-query" ]; then
		in_root dpkg-query -W -f '${Package}=${Version}\n' | LC_ALL=C sort >"$work/packages"
	fi
	[ -f "$work/packages" ] || : >"$work/packages"
	if [ -f "$work/packages.extra" ]; then cat "$work/packages.extra" >>"$work/packages"; fi
	clean_root
	epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root_dir" log -1 --format=%ct -- "scripts/images/$name" 2>/dev/null || true)}
	"$ocipack" -rootfs "$root" -name "localhost/dpps-e2e/$name:$TAG" -o "$out/$name.tar" \
		-created "${epoch:-0}" \
		-label "org.opencontainers.image.title=dpps-e2e/$name" \
		-label "org.opencontainers.image.version=$TAG" \
		-label "org.opencontainers.image.description=built by scripts/images.sh of dpps-deploy from Debian $SUITE packages" \
		-label "dpps.ctao.org/recipe-sha256=$key" \
		-label "dpps.ctao.org/packages=$(main_packages)" \
		-label "dpps.ctao.org/all-packages-sha256=$(sha256sum <"$work/packages" | cut -d' ' -f1)" \
		-annotation-file "dpps.ctao.org/all-packages=$work/packages" \
		"${OCIPACK[@]}"
	echo "$key" >"$out/$name.key"
	log "$name: localhost/dpps-e2e/$name:$TAG in $((SECONDS - start))s, $(du -m "$out/$name.tar" | cut -f1) MB archive, $(du -sm "$root" | cut -f1) MB unpacked"
	rm -rf "$work"
)

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ORDER[@]}")
for n in "${names[@]}"; do
	build "$n"
done
echo "$out"
