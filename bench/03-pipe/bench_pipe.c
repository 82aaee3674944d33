/* bench_pipe.c: time messages over a Pipe, bare and through libmp. Run: bench/run.sh 03 (or build/bench/03-pipe [BIG_MESSAGES [ROUND_TRIPS]]). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() */
#define BENCH_NAME "bench_pipe"
#include "../bench.h"

#include <arpa/inet.h>
#include <sys/socket.h>

/*
 * What it prints, one figure a line: the median over the rounds (or, for
 * round trips, over every single trip), so that a few slow rounds on a busy
 * machine do not move it. N is 1e4, 1e5 or 1e6.
 *
 * 1. The classic Pipe loop of Python tutorials: a writer process sends the
 *    integers 0 to N-1 and then "DONE"; the reader stops at "DONE". Messages/s:
 *      c_lib_loop_N_msgs_s     mp_pipe(duplex), mp_conn_send_int/recv_int,
 *                              mp_conn_send_str("DONE")
 *      c_framed_loop_N_msgs_s  a bare socketpair with the same framing by hand:
 *                              the writer writes a 4-byte big-endian length and
 *                              the 8 bytes at once, the reader reads the length
 *                              and then the body (4 bytes "DONE" at the end;
 *                              the integers in host order, not swapped)
 *      c_raw_loop_N_msgs_s     a bare socketpair, one 8-byte write and one
 *                              8-byte read per integer (no framing; -1 ends it)
 * 2. Bulk: 1 MiB messages, MiB/s:
 *      c_lib_bulk_mib_s        mp_conn_send_bytes, mp_conn_recv_bytes_into one buffer
 *      c_lib_bulk_alloc_mib_s  mp_conn_send_bytes, mp_conn_recv_bytes (a fresh
 *                              malloc() per message, as Python's recv_bytes)
 *      c_raw_bulk_mib_s        a bare socketpair, 1 MiB write()s and read()s
 * 3. Round trip of an 8-byte message, parent to child and back, us:
 *      c_lib_rtt_us            mp_conn_send_int/recv_int on both sides
 *      c_framed_rtt_us         a bare socketpair framed by hand, as in the loop
 *      c_raw_rtt_us            a bare socketpair, 8-byte write/read on both sides
 *
 * In 1 and 2 the writer is a child and the parent reads. The clock runs from
 * the moment the child is started and waiting for a go signal until the
 * parent has read the last message: starting and joining the child is not
 * part of it. bench_pipe.py does the same with CPython.
 * Lines starting with '#' are for humans.
 */

#define DEFAULT_BIG 1800          /* 1 MiB messages per bulk workload, over all the rounds */
#define DEFAULT_TRIPS 30000       /* round trips per round-trip workload, over all the rounds */
#define BIG_SIZE (1024 * 1024)
#define LOOP_SIZES 3
static const long loop_counts[LOOP_SIZES] = { 10000, 100000, 1000000 };
static const char *const loop_names[LOOP_SIZES] = { "1e4", "1e5", "1e6" };
/*
 * The workloads take turns in this many rounds instead of running one after
 * the other, so that a slow spell of the machine is shared among them rather
 * than landing on one and skewing the ratios that bench/run.sh computes. Each
 * round runs every loop at its full count, 10^6 messages as the classic loop
 * does: about 3 s per method on a 2-core machine, hence only 3 rounds.
 */
#define ROUNDS 3
/*
 * Round trips take turns more often than the rest, in this many slices of each
 * round, each with a fresh echo child. On a 2-core virtual machine a round trip
 * moves between about 11 us and 60 us for spells of a second or so (where the
 * scheduler put the two processes, what else runs, the host): short slices,
 * each with a child placed anew, share those spells among the methods.
 */
#define RTT_SLICES 10
/* Untimed round trips before each slice's timed ones: the child must be up and warm. */
#define RTT_WARMUP 50
/* The raw loop's end: a value the writer never sends otherwise, as there is no frame for "DONE". */
#define RAW_DONE INT64_C(-1)

