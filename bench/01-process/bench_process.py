# bench_process.py: time CPython's Process start+join under fork, spawn and forkserver. Run: bench/run.sh 01 (or python3 bench/01-process/bench_process.py [FORKS [SPAWNS]]).
#
# It prints, one figure a line, the median microseconds per start+join, in the
# same form as bench_process.c so that bench/run.sh can divide one by the other:
#   py_fork_us, py_spawn_us, py_forkserver_us
# Lines starting with '#' are for humans.
#
# Only cheap, built-in modules are imported at the top: a spawn child imports
# this file again, and anything heavy here would be charged to CPython's spawn.
# So bench_common is imported at the bottom, only when this file is the program.
import multiprocessing
import os
import sys

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


USAGE = "usage: bench_process.py [FORKS [SPAWNS]] (positive counts)"


def main():
    forks = parse_count(sys.argv, 1, DEFAULT_FORKS, 1, USAGE)
    spawns = parse_count(sys.argv, 2, DEFAULT_SPAWNS, 1, USAGE)
    print(f"# CPython {sys.version.split()[0]}: {forks} fork, {spawns} spawn and "
          f"{spawns} forkserver starts; median us per start+join", flush=True)
    for method, count in (("fork", forks), ("spawn", spawns), ("forkserver", spawns)):
        if method not in multiprocessing.get_all_start_methods():
            print(f"# py_{method}: start method not available here", flush=True)
            continue
        print(f"py_{method}_us {measure(method, count):.1f}", flush=True)


if __name__ == "__main__":
    # bench_common.py is in bench/, one level up: found from this file, not the
    # current directory, so that it works from the repository root (bench/run.sh)
    # and from anywhere else. Not at the top: a spawn child runs this file again,
    # as __mp_main__, and loading bench_common (0.1 ms, or 0.7 ms where no
    # bytecode is cached) would be charged to each spawn start; the forkserver's
    # server would load it too. Neither ever calls what it holds.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench_common import median, now_us, parse_count
    main()
