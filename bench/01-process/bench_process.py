# bench_process.py: time CPython's Process start+join under fork, spawn and forkserver. Run: bench/run.sh 01 (or python3 bench/01-process/bench_process.py [FORKS [SPAWNS]]).
#
# It prints, one figure a line, the median microseconds per start+join, in the
# same form as bench_process.c so that bench/run.sh can divide one by the other:
#   py_fork_us, py_spawn_us, py_forkserver_us
# Lines starting with '#' are for humans.
#
# Only cheap, built-in modules are imported at the top: a spawn child imports
# this file again, and anything heavy here would be charged to CPython's spawn.
import multiprocessing
import sys
import time

DEFAULT_FORKS = 300
# A spawned child starts a whole interpreter (about 60-110 ms on a 2-core
# machine), so far fewer repetitions keep the run short. forkserver children are
# cheaper, but the same count keeps its figure well inside the time budget.
DEFAULT_SPAWNS = 30
# The first starts pay for one-time work (forkserver launches its server then),
# which is not what a program pays for each process afterwards.
WARMUP = 3


def noop():
    pass


def now_us():
    # CLOCK_MONOTONIC, the clock the C side reads.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e3


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def start_join(ctx):
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    if p.exitcode != 0:
        sys.exit(f"bench_process.py: child exited with {p.exitcode}")
    p.close()  # what mp_process_free() does on the C side


def measure(method, count):
    ctx = multiprocessing.get_context(method)
    for _ in range(WARMUP):
        start_join(ctx)
    samples = []
    for _ in range(count):
        t0 = now_us()
        start_join(ctx)
        samples.append(now_us() - t0)
    return median(samples)


def parse_count(args, i, default):
    if len(args) <= i:
        return default
    try:
        n = int(args[i])
    except ValueError:
        n = 0
    if n < 1:
        sys.exit("usage: bench_process.py [FORKS [SPAWNS]] (positive counts)")
    return n


def main():
    forks = parse_count(sys.argv, 1, DEFAULT_FORKS)
    spawns = parse_count(sys.argv, 2, DEFAULT_SPAWNS)
    print(f"# CPython {sys.version.split()[0]}: {forks} fork, {spawns} spawn and "
          f"{spawns} forkserver starts; median us per start+join", flush=True)
    for method, count in (("fork", forks), ("spawn", spawns), ("forkserver", spawns)):
        if method not in multiprocessing.get_all_start_methods():
            print(f"# py_{method}: start method not available here", flush=True)
            continue
        print(f"py_{method}_us {measure(method, count):.1f}", flush=True)


if __name__ == "__main__":
    main()