enum kind {
	LIB,       /* through libmp: mp_conn_* */
	LIB_ALLOC, /* the same, received with mp_conn_recv_bytes() */
	FRAMED,    /* a bare socketpair, framed by hand as libmp and CPython frame */
	RAW,       /* a bare socketpair, no framing */
};

/* What a child is told, as the bytes of its target's argument. */
struct job {
	enum kind kind;
	mp_conn *mine, *theirs; /* libmp: fork() copied the parent's memory, so the pointers hold */
	int sock, their_sock;   /* bare: this child's end of the socketpair, and the parent's */
	long count;             /* messages to send */
	size_t size;            /* bytes per message: 8 is an integer */
};

/* Keep only this child's end, so that the parent sees end-of-file if the child dies. */
static void drop_parents_end(const struct job *j)
{
	if (j->theirs)
		mp_conn_free(j->theirs);
	if (j->their_sock >= 0)
		close(j->their_sock);
}

/*
 * Read exactly @n bytes of a message from a socket, with no time limit.
 * Returns false at end-of-file before the first byte: the peer is done, or
 * died, and the caller says which it expected.
 */
static bool read_full(int fd, void *buf, size_t n)
{
	ssize_t got = read_upto(fd, buf, n, 0);
	if (got < 0)
		die("read");
	if (got == (ssize_t)n)
		return true;
	if (got == 0)
		return false;
	fprintf(stderr, "bench_pipe: end-of-file inside a message\n");
	exit(1);
}

MP_TARGET(writer)(const void *arg, size_t len)
{
	struct job j;
	take_job(&j, sizeof j, arg, len);
	drop_parents_end(&j);
	unsigned char *buf = payload(j.size);
	ready_set_go();
	int rc = 0;
	switch (j.kind) {
	case LIB:
	case LIB_ALLOC:
		for (long i = 0; i < j.count && rc == 0; i++)
			rc = buf ? mp_conn_send_bytes(j.mine, buf, j.size)
				 : mp_conn_send_int(j.mine, i);
		if (rc == 0 && !buf)
			rc = mp_conn_send_str(j.mine, "DONE");
		break;
	case FRAMED: {
		/* One write() for the length and the body, as libmp's one sendmsg(). */
		unsigned char frame[4 + sizeof(int64_t)];
		uint32_t len8 = htonl(sizeof(int64_t));
		memcpy(frame, &len8, sizeof len8);
		for (int64_t i = 0; i < j.count; i++) {
			memcpy(frame + 4, &i, sizeof i);
			write_full(j.sock, frame, sizeof frame);
		}
		uint32_t len4 = htonl(4);
		memcpy(frame, &len4, sizeof len4);
		memcpy(frame + 4, "DONE", 4);
		write_full(j.sock, frame, 8);
		break;
	}
	case RAW:
		if (buf) {
			for (long i = 0; i < j.count; i++)
				write_full(j.sock, buf, j.size);
		} else {
			for (int64_t i = 0; i < j.count; i++)
				write_full(j.sock, &i, sizeof i);
			int64_t done = RAW_DONE;
			write_full(j.sock, &done, sizeof done);
		}
		break;
	}
	if (rc < 0)
		fprintf(stderr, "bench_pipe: send: %s\n", mp_strerror(rc));
	free(buf);
	return rc < 0;
}

