/* bench_lock.c: time locks and shared memory, bare and through libmp. Run: bench/run.sh 04 (or build/bench/04-lock [PAIRS [INCREMENTS]]). */
#define _DEFAULT_SOURCE /* clock_gettime(), MAP_ANONYMOUS, robust process-shared mutexes */
#define BENCH_NAME "bench_lock"
#include "../bench.h"

#include <pthread.h>
#include <sys/mman.h>

/*
 * What it prints, one figure a line: the median over the rounds, so that a
 * few slow rounds on a busy machine do not move it.
 *
 * 1. Uncontended acquire+release, in this one process, ns per pair:
 *      c_lib_lock_ns        mp_lock_acquire(l, MP_FOREVER) + mp_lock_release, Lock
 *      c_lib_rlock_ns       the same on an RLock (mp_rlock_new)
 *      c_bare_mutex_ns      pthread_mutex_lock + unlock of a bare mutex made
 *                           PTHREAD_PROCESS_SHARED, in MAP_SHARED memory
 *      c_bare_robust_ns     the same, also PTHREAD_MUTEX_ROBUST and
 *                           PTHREAD_MUTEX_ERRORCHECK: the very mutex libmp's
 *                           Lock is made of, so lib over this is libmp's own cost
 * 2. Two processes each incrementing one shared int64 INCREMENTS times, each
 *    increment under the lock; increments/s of both together:
 *      c_counter_rlock_incr_s  mp_array of one int64 with its own lock (an
 *                              RLock): Python's Value('q', lock=True)
 *      c_counter_lock_incr_s   a raw mp_array of one int64 and an mp_lock (Lock)
 *      c_counter_bare_incr_s   an int64 and a bare process-shared mutex (not
 *                              robust) in MAP_SHARED memory
 * 3. Two processes filling a shared array of 10^6 doubles, half each, no
 *    lock (a[i] = i), MiB/s of both together:
 *      c_fill_mib_s            a raw mp_array (Python's RawArray)
 *    The array is made once and zeroed between rounds, so the children touch
 *    pages that exist but are not yet mapped in them, as in bench_lock.py.
 *
 * In 2 and 3 the clock runs from the moment both children are started and
 * waiting for a go signal until both have reported: starting and joining them
 * is not part of it. After each round the parent checks the result (the
 * count, every element), so that a broken lock cannot make a fast figure.
 * bench_lock.py does the same with CPython. Lines starting with '#' are for humans.
 */

#define DEFAULT_PAIRS 500000      /* acquire+release pairs per method, per round */
#define DEFAULT_INCREMENTS 300000 /* increments per process, per method, per round */
#define FILL_COUNT 1000000         /* doubles in the shared array */
#define WORKERS 2
/*
 * The workloads take turns in this many rounds instead of running one after
 * the other, so that a slow spell of the machine is shared among them rather
 * than landing on one and skewing the ratios that bench/run.sh computes.
 */
#define ROUNDS 7

static void check_pthread(int err, const char *what)
{
	if (err != 0) {
		fprintf(stderr, "bench_lock: %s: %s\n", what, strerror(err));
		exit(1);
	}
}

static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* A bare process-shared mutex in @m (shared memory); if @robust, robust and error-checking as libmp's. */
static void bare_mutex_init(pthread_mutex_t *m, bool robust)
{
	pthread_mutexattr_t a;
	check_pthread(pthread_mutexattr_init(&a), "pthread_mutexattr_init");
	check_pthread(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), "setpshared");
	if (robust) {
		check_pthread(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), "setrobust");
		check_pthread(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), "settype");
	}
	check_pthread(pthread_mutex_init(m, &a), "pthread_mutex_init");
	pthread_mutexattr_destroy(&a);
}

enum kind {
	LIB_LOCK,     /* an mp_lock from mp_lock_new() */
	LIB_RLOCK,    /* an mp_lock from mp_rlock_new(), or an mp_array's own lock */
	BARE_MUTEX,   /* a bare process-shared pthread mutex */
	BARE_ROBUST,  /* the same, robust and error-checking */
	FILL,         /* no lock: fill a slice of an array */
};

/* What a child is told, as the bytes of its target's argument. */
struct job {
	mp_lock *lock;          /* libmp, or NULL for the bare mutex: fork() copied the
				 * parent's memory, so the pointers hold */
	pthread_mutex_t *mutex; /* bare: in MAP_SHARED memory */
	int64_t *counter;       /* the shared counter */
	double *data;           /* the shared array to fill */
	long lo, hi;            /* counter: hi increments; fill: elements lo to hi-1 */
};

