/*
 * pool_list.c: a list that lives in a manager, filled by a pool of workers
 * (pool_list.py). Each task appends the square of its number; the parent, which
 * made the list, sees every square.
 *
 * Python pickles the list's proxy into each task; here a task's record is its
 * number alone, and the worker finds the list by what every worker inherits:
 * the manager's address and key and the list's ident. A task connects, appends
 * and lets go: a worker holds no connection between tasks.
 */
#include "../example.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define KEY "pool list example"

static char address[108], list_id[64]; /* set before the pool forks its workers */

MP_TASK(append_square)(const void *in, size_t len, mp_task_out *out)
{
	(void)len, (void)out;
	int64_t x;
	memcpy(&x, in, sizeof x);

	mp_manager *m;
	mp_proxy *squares;
	int rc = mp_manager_connect(&m, address, KEY, strlen(KEY));
	if (rc < 0)
		return rc;
	rc = mp_manager_proxy(m, "list", list_id, &squares);
	if (rc == 0) {
		mp_value *args = mp_value_tuple_of(1, mp_value_int(x * x));
		rc = args ? mp_proxy_call(squares, "append", args, NULL, NULL, NULL) : -ENOMEM;
		mp_value_free(args);
		mp_proxy_free(squares);
	}
	mp_manager_free(m);
	return rc;
}

int main(void)
{
	mp_manager *manager;
	mp_proxy *squares;
	check(mp_manager_start(&manager, NULL, KEY, strlen(KEY)));
	check(mp_manager_create(manager, "list", NULL, NULL, &squares, NULL));
	snprintf(address, sizeof address, "%s", mp_manager_address(manager));
	snprintf(list_id, sizeof list_id, "%s", mp_proxy_ident(squares));

	int64_t xs[10];
	for (int i = 0; i < 10; i++)
		xs[i] = i;
	mp_pool *pool;
	check(mp_pool_new(&pool, 4, NULL));
	check(mp_pool_map(pool, "append_square", xs, 10, sizeof xs[0], NULL, 0, 0, NULL));
	mp_pool_free(pool);

	check(mp_proxy_call(squares, "sort", NULL, NULL, NULL, NULL)); /* the workers appended in the order they ran */
	mp_value *repr, *len;
	check(mp_proxy_call(squares, "__repr__", NULL, NULL, &repr, NULL));
	check(mp_proxy_call(squares, "__len__", NULL, NULL, &len, NULL));
	printf("%s\n%lld squares\n", mp_value_data(repr, NULL), (long long)mp_value_as_int(len));
	mp_value_free(repr);
	mp_value_free(len);

	mp_proxy_free(squares);
	check(mp_manager_shutdown(manager));
	mp_manager_free(manager);
	return 0;
}
