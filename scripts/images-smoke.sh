#!/usr/bin/env bash
# Run each image of scripts/images.sh for real, the way charts/dpps runs it
# (user, env, read-only root, writable mounts only where the chart mounts
# them; ctr has no --user, so the images whose default user differs from
# the chart's runAsUser run their command under setpriv), in a containerd of its own, and check that it does its job:
#
#   scripts/images-smoke.sh [NAME...]     default: every archive built
#
# The containerd runs from a private directory (config from `containerd
# config default`, every path moved there, restrict_oom_score_adj = true)
# with its socket there, never /run/containerd; it is stopped by its PID and
# its mounts are removed on exit. Clients run inside the server's container
# (ctr task exec), over 127.0.0.1: no host port is taken. About 2-3 minutes
# for every image.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/cache-dir.sh
. "$root_dir/scripts/cache-dir.sh"
oci="$DPPS_CACHE/images/oci"
ns=k8s.io
netns="dpps-smoke-$$"

work=$(mktemp -d /tmp/dpps-images-smoke.XXXXXX)
sock="$work/containerd.sock"
ctrd_pid=""
containers=()

cleanup() {
	local c
	set +e
	for c in "${containers[@]}"; do
		ctr -a "$sock" -n "$ns" task kill -s KILL "$c" >/dev/null 2>&1
		ctr -a "$sock" -n "$ns" task delete -f "$c" >/dev/null 2>&1
		ctr -a "$sock" -n "$ns" container delete "$c" >/dev/null 2>&1
	done
	if [ -n "$ctrd_pid" ]; then
		kill "$ctrd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$ctrd_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$ctrd_pid" 2>/dev/null
	fi
	ip netns delete "$netns" 2>/dev/null
	# Mounts left under the work directory (overlay snapshots, shm), deepest first.
	awk -v w="$work" '$2 ~ "^"w { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
	rm -rf "$work"
}
trap cleanup EXIT

start_containerd() {
	containerd config default |
		sed -e "s#^root = .*#root = \"$work/root\"#" \
			-e "s#^state = .*#state = \"$work/state\"#" \
			-e "s#^  address = \"/run/containerd/containerd.sock\"#  address = \"$sock\"#" \
			-e "s#restrict_oom_score_adj = false#restrict_oom_score_adj = true#" \
			-e "s#path = \"/opt/containerd\"#path = \"$work/opt\"#" \
			-e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$work/cni\"#" \
			-e 's#snapshotter = ".*"#snapshotter = "overlayfs"#' >"$work/config.toml"
	grep -q "$sock" "$work/config.toml" || { echo "smoke: could not move the socket in the config" >&2; exit 1; }
	setsid containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
	ctrd_pid=$!
	for _ in $(seq 100); do
		ctr -a "$sock" version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	tail -20 "$work/containerd.log" >&2
	exit 1
}

c() { ctr -a "$sock" -n "$ns" "$@"; }
say() { echo "smoke: $*" >&2; }
fail() {
	say "FAIL: $*"
	failed+=("$*")
	local id
	for id in "${containers[@]}"; do logs "$id" 15; done
}
failed=()

