# A task queue and a queue of results shared by several worker processes (the classic
# "tasks to accomplish" tutorial): each worker takes tasks until none is left.
from multiprocessing import Process, Queue, current_process
import queue
import time

def do_job(tasks_to_accomplish, tasks_that_are_done):
    while True:
        try:
            task = tasks_to_accomplish.get(timeout=0.1)
        except queue.Empty:
            break
        print(task)
        tasks_that_are_done.put(task + ' is done by ' + current_process().name)
        time.sleep(0.1)

def main():
    tasks_to_accomplish = Queue()
    tasks_that_are_done = Queue()
    for i in range(10):
        tasks_to_accomplish.put('Task no ' + str(i))
    processes = [Process(target=do_job, args=(tasks_to_accomplish, tasks_that_are_done)) for w in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    while not tasks_that_are_done.empty():
        print(tasks_that_are_done.get())

if __name__ == '__main__':
    main()
