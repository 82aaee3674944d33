/*
 * server_process.c: the "server process" example of Python's multiprocessing
 * documentation, in C (server_process.py): a child changes a dict and a list that
 * live in a manager, and the parent sees the changes.
 *
 * The child is forked after the proxies were made, so it could use them as they
 * are; but a proxy is a connection, and two processes writing one connection mix
 * their requests. The child connects for itself and asks for proxies of the same
 * objects by their idents: what Python does when it unpickles a proxy it was sent.
 */
#include "../example.h"

#include <string.h>

#define KEY "server process example"

static char address[108];      /* the manager's: the child inherits it */
static char dict_id[64], list_id[64];

/* p.method(*args), stopping the program with Python's message if it raises. */
static mp_value *call(mp_proxy *p, const char *method, mp_value *args)
{
	mp_value *result = NULL;
	mp_remote_error err;
	int rc = mp_proxy_call(p, method, args, NULL, &result, &err);
	if (rc == MP_EREMOTE) {
		fprintf(stderr, "%s.%s(): %s: %s\n", mp_proxy_typeid(p), method, err.type, err.message);
		exit(1);
	}
	check(rc);
	mp_value_free(args);
	return result;
}

/* print(proxy): Python's proxy prints what the object's own repr says, asked of the server. */
static void print(mp_proxy *p)
{
	mp_value *repr = call(p, "__repr__", NULL);
	printf("%s\n", mp_value_data(repr, NULL));
	mp_value_free(repr);
}

MP_TARGET(f)(const void *arg, size_t len)
{
	(void)arg, (void)len;
	mp_manager *m;
	mp_proxy *d, *l;
	check(mp_manager_connect(&m, address, KEY, strlen(KEY)));
	check(mp_manager_proxy(m, "dict", dict_id, &d));
	check(mp_manager_proxy(m, "list", list_id, &l));

	mp_value_free(call(d, "__setitem__", mp_value_tuple_of(2, mp_value_int(1), mp_value_str("1"))));
	mp_value_free(call(d, "__setitem__", mp_value_tuple_of(2, mp_value_str("2"), mp_value_int(2))));
	mp_value_free(call(d, "__setitem__", mp_value_tuple_of(2, mp_value_float(0.25), mp_value_none())));
	mp_value_free(call(l, "reverse", NULL));

	mp_proxy_free(d);
	mp_proxy_free(l);
	mp_manager_free(m);
	return 0;
}

int main(void)
{
	mp_manager *manager;
	check(mp_manager_start(&manager, NULL, KEY, strlen(KEY)));
	snprintf(address, sizeof address, "%s", mp_manager_address(manager));

	mp_proxy *d, *l;
	check(mp_manager_create(manager, "dict", NULL, NULL, &d, NULL));
	mp_value *range = mp_value_list_of(0);
	for (int i = 0; i < 10; i++)
		check(mp_value_list_append(range, mp_value_int(i)));
	mp_value *args = mp_value_tuple_of(1, range);
	check(mp_manager_create(manager, "list", args, NULL, &l, NULL));
	mp_value_free(args);
	snprintf(dict_id, sizeof dict_id, "%s", mp_proxy_ident(d));
	snprintf(list_id, sizeof list_id, "%s", mp_proxy_ident(l));

	mp_process *p;
	check(mp_process_new(&p, "f", NULL, 0));
	check(mp_process_start(p));
	check(mp_process_join(p, MP_FOREVER));
	mp_process_free(p);

	print(d);
	print(l);

	mp_proxy_free(d);
	mp_proxy_free(l);
	check(mp_manager_shutdown(manager)); /* the end of Python's `with` block */
	mp_manager_free(manager);
	return 0;
}
