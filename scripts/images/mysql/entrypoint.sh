#!/bin/sh
# As bitnami's: run the command given (run.sh by default), so the image also
# serves mysqldump/mariadb-dump and mysql (backup Job, restore).
set -eu
exec "$@"
