/*
 * threads_or_processes.c: the experiment of the tutorials that weigh a pool of threads
 * against a pool of processes: 100 threads against 8 worker processes, batches of growing
 * size, a CPU-bound task and a sleep-bound one, the time of each batch and the memory in
 * use after it, and what is left once each pool is gone. Lesson 05, "Threads or processes".
 *
 * Each task also takes 256 KiB of memory, writes it and frees it, as real tasks do with
 * their buffers: where freed memory goes (back to the system, or kept by malloc for later)
 * is half of what "cleaning up after a batch" means.
 *
 * There is no Python twin to compare with: the figures are the point, and they vary.
 */
#include "../example.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 100
#define WORKERS 8
#define BUFFER (256 * 1024)

static const int batches[] = { 10, 100, 1000 };

/* The work: about 1 ms of arithmetic, or a 10 ms sleep; either way a buffer written and freed. */
static int64_t do_work(int64_t kind)
{
	char *buffer = malloc(BUFFER);
	if (!buffer)
		return -1;
	memset(buffer, (int)kind, BUFFER);
	uint64_t x = (uint64_t)buffer[kind % BUFFER];
	if (kind == 0) {
		for (int i = 0; i < 1000000; i++)
			x = x * 6364136223846793005u + 1442695040888963407u;
	} else {
		struct timespec ten_ms = { 0, 10000000 };
		nanosleep(&ten_ms, NULL);
	}
	free(buffer);
	return (int64_t)(x & 0xff);
}

MP_TASK(work)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int64_t kind;
	memcpy(&kind, in, sizeof kind); /* a record in a message need not be aligned */
	int64_t y = do_work(kind);
	return mp_task_return(out, &y, sizeof y);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The memory of process @pid in KiB (0 if it is gone): its proportional set size, where
 * a page shared by k processes counts 1/k in each, so that the workers' copies of the
 * program and of libc are not counted eight times over.
 */
static long pss_kib(long pid)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pid);
	FILE *f = fopen(path, "r");
	long kib = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Pss: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* This process's resident memory, in MiB: where the threads live. */
static double own_mib(void)
{
	return (double)pss_kib((long)getpid()) / 1024;
}

/* Its children's, in MiB: the pool's workers. */
static double workers_mib(void)
{
	long kib = 0;
	DIR *proc = opendir("/proc");
	struct dirent *e;
	while (proc && (e = readdir(proc))) {
		long pid = strtol(e->d_name, NULL, 10), ppid = 0;
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		FILE *f = pid > 0 ? fopen(path, "r") : NULL;
		if (!f)
			continue;
		/* pid (comm) state ppid: the name may hold spaces, so read from the last ')'. */
		char stat[512];
		size_t n = fread(stat, 1, sizeof stat - 1, f);
		fclose(f);
		stat[n] = '\0';
		char *after = strrchr(stat, ')');
		if (after && sscanf(after, ") %*c %ld", &ppid) == 1 && ppid == (long)getpid())
			kib += pss_kib(pid);
	}
	if (proc)
		closedir(proc);
	return (double)kib / 1024;
}

/* A pool of threads: the smallest that works, one batch at a time. */
struct threads {
	pthread_t thread[THREADS];
	pthread_mutex_t lock;
	pthread_cond_t work_came, batch_done;
	int64_t kind;
	int next, size, done; /* the batch: tasks handed out, its size, tasks finished */
	bool stop;
};

static void *thread_main(void *arg)
{
	struct threads *t = arg;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->stop && t->next == t->size)
			pthread_cond_wait(&t->work_came, &t->lock);
		if (t->stop)
			break;
		t->next++;
		int64_t kind = t->kind;
		pthread_mutex_unlock(&t->lock);
		do_work(kind);
		pthread_mutex_lock(&t->lock);
		if (++t->done == t->size)
			pthread_cond_signal(&t->batch_done);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void threads_run(struct threads *t, int64_t kind, int size)
{
	pthread_mutex_lock(&t->lock);
	t->kind = kind;
	t->next = t->done = 0;
	t->size = size;
	pthread_cond_broadcast(&t->work_came);
	while (t->done < size)
		pthread_cond_wait(&t->batch_done, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

static void threads_start(struct threads *t)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work_came, NULL);
	pthread_cond_init(&t->batch_done, NULL);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t->thread[i], NULL, thread_main, t) != 0) {
			fprintf(stderr, "threads_or_processes: cannot start thread %d\n", i);
			exit(1);
		}
}

static void threads_stop(struct threads *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->work_came);
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t->thread[i], NULL);
}

static void processes_run(mp_pool *pool, int64_t kind, int size)
{
	static int64_t in[1000], out[1000];
	for (int i = 0; i < size; i++)
		in[i] = kind;
	check(mp_pool_map(pool, "work", in, (size_t)size, sizeof in[0], out, sizeof out[0], 1, NULL));
}

int main(void)
{
	static struct threads t;
	const char *kinds[] = { "CPU-bound (1 ms of arithmetic)", "sleep-bound (10 ms asleep)" };
	double start = own_mib();
	printf("%d threads against %d processes, on %d CPUs; memory (proportional set size) of this\n"
	       "process (the threads) and of its children (the workers)\n\n", THREADS, WORKERS, mp_cpu_count());
	printf("before either pool: %.1f MiB\n", start);

	threads_start(&t);
	printf("%d threads started: %.1f MiB\n", THREADS, own_mib());
	mp_pool *pool;
	check(mp_pool_new(&pool, WORKERS, NULL));
	printf("%d workers started: %.1f MiB in them\n", WORKERS, workers_mib());
	for (int64_t kind = 0; kind < 2; kind++) {
		printf("\n%s\n%8s  %12s %10s  %12s %10s\n", kinds[kind], "tasks", "threads", "then",
		       "processes", "then");
		for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
			double t0 = now();
			threads_run(&t, kind, batches[b]);
			double threads_s = now() - t0;
			double threads_mib = own_mib();
			t0 = now();
			processes_run(pool, kind, batches[b]);
			double processes_s = now() - t0;
			printf("%8d  %10.3f s %6.1f MiB  %10.3f s %6.1f MiB\n", batches[b], threads_s, threads_mib,
			       processes_s, workers_mib());
		}
	}
	threads_stop(&t);
	printf("\nthreads joined: %.1f MiB in this process\n", own_mib());
	mp_pool_free(pool);
	printf("pool freed: %.1f MiB in workers (none left)\n", workers_mib());
	return 0;
}
