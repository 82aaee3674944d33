/* fuzz_handshake.c: libFuzzer target for stage 03's challenge-and-response handshake, checked against CPython's rules. */
#define _GNU_SOURCE /* MSG_NOSIGNAL, SOCK_CLOEXEC, syscall() */
#include <mp.h>

#include "auth.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sanitizer/allocator_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * An input is:
 *
 *	byte 0		bit 0: the library answers a challenge (0) or delivers one (1);
 *			bit 1: the rest is sent as it is, frame headers and all (1),
 *			or cut into messages that the harness frames (0)
 *	byte 1		the key's length k, then k bytes of key
 *	the rest	cut into messages: a 2-byte big-endian length, then that many
 *			bytes (the last message takes what is left)
 *
 * The peer's messages are all written before the library runs, then the
 * peer's write side is shut, so that no receive can wait. The result, and
 * every byte the library sent, are compared with a model written from
 * CPython 3.12's multiprocessing/connection.py (answer_challenge,
 * deliver_challenge, _create_response, _verify_challenge), not from auth.c.
 */

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define NONCE 40              /* CPython's MESSAGE_LENGTH */
#define RECV_MAX 256          /* CPython's recv_bytes(256) in the handshake */
/*
 * No allocation while the handshake runs may be larger than this: a peer
 * that has not proved anything must not make us allocate what it announces.
 * OpenSSL's own allocations for an HMAC, once initialised, stay well below.
 */
#define ALLOC_MAX 16384

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_handshake: " __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/*
 * mp__deliver_challenge() draws its nonce from getrandom(). This definition
 * takes the place of libc's in this program, so that a fixed nonce (zeros)
 * lets a seed carry the right answer, and the success path gets fuzzed too.
 * Outside the call it is the real system call.
 */
static bool fixed_nonce;

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	if (fixed_nonce) {
		memset(buf, 0, len);
		return (ssize_t)len;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

/* The largest allocation made while the handshake runs. */
static bool watching;
static size_t largest;

static void on_malloc(const volatile void *p, size_t size)
{
	(void)p;
	if (watching && size > largest)
		largest = size;
}

static void on_free(const volatile void *p)
{
	(void)p;
}

static const EVP_MD *openssl_digest(const char *digest);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
	/* OpenSSL sets up its tables on first use: do it now, not under watch. */
	static const char *const names[] = { "md5", "sha256", "sha384", "sha3_256", "sha3_384" };
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned outlen;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		CHECK(HMAC(openssl_digest(names[i]), "k", 1, (const unsigned char *)"m", 1, out, &outlen),
		      "OpenSSL has no %s", names[i]);
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* A growing byte buffer, for the frames the peer sends and those we expect back. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p != NULL, "out of memory in the harness");
	}
	if (n > 0)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_frame(struct buf *b, const void *msg, size_t n)
{
	uint8_t hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
	put(b, hdr, sizeof hdr);
	put(b, msg, n);
}

/*
 * The peer's next message as CPython's recv_bytes(256) takes it: false for
 * end-of-file, a frame cut short, a negative length, or one above 256.
 */
static bool next_message(const uint8_t *s, size_t n, size_t *pos, const uint8_t **msg, size_t *len)
{
	size_t rem = n - *pos, hdr = 4;
	if (rem < 4)
		return false;
	int32_t small = (int32_t)be32(s + *pos);
	uint64_t length = (uint64_t)small;
	if (small == -1) {
		if (rem < 12)
			return false;
		length = be64(s + *pos + 4);
		hdr = 12;
	} else if (small < 0) {
		return false;
	}
	if (length > RECV_MAX || length > rem - hdr)
		return false;
	*msg = s + *pos + hdr;
	*len = (size_t)length;
	*pos += hdr + (size_t)length;
	return true;
}

/*
 * _get_digest_name_and_payload(): the digest a challenge or response names
 * ("md5" for the bare legacy lengths, 20 and 16), with *payload where its
 * bytes start; NULL where CPython raises AuthenticationError.
 */
