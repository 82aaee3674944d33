/* bench_queue.c: time a queue between processes, bare and through libmp. Run: bench/run.sh 02 (or build/bench/02-queue [ITEMS [BIG_ITEMS]]). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() */
#include <mp.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * What it prints, one figure a line: the median over the rounds of the rate
 * at which the consumers took the items (so that a few slow rounds on a busy
 * machine do not move it):
 *   c_queue_1p1c_items_s   1 producer, 1 consumer: mp_queue_put_int/get_int, items/s
 *   c_sock_1p1c_items_s    the same transfer of 8-byte integers over a bare
 *                          SOCK_SEQPACKET socketpair (send/recv), items/s
 *   c_queue_2p2c_items_s   2 producers putting half each, 2 consumers getting
 *                          until MP_EEOF, items/s
 *   c_queue_1mib_mib_s     1 producer, 1 consumer, 1 MiB items
 *                          (mp_queue_put/get), MiB/s
 * The clock runs from the moment every child is started and waiting for a
 * go signal until every consumer has reported its last item: starting and
 * joining the processes is not part of it. bench_queue.py does the same.
 * Lines starting with '#' are for humans.
 */

#define DEFAULT_ITEMS 400000 /* small items, for each small-item workload */
#define DEFAULT_BIG_ITEMS 1500
#define BIG_SIZE (1024 * 1024)
/*
 * The workloads take turns in this many rounds instead of running one after
 * the other, so that a slow spell of the machine is shared among them rather
 * than landing on one and skewing the ratios that bench/run.sh computes.
 */
#define ROUNDS 7
/* A child that has not reported after this long is stuck: give up rather than hang. */
#define CHILD_TIMEOUT_MS 60000

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void check_mp(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench_queue: %s: %s\n", what, mp_strerror(rc));
		exit(1);
	}
}

static double now_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Two pipes, made once and inherited by every child: on `report` each child
 * says it is ready (1 byte), and each consumer later how many items it took
 * (an int64_t; writes this small are atomic, so reports never interleave).
 * On `go` the parent writes one byte per child to start them all at once.
 */
static int report_rd, report_wr, go_rd, go_wr;

/* What a child is told, as the bytes of its target's argument. */
struct job {
	mp_queue *q;      /* the round's queue: fork() copied the parent's memory, so the pointer holds */
	int sock;         /* bare workload: this child's end of the socketpair */
	long count;       /* producer: items to put; consumer: items to take, or -1 for until MP_EEOF */
	size_t size;      /* bytes per item: 8 goes through put_int/get_int */
};

static struct job job_of(const void *arg, size_t len)
{
	struct job j;
	if (len != sizeof j) {
		fprintf(stderr, "bench_queue: a child got %zu argument bytes\n", len);
		_exit(1);
	}
	memcpy(&j, arg, sizeof j);
	return j;
}

static void write_full(int fd, const void *buf, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		done += (size_t)w;
	}
}

/* Read exactly @n bytes, waiting at most CHILD_TIMEOUT_MS for each piece (0 = no limit). */
static void read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	for (size_t done = 0; done < n;) {
		if (timeout_ms > 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int k = poll(&p, 1, timeout_ms);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				die("poll");
			if (k == 0) {
				fprintf(stderr, "bench_queue: no word from a child in %d s\n",
					timeout_ms / 1000);
				exit(1);
			}
		}
		ssize_t r = read(fd, (char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "bench_queue: pipe closed or failed\n");
			exit(1);
		}
		done += (size_t)r;
	}
}

/* A child's side of the start line: say it is ready, then wait for the go. */
static void ready_set_go(void)
{
	char c = 'r';
	write_full(report_wr, &c, 1);
	read_full(go_rd, &c, 1, 0);
}

static void report(int64_t taken)
{
	write_full(report_wr, &taken, sizeof taken);
}

