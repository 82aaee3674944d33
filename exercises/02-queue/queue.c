/* queue.c: a message queue between processes, in a ring of shared memory. */
#define _GNU_SOURCE /* memfd_create(), pipe2(), MADV_REMOVE */
#include <mp.h>

#include "../01-process/deadline.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Valgrind's leak check reads every byte of memory a process has mapped and
 * may use. Read, a page of the ring that was never written is given memory
 * by the kernel: 4 GiB of it, in each process that exits. So the ring is
 * marked unusable for valgrind until a process uses a span of it (see
 * ring_span()). Without valgrind's header, the marks are nothing.
 */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_NOACCESS(addr, len) ((void)(addr), (void)(len))
#define VALGRIND_MAKE_MEM_DEFINED(addr, len) ((void)(addr), (void)(len))
#endif

/*
 * The design, in four ideas:
 *
 * 1. The messages live in a ring of shared memory that every process maps
 *    (fork() shares the mapping): a record header, then the bytes, one
 *    record after the other. The kernel gives the ring memory a page at a
 *    time as records are written, and takes it back a chunk at a time once
 *    they are read: the queue holds as much as memory allows (up to the
 *    ring's size, 4 GiB unless chosen) and costs only what it holds.
 * 2. One guard, a robust mutex, orders everything: a put writes its record,
 *    and a get copies one out, while holding it. If a holder is killed, the
 *    kernel lets the guard go and tells the next taker (EOWNERDEAD).
 * 3. What the guard protects, the books (where the ring's records start and
 *    end, how many there are), is kept twice. An operation writes its
 *    changes into the spare copy, then commits them with one atomic store
 *    that makes the spare the true copy. A holder killed at any instant
 *    leaves the books as its last commit left them: there is nothing to
 *    repair. A half-written record lies past the tail, where no one looks.
 * 4. Sleepers are woken *before* the commit that ends their wait, while the
 *    waker still holds the guard. A woken sleeper must take the guard to
 *    look, so it sees the commit, or the waker's death. Waking after the
 *    commit would leave it asleep for ever if the waker died in between.
 *
 * Consumers sleep in poll() on a pipe of which every handle holds the write
 * end. A byte in it is the doorbell a producer rings; when every write end is
 * closed (by mp_queue_close(), exit or death) the kernel reports the hang-up,
 * which is the end of the stream once the ring is drained. Producers waiting
 * for room, and joiners, sleep on futexes.
 */

#define RING_BYTES (4ULL << 30)        /* the ring's size unless chosen: memory is used only as it fills */
#define RING_MAX (64ULL << 30)         /* the largest ring one may choose */
#define CHUNK (1ULL << 20)             /* memory goes back to the kernel in chunks of this size */
#define SHARED_BYTES 4096              /* the page before the ring, for struct shared */
#define DEFAULT_MAX_MESSAGE (1UL << 30)
#define SPINS 4000                     /* looks a get takes at the ring before it sleeps */
#define LOCK_SPINS 200                 /* tries at a busy guard before sleeping on it */

enum type { BYTES = 0, INT = 1, DOUBLE = 2, STRING = 3, ANY = 255 };

/* Before each message in the ring; records start on 8-byte boundaries. */
struct record {
	uint64_t len;   /* bytes of message after it */
	uint32_t type;  /* enum type */
	uint32_t check; /* CHECK(len, type): a record that put wrote, not stray bytes */
};

#define CHECK(len, type) (0x3151504du ^ (uint32_t)(len) ^ ((uint32_t)(type) << 24))

/*
 * What an operation changes, kept twice (idea 3). Positions count the bytes
 * ever written into the ring and only grow; position p is at place(q, p).
 */
struct books {
	uint64_t head;       /* where the oldest record starts */
	uint64_t tail;       /* where the next record goes */
	uint64_t released;   /* the chunks below here went back to the kernel, or hold new records */
	uint64_t count;      /* messages in the ring */
	uint64_t unfinished; /* joinable: put and not yet marked done */
};

