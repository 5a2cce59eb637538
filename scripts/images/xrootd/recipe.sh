# xrootd: the opensciencegrid/xrootd-standalone contract as
# charts/dpps/charts/storage uses it (templates/elements.yaml, config.yaml):
# `xrootd -c /etc/xrootd/xrootd-dpps.cfg -n NAME` as uid 10940 with a
# read-only root, the config mounted on /etc/xrootd, data in /data, writes
# only to /data, /tmp, /var/run/xrootd, /var/spool/xrootd and
# /etc/grid-security/xrd; the plugins the config loads (XrdHttp,
# XrdHttpTPC, gsi from /usr/lib64 as on EL) and xrdcp for third-party
# copies; sh, cp, chmod for the prepare step. Debian's XRootD 5.5 (OSG's
# 23-release is 5.6/5.7).
TAG=5.5-bookworm
PACKAGES="xrootd-server xrootd-server-plugins xrootd-plugins xrootd-client xrootd-client-plugins ca-certificates"
OCIPACK=(
	-user 10940:10940
	-workdir /var/spool/xrootd
	-port 1094
	-cmd '["xrootd", "-c", "/etc/xrootd/xrootd-standalone.cfg", "-n", "standalone"]'
)

setup() {
	if in_root getent passwd xrootd >/dev/null; then
		in_root usermod -u 10940 xrootd
		in_root groupmod -g 10940 xrootd
	else
		in_root groupadd -r -g 10940 xrootd
		in_root useradd -r -u 10940 -g 10940 -d /var/spool/xrootd -s /usr/sbin/nologin xrootd
	fi
	# The chart's config names /usr/lib64 for the security plugins, as on
	# EL (the OSG image): link Debian's multiarch libraries there.
	local lib
	mkdir -p "$root/usr/lib64"
	for lib in "$root"/usr/lib/x86_64-linux-gnu/libXrd*.so*; do
		ln -sf "/usr/lib/x86_64-linux-gnu/${lib##*/}" "$root/usr/lib64/${lib##*/}"
	done
	# /var/run links to /run, absolutely: never follow it from the host.
	mkdir -p "$root/data" "$root/run/xrootd" "$root/var/spool/xrootd" \
		"$root/etc/grid-security/xrd" "$root/etc/grid-security/certificates"
	chown 10940:10940 "$root/data" "$root/run/xrootd" "$root/var/spool/xrootd" "$root/etc/grid-security/xrd"
	# The image's own default: /data exported anonymously (the chart
	# mounts its configuration over /etc/xrootd).
	cat >"$root/etc/xrootd/xrootd-standalone.cfg" <<'CFG'
all.export /
all.adminpath /var/spool/xrootd
all.pidpath /var/run/xrootd
oss.localroot /data
xrd.port 1094
CFG
}
