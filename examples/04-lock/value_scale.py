# A shared Value multiplied by 10 by one process and divided by 10 by another: without a
# lock, updates are lost (read, wait, write back); with one, the value comes back whole.
from multiprocessing import Process, Value, Lock
import time

def scale(v, lock, times, by_ten):
    for _ in range(times):
        if lock:
            lock.acquire()
        x = v.value
        time.sleep(0.01)  # room for the other process to read the same old value
        v.value = x * 10 if by_ten else x // 10
        if lock:
            lock.release()

def run(with_lock):
    v = Value('q', 1000, lock=False)
    lock = Lock() if with_lock else None
    ps = [Process(target=scale, args=(v, lock, 3, up)) for up in (True, False)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return v.value

if __name__ == '__main__':
    got = run(False)
    print('without a lock:', got, '(updates were lost)' if got != 1000 else '(lucky: nothing was lost this time)')
    print('with a lock:', run(True))
