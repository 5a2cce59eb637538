#!/bin/bash
# MariaDB under the bitnami/mysql or bitnami/mariadb configuration contract
# (DPPS_DB_FLAVOR, set in the image, picks the MYSQL_* or MARIADB_*
# variables and the paths). The first start initialises the data directory
# with the root password (root from anywhere, as bitnami), the user with its
# password and the database it may use, then runs the scripts of
# /docker-entrypoint-initdb.d once; later starts reuse the data. my.cnf is
# written on every start into conf/, an emptyDir.
set -euo pipefail
flavor=${DPPS_DB_FLAVOR:?}
P=${flavor^^}
env_() { local v="${P}_$1"; printf '%s' "${!v:-${2:-}}"; }
[ "$(env_ BITNAMI_DEBUG "${BITNAMI_DEBUG:-false}")" = true ] && set -x

port=$(env_ PORT_NUMBER 3306)
root_user=$(env_ ROOT_USER root)
root_password=$(env_ ROOT_PASSWORD)
user=$(env_ USER)
password=$(env_ PASSWORD)
database=$(env_ DATABASE)
base=/opt/bitnami/$flavor
data=/bitnami/$flavor/data
sock=$base/tmp/mysql.sock
cnf=$base/conf/my.cnf

if [ -z "$root_password" ] && [ "${ALLOW_EMPTY_PASSWORD:-no}" != yes ]; then
	echo "run.sh: ${P}_ROOT_PASSWORD is empty; set it (or ALLOW_EMPTY_PASSWORD=yes for a throw-away test)" >&2
	exit 1
fi

cat >"$cnf" <<CNF
[mysqld]
datadir = $data
port = $port
bind-address = 0.0.0.0
socket = $sock
pid-file = $base/tmp/mysqld.pid
tmpdir = $base/tmp
plugin-dir = /usr/lib/mysql/plugin
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
slow-query-log = $(env_ ENABLE_SLOW_QUERY 0)
[client]
port = $port
socket = $sock
default-character-set = utf8mb4
CNF

# SQL string literal.
q() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

if [ ! -d "$data/mysql" ]; then
	echo "run.sh: first start: initialising $data (user ${user:-none}, database ${database:-none})"
	mkdir -p "$data"
	mariadb-install-db --defaults-file="$cnf" --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --force >"$base/logs/install-db.log" 2>&1 || { cat "$base/logs/install-db.log" >&2; exit 1; }
	mariadbd --defaults-file="$cnf" --skip-networking &
	pid=$!
	for _ in $(seq 60); do
		mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1 && break
		sleep 1
	done
	{
		# No anonymous users, no entries for this container's host name.
		echo "DELETE FROM mysql.global_priv WHERE User = '' OR Host NOT IN ('localhost', '%');"
		echo "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '%');"
		echo "FLUSH PRIVILEGES;"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(q "$root_password");"
		if [ "$root_user" != root ]; then
			echo "RENAME USER 'root'@'localhost' TO $(q "$root_user")@'localhost';"
		fi
		echo "CREATE USER $(q "$root_user")@'%' IDENTIFIED BY $(q "$root_password");"
		echo "GRANT ALL ON *.* TO $(q "$root_user")@'%' WITH GRANT OPTION;"
		if [ -n "$database" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`${database//\`/\`\`}\`;"
		fi
		if [ -n "$user" ]; then
			echo "CREATE USER $(q "$user")@'%' IDENTIFIED BY $(q "$password");"
			[ -z "$database" ] || echo "GRANT ALL ON \`${database//\`/\`\`}\`.* TO $(q "$user")@'%';"
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket="$sock" -uroot
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		echo "run.sh: running $f"
		case "$f" in
		*.sh) if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
		*.sql) mariadb --socket="$sock" -uroot -p"$root_password" ${database:+"$database"} <"$f" ;;
		*.sql.gz) gunzip -c "$f" | mariadb --socket="$sock" -uroot -p"$root_password" ${database:+"$database"} ;;
		*) echo "run.sh: ignoring $f" ;;
		esac
	done
	mariadb-admin --socket="$sock" -uroot -p"$root_password" shutdown
	wait "$pid" || true
	echo "run.sh: initialised"
fi

exec mariadbd --defaults-file="$cnf"