static const char *digest_name(const uint8_t *msg, size_t len, size_t *payload, char name[16])
{
	static const char *const allowed[] = { "md5", "sha256", "sha384", "sha3_256", "sha3_384" };
	*payload = 0;
	if (len == 0 || len == 20 || len == 16)
		return "md5";
	if (msg[0] != '{')
		return NULL;
	/* message.find(b'}', 1, _MAX_DIGEST_LEN + 2), the longest name being 8 */
	size_t curly = 0;
	for (size_t i = 1; i < len && i < 10; i++)
		if (msg[i] == '}') {
			curly = i;
			break;
		}
	if (curly == 0)
		return NULL;
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strlen(allowed[i]) == curly - 1 && memcmp(msg + 1, allowed[i], curly - 1) == 0) {
			memcpy(name, allowed[i], curly - 1);
			name[curly - 1] = '\0';
			*payload = curly + 1;
			return name;
		}
	return NULL;
}

/*
 * The digest as OpenSSL names it: CPython's hashlib says "sha3_256" where
 * OpenSSL says "sha3-256", and _hashopenssl.c translates (py_digest_by_name).
 */
static const EVP_MD *openssl_digest(const char *digest)
{
	char name[16];
	size_t i = 0;
	for (; digest[i] && i < sizeof name - 1; i++)
		name[i] = digest[i] == '_' ? '-' : digest[i];
	name[i] = '\0';
	return EVP_get_digestbyname(name);
}

static unsigned hmac(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
		     uint8_t out[EVP_MAX_MD_SIZE])
{
	unsigned outlen = 0;
	CHECK(HMAC(openssl_digest(digest), key, (int)keylen, msg, len, out, &outlen),
	      "HMAC-%s failed in the harness", digest);
	return outlen;
}