MP_TARGET(incrementer)(const void *arg, size_t len)
{
	struct job j;
	take_job(&j, sizeof j, arg, len);
	ready_set_go();
	int64_t done = 0;
	if (j.lock) {
		int rc = 0;
		for (; done < j.hi; done++) {
			if ((rc = mp_lock_acquire(j.lock, MP_FOREVER)) != 0)
				break;
			++*j.counter;
			if ((rc = mp_lock_release(j.lock)) != 0)
				break;
		}
		if (rc != 0) {
			fprintf(stderr, "bench_lock: incrementer: %s\n", mp_strerror(rc));
			done = -1;
		}
	} else {
		for (; done < j.hi; done++) {
			int err = pthread_mutex_lock(j.mutex);
			if (err == 0) {
				++*j.counter;
				err = pthread_mutex_unlock(j.mutex);
			}
			if (err != 0) {
				fprintf(stderr, "bench_lock: incrementer: %s\n", strerror(err));
				done = -1;
				break;
			}
		}
	}
	report(done);
	return done < 0;
}

MP_TARGET(filler)(const void *arg, size_t len)
{
	struct job j;
	take_job(&j, sizeof j, arg, len);
	ready_set_go();
	for (long i = j.lo; i < j.hi; i++)
		j.data[i] = (double)i;
	report(j.hi - j.lo);
	return 0;
}

struct method {
	const char *key;        /* the name printed for machine reading */
	enum kind kind;
	int workload;           /* 1, 2 or 3, as in the comment at the top */
	double samples[ROUNDS]; /* ns per pair, increments/s or MiB/s */
};

/* Workload 1: @n uncontended acquire+release pairs; returns ns per pair. */
static double run_pairs(const struct method *m, long n)
{
	mp_lock *l = NULL;
	pthread_mutex_t *mutex = NULL;
	if (m->kind == LIB_LOCK)
		check_mp(mp_lock_new(&l), "mp_lock_new");
	else if (m->kind == LIB_RLOCK)
		check_mp(mp_rlock_new(&l), "mp_rlock_new");
	else
		bare_mutex_init(mutex = shared_alloc(sizeof *mutex), m->kind == BARE_ROBUST);

	int bad = 0;
	double t0 = now_s();
	if (l) {
		for (long i = 0; i < n; i++) {
			bad |= mp_lock_acquire(l, MP_FOREVER);
			bad |= mp_lock_release(l);
		}
	} else {
		for (long i = 0; i < n; i++) {
			bad |= pthread_mutex_lock(mutex);
			bad |= pthread_mutex_unlock(mutex);
		}
	}
	double elapsed = now_s() - t0;

	/* A failed call would make a fast, meaningless figure. */
	if (bad) {
		fprintf(stderr, "bench_lock: %s: an acquire or a release failed\n", m->key);
		exit(1);
	}
	mp_lock_free(l);
	if (mutex) {
		pthread_mutex_destroy(mutex);
		munmap(mutex, sizeof *mutex);
	}
	return elapsed * 1e9 / (double)n;
}

