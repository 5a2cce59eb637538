#!/bin/sh
# As bitnami/postgresql's: run the command given (run.sh by default), so the
# image also serves pg_dump, pg_restore and psql (backup Job, restore).
set -eu
exec "$@"
