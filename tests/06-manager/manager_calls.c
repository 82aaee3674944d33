/* manager_calls.c: what stage 06's tests do with a manager: start one, create, call, expect. */
#include "manager_calls.h"

#include <stdlib.h>
#include <string.h>

#define MP_LESSON "lessons/06-manager.md"

mp_manager *start(void)
{
	mp_manager *m = NULL;
	mp_expect_status(mp_manager_start(&m, NULL, MANAGER_KEY, sizeof MANAGER_KEY - 1), 0);
	cr_assert(m && mp_manager_address(m)[0] == '/', "a manager started at no address listens on a fresh Unix path, not \"%s\"",
		  m ? mp_manager_address(m) : "");
	return m;
}

mp_proxy *create(mp_manager *m, const char *typeid, mp_value *args, mp_value *kwds)
{
	mp_proxy *p = NULL;
	mp_remote_error err = { "", "" };
	int rc = mp_manager_create(m, typeid, args, kwds, &p, &err);
	cr_assert(rc == 0, "mp_manager_create(\"%s\") returned %s (%s: %s) (lesson 06, section \"The manager's protocol\")",
		  typeid, mp_err_name(rc), err.type, err.message);
	mp_value_free(args);
	mp_value_free(kwds);
	return p;
}

/* p.method(*args): the call must succeed; its result, to free. */
mp_value *call(mp_proxy *p, const char *method, mp_value *args)
{
	mp_value *result = NULL;
	mp_remote_error err = { "", "" };
	int rc = mp_proxy_call(p, method, args, NULL, &result, &err);
	cr_assert(rc == 0, "%s.%s() returned %s (%s: %s) (lesson 06, section \"The manager's protocol\")", mp_proxy_typeid(p),
		  method, mp_err_name(rc), err.type, err.message);
	mp_value_free(args);
	return result;
}

/* p.method(*args) must raise @type, whose message must hold @words. */
void raises(mp_proxy *p, const char *method, mp_value *args, const char *type, const char *words)
{
	mp_value *result = NULL;
	mp_remote_error err = { "", "" };
	int rc = mp_proxy_call(p, method, args, NULL, &result, &err);
	cr_assert(rc == MP_EREMOTE && result == NULL, "%s.%s() should raise %s: it returned %s", mp_proxy_typeid(p), method,
		  type, mp_err_name(rc));
	cr_assert_str_eq(err.type, type, "%s.%s() raised %s (%s), not %s", mp_proxy_typeid(p), method, err.type, err.message,
			 type);
	cr_assert(strstr(err.message, words), "%s.%s() raised %s, \"%s\": it should say \"%s\"", mp_proxy_typeid(p), method,
		  type, err.message, words);
	mp_value_free(args);
}

char *repr_of(mp_value *v)
{
	char *r = py_repr(v);
	mp_value_free(v);
	return r;
}


void expect_repr(mp_value *v, const char *want, const char *what)
{
	char *got = repr_of(v);
	cr_assert_str_eq(got, want, "%s gave %s, not %s", what, got, want);
	free(got);
}
