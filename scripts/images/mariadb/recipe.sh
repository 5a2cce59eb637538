# mariadb: the bitnami/mariadb contract as charts/dpps/charts/fts uses it
# (templates/db.yaml through the "dpps.mysql" helper, backup.yaml): the
# mysql recipe with MARIADB_* variables and /opt/bitnami/mariadb, /bitnami/mariadb.
# Debian's MariaDB 10.11 (bitnami's default tag is 11.4).
# shellcheck source=scripts/images/mysql/recipe.sh
. "$root_dir/scripts/images/mysql/recipe.sh"
FLAVOR=mariadb
TAG=10.11-bookworm
OCIPACK=(
	-user 1001
	-env DPPS_DB_FLAVOR=$FLAVOR
	-env HOME=/tmp
	-env PATH=/opt/bitnami/$FLAVOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	-port 3306
	-entrypoint "[\"/opt/bitnami/scripts/$FLAVOR/entrypoint.sh\"]"
	-cmd "[\"/opt/bitnami/scripts/$FLAVOR/run.sh\"]"
)

inputs() { ls scripts/images/mysql/recipe.sh scripts/images/mysql/run.sh scripts/images/mysql/entrypoint.sh; }