ref() { echo "localhost/dpps-e2e/$1:$(tar -xOf "$oci/$1.tar" index.json | sed 's/.*"org.opencontainers.image.ref.name":"\([^"]*\)".*/\1/')"; }

# Every container joins one network namespace with loopback up (ctr sets
# up no network): clients reach servers on 127.0.0.1, nothing on the host.
# /etc/hosts as kubelet writes it (XRootD and MariaDB look their host up).
ctr_run() {
	c run --with-ns "network:/var/run/netns/$netns" --mount "type=bind,src=$work/hosts,dst=/etc/hosts,options=rbind:ro" "$@"
}
# run_bg ID IMAGE [--writable] [ctr run flags...] [-- command...]: a
# detached container, its root read-only unless --writable (as the chart's
# readOnlyRootFilesystem).
run_bg() {
	local id=$1 image=$2 flags=(--read-only)
	shift 2
	if [ "${1:-}" = --writable ]; then flags=(); shift; fi
	while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	containers+=("$id")
	mkdir -p "$work/logs"
	ctr_run -d --log-uri "file://$work/logs/$id.log" "${flags[@]}" "$image" "$id" "$@" </dev/null >/dev/null
}
# logs ID: the last lines a detached container wrote.
logs() { tail -n "${2:-25}" "$work/logs/$1.log" 2>/dev/null | sed "s/^/  $1| /" >&2 || true; }
# exec_in ID COMMAND...: run a command in a running container; its output.
exec_in() {
	local id=$1
	shift
	c task exec --exec-id "x$RANDOM" "$id" "$@"
}
stop() {
	c task kill -s TERM "$1" >/dev/null 2>&1 || true
	for _ in $(seq 60); do
		c task ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "RUNNING"' | grep -q . || break
		sleep 0.5
	done
	c task delete -f "$1" >/dev/null 2>&1 || true
	c container delete "$1" >/dev/null 2>&1 || true
}
# wait_for ID SECONDS COMMAND...: until the command succeeds inside.
wait_for() {
	local id=$1 secs=$2
	shift 2
	for _ in $(seq "$secs"); do
		exec_in "$id" "$@" >/dev/null 2>&1 && return 0
		c task ls 2>/dev/null | awk -v id="$id" '$1 == id && $3 == "RUNNING"' | grep -q . || return 1
		sleep 1
	done
	return 1
}
# emptydir DST: a fresh host directory of mode 0777 mounted at DST, as
# kubelet makes an emptyDir (a tmpfs mount from ctr comes out root 0755).
emptydir() {
	local d="$work/empty-$RANDOM$RANDOM"
	mkdir -p "$d"
	chmod 0777 "$d"
	echo "--mount type=bind,src=$d,dst=$1,options=rbind:rw"
}
data_dir() { # a host directory standing for a PVC with fsGroup $1
	local d="$work/data-$RANDOM"
	mkdir -p "$d"
	chown "$1:$1" "$d"
	chmod 2775 "$d"
	echo "$d"
}
bind() { echo "--mount type=bind,src=$1,dst=$2,options=rbind:rw"; }

smoke_pause() {
	run_bg pause "$(ref pause)"
	sleep 1
	c task ls | grep -q '^pause .*RUNNING' || fail "pause: not running"
	local t=$SECONDS
	stop pause
	[ $((SECONDS - t)) -lt 5 ] || fail "pause: took $((SECONDS - t))s to stop on SIGTERM"
	say "pause: runs, stops on SIGTERM"
}

smoke_busybox() {
	# As the chart's wait-for-db and Helm test: uid 65534, read-only root.
	local out
	out=$(ctr_run --rm --read-only "$(ref busybox)" bb-1 setpriv --reuid 65534 --regid 65534 --clear-groups sh -c '
		nc -l 127.0.0.1 8081 >/dev/null 2>&1 &
		sleep 1
		nc -z -w 3 127.0.0.1 8081 && echo nc-open
		nc -z -w 3 127.0.0.1 8082 || echo nc-closed
		command -v nslookup >/dev/null && echo nslookup
		command -v wget >/dev/null && echo wget
		echo probe-done' 2>&1) || true
	for want in nc-open nc-closed nslookup wget probe-done; do
		grep -q "$want" <<<"$out" || fail "busybox: no '$want' in: $out"
	done
	say "busybox: nc -z open/closed, nslookup, wget present"
}

smoke_openssl() {
	local out
	out=$(ctr_run --rm --read-only --env HOME=/tmp $(emptydir /work) "$(ref openssl)" ossl-1 setpriv --reuid 1001 --regid 1001 --clear-groups /bin/sh -c '
		set -eu; cd /work; umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout ca.key -out ca.crt -subj "/O=t/CN=ca" 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout h.key -out h.csr -subj "/CN=h" 2>/dev/null
		printf "%b" "subjectAltName=DNS:h\n" > h.ext
		openssl x509 -req -in h.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile h.ext -out h.crt 2>/dev/null
		openssl verify -CAfile ca.crt h.crt' 2>&1) || true
	grep -q "h.crt: OK" <<<"$out" || fail "openssl: $out"
	say "openssl: CA and host certificate as generate.sh makes them: $out"
}

smoke_kubectl() {
	local out
	out=$(ctr_run --rm --read-only "$(ref kubectl)" kc-1 /bin/sh -c 'kubectl version --client 2>&1 | head -1; echo x | base64 | base64 -d; cut --version | head -1; touch /tmp/x 2>&1 || echo touch-ro' 2>&1) || true
	grep -q "Client Version" <<<"$out" || fail "kubectl: $out"
	say "kubectl: $(head -1 <<<"$out")"
}

smoke_postgresql() {
	local img d
	img=$(ref postgresql)
	d=$(data_dir 1001)
	local env=(--env POSTGRESQL_PORT_NUMBER=5432 --env POSTGRESQL_VOLUME_DIR=/bitnami/postgresql
		--env PGDATA=/bitnami/postgresql/data --env POSTGRES_USER=rucio --env POSTGRES_PASSWORD='s3cr'"'"'et pw'
		--env POSTGRES_DATABASE=rucio --env POSTGRESQL_ENABLE_TLS=no --env POSTGRESQL_CLIENT_MIN_MESSAGES=error)
	# shellcheck disable=SC2046
	local mounts=($(emptydir /tmp) $(emptydir /opt/bitnami/postgresql/conf) $(emptydir /opt/bitnami/postgresql/tmp) $(bind "$d" /bitnami/postgresql))
	local t=$SECONDS
	run_bg pg-1 "$img" "${env[@]}" "${mounts[@]}"
	wait_for pg-1 60 pg_isready -U rucio -d dbname=rucio -h 127.0.0.1 -p 5432 || { fail "postgresql: not ready in 60s"; c task ls; return; }
	say "postgresql: first start ready in $((SECONDS - t))s"
	exec_in pg-1 sh -c 'PGPASSWORD="s3cr'"'"'et pw" psql -h 127.0.0.1 -U rucio -d rucio -v ON_ERROR_STOP=1 -qtAc "CREATE TABLE t (v text); INSERT INTO t VALUES ('"'kept'"'); SELECT current_user, current_database();"' |
		grep -q '^rucio|rucio$' || fail "postgresql: rucio cannot log in to rucio over TCP and create a table"
	exec_in pg-1 sh -c 'PGPASSWORD=wrong psql -h 127.0.0.1 -U rucio -d rucio -c "select 1"' >/dev/null 2>&1 &&
		fail "postgresql: a wrong password is accepted"
	# The backup Job's command, then the restore of docs/chart.md into a fresh database.
	exec_in pg-1 sh -c 'set -eu; export PGPASSWORD="s3cr'"'"'et pw"; f=/tmp/rucio.dump
		pg_dump -h 127.0.0.1 -p 5432 -U rucio -d rucio -Fc -f "$f.part" && mv "$f.part" "$f"
		psql -h 127.0.0.1 -U rucio -d rucio -qc "DROP TABLE t"
		pg_restore -h 127.0.0.1 -U rucio -d rucio --clean --if-exists --no-owner "$f"
		psql -h 127.0.0.1 -U rucio -d rucio -qtAc "SELECT v FROM t"' | grep -qx kept ||
		fail "postgresql: pg_dump -Fc / pg_restore round trip lost the row"
	stop pg-1
	# A second start reuses the data (no init, same password).
	run_bg pg-2 "$img" "${env[@]}" "${mounts[@]}"
	wait_for pg-2 60 pg_isready -h 127.0.0.1 -p 5432 || fail "postgresql: second start not ready"
	exec_in pg-2 sh -c 'PGPASSWORD="s3cr'"'"'et pw" psql -h 127.0.0.1 -U rucio -d rucio -qtAc "SELECT v FROM t"' | grep -qx kept ||
		fail "postgresql: data not reused on the second start"
	c task ls | grep -q '^pg-2 ' || true
	stop pg-2
	say "postgresql: user/password/database over TCP, wrong password refused, pg_dump/pg_restore, data reused on restart"
}

# smoke_mysql FLAVOR: mysql (MYSQL_*) or mariadb (MARIADB_*).
smoke_mysql() {
	local f=$1 P img d
	P=$(tr a-z A-Z <<<"$f")
	img=$(ref "$f")
	d=$(data_dir 1001)
	mkdir -p "$work/initdb-$f"
	printf '#!/bin/bash\nset -euo pipefail\nmysql -uroot -p"${%s_ROOT_PASSWORD}" -e "CREATE DATABASE initdb_ran"\n' "$P" >"$work/initdb-$f/10-test.sh"
	chmod 0555 "$work/initdb-$f/10-test.sh"
	local env=(--env BITNAMI_DEBUG=false --env "${P}_PORT_NUMBER=3306" --env "${P}_ROOT_PASSWORD=r00t'pw"
		--env "${P}_USER=dirac" --env "${P}_PASSWORD=us3r\"pw" --env "${P}_DATABASE=fts" --env "${P}_ENABLE_SLOW_QUERY=0")
	local mounts=(
		$(bind "$d" "/bitnami/$f") $(emptydir /tmp) $(emptydir "/opt/bitnami/$f/conf") $(emptydir "/opt/bitnami/$f/tmp")
		$(emptydir "/opt/bitnami/$f/logs") --mount "type=bind,src=$work/initdb-$f,dst=/docker-entrypoint-initdb.d,options=rbind:ro")
	local t=$SECONDS id="$f-1"
	run_bg "$id" "$img" "${env[@]}" "${mounts[@]}"
	# Over TCP: the first start's own server listens on the socket only.
	local ready="mysql -h 127.0.0.1 -P 3306 -uroot -p\"\$${P}_ROOT_PASSWORD\" -e 'SELECT 1'"
	wait_for "$id" 120 sh -c "$ready" ||
		{ fail "$f: not ready in 120s"; return; }
	say "$f: first start ready in $((SECONDS - t))s"
	exec_in "$id" sh -c "mysqladmin status -uroot -p\"\$${P}_ROOT_PASSWORD\"" >/dev/null || fail "$f: liveness probe command fails"
	exec_in "$id" sh -c "mysql -h 127.0.0.1 -P 3306 -udirac -p'us3r\"pw' -N -e 'CREATE TABLE fts.t (v varchar(9)); INSERT INTO fts.t VALUES (\"kept\"); SELECT USER()'" |
		grep -q '^dirac@' || fail "$f: the user cannot log in over TCP and write its database"
	exec_in "$id" sh -c "mysql -h 127.0.0.1 -udirac -pwrong -e 'select 1'" >/dev/null 2>&1 && fail "$f: a wrong password is accepted"
	exec_in "$id" sh -c "MYSQL_PWD=\"r00t'pw\" mysql -h 127.0.0.1 -uroot -N -e 'SHOW DATABASES'" | grep -qx initdb_ran ||
		fail "$f: /docker-entrypoint-initdb.d was not run, or root cannot log in over TCP"
	local dump=mysqldump
	[ "$f" = mariadb ] && dump=mariadb-dump
	exec_in "$id" sh -c "set -eu; export MYSQL_PWD=\"r00t'pw\"
		$dump -h 127.0.0.1 -P 3306 -uroot --single-transaction --routines --triggers --databases fts > /tmp/d.sql.part && mv /tmp/d.sql.part /tmp/d.sql
		mysql -h 127.0.0.1 -uroot -e 'DROP DATABASE fts'
		mysql -h 127.0.0.1 -uroot < /tmp/d.sql
		mysql -h 127.0.0.1 -uroot -N -e 'SELECT v FROM fts.t'" | grep -qx kept || fail "$f: $dump / mysql restore round trip lost the row"
	stop "$id"
	id="$f-2"
	run_bg "$id" "$img" "${env[@]}" "${mounts[@]}"
	wait_for "$id" 120 sh -c "$ready" || fail "$f: second start not ready"
	exec_in "$id" sh -c "mysql -h 127.0.0.1 -udirac -p'us3r\"pw' -N -e 'SELECT v FROM fts.t'" | grep -qx kept ||
		fail "$f: data not reused on the second start"
	stop "$id"
	say "$f: root and user over TCP, wrong password refused, initdb script run once, $dump/restore, data reused on restart"
}

smoke_xrootd() {
	# The chart's prepare step and server, with its ConfigMap and a host
	# certificate from a throw-away CA.
	local img d cfg certs
	img=$(ref xrootd)
	d=$(data_dir 10940)
	cfg="$work/xrootd-cfg"
	certs="$work/xrootd-ca"
	mkdir -p "$cfg" "$certs"
	sed -n '/^  xrootd-dpps.cfg: |/,/^  auth_file: |/p' "$root_dir/charts/dpps/charts/storage/templates/config.yaml" |
		sed '1d;$d' | sed 's/^    //' >"$cfg/xrootd-dpps.cfg"
	echo 'u * /rucio a' >"$cfg/auth_file"
	echo '"/CN=DPPS User" dppsuser' >"$cfg/grid-mapfile"
	(
		cd "$certs"
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out dpps-ca.pem -subj "/O=t/CN=DPPS Test CA" 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout hostkey.pem -out h.csr -subj "/CN=dpps-rucio-storage-1" 2>/dev/null
		printf 'subjectAltName=DNS:dpps-rucio-storage-1,DNS:localhost\n' >h.ext
		openssl x509 -req -in h.csr -CA dpps-ca.pem -CAkey ca.key -CAcreateserial -extfile h.ext -out hostcert.pem 2>/dev/null
		mkdir -p ca && cp dpps-ca.pem ca/ && openssl rehash ca 2>/dev/null || c_rehash ca >/dev/null 2>&1 || true
		chmod 0644 ./*.pem && chmod -R a+rX ca
	)
	mkdir -p "$work/xrd-keys"
	chown 10940:10940 "$work/xrd-keys"
	local common=($(bind "$d" /data) $(emptydir /tmp)
		--mount "type=bind,src=$work/xrd-keys,dst=/etc/grid-security/xrd,options=rbind:rw")
	ctr_run --rm --read-only "${common[@]}" --mount "type=bind,src=$certs,dst=/grid-secret,options=rbind:ro" \
		"$img" xrd-prep /bin/sh -ec 'mkdir -p /data/rucio
			cp /grid-secret/hostcert.pem /grid-secret/hostkey.pem /etc/grid-security/xrd/
			chmod 0644 /etc/grid-security/xrd/hostcert.pem; chmod 0400 /etc/grid-security/xrd/hostkey.pem' ||
		{ fail "xrootd: the prepare step fails"; return; }
	run_bg xrd-1 "$img" "${common[@]}" --env XRD_PORT=1094 \
		--mount "type=bind,src=$cfg,dst=/etc/xrootd,options=rbind:ro" $(emptydir /var/run/xrootd) $(emptydir /var/spool/xrootd) \
		--mount "type=bind,src=$certs/ca,dst=/etc/grid-security/certificates,options=rbind:ro" \
		--mount "type=bind,src=$certs/hostcert.pem,dst=/etc/grid-security/hostcert.pem,options=rbind:ro" \
		--mount "type=bind,src=$certs/hostkey.pem,dst=/etc/grid-security/hostkey.pem,options=rbind:ro" \
		-- xrootd -c /etc/xrootd/xrootd-dpps.cfg -n rucio-storage-1
	if wait_for xrd-1 30 bash -c 'exec 3<>/dev/tcp/127.0.0.1/1094'; then
		grep -qE "xrootd .*:1094 initialization completed" "$work/logs/xrd-1.log" || fail "xrootd: no 'initialization completed' in its log"
		say "xrootd: listens on 1094 with the chart's configuration (TLS, XrdHttp, gsi): $(grep -m1 -E "xrootd .*:1094 initialization completed" "$work/logs/xrd-1.log")"
	else
		fail "xrootd: not listening on 1094"
		c task ls
	fi
	exec_in xrd-1 sh -c 'xrdfs root://127.0.0.1:1094 query config version 2>&1 || true' | head -3 >&2 || true
	stop xrd-1
}

smoke_activemq() {
	local img
	img=$(ref activemq)
	run_bg amq-1 "$img" --writable --env ACTIVEMQ_CONNECTION_USER=fts --env ACTIVEMQ_CONNECTION_PASSWORD=br0ker \
		--env ACTIVEMQ_OPTS_MEMORY="-Xms128m -Xmx256m" $(emptydir /opt/apache-activemq/data) $(emptydir /tmp)
	local t=$SECONDS ok=yes p
	for p in 61613 61616; do
		wait_for amq-1 120 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" || { ok=no; fail "activemq: not listening on $p"; }
	done
	if [ $ok = yes ]; then
		say "activemq: STOMP 61613 and OpenWire 61616 listen after $((SECONDS - t))s"
		# STOMP CONNECT with the configured credentials, then with wrong ones.
		local stomp='exec 3<>/dev/tcp/127.0.0.1/61613; printf "CONNECT\naccept-version:1.2\nhost:localhost\nlogin:%s\npasscode:%s\n\n\0" "$0" "$1" >&3; timeout 5 head -1 <&3'
		exec_in amq-1 bash -c "$stomp" fts br0ker | grep -q CONNECTED || fail "activemq: STOMP login fts/br0ker refused"
		exec_in amq-1 bash -c "$stomp" fts wrong | grep -q CONNECTED && fail "activemq: STOMP login with a wrong password accepted"
	fi
	stop amq-1
}

start_containerd
printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost\n' "$(hostname)" >"$work/hosts"
ip netns add "$netns"
ip netns exec "$netns" ip link set lo up
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$oci"/*.tar; do names+=("$(basename "$f" .tar)"); done
fi
for n in "${names[@]}"; do
	[ -f "$oci/$n.tar" ] || { fail "$n: no archive $oci/$n.tar (scripts/images.sh $n)"; continue; }
	t=$SECONDS
	c images import "$oci/$n.tar" >/dev/null || { fail "$n: ctr images import"; continue; }
	say "$n: imported $(ref "$n") in $((SECONDS - t))s"
	case $n in
	mysql | mariadb) smoke_mysql "$n" ;;
	*) "smoke_$n" ;;
	esac
done
if [ ${#failed[@]} -gt 0 ]; then
	say "${#failed[@]} failure(s):"
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
say "all passed: ${names[*]}"
