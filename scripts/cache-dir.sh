# Sourced by the build scripts: DPPS_CACHE is where built tools, base
# filesystems and images are kept between runs, outside the clone so that a
# fresh clone (CI) reuses them. Removing it only costs time.
DPPS_CACHE=${DPPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpps-deploy}
export DPPS_CACHE
mkdir -p "$DPPS_CACHE"