/* The other side of a round trip: send back every integer until end-of-file. */
MP_TARGET(echo)(const void *arg, size_t len)
{
	struct job j;
	take_job(&j, sizeof j, arg, len);
	drop_parents_end(&j);
	if (j.kind == RAW) {
		int64_t v;
		while (read_full(j.sock, &v, sizeof v))
			write_full(j.sock, &v, sizeof v);
		return 0;
	}
	if (j.kind == FRAMED) {
		/* The frame comes back as it came: a length of 8 and the 8 bytes. */
		unsigned char frame[4 + sizeof(int64_t)];
		uint32_t be;
		while (read_full(j.sock, &be, sizeof be)) {
			if (ntohl(be) != sizeof(int64_t)) {
				fprintf(stderr, "bench_pipe: echo: a frame of %u bytes\n", ntohl(be));
				return 1;
			}
			memcpy(frame, &be, sizeof be);
			if (!read_full(j.sock, frame + 4, sizeof(int64_t)))
				return 1;
			write_full(j.sock, frame, sizeof frame);
		}
		return 0;
	}
	int64_t v;
	int rc;
	while ((rc = mp_conn_recv_int(j.mine, &v)) == 0)
		if ((rc = mp_conn_send_int(j.mine, v)) < 0)
			break;
	if (rc == MP_EEOF)
		return 0;
	fprintf(stderr, "bench_pipe: echo: %s\n", mp_strerror(rc));
	return 1;
}

static void fail_count(const char *key, long got, long want)
{
	fprintf(stderr, "bench_pipe: %s: %ld of %ld messages arrived in order\n", key, got, want);
	exit(1);
}

/* The parent's side of the loop: read until "DONE", checking that 0..count-1 came in order. */
static void read_loop(const char *key, enum kind kind, mp_conn *conn, int sock, long count)
{
	long got = 0;
	switch (kind) {
	case LIB:
	case LIB_ALLOC: {
		int64_t v;
		int rc;
		while ((rc = mp_conn_recv_int(conn, &v)) == 0 && v == got)
			got++;
		/* "DONE" is 4 bytes, not an integer: recv_int says so, and that ends the loop. */
		if (rc != MP_ETYPE) {
			if (rc < 0)
				fprintf(stderr, "bench_pipe: %s: receive: %s\n", key, mp_strerror(rc));
			fail_count(key, got, count);
		}
		break;
	}
	case FRAMED:
		for (;;) {
			uint32_t be;
			int64_t v;
			char done[4];
			if (!read_full(sock, &be, sizeof be))
				fail_count(key, got, count);
			uint32_t n = ntohl(be);
			if (n == 4) {
				if (!read_full(sock, done, 4) || memcmp(done, "DONE", 4) != 0)
					fail_count(key, got, count);
				break;
			}
			if (n != sizeof v || !read_full(sock, &v, sizeof v) || v != got)
				fail_count(key, got, count);
			got++;
		}
		break;
	case RAW:
		for (;;) {
			int64_t v;
			if (!read_full(sock, &v, sizeof v))
				fail_count(key, got, count);
			if (v == RAW_DONE)
				break;
			if (v != got)
				fail_count(key, got, count);
			got++;
		}
		break;
	}
	if (got != count)
		fail_count(key, got, count);
}

/* The parent's side of the bulk transfer: @count messages of @size bytes into @buf. */
static void read_bulk(const char *key, enum kind kind, mp_conn *conn, int sock, long count,
		      void *buf, size_t size)
{
	for (long i = 0; i < count; i++) {
		size_t n = size;
		int rc = 0;
		if (kind == LIB) {
			rc = mp_conn_recv_bytes_into(conn, buf, size, &n);
		} else if (kind == LIB_ALLOC) {
			void *data;
			rc = mp_conn_recv_bytes(conn, &data, &n);
			if (rc == 0)
				free(data);
		} else if (!read_full(sock, buf, size)) {
			fail_count(key, i, count);
		}
		if (rc < 0)
			fprintf(stderr, "bench_pipe: %s: receive: %s\n", key, mp_strerror(rc));
		if (rc < 0 || n != size)
			fail_count(key, i, count);
	}
}

struct method {
	const char *key;     /* the name printed for machine reading */
	enum kind kind;
	long count;          /* loop and bulk: messages per round; round trips: over all the rounds */
	size_t size;         /* 8 for the loop, BIG_SIZE for bulk; 0 marks a round trip */
	double samples[ROUNDS]; /* loop and bulk: one rate per round (msgs/s or MiB/s) */
	double *trips;       /* round trips: one duration per trip, in us */
	long done;
};

