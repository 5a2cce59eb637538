#!/usr/bin/env bash
# scripts/prometheus-operator-crds.sh DIR: the Prometheus Operator's own CRDs
# of the kinds dpps-render generates (PodMonitor, PrometheusRule, and
# ServiceMonitor beside them), copied into DIR from the operator's module
# (example/prometheus-operator-crd) at the version of the API types the main
# module builds them with (go.mod), brought by `go mod download`. The e2e
# suite installs them into its API server (e2e/acceptance_test.go).
# Prints DIR.
set -euo pipefail

dir=${1:?usage: $0 DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
types=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
version=$(cd "$root" && "$GO" list -m -f '{{.Version}}' "$types")
src=$("$GO" mod download -json "github.com/prometheus-operator/prometheus-operator@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] || { echo "prometheus-operator-crds: go mod download of github.com/prometheus-operator/prometheus-operator@$version gave no directory" >&2; exit 1; }
mkdir -p "$dir"
for kind in podmonitors servicemonitors prometheusrules; do
	f="$src/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml"
	[ -f "$f" ] || { echo "prometheus-operator-crds: $f is missing" >&2; exit 1; }
	install -m 0644 "$f" "$dir/"
done
echo "$dir"