/* The answering side: what it must return, and send into @sent. */
static int model_answer(const uint8_t *s, size_t n, const uint8_t *key, size_t keylen, struct buf *sent)
{
	size_t pos = 0, len, payload;
	const uint8_t *msg;
	char name[16];
	if (!next_message(s, n, &pos, &msg, &len))
		return MP_EBADMSG;
	size_t skip = sizeof CHALLENGE - 1;
	if (len < skip || memcmp(msg, CHALLENGE, skip) != 0 || len - skip < 20)
		return MP_EBADMSG;
	const uint8_t *m = msg + skip;
	size_t mlen = len - skip;
	const char *digest = digest_name(m, mlen, &payload, name);
	if (!digest)
		return MP_EBADMSG;
	/* _create_response(): the MAC covers all of the message, prefix and all. */
	uint8_t response[16 + EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
	size_t at = 0;
	if (payload > 0) {
		at = (size_t)snprintf((char *)response, 16, "{%s}", digest);
	}
	unsigned maclen = hmac(digest, key, keylen, m, mlen, mac);
	memcpy(response + at, mac, maclen);
	put_frame(sent, response, at + maclen);

	if (!next_message(s, n, &pos, &msg, &len))
		return MP_EBADMSG;
	if (len != sizeof WELCOME - 1 || memcmp(msg, WELCOME, len) != 0)
		return MP_EAUTH;
	return 0;
}

/* The challenging side, with the fixed nonce. */
static int model_deliver(const uint8_t *s, size_t n, const uint8_t *key, size_t keylen, struct buf *sent)
{
	uint8_t challenge[sizeof CHALLENGE - 1 + 8 + NONCE] = CHALLENGE "{sha256}"; /* and zeros */
	const uint8_t *m = challenge + sizeof CHALLENGE - 1;
	size_t mlen = 8 + NONCE;
	put_frame(sent, challenge, sizeof challenge);

	size_t pos = 0, len, payload;
	const uint8_t *msg;
	char name[16];
	if (!next_message(s, n, &pos, &msg, &len))
		return MP_EBADMSG;
	/* _verify_challenge() */
	const char *digest = digest_name(msg, len, &payload, name);
	bool good = false;
	if (digest) {
		uint8_t mac[EVP_MAX_MD_SIZE];
		unsigned maclen = hmac(digest, key, keylen, m, mlen, mac);
		good = len - payload == maclen && memcmp(msg + payload, mac, maclen) == 0;
	}
	put_frame(sent, good ? WELCOME : FAILURE, sizeof WELCOME - 1);
	return good ? 0 : MP_EAUTH;
}

/* Everything the library sent: the peer's end is shut for writing only, so it can still read. */
static void drain(int fd, struct buf *b)
{
	uint8_t chunk[4096];
	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		put(b, chunk, (size_t)n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int first_fd = -1;
	if (size < 2)
		return 0;
	bool deliver = data[0] & 1, raw = data[0] & 2;
	size_t keylen = data[1] < size - 2 ? data[1] : size - 2;
	const uint8_t *key = data + 2;
	const uint8_t *rest = key + keylen;
	size_t restlen = size - 2 - keylen;

	/* The bytes the peer sends: as they are, or each message framed as CPython frames it. */
	struct buf peer = { 0 };
	if (raw) {
		put(&peer, rest, restlen);
	} else {
		for (size_t at = 0; at < restlen;) {
			size_t len = restlen - at >= 2 ? (size_t)rest[at] << 8 | rest[at + 1] : 0;
			at += restlen - at >= 2 ? 2 : restlen - at;
			if (len > restlen - at)
				len = restlen - at;
			put_frame(&peer, rest + at, len);
			at += len;
		}
	}

	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s", strerror(errno));
	if (first_fd < 0)
		first_fd = sv[0];
	CHECK(sv[0] <= first_fd + 4, "descriptor leak: socketpair() gave %d, first %d", sv[0], first_fd);

	/* Never blocks: what does not fit in the socket's buffer is dropped, and the model sees only what went in. */
	size_t sent = 0;
	while (sent < peer.len) {
		ssize_t w = send(sv[1], peer.p + sent, peer.len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	CHECK(shutdown(sv[1], SHUT_WR) == 0, "shutdown: %s", strerror(errno));

	mp_conn *c;
	int rc = mp_conn_from_fd(&c, sv[0], true, true);
	CHECK(rc == 0, "mp_conn_from_fd: %s", mp_err_name(rc));
	/* Nothing can block with end-of-file queued; the timeout is a second line of defence. */
	CHECK(mp_conn_set_timeout(c, 2.0) == 0, "mp_conn_set_timeout");

	watching = true;
	largest = 0;
	fixed_nonce = deliver;
	rc = deliver ? mp__deliver_challenge(c, key, keylen) : mp__answer_challenge(c, key, keylen);
	fixed_nonce = false;
	watching = false;

	struct buf want_sent = { 0 }, got_sent = { 0 };
	int want = deliver ? model_deliver(peer.p, sent, key, keylen, &want_sent)
			   : model_answer(peer.p, sent, key, keylen, &want_sent);
	drain(sv[1], &got_sent);
	const char *side = deliver ? "mp__deliver_challenge" : "mp__answer_challenge";

	CHECK(largest <= ALLOC_MAX, "%s allocated %zu bytes at once for what the peer sent", side, largest);
	if (!deliver && rc == 0) {
		/* Said on its own, whatever the model: only "#WELCOME#" as the second message lets us in. */
		size_t pos = 0, len = 0;
		const uint8_t *msg = NULL;
		bool first = next_message(peer.p, sent, &pos, &msg, &len);
		bool second = first && next_message(peer.p, sent, &pos, &msg, &len);
		CHECK(second && len == sizeof WELCOME - 1 && memcmp(msg, WELCOME, len) == 0,
		      "mp__answer_challenge returned 0, but the peer's last message was not " WELCOME);
	}
	CHECK(rc == want, "%s returned %s, expected %s", side, mp_err_name(rc), mp_err_name(want));
	CHECK(got_sent.len == want_sent.len && (got_sent.len == 0 || memcmp(got_sent.p, want_sent.p, got_sent.len) == 0),
	      "%s sent %zu bytes, expected %zu (or different ones)", side, got_sent.len, want_sent.len);

	mp_conn_free(c);
	close(sv[1]);
	free(peer.p);
	free(want_sent.p);
	free(got_sent.p);
	return 0;
}