MP_TARGET(producer)(const void *arg, size_t len)
{
	struct job j = job_of(arg, len);
	unsigned char *buf = NULL;
	if (j.size != sizeof(int64_t)) {
		if (!(buf = malloc(j.size)))
			die("malloc");
		memset(buf, 'x', j.size);
	}
	ready_set_go();
	int rc = 0;
	for (long i = 0; i < j.count && rc == 0; i++)
		rc = buf ? mp_queue_put(j.q, buf, j.size, MP_FOREVER)
			 : mp_queue_put_int(j.q, i, MP_FOREVER);
	if (rc < 0)
		fprintf(stderr, "bench_queue: put: %s\n", mp_strerror(rc));
	/* This process puts no more: once every producer has said so, consumers get MP_EEOF. */
	mp_queue_close(j.q);
	free(buf);
	return rc < 0;
}

MP_TARGET(consumer)(const void *arg, size_t len)
{
	struct job j = job_of(arg, len);
	/* Every process holding the write end must close it before MP_EEOF can come: this one too. */
	if (j.count < 0)
		mp_queue_close(j.q);
	ready_set_go();
	int64_t taken = 0;
	int rc = 0;
	while (j.count < 0 || taken < j.count) {
		if (j.size == sizeof(int64_t)) {
			int64_t v;
			rc = mp_queue_get_int(j.q, &v, MP_FOREVER);
		} else {
			void *data;
			size_t n;
			rc = mp_queue_get(j.q, &data, &n, MP_FOREVER);
			if (rc == 0) {
				free(data);
				if (n != j.size)
					rc = MP_EBADMSG;
			}
		}
		if (rc == MP_EEOF && j.count < 0) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		taken++;
	}
	if (rc < 0) {
		fprintf(stderr, "bench_queue: get: %s\n", mp_strerror(rc));
		taken = -1;
	}
	report(taken);
	return rc < 0;
}

MP_TARGET(sock_producer)(const void *arg, size_t len)
{
	struct job j = job_of(arg, len);
	ready_set_go();
	for (int64_t i = 0; i < j.count; i++) {
		while (send(j.sock, &i, sizeof i, MSG_NOSIGNAL) != (ssize_t)sizeof i) {
			if (errno != EINTR) {
				perror("bench_queue: send");
				return 1;
			}
		}
	}
	return 0;
}

MP_TARGET(sock_consumer)(const void *arg, size_t len)
{
	struct job j = job_of(arg, len);
	ready_set_go();
	int64_t taken = 0;
	while (taken < j.count) {
		int64_t v;
		ssize_t n = recv(j.sock, &v, sizeof v, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof v) {
			fprintf(stderr, "bench_queue: recv returned %zd\n", n);
			taken = -1;
			break;
		}
		taken++;
	}
	report(taken);
	return taken < 0;
}

struct method {
	const char *key;     /* the name printed for machine reading */
	bool bare;           /* a bare socketpair instead of a libmp queue */
	int producers, consumers;
	bool until_eof;      /* consumers stop at MP_EEOF, not at a count */
	size_t size;         /* bytes per item */
	long count;          /* items in total, over all the rounds */
	double samples[ROUNDS]; /* one rate per round: items/s, or MiB/s for big items */
	long done;           /* items moved so far */
};

static mp_process *start(const char *target, const struct job *j)
{
	mp_process *p;
	check_mp(mp_process_new(&p, target, j, sizeof *j), "mp_process_new");
	check_mp(mp_process_start(p), "mp_process_start");
	return p;
}

