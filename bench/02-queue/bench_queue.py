# bench_queue.py: time CPython's Queue and SimpleQueue between processes, under fork. Run: bench/run.sh 02 (or python3 bench/02-queue/bench_queue.py [ITEMS [BIG_ITEMS]]).
#
# It prints, one figure a line, the median over the rounds of the rate at which
# the consumers took the items, in the same form as bench_queue.c so that
# bench/run.sh can divide one by the other:
#   py_queue_1p1c_items_s, py_simplequeue_1p1c_items_s   1 producer, 1 consumer, ints
#   py_queue_2p2c_items_s, py_simplequeue_2p2c_items_s   2 producers, 2 consumers, ints
#   py_queue_1mib_mib_s, py_simplequeue_1mib_mib_s       1 producer, 1 consumer, 1 MiB bytes, MiB/s
# The clock runs from the moment every child is started and waiting for a go
# signal until every consumer has reported its last item, as in bench_queue.c.
# Lines starting with '#' are for humans.
import multiprocessing
import os
import sys

# bench_common.py is in bench/, one level up: found from this file, not the
# current directory, so that it works from the repository root (bench/run.sh),
# from anywhere else, and in a spawn child running this file again.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_common import StartLine, join, median, now_s, parse_count  # noqa: E402

# CPython moves small items about ten times slower than libmp aims to, so these
# keep each workload at 1-3 s on a 2-core machine.
DEFAULT_ITEMS = 200000
DEFAULT_BIG_ITEMS = 500
BIG_SIZE = 1024 * 1024
# The workloads take turns in this many rounds, as in bench_queue.c, so that a
# slow spell of the machine is shared among them.
ROUNDS = 7

ctx = multiprocessing.get_context("fork")

# Every child says it is ready and waits for the go; each consumer then reports
# how many items it took.
line = StartLine("bench_queue.py")


def producer(q, count, item, sentinel):
    line.ready_set_go()
    if item is None:
        for i in range(count):
            q.put(i)
    else:
        for _ in range(count):
            q.put(item)
    if sentinel:
        q.put(None)  # one per producer: a consumer stops at the first it meets


def consumer(q, count, size):
    # count None: stop at the first sentinel, as C stops at MP_EEOF.
    line.ready_set_go()
    taken = 0
    try:
        if count is None:
            while q.get() is not None:
                taken += 1
        elif size is None:
            for _ in range(count):
                q.get()
                taken += 1
        else:
            for _ in range(count):
                if len(q.get()) != size:
                    raise ValueError("an item of the wrong size")
                taken += 1
    except Exception as e:
        print(f"bench_queue.py: get: {e!r}", file=sys.stderr)
        taken = -1
    line.report(taken)


class Method:
    def __init__(self, key, kind, producers, consumers, sentinel, size, count):
        self.key = key
        self.kind = kind            # "Queue" or "SimpleQueue"
        self.producers = producers
        self.consumers = consumers
        self.sentinel = sentinel    # consumers stop at a sentinel, not at a count
        self.size = size            # None for ints, else bytes per item
        self.count = count          # items in total, over all the rounds
        self.samples = []           # one rate per round: items/s, or MiB/s for big items
        self.done = 0


def share(items, i, n):
    # Split so that the shares add up to exactly `items`.
    return items * (i + 1) // n - items * i // n


def run_once(m, items):
    # One transfer of `items` items through a fresh queue; returns its rate.
    q = getattr(ctx, m.kind)()
    item = None if m.size is None else b"x" * m.size
    kids = []
    for i in range(m.producers):
        kids.append(ctx.Process(target=producer,
                                args=(q, share(items, i, m.producers), item, m.sentinel)))
    for i in range(m.consumers):
        count = None if m.sentinel else share(items, i, m.consumers)
        kids.append(ctx.Process(target=consumer, args=(q, count, m.size)))
    for p in kids:
        p.start()

    t0 = line.go(len(kids))
    reports = line.reports(m.consumers)
    elapsed = now_s() - t0

    failed = False
    for p in kids:
        failed |= join(p) != 0
    q.close()  # what mp_queue_free() does on the C side
    # A failed child would make a fast, meaningless figure.
    if failed or min(reports) < 0 or sum(reports) != items:
        sys.exit(f"bench_queue.py: {m.key}: {sum(reports)} of {items} items arrived, "
                 "or a child failed")
    if m.size is None:
        return items / elapsed
    return items * m.size / (1024 * 1024) / elapsed


USAGE = f"usage: bench_queue.py [ITEMS [BIG_ITEMS]] (counts from {ROUNDS * 2} up)"


def main():
    items = parse_count(sys.argv, 1, DEFAULT_ITEMS, ROUNDS * 2, USAGE)
    big = parse_count(sys.argv, 2, DEFAULT_BIG_ITEMS, ROUNDS * 2, USAGE)
    methods = []
    for kind in ("Queue", "SimpleQueue"):
        name = kind.lower()
        methods += [
            Method(f"py_{name}_1p1c_items_s", kind, 1, 1, False, None, items),
            Method(f"py_{name}_2p2c_items_s", kind, 2, 2, True, None, items),
            Method(f"py_{name}_1mib_mib_s", kind, 1, 1, False, BIG_SIZE, big),
        ]

    # The first transfers pay for page faults and the feeder thread's first start: not timed.
    for m in methods:
        run_once(m, m.count // ROUNDS // 4 + 2)

    for r in range(ROUNDS):
        for m in methods:
            upto = m.count * (r + 1) // ROUNDS
            m.samples.append(run_once(m, upto - m.done))
            m.done = upto

    print(f"# CPython {sys.version.split()[0]}: {items} small items and {big} items of 1 MiB "
          f"per workload, in {ROUNDS} interleaved rounds; median rate per round", flush=True)
    for m in methods:
        print(f"{m.key} {median(m.samples):.1f}", flush=True)


if __name__ == "__main__":
    main()
