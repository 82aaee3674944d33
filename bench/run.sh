#!/bin/sh
# Benchmarks: libmp against bare system calls and CPython, as ratios. Run: bench/run.sh [STAGE]  (e.g. 01 or 01-process)
#
# For each stage directory under bench/ it builds bench_*.c against the library
# (build/solutions/lib/libmp.a, from `make lib`), runs it and then bench_*.py
# straight after, and prints ratios. The machine may be twice as slow from one
# run to the next, so only figures taken in the same run are ever compared:
# absolute times are shown, but the ratios are what to read.
# Environment: CC (default cc), PYTHON (default python3).
set -eu

cd "$(dirname "$0")/.."

CC=${CC:-cc}
PYTHON=${PYTHON:-python3}
LIB=build/solutions/lib/libmp.a
want=${1:-}

out=$(mktemp "${TMPDIR:-/tmp}/mp-bench.XXXXXX")
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench/run.sh: $*" >&2
	exit 1
}

# A stale archive would measure code that is no longer in solutions/, so a
# failing `make lib` stops here; only a tree without a Makefile falls back on
# an archive built by hand.
if [ -f Makefile ]; then
	make -s lib || die "make lib failed"
elif [ -f "$LIB" ]; then
	echo "# no Makefile: using the existing $LIB as it is" >&2
else
	die "no Makefile and no $LIB: build the library archive first"
fi

LIBS="$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto) -lm"

if command -v "$PYTHON" >/dev/null 2>&1; then
	have_python=1
else
	have_python=0
fi

# Print "KEY VALUE" lines from $out as a ratio table. Each row is
#   label|numerator key|denominator key|goal|note
# where goal is "<=X", ">=X" or "-" (shown for information only).
ratio_table() {
	awk -v rows="$1" -v stage="$stage" -v plot="$plot_data" '
	NF == 2 && $1 !~ /^#/ { v[$1] = $2 }
	END {
		printf "%-44s %10s  %-8s %s\n", "figure", "ratio", "goal", "result"
		n = split(rows, row, "\n")
		for (i = 1; i <= n; i++) {
			if (row[i] == "")
				continue
			split(row[i], f, "|")
			if (!(f[2] in v) || !(f[3] in v) || v[f[3]] <= 0) {
				printf "%-44s %10s  %-8s %s\n", f[1], "-", f[4], "not measured"
				continue
			}
			r = v[f[2]] / v[f[3]]
			goal = f[4]
			if (goal == "-")
				result = "info"
			else if (substr(goal, 1, 2) == "<=")
				result = (r <= substr(goal, 3) + 0) ? "met" : "MISSED"
			else
				result = (r >= substr(goal, 3) + 0) ? "met" : "MISSED"
			if (f[5] != "")
				result = result "  (" f[5] ")"
			printf "%-44s %9.2fx  %-8s %s\n", f[1], r, goal, result
			# Figures with a goal go to the plot (bench/plot.py), one line each.
			if (goal != "-")
				printf "%s\t%s\t%.4f\t%s\n", stage, f[1], r, goal >> plot
		}
	}' "$out"
}

# Every figure that was measured, for reference: $1 says what they are, $2
# is a regular expression matching their keys.
absolute_times() {
	echo "absolute times, $1 (this run only; not comparable across runs):"
	awk -v keys="$2" '
	NF == 2 && $1 !~ /^#/ && $1 ~ keys { k[++n] = $1; v[n] = $2; if (length($1) > w) w = length($1) }
	END { fmt = "  %-" w "s %10.1f\n"; for (i = 1; i <= n; i++) printf fmt, k[i], v[i] }' w=20 "$out"
}

