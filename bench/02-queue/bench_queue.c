/* bench_queue.c: time a queue between processes, bare and through libmp. Run: bench/run.sh 02 (or build/bench/02-queue [ITEMS [BIG_ITEMS]]). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() */
#define BENCH_NAME "bench_queue"
#include "../bench.h"

#include <sys/socket.h>

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

/* What a child is told, as the bytes of its target's argument. */
struct job {
	mp_queue *q;      /* the round's queue: fork() copied the parent's memory, so the pointer holds */
	int sock;         /* bare workload: this child's end of the socketpair */
	long count;       /* producer: items to put; consumer: items to take, or -1 for until MP_EEOF */
	size_t size;      /* bytes per item: 8 goes through put_int/get_int */
};

MP_TARGET(producer)(const void *arg, size_t len)
{
	struct job j;
	take_job(&j, sizeof j, arg, len);
	unsigned char *buf = payload(j.size);
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
	struct job j;
	take_job(&j, sizeof j, arg, len);
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
	struct job j;
	take_job(&j, sizeof j, arg, len);
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
	struct job j;
	take_job(&j, sizeof j, arg, len);
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
		kids[k++] = start_child(m->bare ? "sock_producer" : "producer", &j, sizeof j);
	}
	for (int i = 0; i < m->consumers; i++) {
		long share = items * (i + 1) / m->consumers - items * i / m->consumers;
		struct job j = { .q = q, .sock = sv[0], .count = m->until_eof ? -1 : share,
				 .size = m->size };
		kids[k++] = start_child(m->bare ? "sock_consumer" : "consumer", &j, sizeof j);
	}
	/* The parent puts nothing: its write end must go too, or MP_EEOF never comes. */
	if (q)
		mp_queue_close(q);

	/* Each consumer reports how many items it took. */
	double t0 = ready_go(nchildren);
	int64_t total;
	bool failed = !read_reports(m->consumers, &total);
	double elapsed = now_s() - t0;

	for (int i = 0; i < k; i++)
		failed |= join_child(kids[i]) != 0;
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

int main(int argc, char **argv)
{
	const char *usage = "usage: bench_queue [ITEMS [BIG_ITEMS]] (counts from %ld up)\n";
	long items = parse_count(argc, argv, 1, DEFAULT_ITEMS, ROUNDS * 2, 100000000, usage);
	long big = parse_count(argc, argv, 2, DEFAULT_BIG_ITEMS, ROUNDS * 2, 100000000, usage);

	open_start_line();

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