/* The two ends of a fresh connection: libmp's, or a bare socketpair's. */
struct ends {
	mp_conn *conn, *child_conn;
	int sock, child_sock;
};

static struct ends open_ends(enum kind kind)
{
	struct ends e = { NULL, NULL, -1, -1 };
	if (kind == LIB || kind == LIB_ALLOC) {
		check_mp(mp_pipe(&e.conn, &e.child_conn, true), "mp_pipe");
	} else {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair");
		e.sock = sv[0];
		e.child_sock = sv[1];
	}
	return e;
}

/* Start @target on the child's end, and close that end here. */
static mp_process *start_on_ends(const char *target, struct ends *e, enum kind kind, long count,
				 size_t size)
{
	struct job j = { .kind = kind, .mine = e->child_conn, .theirs = e->conn,
			 .sock = e->child_sock, .their_sock = e->sock, .count = count, .size = size };
	mp_process *p = start_child(target, &j, sizeof j);
	mp_conn_free(e->child_conn);
	e->child_conn = NULL;
	if (e->child_sock >= 0)
		close(e->child_sock);
	e->child_sock = -1;
	return p;
}

static void finish(const char *key, mp_process *p, struct ends *e)
{
	/* Closing first lets an echo child see end-of-file and end. */
	mp_conn_free(e->conn);
	if (e->sock >= 0)
		close(e->sock);
	int code = join_child(p);
	/* A failed child would make a fast, meaningless figure. */
	if (code != 0) {
		fprintf(stderr, "bench_pipe: %s: the child exited with %d\n", key, code);
		exit(1);
	}
}

/* One loop or bulk transfer of @count messages over a fresh connection; returns its rate. */
static double run_stream(const struct method *m, long count, void *bulk_buf)
{
	struct ends e = open_ends(m->kind);
	mp_process *p = start_on_ends("writer", &e, m->kind, count, m->size);

	double t0 = ready_go(1);
	if (m->size == sizeof(int64_t))
		read_loop(m->key, m->kind, e.conn, e.sock, count);
	else
		read_bulk(m->key, m->kind, e.conn, e.sock, count, bulk_buf, m->size);
	double elapsed = now_s() - t0;

	finish(m->key, p, &e);
	if (m->size == sizeof(int64_t))
		return (double)count / elapsed;
	return (double)count * (double)m->size / (1024.0 * 1024.0) / elapsed;
}

static void ping(const struct method *m, const struct ends *e, int64_t v)
{
	int64_t back = ~v; /* what is left if the child hangs up */
	if (m->kind == RAW) {
		write_full(e->sock, &v, sizeof v);
		read_full(e->sock, &back, sizeof back);
	} else if (m->kind == FRAMED) {
		unsigned char frame[4 + sizeof(int64_t)];
		uint32_t len8 = htonl(sizeof(int64_t));
		memcpy(frame, &len8, sizeof len8);
		memcpy(frame + 4, &v, sizeof v);
		write_full(e->sock, frame, sizeof frame);
		uint32_t be;
		if (read_full(e->sock, &be, sizeof be) && ntohl(be) == sizeof back)
			read_full(e->sock, &back, sizeof back);
	} else {
		check_mp(mp_conn_send_int(e->conn, v), "send");
		check_mp(mp_conn_recv_int(e->conn, &back), "receive");
	}
	if (back != v) {
		fprintf(stderr, "bench_pipe: %s: sent %lld, got back %lld\n", m->key, (long long)v,
			(long long)back);
		exit(1);
	}
}

/* @trips timed round trips with a fresh echo child, each added to m->trips. */
static void run_trips(struct method *m, long trips)
{
	struct ends e = open_ends(m->kind);
	mp_process *p = start_on_ends("echo", &e, m->kind, 0, sizeof(int64_t));
	for (int i = 0; i < RTT_WARMUP; i++)
		ping(m, &e, i);
	for (long i = 0; i < trips; i++) {
		double t0 = now_s();
		ping(m, &e, m->done);
		m->trips[m->done++] = (now_s() - t0) * 1e6;
	}
	finish(m->key, p, &e);
}

