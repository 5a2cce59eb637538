#!/bin/sh
# PostgreSQL under the bitnami/postgresql configuration contract, as
# charts/dpps uses it. The first start initialises PGDATA (inside
# POSTGRESQL_VOLUME_DIR, the PVC) with the user POSTGRES_USER, its
# password and the database POSTGRES_DATABASE it owns, then runs the
# scripts of /docker-entrypoint-initdb.d; later starts reuse the data. The
# configuration is written on every start into conf/, an emptyDir.
set -eu
[ "${BITNAMI_DEBUG:-false}" = true ] && set -x

port=${POSTGRESQL_PORT_NUMBER:-5432}
export PGDATA="${PGDATA:-${POSTGRESQL_VOLUME_DIR:-/bitnami/postgresql}/data}"
user=${POSTGRES_USER:-${POSTGRESQL_USERNAME:-postgres}}
password=${POSTGRES_PASSWORD:-${POSTGRESQL_PASSWORD:-}}
database=${POSTGRES_DATABASE:-${POSTGRESQL_DATABASE:-${POSTGRES_DB:-}}}
postgres_password=${POSTGRES_POSTGRES_PASSWORD:-${POSTGRESQL_POSTGRES_PASSWORD:-}}
conf=/opt/bitnami/postgresql/conf
tmp=/opt/bitnami/postgresql/tmp

if [ -z "$password" ] && [ "${ALLOW_EMPTY_PASSWORD:-no}" != yes ]; then
	echo "run.sh: POSTGRES_PASSWORD is empty; set it (or ALLOW_EMPTY_PASSWORD=yes for a throw-away test)" >&2
	exit 1
fi
method=scram-sha-256
[ -n "$password" ] || method=trust

cat >"$conf/postgresql.conf" <<CONF
listen_addresses = '*'
port = $port
unix_socket_directories = '/tmp'
hba_file = '$conf/pg_hba.conf'
ident_file = '$conf/pg_ident.conf'
external_pid_file = '$tmp/postgresql.pid'
client_min_messages = ${POSTGRESQL_CLIENT_MIN_MESSAGES:-error}
password_encryption = scram-sha-256
jit = off
logging_collector = off
log_destination = 'stderr'
dynamic_shared_memory_type = posix
shared_buffers = ${POSTGRESQL_SHARED_BUFFERS:-128MB}
max_connections = ${POSTGRESQL_MAX_CONNECTIONS:-100}
CONF
# Inside the container (the socket in /tmp) no password is asked, as in the
# Docker library image; over the network always.
cat >"$conf/pg_hba.conf" <<CONF
local all all trust
host all all 0.0.0.0/0 $method
host all all ::/0 $method
CONF
: >"$conf/pg_ident.conf"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	echo "run.sh: first start: initialising $PGDATA (user $user, database ${database:-postgres})"
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA"
	initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth=trust >/tmp/initdb.log 2>&1 ||
		{ cat /tmp/initdb.log >&2; exit 1; }
	pg_ctl -D "$PGDATA" -w -s -o "-c config_file=$conf/postgresql.conf -c listen_addresses=''" start
	sql() { psql -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$port" -U postgres "$@"; }
	{
		if [ "$user" = postgres ]; then
			echo "ALTER ROLE postgres PASSWORD :'password';"
		else
			echo "CREATE ROLE :\"user\" LOGIN PASSWORD :'password';"
			[ -z "$postgres_password" ] || echo "ALTER ROLE postgres PASSWORD :'postgres_password';"
		fi
		if [ -n "$database" ] && [ "$database" != postgres ]; then
			echo "CREATE DATABASE :\"database\" OWNER :\"user\";"
		fi
	} | sql -d postgres -v user="$user" -v password="$password" -v database="$database" -v postgres_password="$postgres_password"
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		echo "run.sh: running $f"
		case "$f" in
		*.sh) if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
		*.sql) sql -d "${database:-postgres}" -f "$f" ;;
		*.sql.gz) gunzip -c "$f" | sql -d "${database:-postgres}" ;;
		*) echo "run.sh: ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -w -s -m fast stop
	echo "run.sh: initialised"
fi

exec postgres -D "$PGDATA" -c config_file="$conf/postgresql.conf"
