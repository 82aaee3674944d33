/* task.c: the table of tasks a pool's workers may run, and what a task writes its answer into. */
#define _GNU_SOURCE /* vasprintf() */
#include "pool_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The same table as stage 01's targets, for functions of another type: a
 * task is looked up by name in the worker, so it works unchanged when the
 * worker is a fresh program (the spawn start method, stage 07). Nodes are
 * never freed: the table lives as long as the program.
 */
struct task {
	struct task *next;
	mp_task_fn fn;
	char name[MP_TASK_NAME_MAX + 1];
};

static struct task *tasks;

static struct task *lookup(const char *name)
{
	for (struct task *t = tasks; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

int mp_task_register(const char *name, mp_task_fn fn)
{
	if (!name || !fn || !*name)
		return -EINVAL;
	if (strlen(name) > MP_TASK_NAME_MAX)
		return -ENAMETOOLONG;
	struct task *t = lookup(name);
	if (t)
		return t->fn == fn ? 0 : -EEXIST;
	t = mp__pool_malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	strcpy(t->name, name);
	t->fn = fn;
	t->next = tasks;
	tasks = t;
	return 0;
}

mp_task_fn mp_task_find(const char *name)
{
	if (!name)
		return NULL;
	struct task *t = lookup(name);
	return t ? t->fn : NULL;
}

int mp_task_return(mp_task_out *out, const void *buf, size_t len)
{
	if (!out || (!buf && len > 0))
		return -EINVAL;
	void *copy = mp__pool_malloc(len);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, buf, len);
	free(out->data);
	out->data = copy;
	out->len = len;
	return 0;
}

int mp_task_fail(mp_task_out *out, const char *fmt, ...)
{
	if (!out)
		return MP_ETASKFAILED;
	char *message = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (!fmt || vasprintf(&message, fmt, ap) < 0)
		message = NULL; /* no memory for it: the worker says the task failed, without why */
	va_end(ap);
	free(out->message);
	out->message = message;
	return MP_ETASKFAILED;
}
