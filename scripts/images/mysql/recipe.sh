# mysql: the bitnami/mysql contract as charts/dpps/charts/wms uses it
# (templates/db.yaml through the "dpps.mysql" helper, backup.yaml): uid
# 1001, env MYSQL_PORT_NUMBER, MYSQL_ROOT_PASSWORD, MYSQL_USER,
# MYSQL_PASSWORD, MYSQL_DATABASE, data in /bitnami/mysql/data, writes only
# there and in /tmp and /opt/bitnami/mysql/{conf,tmp,logs} (read-only
# root), /docker-entrypoint-initdb.d run once on the first start,
# mysql/mysqladmin/mysqldump on PATH. Debian has no MySQL: MariaDB 10.11
# serves the MySQL protocol underneath (bitnami's default tag is MySQL 8.0).
# The mariadb image is the same with MARIADB_* and /opt/bitnami/mariadb.
FLAVOR=mysql
TAG=mariadb-10.11-bookworm
PACKAGES="mariadb-server mariadb-client"
OCIPACK=(
	-user 1001
	-env DPPS_DB_FLAVOR=$FLAVOR
	-env HOME=/tmp
	-env PATH=/opt/bitnami/$FLAVOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	-port 3306
	-entrypoint "[\"/opt/bitnami/scripts/$FLAVOR/entrypoint.sh\"]"
	-cmd "[\"/opt/bitnami/scripts/$FLAVOR/run.sh\"]"
)

inputs() { ls scripts/images/mysql/run.sh scripts/images/mysql/entrypoint.sh; }

setup() {
	# Debian's datadir from the package is not used: run.sh initialises
	# /bitnami/$FLAVOR/data. uid 1001 is the mysql user.
	rm -rf "$root/var/lib/mysql"/*
	in_root usermod -u 1001 mysql
	in_root groupmod -g 1001 mysql
	local b="$root/opt/bitnami"
	mkdir -p "$b/$FLAVOR/conf" "$b/$FLAVOR/tmp" "$b/$FLAVOR/logs" "$b/scripts/$FLAVOR" "$root/bitnami/$FLAVOR" \
		"$root/docker-entrypoint-initdb.d"
	chown 1001:1001 "$b/$FLAVOR/conf" "$b/$FLAVOR/tmp" "$b/$FLAVOR/logs" "$root/bitnami/$FLAVOR"
	ln -s /usr/bin "$b/$FLAVOR/bin"
	install -m 0755 "$root_dir/scripts/images/mysql/entrypoint.sh" "$root_dir/scripts/images/mysql/run.sh" "$b/scripts/$FLAVOR/"
	# Clients (the probes, initdb scripts) find the server's socket by
	# default; the server itself reads only conf/my.cnf.
	printf '[client]\nsocket = /opt/bitnami/%s/tmp/mysql.sock\n' "$FLAVOR" >"$root/etc/mysql/mariadb.conf.d/99-dpps.cnf"
	rm -rf "$root/run/mysqld"
	ln -s "/opt/bitnami/$FLAVOR/tmp" "$root/run/mysqld"
}