/* The first page of the mapping, shared by every process holding the queue. */
struct shared {
	pthread_mutex_t guard;     /* robust and process-shared: held for every change */
	_Atomic uint32_t version;  /* books[version % 2] are the true books; a commit adds 1 */
	struct books books[2];
	uint64_t maxsize;          /* 0: no bound but memory */
	_Atomic uint32_t room;     /* futex: changes before a get that may make room commits */
	_Atomic uint32_t all_done; /* futex: changes before the last task_done commits */
	/*
	 * How many sleep, so that a waker makes no system call when none does.
	 * A process killed asleep leaves its count behind: that costs a wake-up
	 * call that wakes nobody, never a sleeper left asleep.
	 */
	_Atomic uint32_t consumers_asleep, producers_asleep, joiners_asleep, guard_sleepers;
	bool rung;    /* the doorbell byte is in the pipe (if true, it is; if false, it may be) */
	bool watched; /* mp_queue_fileno() was asked for: ring for every message, not only for sleepers */
};

_Static_assert(sizeof(struct shared) <= SHARED_BYTES, "struct shared must fit the page before the ring");

struct mp_queue {
	struct shared *shared; /* the mapping: this page, then the ring */
	unsigned char *ring;
	int bell_rd;           /* the doorbell pipe: consumers poll this end */
	int bell_wr;           /* every putting handle holds this end; -1 once closed here */
	uint64_t ring_bytes;   /* a power of two, at least 2 chunks */
	size_t max_message;    /* larger messages are refused both ways */
	bool joinable;
};

static const struct mp__deadline forever = { .forever = true };

/* ---- Making and freeing a queue ------------------------------------------------------------ */

