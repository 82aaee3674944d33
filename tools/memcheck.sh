#!/bin/sh
# memcheck.sh: runs the tests under valgrind; fails on memory errors and definite leaks. Usage below.
#
#   tools/memcheck.sh [--tree solutions|exercises] [--stage NN]
#
#   --tree T    check the library built from T (default: exercises)
#   --stage NN  only the stage whose directory under tests/ starts with NN (01, 1 or 01-process)
#
# Exit status: 0 if every stage is clean, 1 if one is dirty or was not built, 2 on misuse.
#
# Valgrind's findings do not fail a Criterion test, so we read valgrind's own logs instead: one per
# process (vg.PID), because Criterion runs every test in a process of its own and the library forks
# more inside the tests. A log is dirty if its ERROR SUMMARY counts errors or it reports bytes
# definitely lost. The verdict, "clean" or "dirty", goes to build/grade/<tree>-<stage>.memcheck,
# where tools/grade.sh shows it.
# shellcheck disable=SC2016 # awk programs are single-quoted so that the shell leaves their $ alone
set -eu

die_usage() {
	echo "memcheck: $1 (tools/memcheck.sh --help for usage)" >&2
	exit 2
}

tree=exercises stage_arg=""
while [ $# -gt 0 ]; do
	case $1 in
	--tree)	[ $# -ge 2 ] || die_usage "--tree needs a value"; tree=$2; shift 2 ;;
	--stage) [ $# -ge 2 ] || die_usage "--stage needs a value"; stage_arg=$2; shift 2 ;;
	-h|--help) sed -n '4,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*)	die_usage "unknown argument: $1" ;;
	esac
done
case $tree in
solutions|exercises) ;;
*)	die_usage "--tree is solutions or exercises, not '$tree'" ;;
esac
if ! command -v valgrind >/dev/null 2>&1; then
	echo "memcheck: valgrind is not installed (tools/setup.sh installs it)" >&2
	exit 2
fi

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd -P) # as /proc/self/exe names it
cd "$root"

. tools/stages.sh
select_stages memcheck "$stage_arg"

# Reads the vg.PID logs of one stage; prints what is wrong; exits 1 if anything is.
# Only logs of our own programs count: a test may run /bin/sh, whose leaks are not the learner's.
judge_awk='
BEGIN {
	not_an_error = "^(Memcheck, |Copyright |Using Valgrind|Command: |Parent PID: |Warning: |" \
		       "Process terminating|HEAP SUMMARY:| )"
}
function finish_paragraph() {
	if (npara == 0)
		return
	if (para[1] ~ /^HEAP SUMMARY:/)
		in_heap_report = 1
	# Before the heap report, every paragraph is an error but the banner and valgrind warnings;
	# in the heap report, only the definite leaks are (the others are not errors under our flags).
	if (block == "" && (para[1] ~ /are definitely lost in loss record/ ||
			    (!in_heap_report && para[1] !~ not_an_error))) {
		shown = 0
		for (i = 1; i <= npara && shown < 20; i++) {
			if (para[i] ~ /^ +(at|by) 0x[0-9A-Fa-f]+: .*(libcriterion|\(below main\))/)
				continue # Criterion machinery, the same under every test
			block = block "      " para[i] "\n"
			shown++
		}
		if (i <= npara)
			block = block "      ...\n"
	}
	npara = 0
}
function finish_log() {
	finish_paragraph()
	if (logname == "")
		return
	if (!ours) {
		others++
	} else if (!summarised) {
		unfinished++ # killed (a test may do it on purpose, or a timeout): nothing to judge
	} else if (errors > 0 || lost > 0) {
		if (++dirty <= 5)
			report = report "  " logname ": " errors " error(s), " lost " bytes definitely lost\n" block
		else
			more = more "  " logname ": " errors " error(s), " lost " bytes definitely lost\n"
	} else {
		clean++
	}
}
FNR == 1 {
	finish_log()
	logname = FILENAME
	ours = summarised = errors = lost = in_heap_report = npara = 0
	block = ""
}
{
	text = $0
	if (!sub(/^==[0-9]+== ?/, "", text))
		next # not valgrind speaking
}
text == "" { finish_paragraph(); next }
{ para[++npara] = text }
text ~ /^Command: / {
	program = substr(text, 10)
	gsub(/\\/, "", program) # valgrind writes a space in a path as "\ "
	gsub(/\\/, "", root)
	ours = index(program, root "/") == 1 || index(program, "build/") == 1 ||
	       index(program, "./build/") == 1
}
text ~ /^ERROR SUMMARY: / {
	summarised = 1
	errors = substr(text, 16)
	sub(/ .*/, "", errors)
	gsub(/,/, "", errors)
	errors += 0
}
text ~ /^ *definitely lost: / {
	lost = text
	sub(/^ *definitely lost: /, "", lost)
	sub(/ .*/, "", lost)
	gsub(/,/, "", lost)
	lost += 0
}
END {
	finish_log()
	if (dirty) {
		printf "%s: dirty: %d process(es) with memory errors or definite leaks\n%s", stage, dirty, report
		if (more != "")
			printf "  and %d more:\n%s", dirty - 5, more
	} else {
		printf "%s: clean (%d process(es) checked)\n", stage, clean
	}
	if (unfinished)
		printf "  %d process(es) left no report: SIGKILL ends a process before valgrind can write one\n", unfinished
	if (others)
		printf "  %d log(s) of other programs (such as /bin/sh) ignored\n", others
	exit dirty ? 1 : 0
}
'