report_01_process() {
	rows='lib fork / bare fork+waitpid|c_lib_fork_us|c_bare_fork_us|<=1.5|'
	if [ "$have_python" = 1 ]; then
		rows="$rows
CPython fork / bare fork+waitpid|py_fork_us|c_bare_fork_us|-|CPython is ~16x
CPython fork / lib fork|py_fork_us|c_lib_fork_us|-|
CPython spawn / C fork+exec of itself|py_spawn_us|c_fork_exec_us|>=50|no lib spawn until stage 07: bare exec stands in
CPython spawn / C posix_spawn of itself|py_spawn_us|c_posix_spawn_us|>=50|the same, with posix_spawn
CPython forkserver / lib fork|py_forkserver_us|c_lib_fork_us|>=10|C has no forkserver yet: lib fork stands in"
	fi
	ratio_table "$rows"
	if [ "$have_python" = 1 ]; then
		echo "libmp has no spawn or forkserver yet: a bare exec and a plain library fork are the"
		echo "least those will cost, so the spawn and forkserver ratios are the most libmp can reach."
	fi
}

report_02_queue() {
	rows='lib queue 1p/1c ints / bare seqpacket pair|c_queue_1p1c_items_s|c_sock_1p1c_items_s|-|share of the bare rate'
	if [ "$have_python" = 1 ]; then
		rows="lib queue 1p/1c ints / CPython Queue|c_queue_1p1c_items_s|py_queue_1p1c_items_s|>=10|
lib queue 1p/1c ints / CPython SimpleQueue|c_queue_1p1c_items_s|py_simplequeue_1p1c_items_s|>=10|
lib queue 2p/2c ints / CPython Queue|c_queue_2p2c_items_s|py_queue_2p2c_items_s|-|
lib queue 2p/2c ints / CPython SimpleQueue|c_queue_2p2c_items_s|py_simplequeue_2p2c_items_s|-|
lib queue 1 MiB items / CPython Queue|c_queue_1mib_mib_s|py_queue_1mib_mib_s|-|
lib queue 1 MiB items / CPython SimpleQueue|c_queue_1mib_mib_s|py_simplequeue_1mib_mib_s|-|
$rows"
	fi
	ratio_table "$rows"
	echo "Ratios are C's rate over the other's (items/s or MiB/s): above 1, libmp is faster."
}

report_03_pipe() {
	rows='lib loop 10^6 ints / bare 8-byte socketpair|c_lib_loop_1e6_msgs_s|c_raw_loop_1e6_msgs_s|>=0.70|
lib loop 10^5 ints / bare 8-byte socketpair|c_lib_loop_1e5_msgs_s|c_raw_loop_1e5_msgs_s|-|
lib loop 10^4 ints / bare 8-byte socketpair|c_lib_loop_1e4_msgs_s|c_raw_loop_1e4_msgs_s|-|
lib loop 10^6 ints / bare, same framing|c_lib_loop_1e6_msgs_s|c_framed_loop_1e6_msgs_s|-|the overhead of libmp itself
bare framed 10^6 / bare 8-byte socketpair|c_framed_loop_1e6_msgs_s|c_raw_loop_1e6_msgs_s|-|what the framing itself costs
lib bulk 1 MiB, recv_bytes_into / bare|c_lib_bulk_mib_s|c_raw_bulk_mib_s|>=0.80|
lib bulk 1 MiB, recv_bytes / bare|c_lib_bulk_alloc_mib_s|c_raw_bulk_mib_s|-|a malloc per message
lib round trip 8 B / bare socketpair|c_lib_rtt_us|c_raw_rtt_us|<=1.3|
lib round trip 8 B / bare, same framing|c_lib_rtt_us|c_framed_rtt_us|-|'
	if [ "$have_python" = 1 ]; then
		rows="$rows
CPython send(i) 10^6 / bare 8-byte|py_pickle_loop_1e6_msgs_s|c_raw_loop_1e6_msgs_s|-|CPython ~20%
CPython send_bytes 10^6 / bare 8-byte|py_bytes_loop_1e6_msgs_s|c_raw_loop_1e6_msgs_s|-|
lib loop 10^6 / CPython send(i)|c_lib_loop_1e6_msgs_s|py_pickle_loop_1e6_msgs_s|-|
lib loop 10^6 / CPython send_bytes|c_lib_loop_1e6_msgs_s|py_bytes_loop_1e6_msgs_s|-|
CPython bulk send_bytes / bare socketpair|py_bulk_mib_s|c_raw_bulk_mib_s|-|CPython ~15%
lib bulk 1 MiB / CPython send_bytes|c_lib_bulk_mib_s|py_bulk_mib_s|-|
CPython round trip send_bytes / bare|py_bytes_rtt_us|c_raw_rtt_us|-|
CPython round trip send(i) / bare|py_pickle_rtt_us|c_raw_rtt_us|-|
lib round trip / CPython send_bytes|c_lib_rtt_us|py_bytes_rtt_us|-|"
	fi
	ratio_table "$rows"
	echo "Loop and bulk ratios divide rates (messages/s, MiB/s): above 1, the first is faster."
	echo "Round-trip ratios divide times (us): below 1, the first is faster."
}

