/* py.c: the helpers of py.h. */
#define _GNU_SOURCE
#include "py.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Asks @python for its version and its real path (pyenv's shims take a second to start: it is asked once). */
static bool version_of(const char *python, char out[16], char path[256])
{
	char cmd[400];
	snprintf(cmd, sizeof cmd,
		 "'%s' -c 'import sys; print(\"%%d.%%d.%%d\" %% sys.version_info[:3], sys.executable)' 2>/dev/null", python);
	FILE *f = popen(cmd, "r");
	if (!f)
		return false;
	char line[400] = "";
	bool got = fgets(line, sizeof line, f) != NULL;
	int status = pclose(f);
	if (!got || status != 0)
		return false;
	line[strcspn(line, "\n")] = '\0';
	char *space = strchr(line, ' ');
	if (!space)
		return false;
	*space = '\0';
	snprintf(out, 16, "%s", line);
	snprintf(path, 256, "%s", space[1] ? space + 1 : python);
	return true;
}

int py_find_pyenv(struct pythons *p)
{
	static const char *const patterns[] = { "/.pyenv/versions/3.12*/bin/python3", "/.pyenv/versions/3.13*/bin/python3" };
	const char *home = getenv("HOME");
	p->n = 0;
	for (size_t i = 0; home && i < 2; i++) {
		char pattern[300];
		snprintf(pattern, sizeof pattern, "%s%s", home, patterns[i]);
		glob_t g;
		if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
			/* The newest of that minor version: glob sorts, so the last. */
			const char *path = g.gl_pathv[g.gl_pathc - 1];
			if (version_of(path, p->version[p->n], p->path[p->n]))
				p->n++;
		}
		globfree(&g);
	}
	return p->n;
}

/*
 * Once, in Criterion's runner before any test starts: python3's real path and
 * version, which every test process inherits in its environment.
 */
ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
	(void)tests;
	char version[16], path[256];
	if (version_of("python3", version, path)) {
		setenv("MP_TEST_PYTHON3", path, 1);
		setenv("MP_TEST_PYTHON3_VERSION", version, 1);
	}
}

void py_find(struct pythons *p)
{
	struct pythons extra;
	const char *path = getenv("MP_TEST_PYTHON3"), *version = getenv("MP_TEST_PYTHON3_VERSION");
	p->n = 0;
	if (path && *path && version) {
		snprintf(p->path[0], sizeof p->path[0], "%s", path);
		snprintf(p->version[0], sizeof p->version[0], "%s", version);
		p->n = 1;
	} else if (version_of("python3", p->version[0], p->path[0])) {
		p->n = 1;
	}
	if (p->n == 0)
		cr_skip_test("python3 is not installed: the tests against CPython need it");
	py_find_pyenv(&extra);
	for (int i = 0; i < extra.n && p->n < 4; i++) {
		p->path[p->n][0] = '\0';
		snprintf(p->path[p->n], sizeof p->path[0], "%s", extra.path[i]);
		snprintf(p->version[p->n], sizeof p->version[0], "%s", extra.version[i]);
		p->n++;
	}
}

char *py_run(const char *python, const char *script, const char *arg)
{
	/* The script and its argument travel in the environment: no quoting to get wrong. */
	setenv("MP_PY_SCRIPT", script, 1);
	setenv("MP_PY_ARG", arg ? arg : "", 1);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "'%s' -c 'import os; exec(os.environ[\"MP_PY_SCRIPT\"])'", python);
	FILE *f = popen(cmd, "r");
	cr_assert(f, "popen(%s) failed", python);
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	cr_assert(out);
	size_t n;
	while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			out = realloc(out, cap);
			cr_assert(out);
		}
	}
	out[len] = '\0';
	int status = pclose(f);
	unsetenv("MP_PY_SCRIPT");
	unsetenv("MP_PY_ARG");
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		free(out);
		cr_assert_fail("%s failed to run the test's script (exit status %d)", python, status);
	}
	return out;
}

static unsigned nibble(char c)
{
	return c >= 'a' ? (unsigned)(c - 'a' + 10) : c >= 'A' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - '0');
}

unsigned char *py_unhex(const char *hex, size_t *len)
{
	size_t n = strcspn(hex, "\t\n");
	unsigned char *out = malloc(n / 2 + 1);
	cr_assert(out && n % 2 == 0, "odd hex from Python");
	for (size_t i = 0; i < n / 2; i++)
		out[i] = (unsigned char)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
	*len = n / 2;
	return out;
}

char *py_hex(const void *data, size_t len)
{
	char *out = malloc(2 * len + 1);
	cr_assert(out);
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", ((const unsigned char *)data)[i]);
	out[2 * len] = '\0';
	return out;
}

char *py_repr(const mp_value *v)
{
	char *s = NULL;
	int rc = mp_value_repr(v, &s);
	cr_assert(rc == 0 && s, "mp_value_repr failed: %s", mp_err_name(rc));
	return s;
}

mp_value *py_loads_ok(const void *data, size_t len, const char *what)
{
	mp_value *v = NULL;
	mp_pickle_error err = { .message = "" };
	int rc = mp_pickle_loads(data, len, &v, NULL, &err);
	cr_assert(rc == 0 && v, "mp_pickle_loads of %s returned %s (%s), expected 0 "
		  "(lesson 06, section \"The data-only subset\")", what, mp_err_name(rc), err.message);
	return v;
}

unsigned char *py_dumps_ok(const mp_value *v, size_t *len)
{
	void *out = NULL;
	int rc = mp_pickle_dumps(v, &out, len);
	cr_assert(rc == 0 && out, "mp_pickle_dumps returned %s, expected 0 (lesson 06, section \"Writing what CPython writes\")",
		  mp_err_name(rc));
	return out;
}

bool py_next_line(char **cursor, char **a, char **b)
{
	char *line = *cursor;
	if (!line || !*line)
		return false;
	char *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	char *tab = strchr(line, '\t');
	*a = line;
	*b = tab ? tab + 1 : line + strlen(line);
	if (tab)
		*tab = '\0';
	return true;
}