/* One transfer of @items items through a fresh queue; returns its rate. */
static double run_once(const struct method *m, long items)
{
	mp_queue *q = NULL;
	int sv[2] = { -1, -1 };
	if (m->bare) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
			die("socketpair");
	} else {
		check_mp(mp_queue_new(&q, 0), "mp_queue_new");
	}

	int nchildren = m->producers + m->consumers;
	mp_process *kids[8];
	int k = 0;
	for (int i = 0; i < m->producers; i++) {
		/* Split so that the shares add up to exactly @items. */
		long share = items * (i + 1) / m->producers - items * i / m->producers;
		struct job j = { .q = q, .sock = sv[1], .count = share, .size = m->size };
		kids[k++] = start(m->bare ? "sock_producer" : "producer", &j);
	}
	for (int i = 0; i < m->consumers; i++) {
		long share = items * (i + 1) / m->consumers - items * i / m->consumers;
		struct job j = { .q = q, .sock = sv[0], .count = m->until_eof ? -1 : share,
				 .size = m->size };
		kids[k++] = start(m->bare ? "sock_consumer" : "consumer", &j);
	}
	/* The parent puts nothing: its write end must go too, or MP_EEOF never comes. */
	if (q)
		mp_queue_close(q);

	char ready[8];
	read_full(report_rd, ready, (size_t)nchildren, CHILD_TIMEOUT_MS);
	double t0 = now_s();
	write_full(go_wr, "gggggggg", (size_t)nchildren);
	int64_t total = 0;
	bool failed = false;
	for (int i = 0; i < m->consumers; i++) {
		int64_t taken;
		read_full(report_rd, &taken, sizeof taken, CHILD_TIMEOUT_MS);
		failed |= taken < 0;
		total += taken;
	}
	double elapsed = now_s() - t0;

	for (int i = 0; i < k; i++) {
		int code;
		check_mp(mp_process_join(kids[i], MP_FOREVER), "mp_process_join");
		check_mp(mp_process_exitcode(kids[i], &code), "mp_process_exitcode");
		failed |= code != 0;
		mp_process_free(kids[i]);
	}
	/* A failed child would make a fast, meaningless figure. */
	if (failed || total != items) {
		fprintf(stderr, "bench_queue: %s: %lld of %ld items arrived, or a child failed\n",
			m->key, (long long)total, items);
		exit(1);
	}
	mp_queue_free(q);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (m->size == sizeof(int64_t))
		return (double)items / elapsed;
	return (double)items * (double)m->size / (1024.0 * 1024.0) / elapsed;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long parse_count(const char *s, long fallback)
{
	if (!s)
		return fallback;
	char *end;
	errno = 0;
	long n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < ROUNDS * 2 || n > 100000000) {
		fprintf(stderr, "usage: bench_queue [ITEMS [BIG_ITEMS]] (counts from %d up)\n",
			ROUNDS * 2);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	long items = parse_count(argc > 1 ? argv[1] : NULL, DEFAULT_ITEMS);
	long big = parse_count(argc > 2 ? argv[2] : NULL, DEFAULT_BIG_ITEMS);

	int fds[2];
	if (pipe(fds) < 0)
		die("pipe");
	report_rd = fds[0];
	report_wr = fds[1];
	if (pipe(fds) < 0)
		die("pipe");
	go_rd = fds[0];
	go_wr = fds[1];

	struct method methods[] = {
		{ "c_queue_1p1c_items_s", false, 1, 1, false, sizeof(int64_t), items, { 0 }, 0 },
		{ "c_sock_1p1c_items_s", true, 1, 1, false, sizeof(int64_t), items, { 0 }, 0 },
		{ "c_queue_2p2c_items_s", false, 2, 2, true, sizeof(int64_t), items, { 0 }, 0 },
		{ "c_queue_1mib_mib_s", false, 1, 1, false, BIG_SIZE, big, { 0 }, 0 },
	};
	const size_t nmethods = sizeof methods / sizeof methods[0];

	/* The first transfers pay for page faults and the library's one-time setup: not timed. */
	for (size_t i = 0; i < nmethods; i++)
		run_once(&methods[i], methods[i].count / ROUNDS / 4 + 2);

	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < nmethods; i++) {
			struct method *m = &methods[i];
			/* Spread the remainder so that the last round ends exactly on count. */
			long upto = m->count * (r + 1) / ROUNDS;
			m->samples[r] = run_once(m, upto - m->done);
			m->done = upto;
		}
	}

	printf("# C: %ld small items and %ld items of 1 MiB per workload, in %d interleaved rounds;"
	       " median rate per round\n",
	       items, big, ROUNDS);
	for (size_t i = 0; i < nmethods; i++) {
		struct method *m = &methods[i];
		printf("%s %.1f\n", m->key, median(m->samples, ROUNDS));
	}
	if (fflush(stdout) == EOF)
		die("stdout");
	return 0;
}
