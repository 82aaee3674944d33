#!/bin/sh
# check-release.sh DIR: in a learner's copy made by `make release`, run the commands the
# README names, and fail unless each one works, or refuses with a plain reason.
#
# What "works" means for each is written beside it. The learner's copy has no
# solutions/, so the commands that need them must say so, not fail obscurely.
set -u
dir=$1
log=$(CDPATH='' cd -- "$dir/.." && pwd)/release-check.log
: >"$log"
failed=0

# check NAME EXPECTED-STATUS PATTERN COMMAND...: run COMMAND in the copy; its exit status must be
# EXPECTED-STATUS (make says 2 when a recipe failed, as grading does when a test fails) and its output must
# hold a line matching PATTERN (unless PATTERN is empty).
check() {
	name=$1 want=$2 pattern=$3
	shift 3
	printf '\n==== %s\n' "$name" >>"$log"
	(cd "$dir" && "$@") >"$log.one" 2>&1
	status=$?
	cat "$log.one" >>"$log"
	# An empty PATTERN asks for nothing of the output, which may be empty (under make -s, say).
	if { [ "$want" = any ] || [ "$status" -eq "$want" ]; } && { [ -z "$pattern" ] || grep -q -- "$pattern" "$log.one"; }; then
		echo "release: ok    $name"
	else
		echo "release: FAIL  $name (exit status $status, expected $want and a line matching '$pattern'):"
		tail -n 15 "$log.one" | sed 's/^/    /'
		failed=1
	fi
}

check "make grade: builds, and scores zero" 2 '^0 passed, [1-9]' make grade
check "make test: the compiled reference passes" 0 '^[1-9][0-9]* passed, 0 failed' make test
check "make grade ISOLATE=1 STAGE=02: stage 02 on the reference for 01" 2 '^0 passed, [1-9]' \
	make grade ISOLATE=1 STAGE=02
check "make grade STAGE=01 TEST=...: one test" 2 '^0 passed, 1 failed' \
	make grade STAGE=01 TEST=join_gives_the_exit_status
check "make hints STAGE=01: the TODOs" 0 'TODO: your code goes here' make hints STAGE=01
check "make progress" 0 '^01-' make progress
check "make list-tests STAGE=01" 0 'join_gives_the_exit_status' make list-tests STAGE=01
check "make help" 0 'make grade' make help
check "make lib: the archive the benchmarks link" 0 '' make lib
check "make exercises: refuses, saying why" 2 "learner's copy leaves it out" make exercises
check "make release: refuses, saying why" 2 "learner's copy leaves it out" make release

# Each stage's exercise, as shipped and with the reference for the stages before it, fails every test.
check "make check-unsolved" 0 '^0 passed, [1-9]' make check-unsolved

rm -f "$log.one"
if [ "$failed" -ne 0 ]; then
	echo "release: the learner's copy fails a command the README names (full log: $log)"
	exit 1
fi
