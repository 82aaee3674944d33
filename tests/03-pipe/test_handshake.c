/* test_handshake.c: stage 03, the challenge and answer of CPython's handshake, played byte by byte by a raw listener. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <endian.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "lessons/03-pipe.md"

static const char key[] = "handshake-key";

/*
 * The test plays the listener with a raw Unix socket, so that it can send any
 * challenge it likes and read exactly what mp_client() answers. mp_client()
 * runs in a child made by fork(), which writes its result down a pipe and
 * _exit()s: a child never asserts.
 */
struct raw_listener {
	int lfd;             /* the listening socket */
	int fd;              /* the accepted connection, the client's */
	char path[108];
	pid_t child;         /* runs mp_client() */
	int report;          /* read end of the pipe that carries mp_client()'s result */
};

/*
 * Listen at a fresh path, start a child that connects with @client_key, accept
 * it. The child calls @prepare (unless NULL) first, to change its own world.
 */
static void raw_listen_with(struct raw_listener *s, const char *client_key, double timeout, void (*prepare)(void))
{
	static int counter;
	snprintf(s->path, sizeof s->path, "/tmp/mp-test-hs-%d-%d.sock", (int)getpid(), counter++);
	unlink(s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->path);
	cr_assert(s->lfd >= 0 && bind(s->lfd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(s->lfd, 4) == 0,
		  "a raw listener at %s: %s", s->path, strerror(errno));
	int fds[2];
	mp_test_pipe(fds);
	s->child = fork();
	cr_assert(s->child >= 0);
	if (s->child == 0) {
		close(fds[0]);
		if (prepare)
			prepare();
		mp_conn *c = NULL;
		int rc = mp_client(&c, s->path, client_key, client_key ? strlen(client_key) : 0, timeout);
		mp_conn_free(c);
		_exit(write(fds[1], &rc, sizeof rc) == sizeof rc ? 0 : 1); /* _exit: the test's exit handlers are not ours */
	}
	close(fds[1]);
	s->report = fds[0];
	s->fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert(s->fd >= 0, "accept: %s", strerror(errno));
}

static void raw_listen(struct raw_listener *s, const char *client_key, double timeout)
{
	raw_listen_with(s, client_key, timeout, NULL);
}

/* Hang up and collect mp_client()'s result. */
static int raw_finish(struct raw_listener *s)
{
	if (s->fd >= 0)
		close(s->fd);
	int rc = 12345;
	bool got = mp_test_read(s->report, &rc, sizeof rc, 10);
	close(s->report);
	mp_test_wait_pid(s->child, 10);
	close(s->lfd);
	unlink(s->path);
	cr_assert(got, "the child running mp_client() reported nothing");
	return rc;
}

/*
 * Send one frame, header and body in one call. The client may hang up as soon
 * as it has read a header it refuses (a 257-byte answer, say): on a slow
 * machine that happens before the body is written, so a hang-up is no error
 * here, and MSG_NOSIGNAL keeps it from killing the test with SIGPIPE.
 */
static void put(int fd, const void *msg, size_t len)
{
	unsigned char frame[4 + 512];
	cr_assert(len <= sizeof frame - 4, "a test frame of %zu bytes is more than put() was made for", len);
	uint32_t header = htobe32((uint32_t)len);
	memcpy(frame, &header, sizeof header);
	memcpy(frame + 4, msg, len);
	ssize_t n = send(fd, frame, 4 + len, MSG_NOSIGNAL);
	cr_assert(n == (ssize_t)(4 + len) || (n < 0 && (errno == EPIPE || errno == ECONNRESET)),
		  "sending a %zu-byte frame to the client: %s", len, n < 0 ? strerror(errno) : "cut short");
}

/* Receive one frame from the client within 5 s; its length, or -1 if the client hung up first. */
static ssize_t get(int fd, unsigned char *buf, size_t cap)
{
	uint32_t header;
	if (!mp_test_read(fd, &header, sizeof header, 5))
		return -1;
	size_t len = be32toh(header);
	cr_assert(len <= cap, "the client sent a frame of %zu bytes, more than a handshake message can be", len);
	cr_assert(mp_test_read(fd, buf, len, 5), "the client sent only part of a %zu-byte frame", len);
	return (ssize_t)len;
}

/* The HMAC of @msg under the test's key, with a digest named as Python names it. */
static size_t hmac_of(const char *digest, const unsigned char *msg, size_t len, unsigned char *out)
{
	char name[16];
	snprintf(name, sizeof name, "%s", digest);
	for (char *p = name; *p; p++)
		if (*p == '_')
			*p = '-';
	unsigned outlen = 0;
	cr_assert(HMAC(EVP_get_digestbyname(name), key, (int)strlen(key), msg, len, out, &outlen), "HMAC-%s", digest);
	return outlen;
}

/* A challenge: "#CHALLENGE#", then @prefix, then @random_len bytes. Returns its length; M starts at 11. */
static size_t challenge(unsigned char *out, const char *prefix, size_t random_len)
{
	size_t n = 0;
	memcpy(out, "#CHALLENGE#", 11);
	n += 11;
	memcpy(out + n, prefix, strlen(prefix));
	n += strlen(prefix);
	for (size_t i = 0; i < random_len; i++)
		out[n++] = (unsigned char)(i * 37 + 11);
	return n;
}

MP_TEST(handshake, the_answerer_refuses_a_challenge_python_would_refuse, 3, "Authentication with a shared key")
{
	static const struct {
		const char *what, *start;
		size_t random_len;
	} bad[] = {
		{ "a wrong prefix", "#CHALLENGX#", 20 },
		{ "a prefix without its first byte", "CHALLENGE#", 21 },
		{ "only 19 bytes of M", "#CHALLENGE#{md5}", 14 },
		{ "the prefix alone", "#CHALLENGE#", 0 },
		{ "part of the prefix", "#CHALLENG", 0 },
		{ "a digest Python does not allow", "#CHALLENGE#{sha1}", 40 },
		{ "a digest name without its brace", "#CHALLENGE#{sha256", 40 },
		{ "a digest name that only starts right", "#CHALLENGE#{sha2560}", 40 },
		{ "an empty digest name", "#CHALLENGE#{}", 40 },
		{ "257 bytes, past the 256 a handshake message may have", "#CHALLENGE#", 246 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct raw_listener s;
		raw_listen(&s, key, 5);
		unsigned char msg[300];
		size_t len = strlen(bad[i].start);
		memcpy(msg, bad[i].start, len);
		for (size_t k = 0; k < bad[i].random_len; k++)
			msg[len++] = (unsigned char)('a' + k % 26);
		put(s.fd, msg, len);
		unsigned char answer[256];
		ssize_t got = get(s.fd, answer, sizeof answer);
		int rc = raw_finish(&s);
		cr_assert(got < 0, "a challenge with %s must not be answered (the client sent %zd bytes back)", bad[i].what, got);
		cr_assert(rc == MP_EBADMSG, "a challenge with %s: mp_client() returned %s, expected MP_EBADMSG",
			  bad[i].what, mp_err_name(rc));
	}

	/* A listener that hangs up instead of challenging: a broken protocol, not a clean end. */
	struct raw_listener s;
	raw_listen(&s, key, 5);
	int rc = raw_finish(&s);
	cr_assert(rc == MP_EBADMSG, "a listener that hangs up before its challenge: mp_client() returned %s, "
		  "expected MP_EBADMSG", mp_err_name(rc));
}

MP_TEST(handshake, the_answerer_signs_all_of_m_with_the_digest_it_names, 3, "Authentication with a shared key")
{
	static const struct {
		const char *prefix; /* of M */
		size_t random_len;
		const char *digest; /* what the answer must use */
		bool named;         /* whether the answer starts with the prefix */
	} good[] = {
		{ "", 20, "md5", false },            /* Python 3.11 and before */
		{ "{md5}", 15, "md5", false },       /* 20 bytes in all: the legacy form, by its length */
		{ "{md5}", 16, "md5", true },        /* 21 bytes: the smallest modern M */
		{ "{sha256}", 40, "sha256", true },  /* Python 3.12 */
		{ "{sha384}", 40, "sha384", true },
		{ "{sha3_256}", 40, "sha3_256", true },
		{ "{sha3_384}", 235, "sha3_384", true }, /* 256 bytes in all: the most a handshake message may have */
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct raw_listener s;
		raw_listen(&s, key, 5);
		unsigned char msg[300], answer[256], want[256];
		size_t len = challenge(msg, good[i].prefix, good[i].random_len);
		put(s.fd, msg, len);
		ssize_t got = get(s.fd, answer, sizeof answer);
		size_t at = good[i].named ? strlen(good[i].prefix) : 0;
		memcpy(want, good[i].prefix, at);
		size_t want_len = at + hmac_of(good[i].digest, msg + 11, len - 11, want + at);
		cr_assert(got == (ssize_t)want_len && memcmp(answer, want, want_len) == 0,
			  "to a challenge with M = \"%s\" and %zu bytes, the answer must be %s%s HMAC-%s of all of M "
			  "(%zu bytes); got %zd bytes", good[i].prefix, good[i].random_len, good[i].named ? good[i].prefix : "",
			  good[i].named ? " and the" : "the bare", good[i].digest, want_len, got);
		put(s.fd, "#FAILURE#", 9);
		int rc = raw_finish(&s);
		cr_assert(rc == MP_EAUTH, "after #FAILURE#, mp_client() returned %s, expected MP_EAUTH", mp_err_name(rc));
	}
}

/* Play the listener's half up to the client's challenge: challenge, check nothing, welcome. */
static size_t until_the_clients_challenge(struct raw_listener *s, unsigned char *m)
{
	unsigned char msg[64], answer[256], theirs[256];
	size_t len = challenge(msg, "{sha256}", 40);
	put(s->fd, msg, len);
	cr_assert(get(s->fd, answer, sizeof answer) > 0, "the client did not answer");
	put(s->fd, "#WELCOME#", 9);
	ssize_t n = get(s->fd, theirs, sizeof theirs);
	cr_assert(n == 11 + 8 + 40 && memcmp(theirs, "#CHALLENGE#{sha256}", 19) == 0,
		  "the client's challenge must be #CHALLENGE#{sha256} and 40 random bytes, 59 in all (got %zd)", n);
	memcpy(m, theirs + 11, 48);
	return 48;
}

MP_TEST(handshake, the_challenger_welcomes_only_a_right_answer, 3, "Authentication with a shared key")
{
	static const struct {
		const char *what;
		int form; /* 0 right, named; 1 right, bare MD5; 2 ... wrong ones */
		int want;
	} answers[] = {
		{ "the right {sha256} answer", 0, 0 },
		{ "the right bare HMAC-MD5 of all of M, as Python 3.11 answers", 1, 0 },
		{ "the right {sha3_384} answer", 2, 0 },
		{ "a {sha256} answer one byte short", 3, MP_EAUTH },
		{ "a {sha256} answer with one byte too many", 10, MP_EAUTH },
		{ "a {sha256} answer with its last byte changed", 4, MP_EAUTH },
		{ "the HMAC of the random bytes without the prefix", 5, MP_EAUTH },
		{ "a digest Python does not allow", 6, MP_EAUTH },
		{ "an empty answer", 7, MP_EAUTH },
		{ "the right HMAC under another digest's name", 8, MP_EAUTH },
		{ "257 bytes", 9, MP_EBADMSG },
	};
	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		struct raw_listener s;
		raw_listen(&s, key, 5);
		unsigned char m[64], answer[300];
		size_t mlen = until_the_clients_challenge(&s, m), len = 0;
		switch (answers[i].form) {
		case 0: case 3: case 4:
			memcpy(answer, "{sha256}", 8);
			len = 8 + hmac_of("sha256", m, mlen, answer + 8);
			len -= answers[i].form == 3;
			answer[len - 1] ^= answers[i].form == 4;
			break;
		case 1:
			len = hmac_of("md5", m, mlen, answer);
			break;
		case 2:
			memcpy(answer, "{sha3_384}", 10);
			len = 10 + hmac_of("sha3_384", m, mlen, answer + 10);
			break;
		case 5:
			memcpy(answer, "{sha256}", 8);
			len = 8 + hmac_of("sha256", m + 8, mlen - 8, answer + 8);
			break;
		case 6:
			memcpy(answer, "{sha1}", 6);
			len = 6 + 20;
			memset(answer + 6, 1, 20);
			break;
		case 7:
			break;
		case 8:
			memcpy(answer, "{sha384}", 8);
			len = 8 + hmac_of("sha256", m, mlen, answer + 8);
			break;
		case 9:
			len = 257;
			memset(answer, '{', len);
			break;
		case 10:
			memcpy(answer, "{sha256}", 8);
			len = 8 + hmac_of("sha256", m, mlen, answer + 8);
			answer[len++] = 0;
			break;
		}
		put(s.fd, answer, len);
		unsigned char verdict[256];
		ssize_t got = get(s.fd, verdict, sizeof verdict);
		int rc = raw_finish(&s);
		if (answers[i].want == MP_EBADMSG)
			cr_assert(got < 0, "to %s the client must hang up without a verdict", answers[i].what);
		else
			cr_assert(got == 9 && memcmp(verdict, answers[i].want == 0 ? "#WELCOME#" : "#FAILURE#", 9) == 0,
				  "to %s the client must say %s", answers[i].what,
				  answers[i].want == 0 ? "#WELCOME#" : "#FAILURE#");
		cr_assert(rc == answers[i].want, "to %s, mp_client() returned %s, expected %s", answers[i].what,
			  mp_err_name(rc), mp_err_name(answers[i].want));
	}
}

MP_TEST(handshake, only_an_exact_welcome_is_a_welcome, 1, "Authentication with a shared key")
{
	static const char *const verdicts[] = { "#WELCOME", "#WELCOME#!", "#WELCOMX#", "#FAILURE#" };
	for (int i = 0; i < 4; i++) {
		struct raw_listener s;
		raw_listen(&s, key, 5);
		unsigned char msg[64], answer[256];
		put(s.fd, msg, challenge(msg, "{sha256}", 40));
		cr_assert(get(s.fd, answer, sizeof answer) > 0);
		put(s.fd, verdicts[i], strlen(verdicts[i]));
		int rc = raw_finish(&s);
		cr_assert(rc == MP_EAUTH, "after the verdict \"%s\", mp_client() returned %s, expected MP_EAUTH%s",
			  verdicts[i], mp_err_name(rc), rc == -EPIPE || rc == -ECONNRESET ?
			  " (it went on as if welcomed, sending its own challenge to a listener that had hung up)" : "");
	}
}

MP_TEST(handshake, a_client_whose_listener_never_challenges_times_out, 1, "Authentication with a shared key")
{
	struct raw_listener s;
	double t0 = mp_test_now();
	raw_listen(&s, key, 0.3); /* a listener without a key says nothing first */
	unsigned char buf[256];
	ssize_t got = get(s.fd, buf, sizeof buf);
	int rc = raw_finish(&s);
	double took = mp_test_now() - t0;
	cr_assert(got < 0, "the client must wait for a challenge, not speak first");
	cr_assert(rc == MP_ETIMEDOUT, "mp_client() returned %s, expected MP_ETIMEDOUT", mp_err_name(rc));
	cr_assert(took < 5, "mp_client(timeout 0.3) took %.3f s", took);
}

MP_TEST(handshake, an_answerer_that_hears_no_verdict_has_not_been_welcomed, 1, "Authentication with a shared key")
{
	struct raw_listener s;
	raw_listen(&s, key, 5);
	unsigned char msg[64], answer[256];
	put(s.fd, msg, challenge(msg, "{sha256}", 40));
	cr_assert(get(s.fd, answer, sizeof answer) > 0, "the client did not answer the challenge");
	/*
	 * Half a hang-up: the client reads end-of-file where the verdict should
	 * be, and whatever it still sends reaches us, in the order it sends it.
	 */
	cr_assert(shutdown(s.fd, SHUT_WR) == 0);
	ssize_t more = get(s.fd, answer, sizeof answer);
	int rc = raw_finish(&s);
	cr_assert(more < 0, "a client that got no verdict must not go on to challenge (it sent %zd more bytes)", more);
	cr_assert(rc == MP_EBADMSG, "a listener that hangs up instead of its verdict: mp_client() returned %s, "
		  "expected MP_EBADMSG (no verdict is no welcome)", mp_err_name(rc));
}

/*
 * As a system in FIPS mode refuses MD5: here every digest is asked of a FIPS
 * provider that is not loaded, so OpenSSL can compute no HMAC at all.
 */
static void refuse_every_digest(void)
{
	EVP_set_default_properties(NULL, "fips=yes");
}

MP_TEST(handshake, an_answerer_that_cannot_compute_the_hmac_sends_nothing, 1, "Authentication with a shared key")
{
	struct raw_listener s;
	raw_listen_with(&s, key, 5, refuse_every_digest);
	unsigned char msg[64], answer[256];
	put(s.fd, msg, challenge(msg, "", 20)); /* the legacy form: a bare HMAC-MD5 */
	ssize_t got = get(s.fd, answer, sizeof answer);
	int rc = raw_finish(&s);
	cr_assert(got < 0, "a client whose OpenSSL computes no HMAC must hang up, not send %zd bytes", got);
	cr_assert(rc == -EIO, "a client whose OpenSSL computes no HMAC: mp_client() returned %s, expected -EIO",
		  mp_err_name(rc));
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef NATIVE_AUDIT_ARCH
/*
 * A seccomp filter that makes getrandom() fail with ENOSYS, as on a kernel
 * older than 3.17 or in a sandbox that forbids it. The child's world only.
 */
static void refuse_getrandom(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = { .len = sizeof filter / sizeof filter[0], .filter = filter };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
		_exit(3); /* no filter: the parent hears no result and says so */
}
#endif

MP_TEST(handshake, a_challenger_without_random_bytes_sends_no_challenge, 1, "Authentication with a shared key")
{
#ifndef NATIVE_AUDIT_ARCH
	cr_skip_test("no seccomp filter written for this architecture");
#else
	struct raw_listener s;
	raw_listen_with(&s, key, 5, refuse_getrandom);
	unsigned char msg[64], answer[256];
	put(s.fd, msg, challenge(msg, "{sha256}", 40));
	cr_assert(get(s.fd, answer, sizeof answer) > 0, "the client did not answer the challenge");
	put(s.fd, "#WELCOME#", 9);
	ssize_t got = get(s.fd, answer, sizeof answer); /* the client's challenge, if it made one */
	int rc = raw_finish(&s);
	cr_assert(got < 0, "a client whose getrandom() fails must not challenge (a challenge it cannot make "
		  "unpredictable could be answered by a replay); it sent %zd bytes", got);
	cr_assert(rc == -EIO, "a client whose getrandom() fails: mp_client() returned %s, expected -EIO",
		  mp_err_name(rc));
#endif
}
