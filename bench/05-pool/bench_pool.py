# bench_pool.py: time CPython's Pool, under fork: tiny-task maps, the apply_async round trip, start + close + join. Run: bench/run.sh 05 (or python3 bench/05-pool/bench_pool.py [TASKS [TRIPS]]).
#
# It prints, one figure a line, the median over the rounds, in the same form
# as bench_pool.c so that the two can be divided:
#      py_map_chunk1_tasks_s   Pool.map(square, range(TASKS), chunksize=1): tasks/s
#      py_map_default_tasks_s  the same with the default chunk size
#      py_apply_rtt_us         apply_async(square, (i,)).get(), TRIPS times: us per call
#      py_pool_start_join_us   Pool(2); close(); join(): us per pool
# Every answer is checked. Lines starting with '#' are for humans.
import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_common import median, now_s, now_us, parse_count  # noqa: E402

DEFAULT_TASKS = 20000
DEFAULT_TRIPS = 2000
POOLS = 20
WORKERS = 2
ROUNDS = 5

ctx = multiprocessing.get_context("fork")


def square(x):
    return x * x


def map_rate(pool, n, chunksize):
    t0 = now_s()
    got = pool.map(square, range(n), chunksize) if chunksize else pool.map(square, range(n))
    s = now_s() - t0
    if got != [i * i for i in range(n)]:
        sys.exit("bench_pool.py: map gave a wrong answer")
    return n / s


def round_trip_us(pool, trips):
    t0 = now_us()
    for i in range(trips):
        if pool.apply_async(square, (i,)).get() != i * i:
            sys.exit("bench_pool.py: apply gave a wrong answer")
    return (now_us() - t0) / trips


def start_join_us():
    t0 = now_us()
    for _ in range(POOLS):
        p = ctx.Pool(WORKERS)
        p.close()
        p.join()
    return (now_us() - t0) / POOLS


USAGE = "usage: bench_pool.py [TASKS [TRIPS]] (counts from 10 up)"


def main():
    tasks = parse_count(sys.argv, 1, DEFAULT_TASKS, 10, USAGE)
    trips = parse_count(sys.argv, 2, DEFAULT_TRIPS, 10, USAGE)
    chunk1, deflt, rtt, start = [], [], [], []
    with ctx.Pool(WORKERS) as pool:
        map_rate(pool, tasks // 10, 1)
        for _ in range(ROUNDS):
            chunk1.append(map_rate(pool, tasks, 1))
            deflt.append(map_rate(pool, tasks, 0))
            rtt.append(round_trip_us(pool, trips))
    for _ in range(ROUNDS):
        start.append(start_join_us())
    print(f"# CPython {sys.version.split()[0]}: {WORKERS} workers; {tasks} tiny tasks a map, "
          f"{trips} round trips, {POOLS} pools a round; median of {ROUNDS} rounds", flush=True)
    print(f"py_map_chunk1_tasks_s {median(chunk1):.1f}")
    print(f"py_map_default_tasks_s {median(deflt):.1f}")
    print(f"py_apply_rtt_us {median(rtt):.1f}")
    print(f"py_pool_start_join_us {median(start):.1f}")


if __name__ == "__main__":
    main()
