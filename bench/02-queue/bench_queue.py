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
import select
import struct
import sys
import time

# CPython moves small items about ten times slower than libmp aims to, so these
# keep each workload at 1-3 s on a 2-core machine.
DEFAULT_ITEMS = 200000
DEFAULT_BIG_ITEMS = 500
BIG_SIZE = 1024 * 1024
# The workloads take turns in this many rounds, as in bench_queue.c, so that a
# slow spell of the machine is shared among them.
ROUNDS = 7
# A child that has not reported after this long is stuck: give up rather than hang.
CHILD_TIMEOUT_S = 60

ctx = multiprocessing.get_context("fork")

# Two pipes, made once and inherited by every child: on `report` each child says
# it is ready (1 byte), and each consumer later how many items it took (8 bytes,
# -1 on failure). On `go` the parent writes one byte per child to start them all.
report_rd, report_wr = os.pipe()
go_rd, go_wr = os.pipe()


def now_s():
    # CLOCK_MONOTONIC, the clock the C side reads.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e9


def read_full(fd, n, timeout=None):
    data = b""
    while len(data) < n:
        if timeout is not None:
            if not select.select([fd], [], [], timeout)[0]:
                sys.exit(f"bench_queue.py: no word from a child in {timeout} s")
        chunk = os.read(fd, n - len(data))
        if not chunk:
            sys.exit("bench_queue.py: pipe closed")
        data += chunk
    return data


def ready_set_go():
    os.write(report_wr, b"r")
    read_full(go_rd, 1)


def producer(q, count, item, sentinel):
    ready_set_go()
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
    ready_set_go()
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
    os.write(report_wr, struct.pack("q", taken))


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

    read_full(report_rd, len(kids), CHILD_TIMEOUT_S)
    t0 = now_s()
    os.write(go_wr, b"g" * len(kids))
    reports = [struct.unpack("q", read_full(report_rd, 8, CHILD_TIMEOUT_S))[0]
               for _ in range(m.consumers)]
    elapsed = now_s() - t0

    failed = False
    for p in kids:
        p.join()
        failed |= p.exitcode != 0
        p.close()
    q.close()  # what mp_queue_free() does on the C side
    # A failed child would make a fast, meaningless figure.
    if failed or min(reports) < 0 or sum(reports) != items:
        sys.exit(f"bench_queue.py: {m.key}: {sum(reports)} of {items} items arrived, "
                 "or a child failed")
    if m.size is None:
        return items / elapsed
    return items * m.size / (1024 * 1024) / elapsed


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def parse_count(args, i, default):
    if len(args) <= i:
        return default
    try:
        n = int(args[i])
    except ValueError:
        n = 0
    if n < ROUNDS * 2:
        sys.exit(f"usage: bench_queue.py [ITEMS [BIG_ITEMS]] (counts from {ROUNDS * 2} up)")
    return n


def main():
    items = parse_count(sys.argv, 1, DEFAULT_ITEMS)
    big = parse_count(sys.argv, 2, DEFAULT_BIG_ITEMS)
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
