#!/usr/bin/env bash
# make fuzz: each target given as package:FuzzName, for $FUZZTIME. A run
# that executed no input (a target that skipped) fails.
#
# Go 1.26's fuzz coordinator can fail a clean run with a bare "context
# deadline exceeded" as -fuzztime expires, when a worker is still busy
# (golang/go#75804, fixed in Go 1.27). Such a run, which wrote no failing
# input and printed no panic, is run once more; any other failure, or the
# same one twice, fails make fuzz.
set -uo pipefail

GO=${GO:-go}

# executions prints the count of the last "fuzz: elapsed: ..., execs: N
# (...)" line of a go test -fuzz log on stdin, or nothing.
executions() {
	sed -n 's/^fuzz: elapsed: .*, execs: \([0-9][0-9]*\) .*/\1/p' | tail -n 1
}

FUZZTIME=${FUZZTIME:-10s}

for target in "$@"; do
	pkg=${target%%:*}
	name=${target##*:}
	for attempt in 1 2; do
		echo "fuzz $name in $pkg for $FUZZTIME"
		log=$(mktemp)
		# Minimisation is capped: minimising a large input otherwise stalls
		# the short CI runs.
		if "$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$log"; then
			# A target that skipped, or never got past its seeds, passes
			# without having fuzzed: the last "execs: N" must be above 0.
			execs=$(executions <"$log")
			rm -f "$log"
			if [ "${execs:-0}" -gt 0 ]; then
				continue 2
			fi
			echo "fuzz $name in $pkg: executed no input (skipped, or no \"execs:\" line): failing" >&2
			exit 1
		fi
		if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" &&
			! grep -qE 'Failing input written|panic:' "$log"; then
			echo "fuzz $name: the fuzz coordinator's deadline race (golang/go#75804), no failing input: running it again" >&2
			rm -f "$log"
			continue
		fi
		rm -f "$log"
		exit 1
	done
done
