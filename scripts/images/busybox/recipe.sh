# busybox: the library/busybox contract (sh, nc -z -w, nslookup, wget,
# sleep, ...) for init containers, Helm tests and traffic probes. Debian's
# busybox-static lacks `nc -z`, which the chart's waits and tests use, so nc
# is netcat-openbsd's; every other busybox applet the base lacks is linked in
# /bin. glibc's resolver (on the base) answers for nc and wget.
TAG=1.35-bookworm
PACKAGES="busybox-static netcat-openbsd"
OCIPACK=(-cmd '["sh"]')

setup() {
	local a
	for a in $(in_root busybox --list); do
		if [ ! -e "$root/bin/$a" ] && [ ! -L "$root/bin/$a" ] && [ ! -e "$root/sbin/$a" ] && [ ! -L "$root/sbin/$a" ]; then
			ln -s busybox "$root/bin/$a"
		fi
	done
}
