/* py.h: stage 06's tests talk to CPython: run a script, hand it pickles, read what it says. */
#ifndef MP_TEST_PY_H
#define MP_TEST_PY_H

#include "mp_test.h"

#include <errno.h>

#include <stdbool.h>
#include <stddef.h>

/* The Python interpreters to test against: python3 on PATH (its real path), then pyenv's 3.12 and 3.13 (if present). */
struct pythons {
	char path[4][256];
	char version[4][16]; /* "3.11.7" */
	int n;
};

/* Fills @p; skips the test, saying why, when not even python3 is there. */
void py_find(struct pythons *p);

/* pyenv's 3.12 and 3.13 only; their count (0 when there is none). */
int py_find_pyenv(struct pythons *p);

/*
 * Runs `@python -c @script` through popen(), with @arg in the environment as
 * MP_PY_ARG, and returns everything it wrote to standard output (malloc'd,
 * NUL-terminated). Fails the test if Python exits with a failure.
 */
char *py_run(const char *python, const char *script, const char *arg);

/* The bytes of @hex (an even number of hex digits, ended by NUL, tab or newline); *len their count. */
unsigned char *py_unhex(const char *hex, size_t *len);

/* @len bytes as hex, malloc'd. */
char *py_hex(const void *data, size_t len);

/* The repr of @v, malloc'd; fails the test if it cannot be made. */
char *py_repr(const mp_value *v);

/* Decodes @len bytes, asserting success; the message names the decoder's error. */
mp_value *py_loads_ok(const void *data, size_t len, const char *what);

/* Encodes @v, asserting success. */
unsigned char *py_dumps_ok(const mp_value *v, size_t *len);

/*
 * The next line of @*cursor (moved past it), split at its first tab: *a is
 * the text before it, *b after (both inside the buffer, NUL-terminated).
 * False at the end.
 */
bool py_next_line(char **cursor, char **a, char **b);

#endif
