/* client.c: a manager seen from a client: start or connect, make shared objects, call them, let them go. */
#define _GNU_SOURCE
#include "manager_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Seconds a control request (connect, handshake, request, reply) may take. */
#define CONTROL_TIMEOUT 10.0

struct mp_manager {
	int refs;                 /* the handle's, and one a proxy: the last to go frees it */
	char address[256];
	unsigned char *key;
	size_t keylen;
	mp_process *server;       /* the server this process started, or NULL */
	pid_t owner;              /* the process that made the handle: a child made by fork() has a copy */
	pthread_mutex_t lock;     /* one call at a time on `calls` */
	mp_conn *calls;           /* the connection that serves calls, once one was made (by `caller`) */
	pid_t caller;
};

struct mp_proxy {
	mp_manager *manager;
	char typeid[64];
	char ident[24];
};

static void manager_unref(mp_manager *m)
{
	if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	mp_conn_free(m->calls);
	mp_process_free(m->server); /* (NULL but in a forked child, whose copy it is) */
	pthread_mutex_destroy(&m->lock);
	free(m->key);
	free(m);
}

static int manager_new(mp_manager **out, const void *authkey, size_t keylen)
{
	if (!out || !authkey || keylen == 0)
		return -EINVAL;
	mp_manager *m = calloc(1, sizeof *m);
	if (!m || !(m->key = malloc(keylen))) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->key, authkey, keylen);
	m->keylen = keylen;
	m->refs = 1;
	m->owner = getpid();
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

/* Send @request (taken) on @conn and read its reply into *@result (may be NULL). */
static int exchange(mp_conn *conn, mp_value *request, mp_value **result, mp_remote_error *err)
{
	int rc = mp__wire_send(conn, request);
	void *bytes = NULL;
	size_t len;
	if (rc == 0)
		rc = mp_conn_recv_bytes(conn, &bytes, &len);
	if (rc < 0)
		return rc;
	/* A reply may carry an exception: described, never made (pickle.h). */
	mp_pickle_limits limits = { .describe_objects = true };
	mp_value *reply = NULL, *value = NULL;
	rc = mp_pickle_loads(bytes, len, &reply, &limits, NULL);
	free(bytes);
	if (rc < 0)
		return MP_EBADMSG;
	rc = mp__reply_read(reply, &value, err);
	mp_value_free(reply);
	if (rc == 0 && result)
		*result = value;
	else
		mp_value_free(value);
	return rc;
}

/* (ident or None, method, args or (), kwds or {}), copying what it is given. */
static mp_value *request_of(const char *ident, const char *method, const mp_value *args, const mp_value *kwds)
{
	return mp_value_tuple_of(4, ident ? mp_value_str(ident) : mp_value_none(), mp_value_str(method),
				 args ? mp_value_copy(args) : mp_value_tuple_of(0),
				 kwds ? mp_value_copy(kwds) : mp_value_dict_new());
}

/*
 * One control request on a fresh connection, as CPython's client makes each:
 * create, incref, decref, shutdown... @args is taken; @kwds (may be NULL) is not.
 */
static int control(mp_manager *m, const char *name, mp_value *args, const mp_value *kwds, mp_value **result,
		   mp_remote_error *err)
{
	mp_conn *conn = NULL;
	int rc = mp_client(&conn, m->address, m->key, m->keylen, CONTROL_TIMEOUT);
	if (rc == 0)
		rc = mp_conn_set_max_message(conn, MANAGER_MAX_MESSAGE);
	if (rc == 0)
		rc = mp_conn_set_timeout(conn, CONTROL_TIMEOUT); /* a server that takes the request and never answers */
	if (rc == 0)
		rc = exchange(conn, request_of(NULL, name, args, kwds), result, err);
	mp_value_free(args);
	mp_conn_free(conn);
	return rc;
}