/* Start WORKERS children on @jobs, time them from the go to their last report; returns seconds. */
static double run_children(const char *key, const char *target, const struct job *jobs,
			   int64_t *total)
{
	mp_process *kids[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		kids[i] = start_child(target, &jobs[i], sizeof jobs[i]);
	double t0 = ready_go(WORKERS);
	bool failed = !read_reports(WORKERS, total);
	double elapsed = now_s() - t0;

	for (int i = 0; i < WORKERS; i++)
		failed |= join_child(kids[i]) != 0;
	/* A failed child would make a fast, meaningless figure. */
	if (failed) {
		fprintf(stderr, "bench_lock: %s: a child failed\n", key);
		exit(1);
	}
	return elapsed;
}

/* Workload 2: WORKERS children increment a fresh counter @n times each; returns increments/s. */
static double run_counter(const struct method *m, long n)
{
	mp_array *a = NULL;
	mp_lock *l = NULL;
	pthread_mutex_t *mutex = NULL;
	int64_t *counter;
	if (m->kind == LIB_RLOCK) {
		/* Python's Value('q', lock=True): the array comes with its own RLock. */
		check_mp(mp_array_new(&a, sizeof(int64_t), 1, true), "mp_array_new");
		l = mp_array_lock(a);
		counter = mp_array_data(a);
	} else if (m->kind == LIB_LOCK) {
		check_mp(mp_array_new(&a, sizeof(int64_t), 1, false), "mp_array_new");
		check_mp(mp_lock_new(&l), "mp_lock_new");
		counter = mp_array_data(a);
	} else {
		/* The mutex and the counter in one shared page, as in most hand-written code. */
		mutex = shared_alloc(sizeof *mutex + sizeof(int64_t));
		bare_mutex_init(mutex, false);
		counter = (int64_t *)(mutex + 1);
	}

	struct job jobs[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		jobs[i] = (struct job){ .lock = l, .mutex = mutex, .counter = counter, .hi = n };
	int64_t total;
	double elapsed = run_children(m->key, "incrementer", jobs, &total);
	if (total != (int64_t)n * WORKERS || *counter != total) {
		fprintf(stderr, "bench_lock: %s: the counter reads %lld after %lld increments\n",
			m->key, (long long)*counter, (long long)total);
		exit(1);
	}

	if (m->kind == LIB_LOCK)
		mp_lock_free(l);
	mp_array_free(a); /* frees the array's own lock too */
	if (mutex) {
		pthread_mutex_destroy(mutex);
		munmap(mutex, sizeof *mutex + sizeof(int64_t));
	}
	return (double)total / elapsed;
}

/* Workload 3: WORKERS children fill half of @a each; returns MiB/s. */
static double run_fill(const struct method *m, mp_array *a)
{
	double *data = mp_array_data(a);
	long count = (long)mp_array_length(a);
	struct job jobs[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		/* Split so that the shares add up to exactly @count. */
		jobs[i] = (struct job){ .data = data, .lo = count * i / WORKERS,
					.hi = count * (i + 1) / WORKERS };
	int64_t total;
	double elapsed = run_children(m->key, "filler", jobs, &total);
	for (long i = 0; i < count; i++) {
		if (data[i] != (double)i) {
			fprintf(stderr, "bench_lock: %s: element %ld reads %g\n", m->key, i, data[i]);
			exit(1);
		}
	}
	memset(data, 0, (size_t)count * sizeof *data);
	return (double)total * sizeof *data / (1024.0 * 1024.0) / elapsed;
}

static double run_method(const struct method *m, long pairs, long increments, mp_array *fill)
{
	switch (m->workload) {
	case 1:
		return run_pairs(m, pairs);
	case 2:
		return run_counter(m, increments);
	default:
		return run_fill(m, fill);
	}
}

int main(int argc, char **argv)
{
	const char *usage = "usage: bench_lock [PAIRS [INCREMENTS]] (counts per round, from %ld up)\n";
	long pairs = parse_count(argc, argv, 1, DEFAULT_PAIRS, 100, 100000000, usage);
	long increments = parse_count(argc, argv, 2, DEFAULT_INCREMENTS, 100, 100000000, usage);

	open_start_line();

	struct method methods[] = {
		{ "c_lib_lock_ns", LIB_LOCK, 1, { 0 } },
		{ "c_lib_rlock_ns", LIB_RLOCK, 1, { 0 } },
		{ "c_bare_mutex_ns", BARE_MUTEX, 1, { 0 } },
		{ "c_bare_robust_ns", BARE_ROBUST, 1, { 0 } },
		{ "c_counter_rlock_incr_s", LIB_RLOCK, 2, { 0 } },
		{ "c_counter_lock_incr_s", LIB_LOCK, 2, { 0 } },
		{ "c_counter_bare_incr_s", BARE_MUTEX, 2, { 0 } },
		{ "c_fill_mib_s", FILL, 3, { 0 } },
	};
	const size_t nmethods = sizeof methods / sizeof methods[0];

	/* Python's RawArray('d', 10**6), made once: every fill round reuses it. */
	mp_array *fill;
	check_mp(mp_array_new(&fill, sizeof(double), FILL_COUNT, false), "mp_array_new");

	/* The first runs pay for page faults and the library's one-time setup: not timed. */
	for (size_t i = 0; i < nmethods; i++)
		run_method(&methods[i], pairs / 10 + 1, increments / 10 + 1, fill);

	for (int r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < nmethods; i++)
			methods[i].samples[r] = run_method(&methods[i], pairs, increments, fill);

	printf("# C: in each of %d interleaved rounds, %ld uncontended acquire+release pairs and"
	       " %d processes x %ld increments per method, and one fill of %d doubles by %d"
	       " processes; median per round\n",
	       ROUNDS, pairs, WORKERS, increments, FILL_COUNT, WORKERS);
	for (size_t i = 0; i < nmethods; i++)
		printf("%s %.1f\n", methods[i].key, median(methods[i].samples, ROUNDS));
	mp_array_free(fill);
	if (fflush(stdout) == EOF)
		die("stdout");
	return 0;
}