reaper=build/tools/reaper
status=0
for stage in $stages; do
	bin=build/$tree/tests/$stage
	logs=build/memcheck/$tree-$stage
	verdict=build/grade/$tree-$stage.memcheck
	mkdir -p build/grade
	rm -f "$verdict"
	if [ ! -x "$bin" ]; then
		echo "$stage: did not build: see the compiler errors above"
		status=1
		continue
	fi
	rm -rf "$logs"
	mkdir -p "$logs"

	echo "memcheck: $stage ($tree) under valgrind, one test at a time..." >&2
	# --trace-children: Criterion fork+execs a worker per test; valgrind would not follow it otherwise.
	# --child-silent-after-fork=no: processes the library forks inside a test are checked too.
	# --trace-children-skip: programs the tests exec that are not ours (python3 for the
	# interoperability tests, a shell) run at full speed; under valgrind Python takes seconds to start.
	# The reaper, when built, makes sure nothing started under valgrind outlives the run.
	set -- valgrind --trace-children=yes --child-silent-after-fork=no --leak-check=full \
		--trace-children-skip='*python*,*pyenv*,/bin/sh,/usr/bin/sh,/bin/bash,/usr/bin/bash,/usr/bin/env' \
		--errors-for-leak-kinds=definite --log-file="$logs/vg.%p" "$bin" -j1
	if [ -x "$reaper" ]; then
		set -- "$reaper" -t 3600 -- "$@"
	fi
	"$@" >"$logs/run.log" 2>&1 || : # failing tests are grade.sh's business, not ours

	set -- "$logs"/vg.*
	if [ ! -e "$1" ]; then
		echo "$stage: valgrind wrote no log: see $logs/run.log"
		status=1
		continue
	fi
	# The verdict keeps the fingerprint of the code it judged: the scoreboard shows it only
	# while the code is still the same.
	if LC_ALL=C awk -v root="$root" -v stage="$stage" "$judge_awk" "$@"; then
		printf 'clean\n%s\n' "$(stage_fingerprint "$tree" "$stage")" >"$verdict"
	else
		printf 'dirty\n%s\n' "$(stage_fingerprint "$tree" "$stage")" >"$verdict"
		status=1
	fi
	# Tests that fail under valgrind are worth a word: a failed assertion leaves the test at once,
	# without freeing what it allocated, and valgrind sees that as a leak.
	synthesis=$(grep 'Synthesis:' "$logs/run.log" | tail -n 1 || :)
	if [ -n "$synthesis" ]; then
		echo "  tests under valgrind: ${synthesis#*Synthesis: }"
		case $synthesis in
		*"Failing: 0 "*) ;;
		*)	echo "  (a test that fails stops early and leaks what it holds: look at failing tests first)" ;;
		esac
	fi
	# Valgrind does not know every new system call; the program then gets ENOSYS, under valgrind only.
	# shellcheck disable=SC2013 # the numbers are words
	for number in $(sed -n 's/.*WARNING: unhandled .* syscall: *\([0-9][0-9]*\).*/\1/p' "$logs"/vg.* | sort -un); do
		name=$(sed -n "s/^#define __NR_\([a-z0-9_]*\) $number\$/\1/p" \
			/usr/include/asm/unistd_64.h /usr/include/*/asm/unistd_64.h 2>/dev/null | head -n 1)
		echo "  valgrind cannot run system call $number${name:+ ($name)}: under valgrind it fails with ENOSYS"
	done
	grep '^reaper: ' "$logs/run.log" | sed 's/^/  /' || :
	echo "  logs: $logs/"
done
exit "$status"
