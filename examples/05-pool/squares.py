# The first example of Python's multiprocessing documentation: a Pool of 5 maps f over [1, 2, 3].
from multiprocessing import Pool

def f(x):
    return x*x

if __name__ == '__main__':
    with Pool(5) as p:
        print(p.map(f, [1, 2, 3]))
