# bench_pipe.py: time CPython's Pipe between processes, under fork. Run: bench/run.sh 03 (or python3 bench/03-pipe/bench_pipe.py [BIG_MESSAGES [ROUND_TRIPS]]).
#
# It prints, one figure a line, the median over the rounds (or, for round
# trips, over every single trip), in the same form as bench_pipe.c so that
# bench/run.sh can divide one by the other. N is 1e4, 1e5 or 1e6.
#
# 1. The classic Pipe loop of Python tutorials: a writer process sends the
#    integers 0 to N-1 and then "DONE" through Pipe() (duplex); the reader
#    stops at "DONE". Messages/s:
#      py_pickle_loop_N_msgs_s   conn.send(i) / conn.recv(): pickled, as tutorials do
#      py_bytes_loop_N_msgs_s    conn.send_bytes of the 8 bytes of i ("!q", the
#                                bytes mp_conn_send_int puts on the wire) and
#                                recv_bytes + unpack: the fairer comparison
#    A loop of 10^6 takes CPython about 5 s, so its 10^6 integers are sent as
#    one loop of a third of them per round (10^6 in all), not 10^6 a round as
#    in C; the rate hardly depends on the length of the loop (compare 1e4, 1e5).
# 2. Bulk: 1 MiB messages with send_bytes / recv_bytes, MiB/s:
#      py_bulk_mib_s
# 3. Round trip of a message, parent to child and back, us:
#      py_bytes_rtt_us           send_bytes / recv_bytes of 8 bytes
#      py_pickle_rtt_us          send(i) / recv()
#
# In 1 and 2 the writer is a child and the parent reads. The clock runs from
# the moment the child is started and waiting for a go signal until the parent
# has read the last message, as in bench_pipe.c.
# Lines starting with '#' are for humans.
import multiprocessing
import os
import struct
import sys
import time

# bench_common.py is in bench/, one level up: found from this file, not the
# current directory, so that it works from the repository root (bench/run.sh),
# from anywhere else, and in a spawn child running this file again.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_common import StartLine, join, median, now_s, parse_count  # noqa: E402

LOOP_COUNTS = ((10**4, "1e4"), (10**5, "1e5"), (10**6, "1e6"))
# Only loops of up to this many messages run whole each round; longer ones are
# spread over the rounds (see above).
LOOP_PER_ROUND_MAX = 10**5
DEFAULT_BIG = 600
DEFAULT_TRIPS = 15000
BIG_SIZE = 1024 * 1024
# The workloads take turns in this many rounds, as in bench_pipe.c, so that a
# slow spell of the machine is shared among them.
ROUNDS = 3
# Round trips take turns more often than the rest, in this many slices of each
# round, each with a fresh echo child: see bench_pipe.c for why.
RTT_SLICES = 10
# Untimed round trips before each slice's timed ones: the child must be up and warm.
RTT_WARMUP = 50

ctx = multiprocessing.get_context("fork")
INT = struct.Struct("!q")

# A writer says it is ready and waits for the go.
line = StartLine("bench_pipe.py")


def writer(conn, parents_end, kind, count, size):
    # Keep only this child's end, so that the parent sees EOFError if the child dies.
    parents_end.close()
    line.ready_set_go()
    if kind == "pickle":
        for i in range(count):
            conn.send(i)
        conn.send("DONE")
    elif kind == "bytes":
        pack = INT.pack
        send_bytes = conn.send_bytes
        for i in range(count):
            send_bytes(pack(i))
        send_bytes(b"DONE")
    else:
        item = b"x" * size
        for _ in range(count):
            conn.send_bytes(item)


def echo(conn, parents_end, kind):
    # The other side of a round trip: send back every message until end-of-file.
    parents_end.close()
    try:
        if kind == "pickle":
            while True:
                conn.send(conn.recv())
        else:
            while True:
                conn.send_bytes(conn.recv_bytes())
    except EOFError:
        pass


def read_loop(key, kind, conn, count):
    # The parent's side of the loop: read until "DONE", checking that 0..count-1 came in order.
    got = 0
    if kind == "pickle":
        recv = conn.recv
        while True:
            msg = recv()
            if msg == "DONE":
                break
            if msg != got:
                break
            got += 1
    else:
        recv_bytes = conn.recv_bytes
        unpack = INT.unpack
        while True:
            msg = recv_bytes()
            if msg == b"DONE":
                break
            if unpack(msg)[0] != got:
                break
            got += 1
    if got != count or msg not in ("DONE", b"DONE"):
        sys.exit(f"bench_pipe.py: {key}: {got} of {count} messages arrived in order")


def read_bulk(key, conn, count, size):
    for i in range(count):
        if len(conn.recv_bytes()) != size:
            sys.exit(f"bench_pipe.py: {key}: message {i} has the wrong size")