int main(int argc, char **argv)
{
	const char *usage = "usage: bench_pipe [BIG_MESSAGES [ROUND_TRIPS]] (counts from %ld up)\n";
	long big = parse_count(argc, argv, 1, DEFAULT_BIG, ROUNDS, 100000000, usage);
	long trips = parse_count(argc, argv, 2, DEFAULT_TRIPS, ROUNDS, 100000000, usage);

	open_start_line();

	static const struct {
		const char *prefix;
		enum kind kind;
	} loopers[] = { { "c_lib", LIB }, { "c_framed", FRAMED }, { "c_raw", RAW } };
	static char keys[LOOP_SIZES][3][40];
	struct method methods[LOOP_SIZES * 3 + 6];
	size_t nmethods = 0;
	for (int s = 0; s < LOOP_SIZES; s++) {
		for (int k = 0; k < 3; k++) {
			snprintf(keys[s][k], sizeof keys[s][k], "%s_loop_%s_msgs_s", loopers[k].prefix,
				 loop_names[s]);
			methods[nmethods++] = (struct method){ .key = keys[s][k],
							       .kind = loopers[k].kind,
							       .count = loop_counts[s],
							       .size = sizeof(int64_t) };
		}
	}
	long big_per_round = (big + ROUNDS - 1) / ROUNDS;
	static const struct {
		const char *key;
		enum kind kind;
		bool rtt;
	} others[] = {
		{ "c_lib_bulk_mib_s", LIB, false },
		{ "c_lib_bulk_alloc_mib_s", LIB_ALLOC, false },
		{ "c_raw_bulk_mib_s", RAW, false },
		{ "c_lib_rtt_us", LIB, true },
		{ "c_framed_rtt_us", FRAMED, true },
		{ "c_raw_rtt_us", RAW, true },
	};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		methods[nmethods++] = (struct method){ .key = others[i].key,
						       .kind = others[i].kind,
						       .count = others[i].rtt ? trips : big_per_round,
						       .size = others[i].rtt ? 0 : BIG_SIZE };

	void *bulk_buf = malloc(BIG_SIZE);
	if (!bulk_buf)
		die("malloc");
	for (size_t i = 0; i < nmethods; i++) {
		struct method *m = &methods[i];
		if (m->size == 0) {
			if (!(m->trips = malloc((size_t)m->count * sizeof *m->trips)))
				die("malloc");
			continue;
		}
		/* The first transfers pay for page faults and the library's one-time setup: not timed. */
		run_stream(m, m->count / 20 + 2, bulk_buf);
	}

	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < nmethods; i++)
			if (methods[i].size != 0)
				methods[i].samples[r] = run_stream(&methods[i], methods[i].count, bulk_buf);
		for (int s = 0; s < RTT_SLICES; s++) {
			for (size_t i = 0; i < nmethods; i++) {
				struct method *m = &methods[i];
				if (m->size != 0)
					continue;
				/* Spread the remainder so that the last slice ends exactly on count. */
				long upto = m->count * (r * RTT_SLICES + s + 1) / (ROUNDS * RTT_SLICES);
				run_trips(m, upto - m->done);
			}
		}
	}

	printf("# C: in each of %d interleaved rounds, loops of 10^4, 10^5 and 10^6 integers,"
	       " %ld messages of 1 MiB and about %ld round trips per method;"
	       " median rate per round, median us per round trip\n",
	       ROUNDS, big_per_round, trips / ROUNDS);
	for (size_t i = 0; i < nmethods; i++) {
		struct method *m = &methods[i];
		if (m->size == 0) {
			printf("%s %.2f\n", m->key, median(m->trips, m->count));
			free(m->trips);
		} else {
			printf("%s %.1f\n", m->key, median(m->samples, ROUNDS));
		}
	}
	free(bulk_buf);
	if (fflush(stdout) == EOF)
		die("stdout");
	return 0;
}
