# bench_lock.py: time CPython's Lock, Value and Array between processes, under fork. Run: bench/run.sh 04 (or python3 bench/04-lock/bench_lock.py [PAIRS [INCREMENTS]]).
#
# It prints, one figure a line, the median over the rounds, in the same form
# as bench_lock.c so that bench/run.sh can divide one by the other:
#
# 1. Uncontended acquire+release, in this one process, ns per pair:
#      py_lock_ns          multiprocessing.Lock: acquire(); release()
#      py_rlock_ns         multiprocessing.RLock: the same
# 2. Two processes each incrementing one shared counter INCREMENTS times, each
#    increment under the lock; increments/s of both together:
#      py_counter_incr_s   Value('q', lock=True) (its lock is an RLock):
#                          with v.get_lock(): v.value += 1
# 3. Two processes filling Array('d', 10**6, lock=False), half each, with a
#    Python loop (for i in range(lo, hi): a[i] = i), MiB/s of both together:
#      py_fill_loop_mib_s
#    A slice assignment without numpy is no faster, so it is not measured:
#    a[lo:hi] = range(lo, hi), or an array.array('d') of the same, still makes
#    and converts one Python int per element (here about 200 ns each in a
#    child, against some 130 for the loop), and a memcpy through a memoryview only
#    moves that cost to building the array.array first.
#    The array is made once and zeroed between rounds, as in bench_lock.c.
#
# In 2 and 3 the clock runs from the moment both children are started and
# waiting for a go signal until both have reported, as in bench_lock.c. After
# each round the parent checks the result (the count, every element).
# Lines starting with '#' are for humans.
import array
import ctypes
import multiprocessing
import os
import sys

# bench_common.py is in bench/, one level up: found from this file, not the
# current directory, so that it works from the repository root (bench/run.sh),
# from anywhere else, and in a spawn child running this file again.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_common import StartLine, join, median, now_s, parse_count  # noqa: E402

# An acquire+release costs CPython about 100 ns and a locked increment some
# us, so these keep each workload under half a second per round on a 2-core
# machine (the rate hardly depends on the count).
DEFAULT_PAIRS = 1000000
DEFAULT_INCREMENTS = 100000
FILL_COUNT = 10**6
WORKERS = 2
# The workloads take turns in this many rounds, as in bench_lock.c, so that a
# slow spell of the machine is shared among them.
ROUNDS = 7

ctx = multiprocessing.get_context("fork")

# Every child says it is ready, waits for the go, and reports how much it did.
line = StartLine("bench_lock.py")


def incrementer(v, count):
    line.ready_set_go()
    done = -1
    try:
        lock = v.get_lock()
        for _ in range(count):
            with lock:
                v.value += 1
        done = count
    finally:
        line.report(done)


def filler(arr, lo, hi):
    line.ready_set_go()
    done = -1
    try:
        for i in range(lo, hi):
            arr[i] = i
        done = hi - lo
    finally:
        line.report(done)


class Method:
    def __init__(self, key, workload, kind=None):
        self.key = key
        self.workload = workload  # 1, 2 or 3, as in the comment at the top
        self.kind = kind          # workload 1: "Lock" or "RLock"
        self.samples = []         # ns per pair, increments/s or MiB/s


def run_pairs(m, n):
    # Workload 1: n uncontended acquire+release pairs; returns ns per pair.
    lock = getattr(ctx, m.kind)()
    acquire, release = lock.acquire, lock.release
    t0 = now_s()
    for _ in range(n):
        acquire()
        release()
    return (now_s() - t0) * 1e9 / n


def run_children(key, target, args_list):
    # Start WORKERS children, time them from the go to their last report;
    # returns seconds and the sum of their reports.
    kids = [ctx.Process(target=target, args=args) for args in args_list]
    for p in kids:
        p.start()
    t0 = line.go(len(kids))
    reports = line.reports(len(kids))
    elapsed = now_s() - t0
    failed = False
    for p in kids:
        failed |= join(p) != 0
    # A failed child would make a fast, meaningless figure.
    if failed or min(reports) < 0:
        sys.exit(f"bench_lock.py: {key}: a child failed")
    return elapsed, sum(reports)


def run_counter(m, n):
    # Workload 2: WORKERS children increment a fresh Value n times each; returns increments/s.
    v = ctx.Value("q", 0, lock=True)
    elapsed, total = run_children(m.key, incrementer, [(v, n)] * WORKERS)
    if total != n * WORKERS or v.value != total:
        sys.exit(f"bench_lock.py: {m.key}: the counter reads {v.value} after {total} increments")
    return total / elapsed


def run_fill(m, arr, expected):
    # Workload 3: WORKERS children fill half of arr each; returns MiB/s.
    count = len(arr)
    # Split so that the shares add up to exactly count.
    args = [(arr, count * i // WORKERS, count * (i + 1) // WORKERS)
            for i in range(WORKERS)]
    elapsed, total = run_children(m.key, filler, args)
    with memoryview(arr) as mv, mv.cast("B") as got:
        if got != expected:
            sys.exit(f"bench_lock.py: {m.key}: the array does not hold 0 to {count - 1}")
    ctypes.memset(ctypes.addressof(arr), 0, ctypes.sizeof(arr))
    return total * 8 / (1024 * 1024) / elapsed


def run_method(m, pairs, increments, arr, expected):
    if m.workload == 1:
        return run_pairs(m, pairs)
    if m.workload == 2:
        return run_counter(m, increments)
    return run_fill(m, arr, expected)


USAGE = "usage: bench_lock.py [PAIRS [INCREMENTS]] (counts per round, from 100 up)"


def main():
    pairs = parse_count(sys.argv, 1, DEFAULT_PAIRS, 100, USAGE)
    increments = parse_count(sys.argv, 2, DEFAULT_INCREMENTS, 100, USAGE)
    methods = [
        Method("py_lock_ns", 1, "Lock"),
        Method("py_rlock_ns", 1, "RLock"),
        Method("py_counter_incr_s", 2),
        Method("py_fill_loop_mib_s", 3),
    ]

    # Array('d', 10**6, lock=False), made once: every fill round reuses it.
    arr = ctx.Array("d", FILL_COUNT, lock=False)
    expected = memoryview(array.array("d", range(FILL_COUNT))).cast("B")

    # The first runs pay for page faults and one-time imports: not timed.
    for m in methods:
        run_method(m, pairs // 10 + 1, increments // 10 + 1, arr, expected)

    for _ in range(ROUNDS):
        for m in methods:
            m.samples.append(run_method(m, pairs, increments, arr, expected))

    print(f"# CPython {sys.version.split()[0]}: in each of {ROUNDS} interleaved rounds, {pairs} "
          f"uncontended acquire+release pairs and {WORKERS} processes x {increments} increments "
          f"per method, and one fill of {FILL_COUNT} doubles by {WORKERS} processes; median per "
          f"round", flush=True)
    for m in methods:
        print(f"{m.key} {median(m.samples):.1f}", flush=True)


if __name__ == "__main__":
    main()