class Method:
    def __init__(self, key, kind, count, size=8, whole=True):
        self.key = key
        self.kind = kind      # "pickle", "bytes" or "bulk"
        self.count = count    # loop and bulk: messages per round, or in all if not whole;
                              # round trips: in all
        self.size = size      # bytes per message; 0 marks a round trip
        self.whole = whole    # every round sends count messages
        self.samples = []     # loop and bulk: one rate per round; round trips: one us per trip
        self.done = 0


def finish(key, p, conn):
    # Closing first lets an echo child see end-of-file and end.
    conn.close()
    code = join(p)
    # A failed child would make a fast, meaningless figure.
    if code != 0:
        sys.exit(f"bench_pipe.py: {key}: the child exited with {code}")


def run_stream(m, count):
    # One loop or bulk transfer of `count` messages over a fresh Pipe; returns its rate.
    conn, child_conn = ctx.Pipe()
    p = ctx.Process(target=writer, args=(child_conn, conn, m.kind, count, m.size))
    p.start()
    child_conn.close()

    t0 = line.go(1)
    if m.kind == "bulk":
        read_bulk(m.key, conn, count, m.size)
    else:
        read_loop(m.key, m.kind, conn, count)
    elapsed = now_s() - t0

    finish(m.key, p, conn)
    if m.kind == "bulk":
        return count * m.size / (1024 * 1024) / elapsed
    return count / elapsed


def run_trips(m, trips):
    # `trips` timed round trips with a fresh echo child, each added to m.samples.
    conn, child_conn = ctx.Pipe()
    p = ctx.Process(target=echo, args=(child_conn, conn, m.kind))
    p.start()
    child_conn.close()
    if m.kind == "pickle":
        send, recv = conn.send, conn.recv
        msgs = range(m.done - RTT_WARMUP, m.done + trips)
    else:
        send, recv = conn.send_bytes, conn.recv_bytes
        msgs = [INT.pack(i) for i in range(m.done - RTT_WARMUP, m.done + trips)]
    clock = time.clock_gettime_ns
    mono = time.CLOCK_MONOTONIC
    for i, msg in enumerate(msgs):
        t0 = clock(mono)
        send(msg)
        back = recv()
        t1 = clock(mono)
        if back != msg:
            sys.exit(f"bench_pipe.py: {m.key}: sent {msg!r}, got back {back!r}")
        if i >= RTT_WARMUP:
            m.samples.append((t1 - t0) / 1e3)
    m.done += trips
    finish(m.key, p, conn)


USAGE = f"usage: bench_pipe.py [BIG_MESSAGES [ROUND_TRIPS]] (counts from {ROUNDS} up)"


def main():
    big = parse_count(sys.argv, 1, DEFAULT_BIG, ROUNDS, USAGE)
    trips = parse_count(sys.argv, 2, DEFAULT_TRIPS, ROUNDS, USAGE)
    big_per_round = -(-big // ROUNDS)
    methods = []
    for count, name in LOOP_COUNTS:
        for kind in ("pickle", "bytes"):
            methods.append(Method(f"py_{kind}_loop_{name}_msgs_s", kind, count,
                                  whole=count <= LOOP_PER_ROUND_MAX))
    methods += [
        Method("py_bulk_mib_s", "bulk", big_per_round, BIG_SIZE),
        Method("py_bytes_rtt_us", "bytes", trips, 0),
        Method("py_pickle_rtt_us", "pickle", trips, 0),
    ]

    # The first transfers pay for page faults and one-time imports: not timed.
    for m in methods:
        if m.size:
            run_stream(m, min(m.count, LOOP_PER_ROUND_MAX) // 20 + 2)

    for r in range(ROUNDS):
        for m in methods:
            if not m.size:
                continue
            if m.whole:
                m.samples.append(run_stream(m, m.count))
                continue
            # Spread the remainder so that the last round ends exactly on count.
            upto = m.count * (r + 1) // ROUNDS
            m.samples.append(run_stream(m, upto - m.done))
            m.done = upto
        for s in range(RTT_SLICES):
            for m in methods:
                if not m.size:
                    # Spread the remainder so that the last slice ends exactly on count.
                    upto = m.count * (r * RTT_SLICES + s + 1) // (ROUNDS * RTT_SLICES)
                    run_trips(m, upto - m.done)

    spread = [f"{count} as {ROUNDS} loops of about {count // ROUNDS}"
              for count, _ in LOOP_COUNTS if count > LOOP_PER_ROUND_MAX]
    print(f"# CPython {sys.version.split()[0]}: in each of {ROUNDS} interleaved rounds, loops of "
          f"10^4 and 10^5 integers, {big_per_round} messages of 1 MiB and about "
          f"{trips // ROUNDS} round trips per method; median rate per round, median us per "
          f"round trip", flush=True)
    if spread:
        print(f"# CPython's longest loop is cut short to keep the run brief: "
              f"{', '.join(spread)}, one per round (C sends the whole loop each round)",
              flush=True)
    for m in methods:
        print(f"{m.key} {median(m.samples):.{2 if m.size == 0 else 1}f}", flush=True)


if __name__ == "__main__":
    main()
