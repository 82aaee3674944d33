/* listener.c: connections between unrelated processes, on a Unix socket path or TCP. */
#define _GNU_SOURCE /* getentropy() */
#include <mp.h>

#include "../01-process/deadline.h"
#include "../01-process/fault.h"
#include "auth.h"
#include "lobby.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ADDRESS_MAX 256
#define SUN_PATH_SIZE sizeof ((struct sockaddr_un *)0)->sun_path /* 108 on Linux, with the NUL */

struct mp_listener {
	int fd;
	bool is_unix;
	pid_t creator;             /* the process that bound the path: the only one to unlink it */
	char address[ADDRESS_MAX]; /* as bound: the path, or "host:port" with the real port */
	unsigned char *key;        /* NULL: no authentication */
	size_t keylen;
	struct mp__lobby *lobby;   /* accepts clients and runs their handshakes (lobby.c) */
};

/* A parsed address: a Unix path, or a host and a port for getaddrinfo(). */
struct address {
	bool is_unix;
	char path[SUN_PATH_SIZE];
	char host[ADDRESS_MAX];
	char port[16];
};

/*
 * "unix:PATH" or anything with a '/' and no port is a Unix socket path;
 * "tcp:HOST:PORT" or "HOST:PORT" is TCP ("[::1]:PORT" for IPv6).
 */
static int parse_address(const char *text, struct address *a)
{
	memset(a, 0, sizeof *a);
	if (!text || !*text)
		return -EINVAL;
	if (strncmp(text, "unix:", 5) == 0 || (strchr(text, '/') && strncmp(text, "tcp:", 4) != 0)) {
		const char *path = strncmp(text, "unix:", 5) == 0 ? text + 5 : text;
		if (!*path || strlen(path) >= sizeof a->path)
			return -EINVAL;
		a->is_unix = true;
		strcpy(a->path, path);
		return 0;
	}
	if (strncmp(text, "tcp:", 4) == 0)
		text += 4;
	const char *colon = strrchr(text, ':');
	if (!colon || colon == text || !colon[1] || strlen(colon + 1) >= sizeof a->port)
		return -EINVAL;
	size_t hostlen = (size_t)(colon - text);
	if (text[0] == '[' && colon[-1] == ']') { /* [IPv6]:port */
		text++;
		hostlen -= 2;
	}
	if (hostlen == 0 || hostlen >= sizeof a->host)
		return -EINVAL;
	memcpy(a->host, text, hostlen);
	strcpy(a->port, colon + 1);
	return 0;
}

/*
 * Connect a Unix socket within the deadline. A non-blocking connect() cannot
 * help here: with the listener's backlog full it fails at once with EAGAIN
 * instead of waiting. But a blocking one waits for room for as long as the
 * socket's send timeout, so that is where the time left goes.
 */
static int connect_unix(int fd, const struct sockaddr_un *sun, const struct mp__deadline *d)
{
	struct timespec left;
	const struct timespec *t = mp__deadline_left(d, &left);
	if (t) {
		/* A send timeout of zero would mean none at all: wait at least a microsecond. */
		struct timeval tv = { .tv_sec = t->tv_sec, .tv_usec = t->tv_nsec / 1000 };
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
			return -errno;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) < 0)
		return errno == EAGAIN ? MP_ETIMEDOUT : -errno;
	/* The connection keeps its own deadlines: give back the default, no send timeout. */
	static const struct timeval none = { 0, 0 };
	if (t && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none) < 0)
		return -errno;
	return 0;
}

/* Create a socket for @a and either bind it (listening) or connect it. */
static int open_socket(const struct address *a, bool listening, int *fd_out, const struct mp__deadline *d)
{
	if (a->is_unix) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		strcpy(sun.sun_path, a->path);
		int fd = mp__fault("socket") ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		int rc = 0;
		if (!listening)
			rc = connect_unix(fd, &sun, d);
		else if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
			rc = -errno;
		if (rc < 0) {
			close(fd);
			return rc;
		}
		*fd_out = fd;
		return 0;
	}

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = listening ? AI_PASSIVE : 0 };
	struct addrinfo *list;
	int gai = getaddrinfo(a->host, a->port, &hints, &list);
	if (gai != 0)
		return gai == EAI_SYSTEM ? -errno : -EINVAL;
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
		int fd = mp__fault("socket") ? -1
					     : socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (listening ? 0 : SOCK_NONBLOCK),
						      ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		if (listening) {
			/* Restarting a server must not wait out the old connections' TIME_WAIT. */
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			rc = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
		} else {
			/* Connect without blocking, so that the deadline holds even for a silent host. */
			rc = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
			if (rc == -EINPROGRESS) {
				int err = 0;
				socklen_t len = sizeof err;
				rc = mp__deadline_wait_fd(fd, POLLOUT, d);
				if (rc == 0)
					rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? -errno : -err;
			}
			if (rc == 0) {
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
				/* Small messages must not wait for Nagle's algorithm to fill a packet. */
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			}
		}
		if (rc == 0) {
			*fd_out = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(list);
	return rc;
}

