# bench_manager.py: time CPython's SyncManager, under fork: dict get and set, list append, start + shutdown. Run: bench/run.sh 06 (or python3 bench/06-manager/bench_manager.py [CALLS]).
#
# It prints, one figure a line, the median over the rounds, in the same form
# as bench_manager.c so that the two can be divided:
#      py_dict_get_us        d['k'] through a DictProxy: us per call
#      py_dict_set_us        d['s'] = i: us per call
#      py_list_append_us     l.append(i): us per call
#      py_manager_start_us   SyncManager().start(); shutdown(): us per manager
# The answers are checked. Lines starting with '#' are for humans.
import multiprocessing
import os
import sys
from multiprocessing.managers import SyncManager

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_common import median, now_us, parse_count  # noqa: E402

DEFAULT_CALLS = 5000
STARTS = 10
ROUNDS = 5

ctx = multiprocessing.get_context("fork")


def dict_get_us(d, calls):
    t0 = now_us()
    for _ in range(calls):
        if d['k'] != 42:
            sys.exit("bench_manager.py: d['k'] is not 42")
    return (now_us() - t0) / calls


def dict_set_us(d, calls):
    t0 = now_us()
    for i in range(calls):
        d['s'] = i
    us = (now_us() - t0) / calls
    if d['s'] != calls - 1:
        sys.exit("bench_manager.py: d['s'] is not the last value set")
    return us


def list_append_us(m, calls):
    lst = m.list()
    t0 = now_us()
    for i in range(calls):
        lst.append(i)
    us = (now_us() - t0) / calls
    if len(lst) != calls:
        sys.exit("bench_manager.py: the list lost items")
    return us


def start_us():
    t0 = now_us()
    for _ in range(STARTS):
        m = SyncManager(ctx=ctx)
        m.start()
        m.shutdown()
    return (now_us() - t0) / STARTS


def main():
    calls = parse_count(sys.argv, 1, DEFAULT_CALLS, 100, "usage: bench_manager.py [CALLS >= 100]")
    m = SyncManager(ctx=ctx)
    m.start()
    d = m.dict()
    d['k'] = 42
    get, set_, append, start = [], [], [], []
    for _ in range(ROUNDS):
        get.append(dict_get_us(d, calls))
        set_.append(dict_set_us(d, calls))
        append.append(list_append_us(m, calls))
        start.append(start_us())
    m.shutdown()
    print(f"# CPython {sys.version.split()[0]}: {calls} calls a round, {ROUNDS} rounds, {STARTS} starts a round")
    print(f"py_dict_get_us {median(get):.3f}")
    print(f"py_dict_set_us {median(set_):.3f}")
    print(f"py_list_append_us {median(append):.3f}")
    print(f"py_manager_start_us {median(start):.3f}")


if __name__ == '__main__':
    main()