static int queue_new(mp_queue **out, size_t maxsize, size_t bytes, bool joinable)
{
	if (!out || bytes > RING_MAX)
		return -EINVAL;
	mp_queue *q = mp__fault("calloc") ? NULL : calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->bell_rd = q->bell_wr = -1;
	q->max_message = DEFAULT_MAX_MESSAGE;
	q->joinable = joinable;
	/* A power of two, so that a position's place in the ring is a mask, not a division. */
	for (q->ring_bytes = 2 * CHUNK; q->ring_bytes < bytes; q->ring_bytes *= 2)
		continue;

	int rc = 0, fd = -1, bell[2];
	if (mp__fault("pipe2") || pipe2(bell, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		goto fail;
	}
	q->bell_rd = bell[0];
	q->bell_wr = bell[1];

	/*
	 * A memfd rather than an anonymous mapping: the kernel charges its pages
	 * as they are touched, never the whole ring up front. The mapping keeps
	 * the memory alive, so the descriptor can go at once. (Each call that
	 * cannot fail on demand goes through the fault seam, fault.h, for the tests.)
	 */
	fd = mp__fault("memfd_create") ? -1 : memfd_create("mp-queue", MFD_CLOEXEC);
	if (fd < 0 || (mp__fault("ftruncate") || ftruncate(fd, (off_t)(SHARED_BYTES + q->ring_bytes)) < 0)) {
		rc = -errno;
		goto fail;
	}
	void *map = mp__fault("mmap") ? MAP_FAILED
				      : mmap(NULL, SHARED_BYTES + q->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	q->shared = map;
	q->ring = (unsigned char *)map + SHARED_BYTES;
	q->shared->maxsize = maxsize;
	VALGRIND_MAKE_MEM_NOACCESS(q->ring, q->ring_bytes);

	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	rc = -pthread_mutex_init(&q->shared->guard, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc < 0)
		goto fail;
	close(fd);
	*out = q;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	mp_queue_free(q);
	return rc;
}

int mp_queue_new(mp_queue **out, size_t maxsize)
{
	return queue_new(out, maxsize, RING_BYTES, false);
}

int mp_queue_new_joinable(mp_queue **out, size_t maxsize)
{
	return queue_new(out, maxsize, RING_BYTES, true);
}

int mp_queue_new_sized(mp_queue **out, size_t maxsize, size_t bytes, bool joinable)
{
	return queue_new(out, maxsize, bytes, joinable);
}

void mp_queue_free(mp_queue *q)
{
	if (!q)
		return;
	if (q->bell_rd >= 0)
		close(q->bell_rd);
	if (q->bell_wr >= 0)
		close(q->bell_wr);
	if (q->shared)
		munmap(q->shared, SHARED_BYTES + q->ring_bytes); /* the last process to unmap frees the memory */
	free(q);
}

/* ---- The guard and the books ---------------------------------------------------------------- */

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause(); /* tells the core it spins: saves power, and the other hyperthread runs */
#endif
}

/*
 * Sleep until the guard is ours, or the deadline, counted in guard_sleepers
 * meanwhile (see unlock()).
 */
static int wait_for_guard(struct shared *s, const struct mp__deadline *d)
{
	atomic_fetch_add(&s->guard_sleepers, 1);
	int rc = d->forever ? pthread_mutex_lock(&s->guard) : pthread_mutex_clocklock(&s->guard, CLOCK_MONOTONIC, &d->end);
	atomic_fetch_sub(&s->guard_sleepers, 1);
	return rc;
}

/*
 * Take the guard by the deadline: 0, MP_ETIMEDOUT, or a negated errno. It is
 * held only for a copy and a few stores, so trying a little before sleeping
 * on it usually wins it without a system call.
 */
static int lock(struct shared *s, const struct mp__deadline *d)
{
	/* TODO: your code goes here.
	 * Hint: pthread_mutex_trylock() s->guard a few times (LOCK_SPINS, with
	 * cpu_relax() between) while it says EBUSY, then wait_for_guard().
	 * EOWNERDEAD means you hold it and its last holder died holding it: its
	 * uncommitted changes do not count, so there is nothing to mend; say so
	 * with pthread_mutex_consistent(), or the next taker is refused for ever.
	 * Lesson 02, "The guard, and a holder that dies".
	 */
	return MP_ETODO;
}

/*
 * Let the guard go. glibc's unlock wakes one sleeper, which then takes the
 * guard itself; killed between its wake-up and its take, it would take the
 * wake-up with it, and the others would sleep on with the guard free. So
 * when anyone sleeps on it, wake them all: the ones that lose sleep again.
 * (A process killed asleep leaves its count: a wake-up call for nobody.)
 */
static void unlock(struct shared *s)
{
	pthread_mutex_unlock(&s->guard);
	if (atomic_load(&s->guard_sleepers) > 0)
		syscall(SYS_futex, &s->guard.__data.__lock, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* The true books. Guard held. */
static const struct books *books(const struct shared *s)
{
	return &s->books[atomic_load_explicit(&s->version, memory_order_relaxed) % 2];
}

/* For the tests: die here, as a process killed at this very instant would (see fault.h). */
static void killed_here(const char *point)
{
	if (mp__fault(point))
		raise(SIGKILL);
}

/* For the tests: dawdle here for 0.3 s, as a process the scheduler set aside at this instant would. */
static void dawdle_here(const char *point)
{
	struct timespec t = { 0, 300000000 };
	if (mp__fault(point))
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			continue;
}

/* The spare copy of the books, filled with the true ones, to change and then commit. Guard held. */
static struct books *draft(struct shared *s)
{
	uint32_t v = atomic_load_explicit(&s->version, memory_order_relaxed);
	dawdle_here("nap:holding-guard"); /* a holder that stalls: the others' timeouts must hold */
	struct books *spare = &s->books[1 - v % 2];
	*spare = s->books[v % 2];
	return spare;
}

/*
 * Make the draft the true books: one store. Its release order keeps the
 * compiler and the CPU from moving any earlier store (the record, the draft)
 * after it, so a process killed at any instant has committed all of an
 * operation or none of it.
 */
static void commit(struct shared *s)
{
	uint32_t v = atomic_load_explicit(&s->version, memory_order_relaxed);
	atomic_store_explicit(&s->version, v + 1, memory_order_release);
	killed_here("die:commit"); /* so that a test sees whether the sleepers were woken before */
}

/* ---- Sleeping and waking --------------------------------------------------------------------- */

static bool expired(const struct mp__deadline *d)
{
	struct timespec left;
	const struct timespec *t = mp__deadline_left(d, &left);
	return t && t->tv_sec == 0 && t->tv_nsec == 0;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/*
 * Guard held: wait until @word changes, counted in @asleep. Returns 0 with
 * the guard held again, to look; else the guard is let go and the result is
 * MP_ETIMEDOUT. The kernel sleeps only if @word still holds the value read
 * under the guard, so a change made since is never missed.
 */
static int sleep_on(struct shared *s, _Atomic uint32_t *word, _Atomic uint32_t *asleep,
		    const struct mp__deadline *d)
{
	if (expired(d)) {
		unlock(s);
		return MP_ETIMEDOUT;
	}
	uint32_t seen = atomic_load(word);
	atomic_fetch_add(asleep, 1);
	unlock(s);
	dawdle_here("nap:before-sleep"); /* a wake-up that comes now must not be missed */
	struct timespec left;
	long rc = futex(word, FUTEX_WAIT, seen, mp__deadline_left(d, &left));
	int err = errno;
	atomic_fetch_sub(asleep, 1);
	if (rc < 0 && err == ETIMEDOUT)
		return MP_ETIMEDOUT;
	return lock(s, d); /* woken, interrupted, or @word had changed: look again */
}

/* Guard held, before the commit (idea 4): wake everyone asleep on @word. */
static void wake(_Atomic uint32_t *word, _Atomic uint32_t *asleep)
{
	if (atomic_load(asleep) == 0)
		return;
	atomic_fetch_add(word, 1);
	futex(word, FUTEX_WAKE, INT_MAX, NULL);
}

/*
 * Write a doorbell byte into the pipe. True if a byte is there now: written,
 * or the pipe is full of them (bytes left by killed processes).
 */
static bool press_bell(const mp_queue *q)
{
	killed_here("die:bell"); /* so that a test sees what a death before the byte leaves */
	ssize_t n = mp__fault("write") ? -1 : write(q->bell_wr, "!", 1);
	return n == 1 || errno == EAGAIN; /* non-blocking: it never waits */
}

/* Read every doorbell byte out of the pipe. */
static void empty_bell(const mp_queue *q)
{
	char bytes[64];
	while (read(q->bell_rd, bytes, sizeof bytes) > 0)
		continue;
	killed_here("die:silence"); /* so that a test sees what a death after the bytes leaves */
}

/* Guard held, before the commit of a message (idea 4): ring the doorbell if anyone listens. */
static void ring_bell(const mp_queue *q)
{
	struct shared *s = q->shared;
	/* TODO: your code goes here.
	 * Hint: nothing to do if s->rung, or if no consumer is asleep and nobody
	 * s->watched. Else press_bell(), and only if it says a byte is there,
	 * set s->rung. Never the other way round: a process killed between the
	 * two must leave a byte too many, never a rung flag with no byte, which
	 * would keep every later put from ringing. Lesson 02, "The doorbell".
	 */
}

/* Guard held, no message waiting: take the doorbell's bytes out of the pipe. */
static void silence(const mp_queue *q)
{
	/* TODO: your code goes here.
	 * Hint: the opposite order to ring_bell(): clear q->shared->rung
	 * first, then empty_bell(). Lesson 02, "The doorbell".
	 */
}

/*
 * Whether every handle that could put is closed, by mp_queue_close(), exit
 * or death. The kernel counts the pipe's write ends for us: when none is
 * left, poll() reports a hang-up.
 */
static bool no_producer_left(const mp_queue *q)
{
	if (q->bell_wr >= 0)
		return false; /* this process could put */
	struct pollfd p = { .fd = q->bell_rd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/*
 * Guard held, ring empty: wait for a message, the end, or the deadline.
 * Returns 0 with the guard held again, to look; else the guard is let go.
 */
static int wait_for_message(mp_queue *q, const struct mp__deadline *d)
{
	struct shared *s = q->shared;
	if (expired(d)) {
		unlock(s);
		return MP_ETIMEDOUT;
	}
	/* A producer is often a moment away: watch the books change before paying for a sleep. */
	uint32_t seen = atomic_load(&s->version);
	unlock(s);
	for (int i = 0; i < SPINS && atomic_load_explicit(&s->version, memory_order_relaxed) == seen; i++)
		cpu_relax();
	int rc = lock(s, d);
	if (rc < 0 || books(s)->count > 0 || no_producer_left(q))
		return rc;

	atomic_fetch_add(&s->consumers_asleep, 1);
	/*
	 * The ring is empty, so a byte in the pipe would wake us at once, for
	 * nothing: one rung earlier, or one a process killed between its byte
	 * and its flag left there with `rung` false. Empty it either way.
	 */
	silence(q);
	unlock(s);
	dawdle_here("nap:before-poll"); /* a doorbell rung now must not be missed */
	rc = mp__deadline_wait_fd(q->bell_rd, POLLIN, d);
	atomic_fetch_sub(&s->consumers_asleep, 1);
	return rc < 0 ? rc : lock(s, d);
}

/* ---- The ring -------------------------------------------------------------------------------- */

/* The bytes a record of @len bytes takes in the ring. */
static uint64_t record_size(uint64_t len)
{
	return sizeof(struct record) + ((len + 7) & ~(uint64_t)7);
}

/* Where position @pos is in the ring: pos % ring_bytes, which is a power of two. */
static size_t place(const mp_queue *q, uint64_t pos)
{
	return (size_t)(pos & (q->ring_bytes - 1));
}

/* The ring's bytes from @at to @at + @len (a span that does not go round its end), about to be used. */
static unsigned char *ring_span(const mp_queue *q, size_t at, size_t len)
{
	VALGRIND_MAKE_MEM_DEFINED(q->ring + at, len); /* see the top of the file */
	return q->ring + at;
}

/* Copy @len bytes into the ring at position @pos, going round its end if need be. */
static void ring_write(mp_queue *q, uint64_t pos, const void *data, size_t len)
{
	/* TODO: your code goes here.
	 * Hint: the bytes start at place(q, pos) in the ring, which is
	 * q->ring_bytes long. What does not fit before the ring's end goes at
	 * its start: two memcpy() calls, each into ring_span() of its piece.
	 * Lesson 02, "A ring of shared memory".
	 */
}

/* Copy @len bytes out of the ring from position @pos. */
static void ring_read(const mp_queue *q, uint64_t pos, void *out, size_t len)
{
	/* TODO: your code goes here.
	 * Hint: ring_write() the other way round.
	 * Lesson 02, "A ring of shared memory".
	 */
}

/*
 * Guard held: give back to the kernel the chunks that every record in them
 * has been read from, unless the ring has come round and new records lie in
 * the same memory already (the tail is past the chunk's place one lap on).
 */
static void give_back(mp_queue *q)
{
	struct shared *s = q->shared;
	const struct books *b = books(s);
	uint64_t from = b->released, upto = b->head / CHUNK * CHUNK;
	if (upto <= from)
		return;
	for (uint64_t c = from; c < upto; c += CHUNK)
		if (b->tail <= c + q->ring_bytes) {
			madvise(q->ring + place(q, c), CHUNK, MADV_REMOVE); /* failing, it only keeps the memory */
			VALGRIND_MAKE_MEM_NOACCESS(q->ring + place(q, c), CHUNK);
		}
	draft(s)->released = upto;
	commit(s); /* killed before this, the next give_back() removes the same chunks again: no harm */
}

/* Guard held: whether a record of @size bytes may go in now. */
static bool room_for(const mp_queue *q, uint64_t size)
{
	const struct books *b = books(q->shared);
	uint64_t maxsize = q->shared->maxsize;
	return (maxsize == 0 || b->count < maxsize) && b->tail + size <= b->head + q->ring_bytes;
}

/* ---- Putting --------------------------------------------------------------------------------- */

/* Guard held, room checked: write the record past the tail, ring, commit. */
static void append(mp_queue *q, enum type type, const void *data, size_t len)
{
	/* TODO: your code goes here.
	 * Hint: draft() the books. ring_write() a struct record (with its
	 * CHECK()) at the draft's tail, then the bytes after it; move the tail
	 * by record_size(), count the message (and an unfinished task, if
	 * q->joinable). ring_bell() before you commit(), never after.
	 * Lesson 02, "Putting: write, ring, commit".
	 */
}

static int put(mp_queue *q, enum type type, const void *data, size_t len, double timeout)
{
	if (!q || (!data && len > 0))
		return -EINVAL;
	if (q->bell_wr < 0)
		return MP_ECLOSED;
	if (len > q->max_message || record_size(len) > q->ring_bytes)
		return -EMSGSIZE; /* the second: it would never fit, however long it waited */
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;

	struct shared *s = q->shared;
	int rc = lock(s, &d);
	for (;;) {
		if (rc < 0)
			return rc == MP_ETIMEDOUT ? MP_EFULL : rc;
		if (room_for(q, record_size(len)))
			break;
		rc = sleep_on(s, &s->room, &s->producers_asleep, &d);
	}
	append(q, type, data, len);
	unlock(s);
	return 0;
}

int mp_queue_put(mp_queue *q, const void *data, size_t len, double timeout)
{
	return put(q, BYTES, data, len, timeout);
}

int mp_queue_put_int(mp_queue *q, int64_t value, double timeout)
{
	return put(q, INT, &value, sizeof value, timeout);
}

int mp_queue_put_double(mp_queue *q, double value, double timeout)
{
	return put(q, DOUBLE, &value, sizeof value, timeout);
}

int mp_queue_put_str(mp_queue *q, const char *s, double timeout)
{
	if (!s)
		return -EINVAL;
	return put(q, STRING, s, strlen(s), timeout);
}

/* ---- Getting --------------------------------------------------------------------------------- */

/* What a get asks for, and where it puts what it takes. */
struct taken {
	enum type want;   /* or ANY */
	void *fixed;      /* a buffer for exactly fixed_len bytes; NULL: malloc() one, with a NUL after */
	size_t fixed_len;
	void *data;       /* out: the message */
	size_t len;       /* out: its length */
};

/*
 * Guard held, a message waiting: copy the oldest out and remove it. A
 * message of the wrong kind, or over this handle's size cap, is removed all
 * the same (MP_ETYPE, MP_EBADMSG); one that memory cannot be found for stays
 * for the next get (-ENOMEM).
 */
static int copy_out(mp_queue *q, struct taken *t)
{
	/* TODO: your code goes here.
	 * Hint: ring_read() the struct record at the head. Trust it only within
	 * the books: a wrong CHECK() or a length past the tail is MP_EBADMSG,
	 * and nothing is removed. Then decide: over q->max_message is
	 * MP_EBADMSG, a type other than t->want (unless ANY) or a length other
	 * than t->fixed_len (when t->fixed) is MP_ETYPE; both are removed
	 * without being copied. Else copy the bytes into t->fixed or into
	 * malloc()ed memory (through the "malloc" fault seam) with a NUL after
	 * them; no memory is -ENOMEM, with nothing removed. To remove: draft(),
	 * move the head, count down, wake() the producers asleep on s->room,
	 * commit(). Then, if the ring is now empty and s->watched, silence() the
	 * doorbell; and give_back() the memory read.
	 * Lesson 02, "Getting: copy, wake, commit".
	 */
	return MP_ETODO;
}

static int get(mp_queue *q, struct taken *t, double timeout)
{
	if (!q)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct shared *s = q->shared;
	int rc = lock(s, &d);
	while (rc == 0 && books(s)->count == 0) {
		if (no_producer_left(q)) {
			unlock(s);
			return MP_EEOF;
		}
		rc = wait_for_message(q, &d);
	}
	if (rc < 0)
		return rc == MP_ETIMEDOUT ? MP_EEMPTY : rc;
	rc = copy_out(q, t);
	unlock(s);
	return rc;
}

int mp_queue_get(mp_queue *q, void **data, size_t *len, double timeout)
{
	if (!data || !len)
		return -EINVAL;
	struct taken t = { .want = ANY };
	int rc = get(q, &t, timeout);
	if (rc < 0)
		return rc;
	if (t.len == 0) {
		free(t.data); /* an empty message has no bytes to hand out */
		t.data = NULL;
	}
	*data = t.data;
	*len = t.len;
	return 0;
}

int mp_queue_get_int(mp_queue *q, int64_t *value, double timeout)
{
	if (!value)
		return -EINVAL;
	/* copy_out() writes it only once a message of this type and size is taken: on failure it is untouched. */
	struct taken t = { .want = INT, .fixed = value, .fixed_len = sizeof *value };
	return get(q, &t, timeout);
}

int mp_queue_get_double(mp_queue *q, double *value, double timeout)
{
	if (!value)
		return -EINVAL;
	/* copy_out() writes it only once a message of this type and size is taken: on failure it is untouched. */
	struct taken t = { .want = DOUBLE, .fixed = value, .fixed_len = sizeof *value };
	return get(q, &t, timeout);
}

int mp_queue_get_str(mp_queue *q, char **s, double timeout)
{
	if (!s)
		return -EINVAL;
	struct taken t = { .want = STRING };
	int rc = get(q, &t, timeout);
	if (rc == 0)
		*s = t.data;
	return rc;
}

/* ---- Looking at the queue, closing, joining -------------------------------------------------- */

size_t mp_queue_qsize(const mp_queue *q)
{
	if (!q || lock(q->shared, &forever) < 0)
		return 0;
	size_t n = (size_t)books(q->shared)->count;
	unlock(q->shared);
	return n;
}

bool mp_queue_empty(const mp_queue *q)
{
	return mp_queue_qsize(q) == 0;
}

bool mp_queue_full(const mp_queue *q)
{
	if (!q || lock(q->shared, &forever) < 0)
		return false;
	bool full = !room_for(q, record_size(sizeof(int64_t))); /* no room even for an integer */
	unlock(q->shared);
	return full;
}

int mp_queue_close(mp_queue *q)
{
	if (!q)
		return -EINVAL;
	if (q->bell_wr >= 0) {
		close(q->bell_wr);
		q->bell_wr = -1;
	}
	return 0;
}

int mp_queue_set_max_message(mp_queue *q, size_t bytes)
{
	if (!q || bytes == 0 || record_size(bytes) > q->ring_bytes)
		return -EINVAL;
	q->max_message = bytes;
	return 0;
}

int mp_queue_fileno(const mp_queue *q)
{
	if (!q)
		return -EINVAL;
	struct shared *s = q->shared;
	if (lock(s, &forever) == 0) {
		s->watched = true; /* from now on every message rings, for whoever polls */
		if (books(s)->count > 0 && q->bell_wr >= 0)
			ring_bell(q);
		unlock(s);
	}
	return q->bell_rd;
}

int mp_queue_task_done(mp_queue *q)
{
	if (!q || !q->joinable)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: with the guard held, refuse to count the books' unfinished
	 * below zero (MP_ETASKDONE). The task that brings it to zero wakes the
	 * joiners asleep on s->all_done, before the commit.
	 * Lesson 02, "Joinable queues".
	 */
	return MP_ETODO;
}

int mp_queue_join(mp_queue *q, double timeout)
{
	if (!q || !q->joinable)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: take the guard; while the books count unfinished tasks,
	 * sleep_on() s->all_done (it lets the guard go to sleep, and takes it
	 * back to look). Let the guard go when done.
	 * Lesson 02, "Joinable queues".
	 */
	return MP_ETODO;
}
