#!/bin/sh
# progress.sh: how far the learner has come, stage by stage. Usage: make progress
#
# For each stage: how many TODOs are left in exercises/, and what the last `make grade` of it
# found: tests passed of those that ran, how many the stage has, and whether the code has
# changed since (it does not grade again: `make grade` does).
set -eu
cd "$(dirname "$0")/.."
. tools/stages.sh

printf '%-20s %-11s %s\n' Stage "TODOs left" "Last graded"
for dir in tests/[0-9][0-9]-*/; do
	stage=$(basename "$dir")
	todos=$(cat exercises/"$stage"/*.c 2>/dev/null | grep -c 'TODO: your code goes here' || true)
	summary=build/grade/exercises-$stage.summary
	if [ -f "$summary" ]; then
		IFS='	' read -r passed ran total fingerprint <"$summary"
		if [ "$ran" -eq "$total" ]; then
			last="$passed/$total tests passed"
		else
			last="$passed of the $ran tests run passed (the stage has $total: that run was TEST=...)"
		fi
		[ "$fingerprint" = "$(stage_fingerprint exercises "$stage")" ] ||
			last="$last; the code has changed since"
	else
		last="not graded yet"
	fi
	printf '%-20s %-11s %s\n' "$stage" "$todos" "$last"
done
echo "Next: make hints STAGE=NN shows what is left; make grade grades again."
