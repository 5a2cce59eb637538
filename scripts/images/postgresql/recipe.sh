# postgresql: the bitnami/postgresql contract as charts/dpps/charts/bdms
# uses it (templates/db.yaml, backup.yaml; restore in docs/chart.md): uid
# 1001, env POSTGRESQL_PORT_NUMBER, POSTGRESQL_VOLUME_DIR, PGDATA,
# POSTGRES_USER/PASSWORD/DATABASE, writes only to PGDATA, /tmp and
# /opt/bitnami/postgresql/{conf,tmp} (read-only root file system), the
# client tools (psql, pg_dump, pg_restore, pg_isready) on PATH. Debian's
# PostgreSQL 15 underneath (bitnami's default tag is 16), without JIT.
TAG=15-bookworm
PACKAGES="postgresql-15"
OCIPACK=(
	-user 1001
	-env PATH=/opt/bitnami/postgresql/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	-env POSTGRESQL_PORT_NUMBER=5432
	-env POSTGRESQL_VOLUME_DIR=/bitnami/postgresql
	-env PGDATA=/bitnami/postgresql/data
	-env HOME=/tmp
	-port 5432
	-entrypoint '["/opt/bitnami/scripts/postgresql/entrypoint.sh"]'
	-cmd '["/opt/bitnami/scripts/postgresql/run.sh"]'
)

setup() {
	# Debian's cluster "main" is not used: run.sh initialises PGDATA.
	rm -rf "$root/etc/postgresql/15" "$root/var/lib/postgresql/15"
	# uid 1001 is the postgres user: initdb and libpq want a passwd entry.
	in_root usermod -u 1001 postgres
	in_root groupmod -g 1001 postgres
	local b="$root/opt/bitnami"
	mkdir -p "$b/postgresql/conf" "$b/postgresql/tmp" "$b/scripts/postgresql" "$root/bitnami/postgresql"
	chown 1001:1001 "$b/postgresql/conf" "$b/postgresql/tmp" "$root/bitnami/postgresql"
	ln -s /usr/lib/postgresql/15/bin "$b/postgresql/bin"
	# The server's socket is in /tmp (the root is read-only); libpq's
	# default directory points there.
	rm -rf "$root/run/postgresql"
	ln -s /tmp "$root/run/postgresql"
	install -m 0755 "$dir/entrypoint.sh" "$dir/run.sh" "$b/scripts/postgresql/"
	# JIT compilation is off (run.sh): its LLVM, a third of the image, goes.
	# dpkg still lists libllvm14; `dpkg --verify` names the missing files.
	rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode \
		"$root"/usr/lib/x86_64-linux-gnu/libLLVM-14.so*
	mkdir -p "$root/docker-entrypoint-initdb.d"
}
