# manager_client.py ADDRESS AUTHKEY: an ordinary CPython program using a manager
# that runs already, here the C manager_server. Nothing in it knows the server is C.
import sys
from multiprocessing.managers import SyncManager

m = SyncManager(address=sys.argv[1], authkey=sys.argv[2].encode())
m.connect()

d = m.dict()
d['language'] = 'C'
d['answer'] = 42
print('dict:', d.copy())

# A list of data, not range(3): a range pickles as a call of the class range,
# and the C server decodes data only (lesson 06, "Bad input").
l = m.list([0, 1, 2])
l.append('four')
print('list:', l, 'of length', len(l))

counter = m.Value('i', 0)
lock = m.Lock()
for _ in range(5):
    with lock:
        counter.value += 1
print('counter:', counter.value)

q = m.Queue()
q.put(('job', 1))
print('queue:', q.get(timeout=5))

done = m.Event()
done.set()
print('event set:', done.is_set())

ns = m.Namespace()
ns.x = 1.5
print('namespace x:', ns.x)