report_04_lock() {
	rows='lib Lock acquire+release / bare mutex|c_lib_lock_ns|c_bare_mutex_ns|<=1.5|bare: process-shared pthread mutex
lib RLock acquire+release / bare mutex|c_lib_rlock_ns|c_bare_mutex_ns|-|
bare robust mutex / bare mutex|c_bare_robust_ns|c_bare_mutex_ns|-|what robustness costs
lib Lock / bare robust mutex|c_lib_lock_ns|c_bare_robust_ns|<=1.1|libmp over the very mutex it uses
lib counter, 2 procs / bare mutex counter|c_counter_rlock_incr_s|c_counter_bare_incr_s|-|share of the bare rate'
	if [ "$have_python" = 1 ]; then
		rows="$rows
CPython Lock / lib Lock, acquire+release|py_lock_ns|c_lib_lock_ns|-|above 1: libmp faster
CPython RLock / lib RLock, acquire+release|py_rlock_ns|c_lib_rlock_ns|-|
CPython Lock / bare mutex|py_lock_ns|c_bare_mutex_ns|-|
lib Value counter, 2 procs / CPython Value|c_counter_rlock_incr_s|py_counter_incr_s|>=10|both with their own RLock
lib array+Lock counter / CPython Value|c_counter_lock_incr_s|py_counter_incr_s|-|a plain Lock
lib fill 10^6 doubles / CPython loop|c_fill_mib_s|py_fill_loop_mib_s|-|2 procs, half each, no lock"
	fi
	ratio_table "$rows"
	echo "Acquire+release ratios divide ns per pair: below 1, the first is faster."
	echo "Counter and fill ratios divide rates (increments/s, MiB/s): above 1, the first is faster."
}

# The figures that have a goal, for the plot drawn at the end.
plot_data=build/bench/ratios.tsv
mkdir -p build/bench
: >"$plot_data"

report_05_pool() {
	rows='(C only) see the absolute times below|c_map_chunk1_tasks_s|c_map_chunk1_tasks_s|-|'
	if [ "$have_python" = 1 ]; then
		rows="lib map tiny tasks, chunks of 1 / CPython|c_map_chunk1_tasks_s|py_map_chunk1_tasks_s|>=10|tasks/s
lib map tiny tasks, default chunks / CPython|c_map_default_tasks_s|py_map_default_tasks_s|-|tasks/s
CPython apply_async round trip / lib|py_apply_rtt_us|c_apply_rtt_us|>=10|
CPython pool start+close+join / lib|py_pool_start_join_us|c_pool_start_join_us|-|"
	fi
	ratio_table "$rows"
	echo "Every ratio is written so that above 1, libmp is faster."
}

