#!/bin/sh
# grade.sh: runs the tests, scores them, and says what to read next. Usage: tools/grade.sh --help
#
#   tools/grade.sh [--tree solutions|exercises] [--stage NN] [--test NAME] [--json FILE]
#                  [--quiet] [--expect-fail] [--isolated] [--list]
#
#   --tree T       grade the library built from T (default: exercises)
#   --stage NN     only the stage whose directory under tests/ starts with NN (01, 1 or 01-process)
#   --test NAME    only the tests called NAME (a Criterion glob; "suite/name" to give the suite too)
#   --json FILE    where to write the Gradescope results (default: build/grade/results.json)
#   --quiet        print only the two summary lines
#   --expect-fail  CI check that untouched exercises earn nothing: succeed only if every test fails
#   --isolated     the tests were linked with the reference for earlier stages (make ISOLATE=1)
#   --list         run nothing: list the tests, with their points and lesson sections
#
# Exit status: 0 if every test passed (with --expect-fail: if every test failed), 1 if not,
# 2 on misuse.
#
# Points and lesson sections come from the test sources, where every test is written as
#     MP_TEST(suite, name, points, "Section title")
# and is explained in lessons/<stage>.md under that title. Criterion's TAP report gives only whether
# each test passed and why not: it leaves the description out for tests that crashed or timed out.
# shellcheck disable=SC2016 # awk programs are single-quoted so that the shell leaves their $ alone
set -eu

usage() {
	sed -n '4,17s/^# \{0,1\}//p' "$0"
}

die_usage() {
	echo "grade: $1 (tools/grade.sh --help for usage)" >&2
	exit 2
}

tree=exercises stage_arg="" test_arg="" json="" quiet=0 expect_fail=0 isolated=0 list=0
while [ $# -gt 0 ]; do
	case $1 in
	--tree)	[ $# -ge 2 ] || die_usage "--tree needs a value"; tree=$2; shift 2 ;;
	--stage) [ $# -ge 2 ] || die_usage "--stage needs a value"; stage_arg=$2; shift 2 ;;
	--test)	[ $# -ge 2 ] || die_usage "--test needs a value"; test_arg=$2; shift 2 ;;
	--json)	[ $# -ge 2 ] || die_usage "--json needs a value"; json=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--expect-fail) expect_fail=1; shift ;;
	--isolated) isolated=1; shift ;;
	--list) list=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*)	die_usage "unknown argument: $1" ;;
	esac
done
case $tree in
solutions|exercises) ;;
*)	die_usage "--tree is solutions or exercises, not '$tree'" ;;
esac

# A --json path is the caller's, so make it absolute before we move to the top of the repository.
case $json in
"")	json=build/grade/results.json ;;
/*)	;;
*)	json=$PWD/$json ;;
esac
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"

. tools/stages.sh
select_stages grade "$stage_arg"

# Criterion matches its --filter against "suite/name".
filter=""
case $test_arg in
"")	;;
*/*)	filter=$test_arg ;;
*)	filter="*/$test_arg" ;;
esac

out=build/grade
mkdir -p "$out" "$(dirname -- "$json")"

# The awk programs share this: a Criterion glob becomes an anchored regular expression.
glob_awk='
function glob_regex(glob,   re, i, c) {
	re = "^"
	for (i = 1; i <= length(glob); i++) {
		c = substr(glob, i, 1)
		if (c == "*")
			re = re ".*"
		else if (c == "?")
			re = re "."
		else if (index("\\.^$+(){}|", c))
			re = re "\\" c
		else
			re = re c # letters, and [...] classes, which mean the same in both
	}
	return re "$"
}
function selected(suite_slash_name) {
	return filter == "" || suite_slash_name ~ filter_re
}
BEGIN { if (filter != "") filter_re = glob_regex(filter) }
'

