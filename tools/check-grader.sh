#!/bin/sh
# check-grader.sh: the grader tells the truth about the code as it is now. Run by
# `make check-grader` (CI), in a scratch copy of the repository, with the reference
# solutions as the "learner's" exercises, then with one stage broken:
#   - a stage that does not compile scores 0 in `make grade`, with TEST= and with ISOLATE=1
#     (an old test binary must not be graded again), and the stages after it score as
#     they should (0 when they link with it, full marks when isolated);
#   - `make hints` says when no TODO is left;
#   - `make progress` shows the last grade of the whole stage (not of one TEST=), and says when
#     the code changed since;
#   - the scoreboard's Memory column shows a memory check only of the code as it is now.
set -u
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
tree=$root/build/grader-check
failed=0

rm -rf "$tree" && mkdir -p "$tree"
(cd "$root" && git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$tree")
cd "$tree" || exit 1
for d in solutions/*/; do cp "$d"*.[ch] "exercises/$(basename "$d")/"; done

# expect NAME PATTERN COMMAND...: the command's output must hold a line matching PATTERN.
expect() {
	name=$1 pattern=$2
	shift 2
	"$@" >out.log 2>&1
	if grep -Eq -- "$pattern" out.log; then
		echo "check-grader: ok    $name"
	else
		echo "check-grader: FAIL  $name: no line matches '$pattern' in the output of '$*':"
		tail -n 12 out.log | sed 's/^/    /'
		failed=1
	fi
}
# The count of a stage's tests, from the sources.
count() { tools/grade.sh --list --stage "$1" | tail -n +2 | wc -l | tr -d ' '; }
first_test() { tools/grade.sh --list --stage "$1" | sed -n '2s/^ *\([a-z0-9_]*\).*/\1/p'; }

n01=$(count 01) n02=$(count 02) t01=$(first_test 01)
expect "the solutions score full marks" '^0 failed|[1-9][0-9]* passed, 0 failed' make grade
expect "one test runs alone" '^1 passed, 0 failed' make grade STAGE=01 TEST="$t01"
expect "progress: a one-test run is not taken for the stage's score" \
	"^01-process .* $n01/$n01 tests passed" make progress
expect "hints: no TODO left, said plainly" '^No TODO left' make hints STAGE=01

# A memory check of this very code is shown; after a change, it is shown as stale.
. tools/stages.sh
printf 'clean\n%s\n' "$(stage_fingerprint exercises 01-process)" >build/grade/exercises-01-process.memcheck
expect "memory: a check of the code as it is shows" '^01-process .* clean$' make grade STAGE=01
echo '/* changed */' >>exercises/01-process/target.c
expect "memory: a check of older code shows as stale" '^01-process .* stale$' make grade STAGE=01

# One syntax error in stage 01.
echo 'int this_does_not_compile = ;' >>exercises/01-process/target.c
expect "a broken stage scores 0 with TEST=" '^0 passed, 1 failed' make grade STAGE=01 TEST="$t01"
expect "a broken stage scores 0" "^01-process +0/$n01 " make grade
expect "the stage after it links with it, and scores 0 too" "^02-queue +0/$n02 " make grade
expect "ISOLATE=1: the broken stage scores 0" "^01-process +0/$n01 " make grade ISOLATE=1
expect "ISOLATE=1: the stage after it scores full marks" "^02-queue +$n02/$n02 " make grade ISOLATE=1
expect "progress: the broken stage shows its 0" "^01-process .* 0/$n01 tests passed" make progress

cd "$root" && rm -rf "$tree"
if [ "$failed" -ne 0 ]; then
	echo "check-grader: the grader does not tell the truth (see above)"
	exit 1
fi
echo "check-grader: every grading command tells the truth about the code as it is now"
