/* lobby.c: where accepted clients wait through their handshakes, side by side. */
#define _GNU_SOURCE /* accept4() */
#include <mp.h>

#include "../01-process/fault.h"
#include "auth.h"
#include "connection_internal.h"
#include "lobby.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * A listener that ran each handshake to its end before it looked at the
 * next client would let one client that connects and says nothing hold up
 * every other, for as long as a handshake may take (CPython's listener does
 * that). So an accepted client waits here, a guest at the step of the
 * handshake it has reached, and the lobby runs the step of whichever guest
 * has sent a whole message. An honest client is never behind a silent one:
 *
 *	step            we wait for            then we
 *	(accepted)      -                      send our challenge
 *	JUDGE_ANSWER    its answer             send #WELCOME# (or #FAILURE#: dropped)
 *	ANSWER          its challenge          send our answer
 *	HEAR_VERDICT    its verdict            hand the connection over
 *
 * Each step sends one short message into an empty socket buffer, and
 * receives only a message that is all there already, so no step waits. One
 * epoll set watches the listening socket and every guest, and it is the
 * listener's descriptor: a caller's poll() on it wakes for a new client and
 * for a guest's message alike.
 */

#define MAX_GUESTS 64      /* past this, the guest who came first makes room */
#define MESSAGE_MAX 256    /* no handshake message is longer (auth.c) */
#define DEFAULT_PATIENCE 10.0

enum step { JUDGE_ANSWER, ANSWER, HEAR_VERDICT };

struct guest {
	mp_conn *conn;
	enum step step;
	struct mp__challenge challenge; /* what we asked it */
	double until;                   /* dropped after this time (CLOCK_MONOTONIC, in seconds) */
	struct guest *next;             /* in the order they came */
};

