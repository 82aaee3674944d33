#!/bin/sh
# watch.sh: grade again each time an exercise file changes. Usage: make watch [STAGE=01]
#
# Checks once a second for files under exercises/ newer than the last run, so it
# needs nothing beyond a POSIX shell (no inotify tools). Stop it with Ctrl-C.
set -u
cd "$(dirname "$0")/.."
stamp=build/.watch-stamp
mkdir -p build
: > "$stamp"
make --no-print-directory grade ${STAGE:+STAGE=$STAGE}
echo "watch: waiting for changes under exercises/ (Ctrl-C to stop)"
while sleep 1; do
	if [ -n "$(find exercises -newer "$stamp" -type f -print | head -n 1)" ]; then
		: > "$stamp"
		clear 2>/dev/null || true
		make --no-print-directory grade ${STAGE:+STAGE=$STAGE}
		echo "watch: waiting for changes under exercises/ (Ctrl-C to stop)"
	fi
done
