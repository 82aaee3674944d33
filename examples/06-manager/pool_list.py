# A managed list filled by a pool of workers: each task appends its square, and the
# parent, which made the list, sees every one.
from multiprocessing import Manager, Pool

def append_square(job):
    squares, x = job
    squares.append(x * x)

if __name__ == '__main__':
    with Manager() as manager:
        squares = manager.list()
        with Pool(4) as pool:
            pool.map(append_square, [(squares, x) for x in range(10)])
        squares.sort()  # the workers appended in the order they ran
        print(squares)
        print(len(squares), 'squares')