struct mp__lobby {
	int epoll_fd;
	int listen_fd;
	bool tcp;
	const unsigned char *key; /* NULL: no handshake at all */
	size_t keylen;
	double patience;          /* seconds a guest may take; negative: for ever */
	struct guest *first;
	unsigned guests;
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int mp__lobby_open(struct mp__lobby **out, int listen_fd, bool tcp, const unsigned char *key, size_t keylen)
{
	struct mp__lobby *lb = mp__fault("calloc") ? NULL : calloc(1, sizeof *lb);
	if (!lb)
		return -ENOMEM;
	*lb = (struct mp__lobby){ .listen_fd = listen_fd, .tcp = tcp, .key = key, .keylen = keylen,
				  .patience = DEFAULT_PATIENCE };
	/* The listening socket is the one watched without a guest: its data pointer is NULL. */
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	lb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (lb->epoll_fd < 0 || epoll_ctl(lb->epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		int rc = -errno;
		if (lb->epoll_fd >= 0)
			close(lb->epoll_fd);
		free(lb);
		return rc;
	}
	*out = lb;
	return 0;
}

/* Take @g out of the lobby, keeping its connection. */
static mp_conn *leave(struct mp__lobby *lb, struct guest *g)
{
	struct guest **p = &lb->first;
	while (*p != g)
		p = &(*p)->next;
	*p = g->next;
	lb->guests--;
	epoll_ctl(lb->epoll_fd, EPOLL_CTL_DEL, mp_conn_fileno(g->conn), NULL);
	mp_conn *c = g->conn;
	free(g);
	return c;
}

/* Show @g out, closing its connection. */
static void drop(struct mp__lobby *lb, struct guest *g)
{
	mp_conn_free(leave(lb, g));
}

void mp__lobby_close(struct mp__lobby *lb)
{
	if (!lb)
		return;
	while (lb->first)
		drop(lb, lb->first);
	close(lb->epoll_fd);
	free(lb);
}

int mp__lobby_fileno(const struct mp__lobby *lb)
{
	return lb->epoll_fd;
}

void mp__lobby_set_patience(struct mp__lobby *lb, double seconds)
{
	lb->patience = seconds;
}

/*
 * Accept one client. Without a key it is handed over at once (returns 0);
 * with one it is challenged and joins the lobby (returns 1: go on). A client
 * gone before we took it is no error (1); anything else accept4() says is
 * (a negated errno), and the client still waits in the backlog.
 */
static int admit(struct mp__lobby *lb, mp_conn **out)
{
	int fd = mp__fault("accept4") ? -1 : accept4(lb->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 1 : -errno;
	if (lb->tcp) {
		int one = 1; /* small messages must not wait for Nagle's algorithm to fill a packet */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	mp_conn *c;
	int rc = mp_conn_from_fd(&c, fd, true, true);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	if (!lb->key) {
		*out = c;
		return 0;
	}
	struct guest *g = mp__fault("calloc") ? NULL : calloc(1, sizeof *g);
	if (!g) {
		mp_conn_free(c);
		return -ENOMEM;
	}
	g->conn = c;
	g->step = JUDGE_ANSWER;
	g->until = lb->patience < 0 ? INFINITY : now() + lb->patience;
	mp_conn_set_timeout(c, 0); /* no step may wait: a wait would hold up the other guests */
	/* Edge-triggered: woken when more bytes come, not again and again by half a message. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = g };
	rc = mp__send_challenge(c, &g->challenge);
	if (rc == 0 && epoll_ctl(lb->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		rc = -errno;
	if (rc < 0) {
		free(g);
		mp_conn_free(c);
		return rc;
	}
	if (lb->guests == MAX_GUESTS)
		drop(lb, lb->first);
	struct guest **last = &lb->first;
	while (*last)
		last = &(*last)->next;
	*last = g;
	lb->guests++;
	return 1;
}

/*
 * Run @g's steps while a whole message of its is there. Returns 1 (go on),
 * 0 with the connection in *out once its handshake is done, or the step's
 * error, @g dropped.
 */
static int serve(struct mp__lobby *lb, struct guest *g, mp_conn **out)
{
	while (mp__conn_message_waiting(g->conn, MESSAGE_MAX)) {
		int rc;
		switch (g->step) {
		case JUDGE_ANSWER:
			rc = mp__judge_answer(g->conn, &g->challenge, lb->key, lb->keylen);
			g->step = ANSWER;
			break;
		case ANSWER:
			rc = mp__answer(g->conn, lb->key, lb->keylen);
			g->step = HEAR_VERDICT;
			break;
		default:
			if ((rc = mp__hear_verdict(g->conn)) == 0) {
				*out = leave(lb, g);
				mp_conn_set_timeout(*out, MP_FOREVER); /* its own from now on: none, as for any */
				return 0;
			}
		}
		if (rc < 0) {
			drop(lb, g);
			/* A step that would have had to wait (a send into a buffer the guest never reads): its fault. */
			return rc == MP_ETIMEDOUT ? MP_EBADMSG : rc;
		}
	}
	return 1;
}

/* Show out every guest whose time is up. */
static void drop_the_late(struct mp__lobby *lb, double t)
{
	struct guest *g = lb->first;
	while (g) {
		struct guest *next = g->next;
		if (g->until <= t)
			drop(lb, g);
		g = next;
	}
}

/* Milliseconds to sleep, rounded up: until the deadline or the first guest's time is up; -1 for ever. */
static int sleep_ms(const struct mp__lobby *lb, const struct mp__deadline *d, double t)
{
	struct timespec left;
	const struct timespec *dl = mp__deadline_left(d, &left);
	double s = dl ? (double)dl->tv_sec + (double)dl->tv_nsec / 1e9 : INFINITY;
	for (const struct guest *g = lb->first; g; g = g->next)
		if (g->until - t < s)
			s = g->until - t;
	if (isinf(s))
		return -1;
	return s <= 0 ? 0 : s >= INT_MAX / 1000 ? INT_MAX : (int)ceil(s * 1000);
}

int mp__lobby_next(struct mp__lobby *lb, mp_conn **out, const struct mp__deadline *d)
{
	for (;;) {
		drop_the_late(lb, now());
		/*
		 * One event at a time, served to its end: the events not yet taken
		 * stay queued in the set (where a caller's poll() on it still sees
		 * them), so none is lost when this call returns with a connection.
		 */
		struct epoll_event ev;
		int n = epoll_wait(lb->epoll_fd, &ev, 1, sleep_ms(lb, d, now()));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 1) {
			int rc = ev.data.ptr ? serve(lb, ev.data.ptr, out) : admit(lb, out);
			if (rc <= 0)
				return rc;
		}
		struct timespec left;
		const struct timespec *t = mp__deadline_left(d, &left);
		if (t && t->tv_sec == 0 && t->tv_nsec == 0)
			return MP_ETIMEDOUT;
	}
}