int mp_manager_connect(mp_manager **out, const char *address, const void *authkey, size_t keylen)
{
	mp_manager *m;
	if (!address || strlen(address) >= sizeof m->address)
		return -EINVAL;
	int rc = manager_new(&m, authkey, keylen);
	if (rc < 0)
		return rc;
	strcpy(m->address, address);
	/* As Python's connect(): a dummy request proves the server is there and takes our key. */
	rc = control(m, "dummy", mp_value_tuple_of(0), NULL, NULL, NULL);
	if (rc < 0) {
		manager_unref(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* ---- Starting a server of our own ---------------------------------------------------------------- */

#define SERVER_TARGET "mp__manager_server"

/* What the server's process gets: where to say its address, then the address asked for and the key. */
struct server_arg {
	int fd;              /* the pipe's end to write the address to */
	size_t address_len;  /* 0 for a fresh Unix path */
	size_t keylen;
	/* the address's bytes, then the key's */
};

static void say_address(const char *address, void *arg)
{
	int fd = *(int *)arg;
	size_t len = strlen(address);
	ssize_t n = write(fd, address, len);
	(void)n; /* a parent that has gone learns nothing: it would not connect anyway */
	close(fd);
}

static int server_main(const void *arg, size_t len)
{
	struct server_arg sa;
	if (len < sizeof sa)
		return 2;
	memcpy(&sa, arg, sizeof sa);
	if (len != sizeof sa + sa.address_len + sa.keylen)
		return 2;
	const char *bytes = (const char *)arg + sizeof sa;
	char address[256] = "";
	if (sa.address_len >= sizeof address)
		return 2;
	memcpy(address, bytes, sa.address_len);
	int rc = mp_manager_serve(sa.address_len ? address : NULL, bytes + sa.address_len, sa.keylen, say_address, &sa.fd);
	return rc < 0 ? 1 : 0;
}

int mp_manager_start(mp_manager **out, const char *address, const void *authkey, size_t keylen)
{
	size_t alen = address ? strlen(address) : 0;
	if (alen >= 256)
		return -EINVAL;
	mp_manager *m;
	int rc = manager_new(&m, authkey, keylen);
	if (rc < 0)
		return rc;
	rc = mp_target_register(SERVER_TARGET, server_main);
	int fds[2] = { -1, -1 };
	if (rc == 0 && pipe2(fds, O_CLOEXEC) < 0)
		rc = -errno;
	size_t len = sizeof(struct server_arg) + alen + keylen;
	struct server_arg *sa = rc == 0 ? calloc(1, len) : NULL;
	if (rc == 0 && !sa)
		rc = -ENOMEM;
	if (rc == 0) {
		*sa = (struct server_arg){ .fd = fds[1], .address_len = alen, .keylen = keylen };
		memcpy((char *)(sa + 1), address ? address : "", alen);
		memcpy((char *)(sa + 1) + alen, authkey, keylen);
		rc = mp_process_new(&m->server, SERVER_TARGET, sa, len);
	}
	free(sa);
	if (rc == 0) {
		char name[32];
		snprintf(name, sizeof name, "SyncManager-%d", (int)getpid());
		mp_process_set_name(m->server, name);
		/* A server outlives no parent: SIGTERM, which it answers by shutting down cleanly. */
		mp_process_set_parent_death_signal(m->server, SIGTERM);
		rc = mp_process_start(m->server);
	}
	if (fds[1] >= 0)
		close(fds[1]);
	/* The address, once it listens; end-of-file without one means it could not. */
	ssize_t n = 0;
	if (rc == 0) {
		while ((n = read(fds[0], m->address, sizeof m->address - 1)) < 0 && errno == EINTR)
			;
		if (n <= 0)
			rc = -ECONNREFUSED;
	}
	if (fds[0] >= 0)
		close(fds[0]);
	if (rc < 0) {
		if (m->server && mp_process_pid(m->server))
			mp_process_join(m->server, MP_FOREVER); /* it has ended: it closed its end of the pipe */
		mp_process_free(m->server);
		m->server = NULL;
		manager_unref(m);
		return rc;
	}
	m->address[n] = '\0';
	*out = m;
	return 0;
}

const char *mp_manager_address(const mp_manager *m)
{
	return m ? m->address : "";
}

int mp_manager_pid(const mp_manager *m)
{
	return m && m->server ? (int)mp_process_pid(m->server) : 0;
}

int mp_manager_objects(mp_manager *m, size_t *n)
{
	if (!m || !n)
		return -EINVAL;
	mp_value *count = NULL;
	int rc = control(m, "number_of_objects", mp_value_tuple_of(0), NULL, &count, NULL);
	if (rc == 0 && mp_value_kind_of(count) != MP_VALUE_INT)
		rc = MP_EBADMSG;
	if (rc == 0)
		*n = (size_t)mp_value_as_int(count);
	mp_value_free(count);
	return rc;
}

int mp_manager_shutdown(mp_manager *m)
{
	if (!m)
		return -EINVAL;
	int rc = control(m, "shutdown", mp_value_tuple_of(0), NULL, NULL, NULL);
	if (!m->server || m->owner != getpid())
		return rc;
	/* Ours: it is ending, or had ended already. Give it a second, then stop it, as Python's finalizer does. */
	if (mp_process_join(m->server, 1.0) == MP_ETIMEDOUT) {
		mp_process_terminate(m->server);
		if (mp_process_join(m->server, 1.0) == MP_ETIMEDOUT)
			mp_process_kill(m->server);
		mp_process_join(m->server, MP_FOREVER);
	}
	mp_process_free(m->server);
	m->server = NULL;
	return 0;
}

void mp_manager_free(mp_manager *m)
{
	if (!m)
		return;
	/* The server goes with the handle of the process that started it; a forked child's copy only lets go. */
	if (m->server && m->owner == getpid())
		mp_manager_shutdown(m);
	manager_unref(m);
}

/* ---- Proxies ------------------------------------------------------------------------------------- */

int mp_manager_create(mp_manager *m, const char *typeid, const mp_value *args, const mp_value *kwds,
		      mp_proxy **out, mp_remote_error *err)
{
	if (!m || !typeid || !out || (args && mp_value_kind_of(args) != MP_VALUE_TUPLE) ||
	    (kwds && mp_value_kind_of(kwds) != MP_VALUE_DICT) || strlen(typeid) >= sizeof ((mp_proxy *)0)->typeid)
		return -EINVAL;
	mp_proxy *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	/* (typeid, *args), as Python's create sends it. */
	size_t n = args ? mp_value_len(args) : 0;
	mp_value *items[1 + 16], **all = n < 16 ? items : malloc((n + 1) * sizeof *all);
	if (!all) {
		free(p);
		return -ENOMEM;
	}
	all[0] = mp_value_str(typeid);
	for (size_t i = 0; i < n; i++)
		all[1 + i] = mp_value_copy(mp_value_item(args, i));
	mp_value *request_args = mp_value_tuple_from(all, n + 1);
	if (all != items)
		free(all);
	mp_value *reply = NULL;
	int rc = request_args ? control(m, "create", request_args, kwds, &reply, err) : -ENOMEM;
	/* The reply: (ident, exposed). The server counts the one reference it made as ours. */
	const mp_value *ident = mp_value_item(reply, 0);
	if (rc == 0 && (!ident || mp_value_kind_of(ident) != MP_VALUE_STR || mp_value_len(ident) >= sizeof p->ident))
		rc = MP_EBADMSG;
	if (rc < 0) {
		mp_value_free(reply);
		free(p);
		return rc;
	}
	strcpy(p->ident, mp_value_data(ident, NULL));
	strcpy(p->typeid, typeid);
	mp_value_free(reply);
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	p->manager = m;
	*out = p;
	return 0;
}

int mp_manager_proxy(mp_manager *m, const char *typeid, const char *ident, mp_proxy **out)
{
	if (!m || !typeid || !ident || !out || strlen(typeid) >= sizeof ((mp_proxy *)0)->typeid ||
	    strlen(ident) >= sizeof ((mp_proxy *)0)->ident)
		return -EINVAL;
	mp_proxy *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	int rc = control(m, "incref", mp_value_tuple_of(1, mp_value_str(ident)), NULL, NULL, NULL);
	if (rc < 0) {
		free(p);
		return rc;
	}
	strcpy(p->typeid, typeid);
	strcpy(p->ident, ident);
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	p->manager = m;
	*out = p;
	return 0;
}

/*
 * The connection that serves calls: made at the first call, as Python's
 * accept_connection. A child made by fork() has a copy of its parent's, on
 * which the two would answer each other's calls: it makes one of its own.
 * Lock held.
 */
static int calls_connection(mp_manager *m)
{
	if (m->calls && m->caller != getpid()) {
		mp_conn_free(m->calls); /* our copy of the descriptor; the parent's stays open */
		m->calls = NULL;
	}
	if (m->calls)
		return 0;
	mp_conn *conn = NULL;
	int rc = mp_client(&conn, m->address, m->key, m->keylen, CONTROL_TIMEOUT);
	if (rc == 0)
		rc = mp_conn_set_max_message(conn, MANAGER_MAX_MESSAGE);
	if (rc == 0) {
		mp_value *name = mp_value_tuple_of(1, mp_value_str("MainProcess"));
		rc = name ? exchange(conn, request_of(NULL, "accept_connection", name, NULL), NULL, NULL) : -ENOMEM;
		mp_value_free(name);
	}
	if (rc < 0) {
		mp_conn_free(conn);
		return rc;
	}
	m->calls = conn;
	m->caller = getpid();
	return 0;
}

int mp_proxy_call(mp_proxy *p, const char *method, const mp_value *args, const mp_value *kwds, mp_value **result,
		  mp_remote_error *err)
{
	if (!p || !method || (args && mp_value_kind_of(args) != MP_VALUE_TUPLE) ||
	    (kwds && mp_value_kind_of(kwds) != MP_VALUE_DICT))
		return -EINVAL;
	mp_manager *m = p->manager;
	pthread_mutex_lock(&m->lock);
	int rc = calls_connection(m);
	if (rc == 0)
		rc = exchange(m->calls, request_of(p->ident, method, args, kwds), result, err);
	if (rc < 0 && rc != MP_EREMOTE) {
		/* The connection is out of step, or the server gone: the next call starts a new one. */
		mp_conn_free(m->calls);
		m->calls = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

const char *mp_proxy_typeid(const mp_proxy *p)
{
	return p ? p->typeid : "";
}

const char *mp_proxy_ident(const mp_proxy *p)
{
	return p ? p->ident : "";
}

void mp_proxy_free(mp_proxy *p)
{
	if (!p)
		return;
	/* A server that has gone has freed the object already: nothing to tell it. */
	control(p->manager, "decref", mp_value_tuple_of(1, mp_value_str(p->ident)), NULL, NULL, NULL);
	manager_unref(p->manager);
	free(p);
}
