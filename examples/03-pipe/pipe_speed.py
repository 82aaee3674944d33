# The Pipe benchmark of many tutorials: a writer sends count integers and a final 'DONE'
# to a reader process, each side closing the end it does not use.
from multiprocessing import Process, Pipe
import time

def reader_proc(pipe):
    p_output, p_input = pipe
    p_input.close()  # the writer's end: not ours
    while True:
        msg = p_output.recv()
        if msg == 'DONE':
            break

def writer(count, p_input):
    for ii in range(0, count):
        p_input.send(ii)
    p_input.send('DONE')

if __name__ == '__main__':
    for count in [10**4, 10**5, 10**6]:
        p_output, p_input = Pipe()
        reader_p = Process(target=reader_proc, args=((p_output, p_input),))
        reader_p.daemon = True
        reader_p.start()
        p_output.close()  # the reader's end: not ours
        _start = time.time()
        writer(count, p_input)
        p_input.close()
        reader_p.join()
        print("Sending {0} numbers to Pipe() took {1} seconds".format(count, time.time() - _start))