report_06_manager() {
	rows='lib dict get / bare socketpair round trip|c_dict_get_us|c_sock_rtt_us|<=1.5|the floor of any call
lib dict set / bare socketpair round trip|c_dict_set_us|c_sock_rtt_us|-|
lib list append / bare socketpair round trip|c_list_append_us|c_sock_rtt_us|-|'
	if [ "$have_python" = 1 ]; then
		rows="$rows
CPython dict get / bare socketpair round trip|py_dict_get_us|c_sock_rtt_us|-|CPython ~5x
CPython dict get / lib|py_dict_get_us|c_dict_get_us|-|above 1: libmp faster
CPython dict set / lib|py_dict_set_us|c_dict_set_us|-|
CPython list append / lib|py_list_append_us|c_list_append_us|-|
CPython manager start+shutdown / lib|py_manager_start_us|c_manager_start_us|-|"
	fi
	ratio_table "$rows"
	echo "Every figure is a time (us): over the socket pair, below 1.5 is the goal; over lib, above 1, libmp is faster."
}

ran=0
for dir in bench/*/; do
	stage=$(basename "$dir")
	if [ -n "$want" ]; then
		case "$stage" in
		"$want" | "$want"-*) ;;
		*) continue ;;
		esac
	fi
	ran=1

	# One C and at most one Python benchmark per stage; an unmatched glob stays literal.
	csrc=''
	pysrc=''
	for f in "$dir"bench_*.c; do if [ -f "$f" ]; then csrc=$f; fi; done
	for f in "$dir"bench_*.py; do if [ -f "$f" ]; then pysrc=$f; fi; done
	[ -n "$csrc" ] || die "$dir has no bench_*.c"
	bin=build/bench/$stage
	mkdir -p build/bench
	# libmp.a holds every stage that has tests; stage 03's handshake needs libcrypto.
	$CC -O2 -std=c11 -Wall -Wextra -I include "$csrc" "$LIB" $LIBS -o "$bin" ||
		die "cannot build $csrc (the Makefile puts a stage into $LIB only once tests/$stage exists)"

	echo "== stage $stage"
	# Back to back, so that both halves see the same state of the machine.
	"$bin" >"$out" || die "$bin failed"
	if [ "$have_python" = 1 ] && [ -n "$pysrc" ]; then
		"$PYTHON" "$pysrc" >>"$out" || die "$pysrc failed"
	fi
	grep '^#' "$out" || true
	if [ "$have_python" = 0 ]; then
		echo "# $PYTHON not found: CPython was not measured, so only the C ratios are shown"
	fi
	echo

	case "$stage" in
	01-process)
		report_01_process
		echo
		absolute_times "median us per start+join" '_us$'
		;;
	02-queue)
		report_02_queue
		echo
		absolute_times "median rate per round, items/s or MiB/s" '_(items|mib)_s$'
		;;
	03-pipe)
		report_03_pipe
		echo
		absolute_times "median msgs/s or MiB/s per round, median us per round trip" \
			'_(msgs_s|mib_s|us)$'
		;;
	04-lock)
		report_04_lock
		echo
		absolute_times "median ns per acquire+release, increments/s or MiB/s per round" \
			'_(ns|incr_s|mib_s)$'
		;;
	05-pool)
		report_05_pool
		echo
		absolute_times "median tasks/s per round, median us per round trip or start" '_(tasks_s|us)$'
		;;
	06-manager)
		report_06_manager
		echo
		absolute_times "median us per call or per manager" '_us$'
		;;
	*)
		echo "(no ratio table for this stage yet)"
		echo
		absolute_times "as printed" '.'
		;;
	esac
	echo
done

[ "$ran" = 1 ] || die "no stage under bench/ matches '$want'"

if [ -s "$plot_data" ] && command -v "$PYTHON" >/dev/null 2>&1; then
	"$PYTHON" bench/plot.py "$plot_data" build/bench/ratios.svg && echo "plot: build/bench/ratios.svg"
fi
