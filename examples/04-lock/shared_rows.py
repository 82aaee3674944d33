# A block of shared memory filled row by row by several processes, timed against one
# process doing it all, and removed at the end (the data-loading pattern of many tutorials).
from multiprocessing import Process, shared_memory
import time

ROWS, COLS, WORKERS = 8, 100000, 4

def fill(name, first, last):
    shm = shared_memory.SharedMemory(name=name)
    rows = shm.buf.cast('d')
    for r in range(first, last):
        for c in range(COLS):
            rows[r * COLS + c] = r * COLS + c
    del rows
    shm.close()

def checksum(shm):
    rows = shm.buf.cast('d')
    total = sum(rows)
    del rows
    return int(total)

if __name__ == '__main__':
    for workers in (1, WORKERS):
        shm = shared_memory.SharedMemory(create=True, size=ROWS * COLS * 8)
        start = time.time()
        per = ROWS // workers
        ps = [Process(target=fill, args=(shm.name, w * per, (w + 1) * per)) for w in range(workers)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        took = time.time() - start
        print('{} rows of {} filled by {} process(es): checksum {}, {:.3f} s'.format(
            ROWS, COLS, workers, checksum(shm), took))
        shm.close()
        shm.unlink()
    print('shared blocks removed')