/* Write the address a TCP socket is bound to as "host:port". */
static void describe(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
			port = ntohs(s6->sin6_port);
			snprintf(out, size, "[%s]:%u", host, port);
			return;
		}
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
	}
	snprintf(out, size, "%s:%u", host, port);
}

static int copy_key(unsigned char **dst, const void *key, size_t keylen)
{
	*dst = NULL;
	if (!key)
		return 0;
	*dst = mp__fault("malloc") ? NULL : malloc(keylen ? keylen : 1);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, key, keylen);
	return 0;
}

int mp_listener_new(mp_listener **out, const char *address, const void *authkey, size_t keylen)
{
	if (!out)
		return -EINVAL;
	char fresh[ADDRESS_MAX];
	if (!address) {
		/* Like Python's arbitrary_address(): a new path in the temporary directory. */
		static unsigned counter;
		unsigned salt;
		if (getentropy(&salt, sizeof salt) < 0)
			salt = (unsigned)getpid();
		const char *tmp = getenv("TMPDIR");
		snprintf(fresh, sizeof fresh, "%s/mp-listener-%d-%u-%08x.sock", tmp && *tmp ? tmp : "/tmp",
			 (int)getpid(), counter++, salt);
		address = fresh;
	}
	struct address a;
	int rc = parse_address(address, &a);
	if (rc != 0)
		return rc;
	mp_listener *l = mp__fault("calloc") ? NULL : calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	if ((rc = copy_key(&l->key, authkey, keylen)) != 0)
		goto fail;
	l->keylen = keylen;
	if ((rc = open_socket(&a, true, &l->fd, NULL)) < 0)
		goto fail;
	l->is_unix = a.is_unix;
	l->creator = getpid();
	/*
	 * Non-blocking, so that when several processes accept on one listener and
	 * another wins the race, accept4() says EAGAIN instead of blocking past
	 * the caller's deadline.
	 */
	if (mp__fault("listen") || listen(l->fd, SOMAXCONN) < 0 || fcntl(l->fd, F_SETFL, O_NONBLOCK) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = mp__lobby_open(&l->lobby, l->fd, !a.is_unix, l->key, l->keylen)) < 0)
		goto fail;
	if (a.is_unix)
		snprintf(l->address, sizeof l->address, "%s", a.path);
	else
		describe(l->fd, l->address, sizeof l->address);
	*out = l;
	return 0;
fail:
	if (l->fd >= 0 && a.is_unix)
		unlink(a.path); /* bound but not listening: do not leave the file */
	mp_listener_free(l);
	return rc;
}

const char *mp_listener_address(const mp_listener *l)
{
	return l ? l->address : "";
}

int mp_listener_fileno(const mp_listener *l)
{
	return l ? mp__lobby_fileno(l->lobby) : -EINVAL;
}

int mp_listener_set_handshake_timeout(mp_listener *l, double seconds)
{
	if (!l || isnan(seconds))
		return -EINVAL;
	mp__lobby_set_patience(l->lobby, seconds);
	return 0;
}

void mp_listener_free(mp_listener *l)
{
	if (!l)
		return;
	mp__lobby_close(l->lobby);
	if (l->fd >= 0) {
		close(l->fd);
		if (l->is_unix && l->creator == getpid())
			unlink(l->address); /* a Unix socket leaves a file behind; ours to remove */
	}
	free(l->key);
	free(l);
}

/*
 * The client's handshake, within what is left of the deadline: answer the
 * listener's challenge, then challenge it (Python's order).
 */
static int handshake(mp_conn *c, const unsigned char *key, size_t keylen, const struct mp__deadline *d)
{
	if (!key)
		return 0;
	struct timespec left;
	const struct timespec *t = mp__deadline_left(d, &left);
	mp_conn_set_timeout(c, t ? (double)t->tv_sec + (double)t->tv_nsec / 1e9 : MP_FOREVER);
	int rc = mp__answer_challenge(c, key, keylen);
	if (rc == 0)
		rc = mp__deliver_challenge(c, key, keylen);
	mp_conn_set_timeout(c, MP_FOREVER);
	return rc;
}

int mp_listener_accept(mp_listener *l, mp_conn **out, double timeout)
{
	if (!l || !out)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	return mp__lobby_next(l->lobby, out, &d);
}

int mp_client(mp_conn **out, const char *address, const void *authkey, size_t keylen, double timeout)
{
	if (!out)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct address a;
	int rc = parse_address(address, &a);
	if (rc != 0)
		return rc;
	int fd;
	if ((rc = open_socket(&a, false, &fd, &d)) < 0)
		return rc;
	mp_conn *c;
	if ((rc = mp_conn_from_fd(&c, fd, true, true)) < 0) {
		close(fd);
		return rc;
	}
	if ((rc = handshake(c, authkey, keylen, &d)) != 0) {
		mp_conn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}
