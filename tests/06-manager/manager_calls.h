/* manager_calls.h: what stage 06's tests do with a manager: start one, create, call, expect. */
#ifndef MP_TEST_MANAGER_CALLS_H
#define MP_TEST_MANAGER_CALLS_H

#include "py.h"

#include <mp/manager.h>

#define MANAGER_KEY "a key for the tests"

#define S(s) mp_value_str(s)
#define I(i) mp_value_int(i)
#define T(...) mp_value_tuple_of(__VA_ARGS__)

/* A manager of our own, at a fresh Unix path, keyed MANAGER_KEY. */
mp_manager *start(void);

/* A new shared @typeid(*args, **kwds), which must succeed (@args and @kwds are taken). */
mp_proxy *create(mp_manager *m, const char *typeid, mp_value *args, mp_value *kwds);

/* p.method(*args) (@args taken): the call must succeed; its result, to free. */
mp_value *call(mp_proxy *p, const char *method, mp_value *args);

/* p.method(*args) (@args taken) must raise @type, whose message must hold @words. */
void raises(mp_proxy *p, const char *method, mp_value *args, const char *type, const char *words);

/* Python's repr() of @v (taken), malloc'd. */
char *repr_of(mp_value *v);

/* repr(@v) (taken) must be @want. */
void expect_repr(mp_value *v, const char *want, const char *what);

#endif
