#!/bin/sh
# progress.sh: how far the learner has come, stage by stage. Usage: make progress
#
# For each stage: how many TODOs are left in exercises/, and the tests that passed
# the last time `make grade` ran (it does not grade again: run `make grade` for that).
set -eu
cd "$(dirname "$0")/.."

printf '%-20s %-12s %s\n' Stage "TODOs left" "Last graded"
for dir in tests/[0-9][0-9]-*/; do
	stage=$(basename "$dir")
	todos=$(cat exercises/"$stage"/*.c 2>/dev/null | grep -c 'TODO: your code goes here' || true)
	tap=build/grade/exercises-$stage.tap.clean
	if [ -f "$tap" ]; then
		# A run of one test (TEST=name) marks the others skipped: count only what ran.
		passed=$(grep '^ok ' "$tap" | grep -vc '# SKIP' || true)
		ran=$(grep '^ok \|^not ok ' "$tap" | grep -vc '# SKIP' || true)
		last="$passed/$ran tests passed"
	else
		last="not graded yet"
	fi
	printf '%-20s %-12s %s\n' "$stage" "$todos" "$last"
done
echo "Next: make hints STAGE=NN shows what is left; make grade grades again."
