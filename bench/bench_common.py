# bench_common.py: the Python helpers every stage's bench_*.py shares: clock, median, counts, children and the start line that times them.
#
# Each bench_*.py puts bench/ on sys.path (from its own __file__, so that
# bench/run.sh can run it from the repository root) and imports this. A spawn
# or forkserver child imports the main module again, and whatever it imports
# at the top, with its cost charged to that start method: bench_process.py,
# the one stage that times them, imports this only when it is the program,
# and the others start their children with fork, which imports nothing. Even
# so, this file stays cheap to load: it imports only modules a multiprocessing
# child has loaded already (os, select, struct, sys, time) and does no work at
# import; the start line's pipes are made when a stage asks for them.
import os
import select
import struct
import sys
import time

# A child that has not said it is ready, or not reported, after this long is
# stuck: give up rather than hang.
CHILD_TIMEOUT_S = 60
# A child's report at the end: how much it did, -1 on failure; the int64_t of
# the C side, 8 bytes, so that one os.write() carries it whole.
REPORT = struct.Struct("q")


def now_s():
    # CLOCK_MONOTONIC, the clock the C side reads.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e9


def now_us():
    # CLOCK_MONOTONIC, the clock the C side reads.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e3


def median(values):
    # The median, not the mean: a few slow samples on a busy machine do not move it.
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def parse_count(args, i, default, minimum, usage):
    # args[i] as a count of at least `minimum`, or `default` if there is no
    # such argument; anything else exits with `usage`: a typo must not run a
    # benchmark of the wrong size.
    if len(args) <= i:
        return default
    try:
        n = int(args[i])
    except ValueError:
        n = 0
    if n < minimum:
        sys.exit(usage)
    return n


def join(p):
    # Join and close a child; returns its exit code, which the caller must
    # check: a failed child would make a fast, meaningless figure.
    p.join()
    code = p.exitcode
    p.close()
    return code


class StartLine:
    # Two pipes, made once in the parent and inherited by every fork child: on
    # `report` each child says it is ready (1 byte), and may later say how
    # much it did (REPORT; writes this small are atomic, so reports never
    # interleave). On `go` the parent writes one byte per child to start them
    # all at once, so that the clock times the work and not the starting of
    # processes, as in the C benchmarks.

    def __init__(self, prog):
        self.prog = prog  # the prefix of messages, "bench_queue.py"
        self.report_rd, self.report_wr = os.pipe()
        self.go_rd, self.go_wr = os.pipe()

    def read_full(self, fd, n, timeout=None):
        data = b""
        while len(data) < n:
            if timeout is not None:
                if not select.select([fd], [], [], timeout)[0]:
                    sys.exit(f"{self.prog}: no word from a child in {timeout} s")
            chunk = os.read(fd, n - len(data))
            if not chunk:
                sys.exit(f"{self.prog}: pipe closed")
            data += chunk
        return data

    def ready_set_go(self):
        # A child's side: say it is ready, then wait for the go.
        os.write(self.report_wr, b"r")
        self.read_full(self.go_rd, 1)

    def report(self, done):
        # A child's last word: how much it did, or -1 if it failed.
        os.write(self.report_wr, REPORT.pack(done))

    def go(self, n):
        # The parent's side: wait until n children are ready, then start them;
        # returns the time of the go, in s.
        self.read_full(self.report_rd, n, CHILD_TIMEOUT_S)
        t0 = now_s()
        os.write(self.go_wr, b"g" * n)
        return t0

    def reports(self, n):
        # The reports of n children, in the order they came.
        return [REPORT.unpack(self.read_full(self.report_rd, REPORT.size, CHILD_TIMEOUT_S))[0]
                for _ in range(n)]
