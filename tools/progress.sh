#!/bin/sh
# progress.sh: how far the learner has come, stage by stage. Usage: make progress
#
# For each stage: how many TODOs are left in exercises/, and what the last `make grade` of the
# whole stage found (a run of one test, TEST=name, is not a stage's score and is not shown):
# tests passed of those the stage has, how many were skipped, and whether the code the tests
# ran on (the stage's own, or an earlier stage's it links with) has changed since. It does
# not grade again: `make grade` does.
set -eu
cd "$(dirname "$0")/.."
. tools/stages.sh

printf '%-20s %-11s %s\n' Stage "TODOs left" "Last graded (the whole stage)"
for dir in tests/[0-9][0-9]-*/; do
	stage=$(basename "$dir")
	todos=$(cat exercises/"$stage"/*.c 2>/dev/null | grep -c 'TODO: your code goes here' || true)
	summary=build/grade/exercises-$stage.summary
	if [ -f "$summary" ]; then
		IFS='	' read -r passed failed skipped fingerprint <"$summary"
		last="$passed/$((passed + failed)) tests passed"
		[ "$skipped" -eq 0 ] || last="$last ($skipped skipped)"
		[ "$fingerprint" = "$(stage_fingerprint exercises "$stage")" ] ||
			last="$last; the code has changed since (this stage's or an earlier one's)"
	else
		last="not graded yet"
	fi
	printf '%-20s %-11s %s\n' "$stage" "$todos" "$last"
done
echo "Next: make hints STAGE=NN shows what is left; make grade grades again."