# Reads test sources; prints a line per selected test: suite::name, name, points, section (tab-separated).
# An MP_TEST(...) may run over a few lines, and its title may be several adjacent string literals.
points_awk=$glob_awk'
function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}
# Decodes the string literals at the start of s, joined as C joins adjacent literals.
function literals(s,   text, i, c) {
	text = ""
	while (substr(s, 1, 1) == "\"") {
		for (i = 2; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\") {
				i++
				c = substr(s, i, 1)
				if (c == "n" || c == "t")
					c = " "
			} else if (c == "\"") {
				break
			}
			text = text c
		}
		s = trim(substr(s, i + 1))
	}
	return text
}
function parse(s, where,   quote, n, f, suite, name, points) {
	quote = index(s, "\"")
	n = split(substr(s, 1, quote - 1), f, ",")
	suite = trim(f[1]); name = trim(f[2]); points = trim(f[3])
	if (quote == 0 || n != 4 || suite == "" || name == "" || points !~ /^[0-9]+(\.[0-9]+)?$/) {
		printf "grade: %s: cannot read this MP_TEST(suite, name, points, \"section\")\n", where > "/dev/stderr"
		return
	}
	# Tests in a file named held_back*.c are an instructor'\''s: graded, shown only after the due date.
	if (selected(suite "/" name))
		printf "%s::%s\t%s\t%s\t%s\t%s\n", suite, name, name, points, literals(substr(s, quote)),
		       FILENAME ~ /(^|\/)held_back[^\/]*$/ ? "after_due_date" : "visible"
}
pending != "" {
	pending = pending " " trim($0)
	lines++
}
pending == "" && match($0, /MP_TEST[ \t]*\(/) {
	before = substr($0, 1, RSTART - 1)
	if (before ~ /^[ \t]*#/ || before ~ /\/\// || before ~ /\/\*/)
		next # the macro definition, or commented out
	pending = substr($0, RSTART + RLENGTH)
	lines = 1
	where = FILENAME ":" FNR
}
pending != "" {
	if (pending !~ /"[ \t]*[),]/ && lines < 8)
		next # the title is not over: the call goes on on the next line
	parse(pending, where)
	pending = ""
}
'

# Reads, for each stage, the facts gathered by the shell (kind=info) and Criterion's TAP report
# (kind=tap); prints the scoreboard and writes the Gradescope JSON. Exit status as the script's.
report_awk=$glob_awk'
BEGIN {
	FS = "\t"
	nstages = 0
	for (i = 1; i < 32; i++)
		json_esc[sprintf("%c", i)] = sprintf("\\u%04x", i)
	json_esc["\n"] = "\\n"; json_esc["\t"] = "\\t"; json_esc["\r"] = "\\r"
	json_esc["\""] = "\\\""; json_esc["\\"] = "\\\\"
	json_special = "[\"\\\\" sprintf("%c", 1) "-" sprintf("%c", 31) "]"
	# What a terminal should not be sent: control characters other than tab and newline.
	unprintable = "[" sprintf("%c", 1) "-" sprintf("%c", 8) \
		      sprintf("%c", 11) "-" sprintf("%c", 31) sprintf("%c", 127) "]"
}

# ---- reading -----------------------------------------------------------------------------------

function add_test(st, id, name, points, section, visibility,   k) {
	k = st SUBSEP id
	if (k in t_name)
		return
	t_name[k] = name; t_points[k] = points + 0; t_section[k] = section
	t_visibility[k] = visibility == "" ? "visible" : visibility
	t_state[k] = ""; t_msg[k] = ""; t_all[k] = ""
	order[st, ++ntests[st]] = id
}

kind == "info" && $1 == "stage" {
	st = $2
	stages[++nstages] = st
	ntests[st] = 0; result[st] = ""; note[st] = ""; mem[st] = "-"
	cur = ""
	next
}
kind == "info" && $1 == "result" { result[st] = $2; next }
kind == "info" && $1 == "status" { status[st] = $2; next }
kind == "info" && $1 == "memcheck" { mem[st] = $2; next }
kind == "info" && $1 == "total" { total[st] = $2; next }
kind == "info" && $1 == "fingerprint" { fingerprint[st] = $2; next }
kind == "info" && $1 == "log" { logfile[st] = $2; next }
kind == "info" && $1 == "note" { note[st] = note[st] (note[st] == "" ? "" : "\n") $2; next }
kind == "info" && $1 == "test" { add_test(st, $2, $3, $4, $5, $6); next }
kind == "info" { next }

# A test line: "ok - suite::name DESCRIPTION (0.01s)", "not ok - suite::name timed out (1.00s)",
# "not ok - suite::name unexpected signal after FILE:LINE", or "ok - suite::name  # SKIP reason".
kind == "tap" && /^(ok|not ok) - / {
	close_failure()
	in_yaml = 0
	passed = ($0 ~ /^ok/)
	rest = $0
	sub(/^(ok|not ok) - /, "", rest)
	space = index(rest, " ")
	id = space ? substr(rest, 1, space - 1) : rest
	rest = space ? substr(rest, space + 1) : ""
	sep = index(id, "::")
	if (!sep || !selected(substr(id, 1, sep - 1) "/" substr(id, sep + 2))) {
		cur = ""
		next
	}
	cur = st SUBSEP id
	if (!(cur in t_name))
		add_from_description(st, id, substr(id, sep + 2), rest)
	if (rest ~ /# SKIP/) {
		t_state[cur] = "skip"
		t_msg[cur] = rest
		sub(/.*# SKIP */, "", t_msg[cur])
	} else if (passed) {
		t_state[cur] = "pass"
	} else {
		t_state[cur] = "fail"
		if (rest ~ /^timed out/)
			t_msg[cur] = "timed out: the test did not end within its time limit"
		else if (rest ~ /^unexpected signal after /) {
			sub(/^unexpected signal after /, "", rest)
			t_msg[cur] = "crashed (signal): killed by a signal after " rest " (its last assertion, or its start)"
		}
	}
	next
}
kind == "tap" && cur != "" && $0 == "  ---" { in_yaml = 1; next }
kind == "tap" && cur != "" && $0 == "  ..." {
	close_failure()
	in_yaml = 0
	next
}
# In the YAML block, each failure is "  - FILE:LINE: |+" and then its message, indented by six.
kind == "tap" && in_yaml && /^  - .*: \|[-+]?$/ {
	close_failure()
	where = $0
	sub(/^  - /, "", where)
	sub(/: \|[-+]?$/, "", where)
	item = where ":"
	item_open = 1
	item_lines = 0
	next
}
kind == "tap" && in_yaml && item_open && (/^      / || $0 == "") {
	line = substr($0, 7)
	item = item (item_lines++ ? "\n" : " ") line
	next
}

# Tests written without MP_TEST still count, with what their description says.
function add_from_description(st, id, name, desc,   points, section) {
	points = 0
	section = ""
	if (match(desc, /^\[[0-9.]+ pts?\] /)) {
		points = substr(desc, 2, RLENGTH - 2)
		sub(/ .*/, "", points)
		section = substr(desc, RSTART + RLENGTH)
		sub(/ \([0-9.]+s\)$/, "", section)
		sub(/^[^:]*: /, "", section)
	}
	add_test(st, id, name, points, section)
}

# Criterion lists the failures of a test newest first: the last one listed went wrong first.
function close_failure() {
	if (!item_open)
		return
	sub(/\n+$/, "", item)
	t_all[cur] = item (t_all[cur] == "" ? "" : "\n") t_all[cur]
	first_failure[cur] = item
	item_open = 0
}

# ---- deciding ----------------------------------------------------------------------------------

function settle(st, k) {
	if (result[st] == "missing") {
		t_state[k] = "fail"
		t_msg[k] = did_not_build(st)
	} else if (t_state[k] == "") {
		t_state[k] = "fail"
		if (status[st] == 124)
			t_msg[k] = "no result: the stage ran out of time and was stopped before this test ended"
		else
			t_msg[k] = "no result: the test program ended early (exit status " status[st] "); see " logfile[st]
	} else if (t_state[k] == "fail" && t_msg[k] == "") {
		if (k in first_failure)
			t_msg[k] = first_failure[k]
		else
			t_msg[k] = "failed, but no assertion did: did the test process exit() early?"
	}
	if (t_state[k] == "fail" && t_all[k] == "")
		t_all[k] = t_msg[k]
}

# A stage links with the stages before it: their compiler errors stop it too, unless isolated.
function did_not_build(st) {
	if (isolated || st ~ /^01-/)
		return "did not build: see the compiler errors above"
	return "did not build: see the compiler errors above (they may be in an earlier stage, which this " \
	       "one links with: make grade ISOLATE=1 grades it against the reference for earlier stages)"
}

# ---- writing -----------------------------------------------------------------------------------

# Where to read, and, once `make docs` has built the site, the page and anchor there
# (tools/lesson-nav.py names the anchor of each section the same way).
function read_hint(st, section,   page, anchor) {
	if (section == "")
		return "Read: lessons/" st ".md"
	page = st
	gsub(/-/, "_", page)
	anchor = tolower(section)
	gsub(/[^a-z0-9]+/, "-", anchor)
	gsub(/^-+|-+$/, "", anchor)
	return "Read: lessons/" st ".md, section \"" section "\"" \
	       (site ? "\n  (in the site: build/docs/html/md_lessons_" page ".html#s" substr(st, 1, 2) "-" anchor ")" : "")
}
function num(x) {
	return x == int(x) ? sprintf("%d", x) : sprintf("%.2f", x)
}
function json(s,   out, i, c) {
	if (s !~ json_special)
		return "\"" s "\""
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		out = out ((c in json_esc) ? json_esc[c] : c)
	}
	return "\"" out "\""
}
function printable(s) {
	gsub(unprintable, "?", s)
	return s
}
function indent(s, by,   n, lines, i, text) {
	n = split(s, lines, "\n")
	text = ""
	for (i = 1; i <= n && i <= 8; i++)
		text = text by lines[i] "\n"
	if (n > 8)
		text = text by "[" n - 8 " more lines]\n"
	return text
}

END {
	total_points = total_possible = npassed = nfailed = nskipped = 0
	board = sprintf("%-18s %7s %9s  %s\n", "Stage", "Tests", "Points", "Memory")
	details = ""
	json_tests = ""
	for (s = 1; s <= nstages; s++) {
		st = stages[s]
		passed = failed = skipped = earned = possible = 0
		first = ""
		for (i = 1; i <= ntests[st]; i++) {
			k = st SUBSEP order[st, i]
			settle(st, k)
			score = 0
			if (t_state[k] == "skip") {
				nskipped++
				skipped++
				skip_list = skip_list "  " st ": " t_name[k] ": " t_msg[k] "\n"
				max = 0
			} else {
				max = t_points[k]
				possible += max
				if (t_state[k] == "pass") {
					passed++
					score = max
					earned += max
				} else {
					failed++
					if (first == "")
						first = k
				}
			}
			if (expect_fail && t_state[k] == "pass")
				expect_fail_errors = expect_fail_errors "grade: error: " st ": " t_name[k] " passed on the untouched exercise\n"
			output = t_state[k] == "fail" ? t_all[k] "\n" read_hint(st, t_section[k]) : \
				 t_state[k] == "skip" ? "skipped: " t_msg[k] : ""
			json_tests = json_tests (json_tests == "" ? "" : ",\n") \
				"    {\"name\": " json(st ": " t_name[k]) ", \"score\": " num(score) \
				", \"max_score\": " num(max) ", \"status\": " json(t_state[k] == "fail" ? "failed" : "passed") \
				", \"output\": " json(output) ", \"visibility\": " json(t_visibility[k]) "}"
		}
		if (result[st] == "missing") {
			built_badly = 1
			if (expect_fail)
				expect_fail_errors = expect_fail_errors "grade: error: " st " did not build: the exercises must compile as they are\n"
		}
		npassed += passed; nfailed += failed
		total_points += earned; total_possible += possible
		board = board sprintf("%-18s %7s %9s  %s\n", st, passed "/" passed + failed,
				      num(earned) "/" num(possible), mem[st])
		if (mem[st] == "stale")
			stale_memcheck = stale_memcheck " " substr(st, 1, 2)
		if (mem[st] == "-")
			unchecked = 1
		# What `make progress` shows later, from the last run of the whole stage (a TEST= run
		# says nothing of the others): passed, failed and skipped, for which code.
		if (filter == "") {
			printf "%d\t%d\t%d\t%s\n", passed, failed, skipped, fingerprint[st] > (out_dir "/" tree "-" st ".summary")
			close(out_dir "/" tree "-" st ".summary")
		}

		if (result[st] == "missing") {
			details = details "\n" st ": " did_not_build(st) "\n"
		} else if (first != "" || note[st] != "") {
			if (first != "") {
				details = details "\n" st ": first failing test: " t_name[first] " (" num(t_points[first]) \
					  (t_points[first] == 1 ? " pt" : " pts") ")\n"
				details = details indent(printable(t_msg[first]), "    ")
				details = details "  " read_hint(st, t_section[first]) "\n"
				if (failed > 1)
					details = details "  (" failed - 1 " more failing in this stage)\n"
				if (passed == 0 && tree == "exercises")
					details = details "  Nothing passes yet: start with " read_hint(st, "The exercise, step by step") "\n"
				# An unfinished earlier stage (its MP_ETODO, a target it never registered) fails every later stage too.
				if (tree == "exercises" && !isolated && st !~ /^01-/ && t_msg[first] ~ /MP_ETODO|MP_ENOTARGET/)
					details = details "  (If that code comes from an earlier stage you have not finished, grade this one " \
						  "against the reference for the earlier ones: make grade ISOLATE=1 STAGE=" substr(st, 1, 2) ")\n"
				details = details "  Run it alone: make " (tree == "exercises" ? "grade" : "test") \
					  " STAGE=" substr(st, 1, 2) " TEST=" t_name[first] (isolated ? " ISOLATE=1" : "") "\n"
				if (tree == "solutions" && !expect_fail)
					details = details "  (This is the reference failing its own test: a bug in the course, not in " \
						  "your code. Please report it.)\n"
			} else {
				details = details "\n" st ": every test passed, but:\n"
			}
			if (note[st] != "")
				details = details indent(printable(note[st]), "  ")
			if (note[st] ~ /leftover/)
				details = details "  (something the tests started was still running after they ended)\n"
			details = details "  Full output: " logfile[st] "\n"
		}
	}

	summary = "Total: " num(total_points) "/" num(total_possible) " points\n" \
		  npassed " passed, " nfailed " failed\n"
	if (isolated)
		board = board "(ISOLATE=1: each stage linked with the reference for the stages before it)\n"
	if (unchecked)
		board = board "Memory \"-\": not checked yet (make memcheck TREE=" tree " runs the tests under valgrind)\n"
	if (stale_memcheck != "")
		board = board "Memory \"stale\": the code changed after its last memory check (make memcheck TREE=" \
			tree " STAGE=" substr(stale_memcheck, 2, 2) (length(stale_memcheck) > 3 ? ", and the others" : "") ")\n"
	if (!quiet) {
		printf "%s", board
		if (!expect_fail) # there, failing is the point: the reasons are noise
			printf "%s", details
		if (nskipped)
			printf "\n%d skipped (not counted):\n%s", nskipped, printable(skip_list)
		printf "\n"
	}
	printf "%s", summary

	printf "{\n  \"score\": %s,\n  \"output\": %s,\n  \"tests\": [\n%s\n  ]\n}\n",
	       num(total_points), json(board "\n" summary), json_tests > json_file
	close(json_file)

	if (expect_fail) {
		printf "%s", expect_fail_errors > "/dev/stderr"
		success = expect_fail_errors == "" && nfailed > 0
	} else {
		success = nfailed == 0 && !built_badly
	}
	exit success ? 0 : 1
}
'

if [ "$list" = 1 ]; then
	for stage in $stages; do
		set -- tests/"$stage"/*.c
		[ -e "$1" ] || continue
		echo "$stage (lessons/$stage.md):"
		LC_ALL=C awk -v filter="$filter" "$points_awk" "$@" |
			awk -F '\t' '{ printf "  %-58s %3s pt%s  \"%s\"%s\n", $2, $3, $3 == 1 ? " " : "s", $4,
					 $5 == "visible" ? "" : " (held back)" }'
	done
	exit 0
fi

reaper=build/tools/reaper
if [ ! -x "$reaper" ]; then
	echo "grade: $reaper is missing: build it first (make)" >&2
	exit 2
fi

awk_args=""
for stage in $stages; do
	info=$out/$tree-$stage.info
	tap=$out/$tree-$stage.tap
	log=$out/$tree-$stage.log
	bin=build/$tree/tests/$stage

	# The tests this run will grade, with their points and sections, from the sources.
	set -- tests/"$stage"/*.c
	[ -e "$1" ] || set --
	printf 'stage\t%s\nlog\t%s\nfingerprint\t%s\n' "$stage" "$log" "$(stage_fingerprint "$tree" "$stage")" >"$info"
	if [ $# -gt 0 ]; then
		printf 'total\t%s\n' "$(LC_ALL=C awk -v filter="" "$points_awk" "$@" | wc -l)" >>"$info"
		LC_ALL=C awk -v filter="$filter" "$points_awk" "$@" | sed 's/^/test	/' >>"$info"
	fi
	if [ -n "$filter" ] && ! grep -q '^test	' "$info"; then
		rm -f "$info"
		continue # no test of that name here
	fi

	# A memory check of code that has changed since says nothing about the code now.
	memcheck=$out/$tree-$stage.memcheck
	if [ -f "$memcheck" ]; then
		if [ "$(sed -n 2p "$memcheck")" = "$(stage_fingerprint "$tree" "$stage")" ]; then
			printf 'memcheck\t%s\n' "$(sed -n '1{s/[^a-z]//g;p;}' "$memcheck")" >>"$info"
		else
			printf 'memcheck\tstale\n' >>"$info"
		fi
	fi

	# A stale report from an earlier run must not be graded again.
	rm -f "$tap" "$tap.clean"
	if [ -x "$bin" ]; then
		[ "$quiet" = 1 ] || echo "grade: running $stage ($tree)..." >&2
		# The reaper kills whatever the tests leave running; a timed-out test leaves grandchildren
		# that would otherwise hold our output open.
		set -- "$bin" --tap="$tap" -j2
		[ -z "$filter" ] || set -- "$@" --filter "$filter"
		if "$reaper" -t 300 -- "$@" >"$log" 2>&1; then
			status=0
		else
			status=$?
		fi
		printf 'result\tran\nstatus\t%s\n' "$status" >>"$info"
		grep '^reaper: ' "$log" | sed 's/^/note	/' >>"$info" || :
		if [ -f "$tap" ]; then
			# Messages may hold any bytes a test printed; JSON has to be UTF-8, so drop what is not.
			iconv -f UTF-8 -t UTF-8 -c <"$tap" >"$tap.clean" 2>/dev/null || :
		fi
	else
		printf 'result\tmissing\n' >>"$info"
	fi

	awk_args="$awk_args kind=info $info"
	if [ -f "$tap.clean" ]; then
		awk_args="$awk_args kind=tap $tap.clean"
	fi
done

if [ -z "$awk_args" ]; then
	echo "grade: no test matches '$test_arg'${stage_arg:+ in stage $stage_arg}: make list-tests${stage_arg:+ STAGE=$stage_arg} lists them" >&2
	exit 2
fi

# The file names are ours and hold no spaces, so splitting $awk_args on them is safe.
# shellcheck disable=SC2086
LC_ALL=C awk -v filter="$filter" -v tree="$tree" -v quiet="$quiet" -v expect_fail="$expect_fail" \
	-v isolated="$isolated" -v site="$([ -f build/docs/html/index.html ] && echo 1)" -v out_dir="$out" -v json_file="$json" "$report_awk" $awk_args
