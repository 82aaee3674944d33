/* target.c: the table of functions a child process may run, found by name. */
#include <mp.h>

#include "fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * A short linked list is all a program needs: it registers a handful of
 * targets before main() runs and looks one up per process started. Nodes are
 * never freed; the table lives as long as the program.
 */
struct target {
	struct target *next;
	mp_target_fn fn;
	char name[MP_TARGET_NAME_MAX + 1];
};

static struct target *targets;

/* A new node, or NULL when memory runs out (or when a test says it does: fault.h). */
static struct target *node_new(void)
{
	return mp__fault("malloc") ? NULL : malloc(sizeof(struct target));
}

static struct target *lookup(const char *name)
{
	/* BEGIN SOLUTION stub: return NULL;
	 * Hint: walk the list from `targets` and compare names with strcmp().
	 * Lesson 01, "Targets have names".
	 */
	for (struct target *t = targets; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
	/* END SOLUTION */
}

int mp_target_register(const char *name, mp_target_fn fn)
{
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: check the arguments as target.h promises (NULL, empty, too long,
	 * a name already taken by another function), then push a new node from
	 * node_new() on the front of `targets`. Lesson 01, "Targets have names".
	 */
	if (!name || !fn || !*name)
		return -EINVAL;
	if (strlen(name) > MP_TARGET_NAME_MAX)
		return -ENAMETOOLONG;

	struct target *t = lookup(name);
	if (t)
		return t->fn == fn ? 0 : -EEXIST;

	t = node_new();
	if (!t)
		return -ENOMEM;
	strcpy(t->name, name);
	t->fn = fn;
	t->next = targets;
	targets = t;
	return 0;
	/* END SOLUTION */
}

mp_target_fn mp_target_find(const char *name)
{
	if (!name)
		return NULL;
	struct target *t = lookup(name);
	return t ? t->fn : NULL;
}
